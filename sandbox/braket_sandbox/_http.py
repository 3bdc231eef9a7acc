"""Shared plumbing: run a WSGI app on 127.0.0.1 in a thread, or as a ``python -m`` subprocess.

Every sandbox server needs the same two ways of running (in-process for tests, subprocess for
the demo and for black-box tests), so this lives in one place.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any, Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

DEFAULT_HOST = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not print one access-log line per request."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:  # noqa: D401
        return None


class ServerHandle:
    """A threaded werkzeug server running ``app`` in a background thread.

    ``url`` is ``http://127.0.0.1:PORT``; ``stop()`` shuts the server down and closes the
    socket (idempotent). Also a context manager.
    """

    def __init__(self, app: Callable, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within ~50 ms
            name=f"sandbox-server-{self.port}",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def cli_main(
    description: str,
    start: Callable[[argparse.Namespace], Any],
    argv: list[str] | None = None,
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Run a server until SIGTERM/SIGINT.

    ``start(args)`` (``args.host``, ``args.port`` and whatever ``configure`` added) must return
    an object with ``.url`` and ``.stop()``. Prints exactly one line ``READY <url>`` on stdout
    once listening, then nothing else on stdout (a parent that does not drain the pipe can never
    block the server). Returns 0 on a clean stop.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free one)")
    parser.add_argument("--verbose", action="store_true", help="log to stderr")
    if configure is not None:
        configure(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    stop_requested = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    server = start(args)
    try:
        sys.stdout.write(f"READY {server.url}\n")
        sys.stdout.flush()
        # Waiting with a timeout keeps the main thread responsive to signals.
        while not stop_requested.wait(0.5):
            pass
    finally:
        server.stop()
    return 0

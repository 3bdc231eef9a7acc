"""moto's server with one global lock, so DynamoDB writes are atomic under concurrency.

Why: moto's backends are plain Python objects that are not thread-safe, and moto's threaded
server runs requests concurrently. Real DynamoDB evaluates a conditional write or a
transaction atomically; the guard's ledger relies on that (e.g. ``ADD n :one`` with
``ConditionExpression n < :limit`` must never overshoot). :class:`SerializingMiddleware`
runs each request (and the reading of its response body) under one ``threading.Lock``, so
requests are applied one at a time, as if each were atomic. Throughput is irrelevant here.

What moto 5.2 does for a failed ``TransactWriteItems`` (checked against its source and by the
tests): the whole transaction is rolled back and botocore raises ``ClientError`` with code
``TransactionCanceledException``; ``err.response["CancellationReasons"]`` has one entry per
transact item, in request order: ``{"Code": "ConditionalCheckFailed", "Message": ...}`` for
an item whose condition failed (plus ``"Item"`` when ``ReturnValuesOnConditionCheckFailure``
is ``ALL_OLD`` and the item exists) and ``{"Code": "None"}`` for the items that passed. The
message reads ``Transaction cancelled, please refer cancellation reasons for specific reasons
[None, ConditionalCheckFailed]``. This matches real DynamoDB's shape.

Use: ``with start_moto() as moto: boto3.client("dynamodb", endpoint_url=moto.url, ...)``, or
``python -m braket_sandbox.moto_server --port 5000``.
"""

from __future__ import annotations

import threading
import urllib.request
from typing import Any, Callable, Iterable

from braket_sandbox._http import DEFAULT_HOST, ServerHandle, cli_main

__all__ = ["SerializingMiddleware", "MotoHandle", "make_moto_app", "start_moto", "main"]


class SerializingMiddleware:
    """WSGI middleware running the wrapped app one request at a time.

    The response body is fully read inside the lock too (a WSGI app may produce it lazily),
    then replayed to the server outside the lock.
    """

    def __init__(self, app: Callable, lock: threading.Lock | None = None) -> None:
        self.app = app
        self.lock = lock or threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def _capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"] = status
            captured["headers"] = headers
            captured["exc_info"] = exc_info
            return lambda data: captured.setdefault("written", []).append(data)

        with self.lock:
            result = self.app(environ, _capture)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        written = b"".join(captured.get("written", []))
        start_response(captured["status"], captured["headers"], captured.get("exc_info"))
        return [written + body]


def make_moto_app() -> SerializingMiddleware:
    """moto's multi-service WSGI app (as ``moto.server`` builds it), wrapped in the lock."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return SerializingMiddleware(DomainDispatcherApplication(create_backend_app))


class MotoHandle(ServerHandle):
    """A running locked moto server: ``.url``, ``.port``, ``.stop()``, ``.reset()``."""

    def reset(self) -> None:
        """Wipe every moto backend (moto's ``POST /moto-api/reset``)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()


def start_moto(port: int = 0, host: str = DEFAULT_HOST) -> MotoHandle:
    """Start the locked moto server in a background thread; returns once it listens."""
    return MotoHandle(make_moto_app(), host=host, port=port)


def main(argv: list[str] | None = None) -> int:
    return cli_main(
        "moto server with serialized (atomic) requests",
        lambda args: start_moto(port=args.port, host=args.host),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())

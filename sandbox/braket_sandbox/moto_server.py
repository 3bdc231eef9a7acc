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

Lambda Invoke of the guard (:class:`GuardInvoke`): moto runs a function's code in Docker, which
the sandbox does not have. A synchronous ``Invoke`` (``RequestResponse``, what Terraform's
``aws_lambda_invocation`` and ``aws lambda invoke`` send) of a function whose handler is
``braket_guard.handler.lambda_handler`` runs that real handler in this process instead, with the
function's environment as moto stored it, its region, and endpoints at the local servers: this
moto server for every AWS service, the Braket emulator for Braket (the URL registered with
``POST /_braket_sandbox/lambda-endpoints`` ``{"braket": "<url>"}``, else an emulator this process
starts on first use). The answer is Lambda's: 200 with the handler's JSON result, or, when the
handler raises, 200 with ``X-Amz-Function-Error: Unhandled`` and ``{"errorMessage", "errorType"}``.
Every other request (other functions, asynchronous invokes) goes to moto unchanged. The handler
code is this repository's ``lambda/`` (the deployed zip is built from it; ``make package-check``).

Use: ``with start_moto() as moto: boto3.client("dynamodb", endpoint_url=moto.url, ...)``, or
``python -m braket_sandbox.moto_server --port 5000``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import threading
import traceback
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote

from braket_sandbox._http import DEFAULT_HOST, ServerHandle, cli_main

__all__ = ["SerializingMiddleware", "GuardInvoke", "MotoHandle", "make_moto_app", "start_moto", "main"]


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


GUARD_HANDLER = "braket_guard.handler.lambda_handler"
LAMBDA_SOURCES = Path(__file__).resolve().parents[2] / "lambda"
CONTROL_PATH = "/_braket_sandbox/lambda-endpoints"
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
CREDENTIAL_SCOPE = re.compile(r"Credential=(?P<key>[^/,\s]+)/[0-9]{8}/(?P<region>[a-z0-9-]+)/lambda/")


class _Context:
    """The part of Lambda's context object the handler reads."""

    def __init__(self, function_name: str, timeout_seconds: int) -> None:
        import time

        self.function_name = function_name
        self._deadline = time.monotonic() + timeout_seconds
        self._time = time

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._time.monotonic()) * 1000))


class GuardInvoke:
    """WSGI middleware in front of the serialized moto app: runs the guard's handler for a
    synchronous Invoke of a function whose handler is :data:`GUARD_HANDLER` (module doc)."""

    def __init__(self, app: SerializingMiddleware) -> None:
        self.app = app
        self.endpoints: dict[str, str] = {}  # service -> URL for the handler (e.g. "braket")
        self.invocations: list[dict[str, Any]] = []  # what ran: function, payload, outcome
        self._run_lock = threading.Lock()  # one handler at a time: it runs with its own os.environ
        self._emulator: Any = None

    # -- routing ---------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            return self._control(environ, start_response)
        match = INVOKE_PATH.match(path)
        if match and environ.get("REQUEST_METHOD") == "POST" and environ.get(
                "HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse") == "RequestResponse":
            function = self._guard_function(environ, unquote(match.group("name")))
            if function is not None:
                return self._invoke(environ, start_response, function)
        return self.app(environ, start_response)

    def _control(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
                return _json(start_response, "400 Bad Request", {"error": "expected {service: url}"})
            self.endpoints.update(body)
        return _json(start_response, "200 OK", {"endpoints": self.endpoints, "invocations": self.invocations})

    def _guard_function(self, environ: dict, name: str) -> Any:
        """moto's function record when it is the guard's (looked up under moto's lock), else None."""
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return None
        qualifier = (parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier") or [None])[0]
        from moto.awslambda.models import lambda_backends
        from moto.iam.models import get_account_id_from

        with self.app.lock:
            try:
                account = get_account_id_from(scope.group("key"))
                function = lambda_backends[account][scope.group("region")].get_function(name, qualifier)
            except Exception:  # unknown function or qualifier: moto answers
                return None
        return function if getattr(function, "handler", None) == GUARD_HANDLER else None

    # -- the invocation ------------------------------------------------------------------------------
    def _braket_endpoint(self, moto_url: str) -> str:
        if "braket" in self.endpoints:
            return self.endpoints["braket"]
        if self._emulator is None:
            from braket_sandbox.emulator import start_emulator

            self._emulator = start_emulator(results_s3=moto_url)
        return self._emulator.url

    def _invoke(self, environ: dict, start_response: Callable, function: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        moto_url = f"http://{environ.get('HTTP_HOST') or environ.get('SERVER_NAME')}"
        record: dict[str, Any] = {"function": function.function_name, "region": function.region}
        try:
            payload = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            payload = raw.decode("utf-8", "replace")
        record["payload"] = payload
        variables = {str(k): str(v) for k, v in (function.environment_vars or {}).items()}
        variables.update({
            "AWS_REGION": function.region, "AWS_DEFAULT_REGION": function.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": moto_url,
            **{f"AWS_ENDPOINT_URL_{service.upper()}": url for service, url in self.endpoints.items()},
        })
        with self._run_lock:
            variables["AWS_ENDPOINT_URL_BRAKET"] = self._braket_endpoint(moto_url)
            headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
            try:
                with _environment(variables), contextlib.redirect_stdout(sys.stderr):
                    handler = _guard_handler()
                    result = handler(payload, _Context(function.function_name, int(function.timeout or 3)))
                body = json.dumps(result, default=str).encode()
                record["result"] = result
            except Exception as exc:  # Lambda's answer to an unhandled error
                error = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                         "stackTrace": traceback.format_exception(exc)[-5:]}
                body = json.dumps(error).encode()
                headers.append(("X-Amz-Function-Error", "Unhandled"))
                record["error"] = {"errorMessage": str(exc), "errorType": type(exc).__name__}
        self.invocations.append(record)
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]


def _guard_handler() -> Callable:
    """braket_guard.handler.lambda_handler from this repository's lambda/ (before any installed copy)."""
    if LAMBDA_SOURCES.is_dir() and str(LAMBDA_SOURCES) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SOURCES))
    from braket_guard import handler

    return handler.lambda_handler


@contextlib.contextmanager
def _environment(variables: dict[str, str]):
    """os.environ as the function sees it: its variables set, every other BRAKET_GUARD_* and
    AWS_ENDPOINT_URL* of this process unset; restored afterwards."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(("BRAKET_GUARD_", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN",
                                                       "AWS_PROFILE"))]:
        del os.environ[key]
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _json(start_response: Callable, status: str, value: Any) -> Iterable[bytes]:
    body = json.dumps(value, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def make_moto_app() -> GuardInvoke:
    """moto's multi-service WSGI app (as ``moto.server`` builds it), wrapped in the lock, behind
    the in-process Invoke of the guard's function."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return GuardInvoke(SerializingMiddleware(DomainDispatcherApplication(create_backend_app)))


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

"""Fault injection for the AWS services moto stands in for: a WSGI middleware in front of the
sandbox's locked moto app that answers chosen requests with the services' own errors.

moto has no fault injection, so ``AwsFaults`` decides per request, from seeded draws, to:

- ``throttle``: DynamoDB ``ProvisionedThroughputExceededException`` (HTTP 400), SNS ``Throttling``
  (HTTP 400); nothing is applied;
- ``conflict``: DynamoDB ``TransactionCanceledException`` whose ``CancellationReasons`` say
  ``TransactionConflict`` for one item and ``None`` for the others, as DynamoDB answers when
  another transaction holds an item; nothing is applied;
- ``internal``: HTTP 500 (``InternalServerError`` / SNS ``InternalError``); nothing is applied;
- ``lost``: the request IS applied, then HTTP 500 is returned, as when a response is lost after
  the write committed.

Like DynamoDB, it honours ``ClientRequestToken`` on TransactWriteItems: a token whose
transaction was applied (even if its response was lost) gets the same success answer again
without re-applying it (botocore fills the token in, and keeps it across its own retries),
unless a fault is drawn for that retry too.

Rules can be limited to a window of a clock's time (an outage), to a number of hits, and to
requests whose body contains a given byte string.
"""

from __future__ import annotations

import collections
import io
import json
import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from braket_sandbox._http import ServerHandle
from braket_sandbox.moto_server import make_moto_app

DYNAMODB_ERROR = "com.amazonaws.dynamodb.v20120810#"


@dataclass
class Rule:
    service: str  # dynamodb | sns
    operations: frozenset[str]  # empty: every operation of the service
    kind: str  # throttle | conflict | internal | lost
    rate: float
    start: float = float("-inf")
    end: float = float("inf")
    left: int | None = None
    match: bytes = b""


class AwsFaults:
    def __init__(self, app: Callable, seed: int = 1, clock: Callable[[], float] | None = None):
        self.app, self.rng, self.clock = app, random.Random(seed), clock or (lambda: 0.0)
        self.rules: list[Rule] = []
        self.lock = threading.Lock()
        self.applied_tokens: dict[str, bytes] = {}
        self.injected: collections.Counter = collections.Counter()
        self.requests: collections.Counter = collections.Counter()

    def add(self, service: str, kind: str, rate: float = 1.0, operations: Iterable[str] = (),
            start: float = float("-inf"), end: float = float("inf"), times: int | None = None,
            match: bytes = b"") -> None:
        with self.lock:
            self.rules.append(Rule(service, frozenset(operations), kind, rate, start, end, times, match))

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    # -- WSGI ------------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        service, operation = self._identify(environ, body)
        kind = self._draw(service, operation, body)
        with self.lock:
            self.requests[(service, operation)] += 1
            if kind:
                self.injected[(kind, service, operation)] += 1
        if kind in ("throttle", "conflict", "internal"):
            return self._error(start_response, service, kind, body)
        token = None
        if service == "dynamodb" and operation == "TransactWriteItems":
            try:
                token = json.loads(body or b"{}").get("ClientRequestToken")
            except ValueError:
                token = None
            with self.lock:
                replay = self.applied_tokens.get(token) if token else None
            if replay is not None:  # DynamoDB: the same token within 10 minutes is the same transaction
                return self._respond(start_response, "200 OK", replay, "application/x-amz-json-1.0")
        status, headers, payload = self._forward(environ)
        if token and status.startswith("200"):
            with self.lock:
                self.applied_tokens[token] = payload
        if kind == "lost":
            return self._error(start_response, service, "internal", body)
        start_response(status, headers)
        return [payload]

    def _forward(self, environ: dict) -> tuple[str, list, bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured.update(status=status, headers=headers)
            return lambda data: None

        result = self.app(environ, capture)
        payload = b"".join(result)
        return captured["status"], captured["headers"], payload

    def _identify(self, environ: dict, body: bytes) -> tuple[str, str]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_20120810."):
            return "dynamodb", target.split(".", 1)[1]
        auth = environ.get("HTTP_AUTHORIZATION", "")
        service = auth.split("Credential=", 1)[1].split("/")[3] if "Credential=" in auth else ""
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        return service, action

    def _draw(self, service: str, operation: str, body: bytes) -> str | None:
        now = self.clock()
        with self.lock:
            for rule in self.rules:
                if rule.service != service or (rule.operations and operation not in rule.operations):
                    continue
                if rule.match and rule.match not in body:
                    continue
                if not rule.start <= now < rule.end or rule.left == 0:
                    continue
                if rule.kind == "conflict" and operation != "TransactWriteItems":
                    continue
                if self.rng.random() < rule.rate:
                    if rule.left is not None:
                        rule.left -= 1
                    return rule.kind
        return None

    # -- answers ---------------------------------------------------------------------------------
    @staticmethod
    def _respond(start_response: Callable, status: str, payload: bytes, content_type: str) -> list[bytes]:
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(payload))),
                                ("x-amzn-RequestId", str(uuid.uuid4()))])
        return [payload]

    def _error(self, start_response: Callable, service: str, kind: str, body: bytes) -> list[bytes]:
        if service == "dynamodb":
            if kind == "throttle":
                status, doc = "400 Bad Request", {
                    "__type": DYNAMODB_ERROR + "ProvisionedThroughputExceededException",
                    "message": "The level of configured provisioned throughput for the table was exceeded."}
            elif kind == "conflict":
                items = len(json.loads(body or b"{}").get("TransactItems", [])) or 1
                victim = self.rng.randrange(items)
                reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                           if i == victim else {"Code": "None"} for i in range(items)]
                status, doc = "400 Bad Request", {
                    "__type": DYNAMODB_ERROR + "TransactionCanceledException",
                    "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons ["
                               + ", ".join(r["Code"] for r in reasons) + "]",
                    "CancellationReasons": reasons}
            else:
                status, doc = "500 Internal Server Error", {"__type": DYNAMODB_ERROR + "InternalServerError",
                                                            "message": "Internal server error"}
            return self._respond(start_response, status, json.dumps(doc).encode(), "application/x-amz-json-1.0")
        code, status = ("Throttling", "400 Bad Request") if kind == "throttle" else ("InternalError", "500 Internal Server Error")
        xml = (f'<ErrorResponse xmlns="http://{service}.amazonaws.com/doc/2010-03-31/"><Error><Type>'
               f'{"Sender" if kind == "throttle" else "Receiver"}</Type><Code>{code}</Code><Message>Injected '
               f'{kind}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>').encode()
        return self._respond(start_response, status, xml, "text/xml")


def start_faulty_moto(seed: int = 1, clock: Callable[[], float] | None = None) -> tuple[ServerHandle, AwsFaults]:
    """A second HTTP front for this process's moto backends (the same tables), with faults."""
    faults = AwsFaults(make_moto_app(), seed=seed, clock=clock)
    return ServerHandle(faults), faults

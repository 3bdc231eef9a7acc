"""A local stand-in for the AWS Price List endpoint that replays a recorded GetProducts response.

moto does not implement the ``pricing`` service, so this serves a recorded PriceList (a fixture
in the documented format) over the real wire protocol (JSON 1.1, ``X-Amz-Target:
AWSPriceListService.GetProducts``), in pages of at most ``page_size`` items with a NextToken, so a
real boto3 ``pricing`` client and its paginator run unchanged. It records every request and
can answer with an AWS error instead.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "AWSPriceListService.GetProducts"


class PricingReplay:
    def __init__(self, items: list[str], page_size: int = 7, fail: tuple[str, str] | None = None):
        """``fail=(code, message)`` answers every call with that error, as AWS would (HTTP 400)."""
        self.items, self.page_size, self.fail = items, page_size, fail
        self.requests: list[dict] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                replay.requests.append({"target": self.headers.get("X-Amz-Target"),
                                        "authorization": self.headers.get("Authorization", ""), "body": body})
                if replay.fail:
                    return self._send(400, {"__type": replay.fail[0], "message": replay.fail[1]})
                if self.headers.get("X-Amz-Target") != TARGET:
                    return self._send(400, {"__type": "InvalidParameterException",
                                            "message": f"this replay serves {TARGET} only"})
                if body.get("ServiceCode") != "AmazonBraket":
                    return self._send(400, {"__type": "InvalidParameterException",
                                            "message": f"no recording for ServiceCode {body.get('ServiceCode')!r}"})
                start = int(body.get("NextToken") or 0)
                size = min(int(body.get("MaxResults") or 100), replay.page_size)
                page = {"FormatVersion": "aws_v1", "PriceList": replay.items[start:start + size]}
                if start + size < len(replay.items):
                    page["NextToken"] = str(start + size)
                return self._send(200, page)

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "PricingReplay":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

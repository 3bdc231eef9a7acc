"""A local stand-in for a Slack incoming webhook, plus a Block Kit to plain-text renderer.

Why: the guard posts alerts to a Slack webhook; tests need to see exactly what was posted
and to make the webhook fail (HTTP errors, slowness) without a Slack workspace. The demo uses
:func:`render_text` to print the messages readably.

Behaviour (modelled on Slack's incoming webhooks):

- ``POST`` to any path; a JSON body (``application/json``) or a form body with a ``payload``
  field holding JSON. A body that is not a JSON object answers ``400 invalid_payload``; an
  object with none of ``text``, ``blocks``, ``attachments`` answers ``400 no_text``. Accepted
  messages answer ``200 ok`` and are appended to ``sink.messages`` as
  ``{"path", "payload", "received_at"}``.
- ``sink.fail_with(status, times=None, body=None)``: the next ``times`` POSTs (every POST
  when None) answer ``status`` with Slack's body for it (e.g. 500 ``rollup_error``, 404
  ``no_service``, 429 ``rate_limited`` with ``Retry-After: 1``); they are not recorded as
  messages. ``sink.delay(seconds)``: wait before answering (the message is recorded once the
  answer is sent, so a client that timed out still caused a post, as with real Slack).
- Every POST, accepted or not, is appended to ``sink.requests`` as
  ``{"path", "status", "body"}`` (for counting retries).
- ``GET /_sandbox/messages`` returns the recorded messages (for subprocess users).
"""

from __future__ import annotations

import copy
import html
import json
import re
import threading
import time
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from braket_sandbox._http import DEFAULT_HOST, ServerHandle, cli_main

__all__ = ["SlackSink", "render_text", "start_slack_sink", "main"]

DEFAULT_WEBHOOK_PATH = "/services/T000/B000/XXXX"

# Bodies Slack answers with for common failures.
_ERROR_BODIES = {
    400: "invalid_payload",
    403: "invalid_token",
    404: "no_service",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
    503: "service_unavailable",
}


class SlackSink:
    """Slack incoming-webhook stand-in. ``start()`` / context manager; ``url_for(path)``."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._messages: list[dict] = []
        self._requests: list[dict] = []
        self._fail_status: int | None = None
        self._fail_body: str | None = None
        self._fail_left: int | None = None
        self._delay = 0.0
        self._stopping = threading.Event()
        self._server: ServerHandle | None = None

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> "SlackSink":
        if self._server is None:
            self._stopping.clear()
            self._server = ServerHandle(self, host=self.host, port=self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()  # wake handlers sleeping in a delay
            self._server.stop()
            self._server = None

    def __enter__(self) -> "SlackSink":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sink not started: call start() or use it as a context manager")
        return self._server.url

    def url_for(self, path: str = DEFAULT_WEBHOOK_PATH) -> str:
        """Webhook URL for ``path`` (default looks like a real Slack webhook path)."""
        return self.url + (path if path.startswith("/") else "/" + path)

    # ----------------------------------------------------------------------------- control
    @property
    def messages(self) -> list[dict]:
        """Copies of the accepted messages, in arrival order."""
        with self._lock:
            return copy.deepcopy(self._messages)

    @property
    def requests(self) -> list[dict]:
        """Every POST received (accepted or not): path, status answered, raw body text."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def payloads(self) -> list[dict]:
        """Just the parsed payloads of the accepted messages."""
        return [m["payload"] for m in self.messages]

    def page(self) -> str:
        """``GET /``: every message received, as Slack would show its text, newest first; the page
        reloads itself every 2 seconds."""
        items = [f"<pre>{html.escape(time.strftime('%H:%M:%S', time.localtime(m['received_at'])))} "
                 f"{html.escape(m['path'])}\n\n{html.escape(render_text(m['payload']))}</pre>"
                 for m in reversed(self.messages)]
        return ("<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\">"
                "<title>Slack sink</title></head><body><h1>Slack sink: " + str(len(items)) + " message(s)</h1>"
                + ("".join(items) or "<p>No message yet.</p>") + "</body></html>")

    def fail_with(self, status: int = 500, times: int | None = None, body: str | None = None) -> None:
        """Answer the next ``times`` POSTs (all when None) with ``status``."""
        with self._lock:
            self._fail_status = status
            self._fail_body = body if body is not None else _ERROR_BODIES.get(status, "error")
            self._fail_left = times

    def delay(self, seconds: float) -> None:
        """Wait ``seconds`` before answering each POST (0 to stop delaying)."""
        with self._lock:
            self._delay = max(0.0, float(seconds))

    def reset(self) -> None:
        """Forget messages and requests; stop failing and delaying."""
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._fail_status = self._fail_body = self._fail_left = None
            self._delay = 0.0

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        """Wait until at least ``count`` messages arrived; returns them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(messages)} of {count} Slack messages after {timeout}s")
            time.sleep(0.02)

    # ----------------------------------------------------------------------------- WSGI
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        return self._handle(request)(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/_sandbox/messages":
            return Response(json.dumps(self.messages), content_type="application/json")
        if request.method == "GET" and request.path == "/":
            return Response(self.page(), content_type="text/html; charset=utf-8")
        if request.method != "POST":
            return Response("invalid_method", status=405, content_type="text/plain")
        raw = request.get_data(cache=False).decode("utf-8", errors="replace")
        with self._lock:
            delay = self._delay
            failing = self._fail_status is not None and (self._fail_left is None or self._fail_left > 0)
            if failing:
                status, text = self._fail_status, self._fail_body
                if self._fail_left is not None:
                    self._fail_left -= 1
        if delay:
            self._stopping.wait(delay)
        if failing:
            headers = {"Retry-After": "1"} if status == 429 else {}
            self._record_request(request.path, status, raw)
            return Response(text, status=status, headers=headers, content_type="text/plain")
        payload = self._parse(raw, request.mimetype)
        if payload is None:
            status, text = 400, "invalid_payload"
        elif not any(payload.get(key) for key in ("text", "blocks", "attachments")):
            status, text = 400, "no_text"
        else:
            status, text = 200, "ok"
        with self._lock:
            self._requests.append({"path": request.path, "status": status, "body": raw})
            if status == 200:
                self._messages.append(
                    {"path": request.path, "payload": payload, "received_at": time.time()}
                )
        return Response(text, status=status, content_type="text/plain")

    def _record_request(self, path: str, status: int, raw: str) -> None:
        with self._lock:
            self._requests.append({"path": path, "status": status, "body": raw})

    @staticmethod
    def _parse(raw: str, mimetype: str) -> dict | None:
        text = raw
        if mimetype == "application/x-www-form-urlencoded":
            values = parse_qs(raw).get("payload")
            if not values:
                return None
            text = values[0]
        try:
            payload = json.loads(text)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None


def start_slack_sink(port: int = 0, host: str = DEFAULT_HOST) -> SlackSink:
    """Create and start a :class:`SlackSink`."""
    return SlackSink(host=host, port=port).start()


# ---------------------------------------------------------------------------------------------
# Block Kit -> plain text

_LINK_RE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def _mrkdwn(text: str) -> str:
    """Slack mrkdwn/plain_text -> readable text: links, mentions and entities resolved."""

    def link(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#")):
            return label or target
        if target.startswith("!"):
            name = target[1:].split("^", 1)[0]
            return label or f"@{name}"
        return f"{label} ({target})" if label and label != target else target

    text = _LINK_RE.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_obj(obj: Any) -> str:
    if isinstance(obj, dict):
        return _mrkdwn(str(obj.get("text", "")))
    if isinstance(obj, str):
        return _mrkdwn(obj)
    return ""


def _rich_text(element: dict) -> str:
    kind = element.get("type")
    if kind == "text":
        return str(element.get("text", ""))
    if kind == "link":
        url, label = element.get("url", ""), element.get("text")
        return f"{label} ({url})" if label else url
    if kind in ("user", "usergroup", "channel"):
        return "@" + str(element.get("user_id") or element.get("usergroup_id") or element.get("channel_id"))
    if kind == "emoji":
        return f":{element.get('name', '')}:"
    if kind == "broadcast":
        return f"@{element.get('range', 'here')}"
    children = "".join(_rich_text(child) for child in element.get("elements", []))
    if kind == "rich_text_list":
        return "\n".join(f"- {_rich_text(item)}" for item in element.get("elements", []))
    if kind == "rich_text_preformatted":
        return children
    if kind == "rich_text_quote":
        return "> " + children
    return children


def _block_lines(block: dict) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text_obj(block.get("text"))
        return [title, "=" * len(title)] if title else []
    if kind == "divider":
        return ["-" * 40]
    if kind == "section":
        lines = []
        if block.get("text"):
            lines.append(_text_obj(block["text"]))
        for field in block.get("fields", []) or []:
            lines.append(_text_obj(field))
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            lines.append(f"[{_text_obj(accessory.get('text'))}]")
        return lines
    if kind == "context":
        parts = []
        for element in block.get("elements", []) or []:
            if element.get("type") == "image":
                parts.append(str(element.get("alt_text", "")))
            else:
                parts.append(_text_obj(element))
        return [" | ".join(p for p in parts if p)]
    if kind == "actions":
        labels = [f"[{_text_obj(e.get('text'))}]" for e in block.get("elements", []) or [] if e.get("text")]
        return [" ".join(labels)] if labels else []
    if kind == "image":
        return [f"[image: {_text_obj(block.get('title')) or block.get('alt_text', '')}]"]
    if kind == "rich_text":
        return ["".join(_rich_text(e) for e in block.get("elements", []) or [])]
    if "text" in block:
        return [_text_obj(block["text"])]
    return []


def _attachment_lines(attachment: dict) -> list[str]:
    lines: list[str] = []
    for key in ("pretext", "title", "text"):
        if attachment.get(key):
            lines.append(_mrkdwn(str(attachment[key])))
    for field in attachment.get("fields", []) or []:
        title, value = field.get("title", ""), _mrkdwn(str(field.get("value", "")))
        lines.append(f"{title}: {value}" if title else value)
    for block in attachment.get("blocks", []) or []:
        lines.extend(_block_lines(block))
    if not lines and attachment.get("fallback"):
        lines.append(_mrkdwn(str(attachment["fallback"])))
    return lines


def render_text(payload: dict) -> str:
    """Readable plain text for a Slack message payload (Block Kit, attachments or text).

    Slack shows ``blocks`` instead of the top-level ``text`` (which is then only the
    notification fallback), so ``text`` is used only when there are no blocks.
    """
    lines: list[str] = []
    blocks = payload.get("blocks") or []
    if blocks:
        for block in blocks:
            lines.extend(_block_lines(block))
    elif payload.get("text"):
        lines.append(_mrkdwn(str(payload["text"])))
    for attachment in payload.get("attachments", []) or []:
        lines.extend(_attachment_lines(attachment))
    return "\n".join(line for line in lines if line is not None).strip()


def main(argv: list[str] | None = None) -> int:
    return cli_main(
        "Slack incoming-webhook stand-in",
        lambda args: start_slack_sink(port=args.port, host=args.host),
        argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())

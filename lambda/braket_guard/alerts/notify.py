"""Delivering alerts by email (SNS) and Slack (incoming webhook). Never raises: a failing
channel is logged (without the webhook URL, which is a secret) and enforcement goes on.

Each channel's result is ``sent``, ``failed`` (the guard keeps the alert's claim open and sends
it again to that channel later) or ``uncertain`` (Slack timed out reading the answer: it may
have posted, so it is not sent again: at least once must not become twice).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import requests

from braket_guard.alerts.messages import Alert
from braket_guard.aws.logs import log_event
from braket_guard.aws.retry import room_for_a_call

SLACK_URL_CACHE_SECONDS = 300
SLACK_TIMEOUT = (2.0, 4.0)  # connect, read
SLACK_ATTEMPTS = 3

_url_cache: dict[str, tuple[float, str]] = {}
_url_lock = threading.Lock()


def clear_webhook_cache() -> None:
    with _url_lock:
        _url_cache.clear()


class UncertainDelivery(RuntimeError):
    """The channel may have delivered: do not send again."""


class OutOfTime(RuntimeError):
    """The invocation's time budget cannot hold another call: the alert is sent later."""


def _in_time(what: str) -> None:
    if not room_for_a_call():
        raise OutOfTime(f"no time left in this invocation for {what}; it is sent again later")


class SnsChannel:
    name = "email"

    def __init__(self, client: Any, topic_arn: str):
        self.client, self.topic_arn = client, topic_arn

    def send(self, alert: Alert) -> None:
        _in_time("SNS Publish")
        self.client.publish(TopicArn=self.topic_arn, Subject=alert.subject, Message=alert.text)


class SlackChannel:
    name = "slack"

    def __init__(self, ssm_client: Any, parameter: str, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.ssm, self.parameter = ssm_client, parameter
        self.session = session or requests.Session()
        self.sleep = sleep

    def webhook_url(self) -> str:
        now = time.monotonic()
        with _url_lock:
            cached = _url_cache.get(self.parameter)
            if cached and cached[0] > now:
                return cached[1]
        _in_time("SSM GetParameter")
        response = self.ssm.get_parameter(Name=self.parameter, WithDecryption=True)
        url = response["Parameter"]["Value"].strip()
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            raise ValueError(f"SSM parameter {self.parameter} does not hold an https webhook URL")
        with _url_lock:
            _url_cache[self.parameter] = (now + SLACK_URL_CACHE_SECONDS, url)
        return url

    def send(self, alert: Alert) -> None:
        url = self.webhook_url()
        last = ""
        for attempt in range(SLACK_ATTEMPTS):
            if attempt:
                _in_time("a Slack retry")
            try:
                response = self.session.post(url, json=alert.slack, timeout=SLACK_TIMEOUT)
            except requests.ReadTimeout:
                # Slack may have posted it and only answered late: a retry could post it twice.
                raise UncertainDelivery("ReadTimeout (not retried: the message may have been posted)") from None
            except requests.RequestException as exc:
                last = type(exc).__name__  # the message may contain the URL
            else:
                if response.status_code < 300:
                    return
                last = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break  # a 4xx will not get better by retrying
            if attempt + 1 < SLACK_ATTEMPTS:
                self.sleep(0.2 * (2 ** attempt))
        raise RuntimeError(f"Slack webhook failed: {last}")


class Notifier:
    """Sends each alert to every configured channel; returns what happened per channel."""

    def __init__(self, channels: list[Any]):
        self.channels = channels

    def send(self, alert: Alert, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
        """Send to every channel not in ``skip`` (those already took this alert)."""
        results: dict[str, str] = {}
        for channel in self.channels:
            if channel.name in skip:
                continue
            try:
                channel.send(alert)
                results[channel.name] = "sent"
            except Exception as exc:  # noqa: BLE001 - a channel must never stop enforcement
                error = str(exc)
                if isinstance(channel, SlackChannel):
                    error = error.replace(_url_cache.get(channel.parameter, (0, "\0"))[1], "<webhook>")
                results[channel.name] = "uncertain" if isinstance(exc, UncertainDelivery) else "failed"
                log_event("error", "alert_delivery_failed", channel=channel.name, alert=alert.kind,
                          subject=alert.subject, error=error[:300])
        return results

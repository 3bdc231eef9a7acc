"""Lambda entry point: parse the event, hand it to the Guard, log and return the decision.

Wiring only. Configuration and clients are built once per container (and rebuilt if the
environment changes, which only tests do); endpoints come from boto3's normal resolution,
including AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import clients, metrics, retry
from .braket_api import CANCEL_BACKOFF, BraketGateway
from .config import Config, load_config
from .events import EventError, parse_event
from .guard import Guard, GuardRetry
from .job_guard import JobGuard
from .jobs import JobEventError, is_job_event, parse_job_event
from .ledger import Ledger
from .logs import log_event
from .native_guard import NativeLimiter
from .notify import Notifier, SlackChannel, SnsChannel
from .operations import ActionError, run_action
from .pacing import CountingSleep, PacedBraket, TokenBucket
from .retry import Backoff
from .spending_limits import SpendingLimits
from .strict import brief

_ENV_PREFIXES = ("BRAKET_GUARD_", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


@dataclass(frozen=True)
class Runtime:
    config: Config
    guard: Guard


class _RegionalClients:
    """One Braket client per region, created on first use (clients are thread-safe)."""

    def __init__(self, session: boto3.session.Session):
        self.session, self.clients, self.lock = session, {}, threading.Lock()

    def __call__(self, region: str) -> Any:
        with self.lock:
            if region not in self.clients:
                self.clients[region] = clients.make_client(self.session, "braket", clients.LAMBDA_BRAKET,
                                                                  region=region)
            return self.clients[region]


def build_runtime(environ: Any = None) -> Runtime:
    config = load_config(os.environ if environ is None else environ)
    session = boto3.session.Session()
    ledger = Ledger(clients.make_client(session, "dynamodb", clients.LAMBDA), config.table)
    channels: list[Any] = []
    if config.sns_topic_arn:
        channels.append(SnsChannel(clients.make_client(session, "sns", clients.LAMBDA), config.sns_topic_arn))
    if config.slack_webhook_parameter:
        channels.append(SlackChannel(clients.make_client(session, "ssm", clients.LAMBDA),
                                     config.slack_webhook_parameter))
    regional = _RegionalClients(session)
    guard = Guard(config, ledger, _paced(config, session, regional), Notifier(channels),
                  native=NativeLimiter(config, ledger, SpendingLimits(regional)))
    return Runtime(config, guard)


def _paced(config: Config, session: boto3.session.Session, regional: _RegionalClients) -> Any:
    """The Braket gateway; its cancels share one token bucket per region unless the rate is 0."""
    retries = CountingSleep()
    gateway = BraketGateway(regional, cancel_backoff=Backoff(**CANCEL_BACKOFF, sleep=retries))
    bucket = (TokenBucket(clients.make_client(session, "dynamodb", clients.LAMBDA), config.table, config.cancels_per_second)
              if config.cancels_per_second > 0 else None)
    return PacedBraket(gateway, bucket, retries)


_cache: dict[tuple, Runtime] = {}
_cache_lock = threading.Lock()


def runtime() -> Runtime:
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)))
    with _cache_lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = build_runtime()
        return _cache[key]


# Time kept back from Lambda's own timeout: the handler logs, emits metrics and answers in it.
# With it and one worst-case call (clients.LAMBDA, 14 s) a healthy event still fits a timeout of
# clients.MIN_LAMBDA_TIMEOUT_SECONDS, the shortest Terraform accepts.
TIMEOUT_RESERVE_SECONDS = 2.0


def time_budget(context: Any) -> float | None:
    """Seconds this invocation may spend on AWS calls: Lambda's remaining time less a reserve.
    None without a Lambda context (tests and scripts call the handler directly)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        millis = float(remaining())
    except (TypeError, ValueError):
        return None
    return max(0.0, millis / 1000 - TIMEOUT_RESERVE_SECONDS)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Handle one EventBridge event; returns a JSON-able summary of the decision."""
    with retry.deadline(time_budget(context), clients.LAMBDA.worst_call_seconds):
        return _handle(event)


def _handle(event: Any) -> dict[str, Any]:
    rt = runtime()  # a ConfigError here fails loudly, naming the bad variable and field
    if isinstance(event, dict) and "braket_guard" in event:
        try:
            return run_action(rt.guard, event)
        except ActionError as exc:
            log_event("warning", "action_dropped", error=str(exc))
            return {"decision": "dropped", "reason": str(exc)}
    if is_job_event(event):
        return _handle_job(rt, event)
    try:
        task = parse_event(event)
    except EventError as exc:
        fields = {"field": exc.field, "problem": exc.problem}
        if isinstance(event, dict):
            fields.update(event_id=brief(event.get("id")), source=brief(event.get("source")),
                          detail_type=brief(event.get("detail-type")))
        log_event("warning", "event_dropped", **fields)
        metrics.emit({"EventsDropped": 1}, {"Operation": "event"})
        return {"decision": "dropped", "reason": str(exc)}
    try:
        decision = rt.guard.handle(task)
    except GuardRetry as exc:
        log_event("warning", "redelivery_needed", task=task.task_arn, status=task.status, error=str(exc))
        raise
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        log_event("error", "guard_error", task=task.task_arn, status=task.status,
                  error=f"{type(exc).__name__}: {exc}"[:500])
        metrics.emit({"GuardErrors": 1}, {"Operation": "event"})
        raise
    summary = decision.summary(rt.config.mode)
    log_event("info", "decision", **summary)
    for values, dimensions in decision.metrics():
        metrics.emit(values, dimensions)
    return summary


def _handle_job(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """A "Braket Job State Change": charge the job's instance time, stop it at its cap."""
    try:
        job_event = parse_job_event(event)
    except JobEventError as exc:
        log_event("warning", "event_dropped", field=exc.field, problem=exc.problem,
                  event_id=brief(event.get("id")), detail_type=brief(event.get("detail-type")))
        metrics.emit({"EventsDropped": 1}, {"Operation": "event"})
        return {"decision": "dropped", "reason": str(exc)}
    if not any(cap.counts_jobs for cap in rt.config.caps):
        return {"decision": "ignored", "job": job_event.job_arn, "reason": "no cap counts jobs (kinds)"}
    try:
        summary = JobGuard(rt.guard).handle_event(job_event)
    except (ClientError, BotoCoreError, RuntimeError, ValueError) as exc:
        log_event("error", "guard_error", job=job_event.job_arn, status=job_event.status,
                  error=f"{type(exc).__name__}: {exc}"[:500])
        metrics.emit({"GuardErrors": 1}, {"Operation": "event"})
        raise
    log_event("info", "job_decision", **summary)
    return summary

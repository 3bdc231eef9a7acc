"""Every AWS client the guard and the CLI build, in one place, each with a time bound.

Why: a client with botocore's defaults waits 60 s for a read and retries it, so an endpoint that
accepts the connection and never answers held the CLI for minutes and the handler past its Lambda
timeout. Here every client gets connect and read timeouts and a small number of botocore attempts;
our own retries (``retry.Backoff``) additionally stop once the time budget set by ``retry.deadline``
cannot hold another attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.config import Config as BotoConfig


@dataclass(frozen=True)
class ClientBudget:
    """Connect and read timeouts in seconds and botocore's total attempts (first try included)."""

    connect_timeout: float
    read_timeout: float
    attempts: int

    @property
    def worst_call_seconds(self) -> float:
        """How long one call can take at most, botocore's own retries included."""
        return (self.connect_timeout + self.read_timeout) * self.attempts


# Lambda: DynamoDB, SNS and SSM answer in milliseconds; 5 s is a stall, not a slow answer.
LAMBDA = ClientBudget(connect_timeout=2, read_timeout=5, attempts=2)
# Braket throttling is retried by our own backoff (it knows the 2/s cancel quota): one attempt here.
LAMBDA_BRAKET = ClientBudget(connect_timeout=2, read_timeout=5, attempts=1)
# The CLI gives up in well under 30 s on an endpoint that never answers (retry.deadline in cli.main).
CLI = ClientBudget(connect_timeout=2, read_timeout=5, attempts=2)
CLI_BRAKET = ClientBudget(connect_timeout=2, read_timeout=5, attempts=1)
CLI_SECONDS = 25  # the CLI's whole time budget for AWS calls
# The shortest Lambda timeout under which one worst-case call still fits the handler's budget
# (handler.time_budget: the remaining time less its reserve); Terraform's validation says the same.
MIN_LAMBDA_TIMEOUT_SECONDS = 20


def boto_config(budget: ClientBudget) -> BotoConfig:
    return BotoConfig(connect_timeout=budget.connect_timeout, read_timeout=budget.read_timeout,
                      retries={"mode": "standard", "total_max_attempts": budget.attempts})


def make_client(session: Any, service: str, budget: ClientBudget, region: str | None = None) -> Any:
    """``session.client(service)`` with the budget's timeouts (endpoints resolve as boto3 does,
    including AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>)."""
    kwargs: dict[str, Any] = {"config": boto_config(budget)}
    if region:
        kwargs["region_name"] = region
    return session.client(service, **kwargs)


def endpoint_of(exc: BaseException) -> str:
    """The endpoint a botocore timeout or connection error names, or ''."""
    kwargs = getattr(exc, "kwargs", {}) or {}
    return str(kwargs.get("endpoint_url") or "")

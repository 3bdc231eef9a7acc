"""The original monitoring tool's algorithm, re-implemented as the benchmark's baseline.

What the original SAM application does (see /work/shared/braket-facts.md, "The systems people
compare against"), and therefore what this class does, per invocation:

- It is invoked for "Braket Task State Change" events whose status is CREATED or CANCELLED
  (``RULE_STATUSES``; its EventBridge rule matches nothing else). There is no deduplication and
  no locking: every delivery runs the whole algorithm.
- It scans the device's tasks of the current UTC day three times, once per status of interest
  (QUEUED, COMPLETED, CANCELLED), with SearchQuantumTasks filtered on the device ARN, 10 results
  per page, newest first, keeping the tasks of that status created on the day and stopping at
  the first task older than the day.
- It sums the QUEUED tasks' shots and cost (per-task fee + shots x per-shot price, in floating
  point like the original) and, when either sum reaches its threshold, cancels *every* QUEUED
  task it found, one CancelQuantumTask call each.
- It posts a Slack message (form-encoded ``payload=``, the summary as Python dict text).

Two deliberate departures, both in the baseline's favour: prices come from the same table as
the guard's (the original hard-codes 2022 prices), and "today" is the day of the benchmark's
task stream (injected ``today``) rather than the Lambda clock's, so a run near midnight
measures the algorithm rather than the date change. AWS calls use a plain boto3 client with
boto3's default retry configuration, as the original does.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import date, datetime, timezone
from typing import Any, Callable

import boto3

RULE_STATUSES = ("CREATED", "CANCELLED")
SCANNED_STATUSES = ("QUEUED", "COMPLETED", "CANCELLED")
PAGE_SIZE = 10


def matches_rule(event: dict) -> bool:
    """The original's EventBridge pattern: Braket task state changes to CREATED or CANCELLED."""
    detail = event.get("detail") or {}
    return (event.get("source") == "aws.braket" and event.get("detail-type") == "Braket Task State Change"
            and detail.get("status") in RULE_STATUSES)


class OriginalTool:
    def __init__(self, max_shots: int, max_cost_usd: float, per_task_usd: float, per_shot_usd: float,
                 slack_url: str | None = None, today: Callable[[], date] | None = None,
                 session: boto3.session.Session | None = None):
        self.max_shots, self.max_cost_usd = max_shots, max_cost_usd
        self.per_task_usd, self.per_shot_usd = per_task_usd, per_shot_usd
        self.slack_url = slack_url
        self.today = today or (lambda: datetime.now(timezone.utc).date())
        self.session = session or boto3.session.Session()
        self._clients: dict[str, Any] = {}

    def client(self, region: str) -> Any:
        if region not in self._clients:  # one client per region, as the original builds them
            self._clients[region] = self.session.client("braket", region_name=region)
        return self._clients[region]

    def scan(self, client: Any, device_arn: str, status: str, day: date) -> list[dict]:
        """One full pass over the device's tasks of ``day``, keeping those in ``status``."""
        kept: list[dict] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"filters": [{"name": "deviceArn", "operator": "EQUAL",
                                                   "values": [device_arn]}], "maxResults": PAGE_SIZE}
            if token:
                kwargs["nextToken"] = token
            page = client.search_quantum_tasks(**kwargs)
            for task in page.get("quantumTasks", []):
                created = task["createdAt"].astimezone(timezone.utc).date()
                if created < day:
                    return kept  # newest first: the rest of the listing is older than the day
                if created == day and task["status"] == status:
                    kept.append(task)
            token = page.get("nextToken")
            if not token:
                return kept

    def handler(self, event: dict, context: Any = None) -> dict:
        detail = event["detail"]
        device_arn = detail["deviceArn"]
        region = event.get("region") or detail["quantumTaskArn"].split(":")[3]
        client = self.client(region)
        day = self.today()
        found = {status: self.scan(client, device_arn, status, day) for status in SCANNED_STATUSES}
        queued = found["QUEUED"]
        queued_shots = sum(int(t["shots"]) for t in queued)
        queued_cost = len(queued) * self.per_task_usd + queued_shots * self.per_shot_usd
        cancelled = []
        if queued_shots >= self.max_shots or queued_cost >= self.max_cost_usd:
            for task in queued:
                response = client.cancel_quantum_task(quantumTaskArn=task["quantumTaskArn"],
                                                      clientToken="braket-monitor")
                cancelled.append(response["quantumTaskArn"])
        summary = {"date": day.isoformat(), "qpu": device_arn,
                   "QUEUED_shot_count": queued_shots, "QUEUED_task_count": len(queued),
                   "COMPLETED_task_count": len(found["COMPLETED"]),
                   "CANCELLED_task_count": len(found["CANCELLED"]), "cancelled": cancelled}
        if self.slack_url:
            self.post_slack(event, summary)
        return summary

    def post_slack(self, event: dict, summary: dict) -> None:
        text = f"# Task Information\n- triggered event:\n{event['detail']}\n- result:\n{summary}"
        body = urllib.parse.urlencode({"payload": json.dumps({"text": text})}).encode()
        request = urllib.request.Request(self.slack_url, data=body, method="POST")  # noqa: S310 - test sink URL
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

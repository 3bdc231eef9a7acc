"""Alert texts: readable plain text for email (SNS) and Block Kit for Slack, from plain facts.

Pure rendering; the notifiers only deliver what these functions return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from braket_guard.core.caps import Cap
from braket_guard.core.money import format_usd

SUBJECT_MAX = 100  # SNS email subject limit


@dataclass(frozen=True)
class Alert:
    kind: str  # warning | breach | oversize | cancel_failed | overrun | reconcile | digest
    subject: str
    text: str
    slack: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class TaskFacts:
    task_arn: str
    device_arn: str
    shots: int
    cost_micros: int | None
    created_at: str


@dataclass(frozen=True)
class Usage:
    shots: int
    cost_micros: int


def short_device(device_arn: str) -> str:
    """``arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1`` -> ``ionq/Forte-1``."""
    return "/".join(device_arn.split("/")[-2:]) if "/" in device_arn else device_arn


def _group_text(cap: Cap, group: str) -> str:
    if cap.group_by == "device":
        return f"device {short_device(group)}"
    if cap.group_by.startswith("tag:"):
        return f"tag {cap.group_by[4:]}={group}"
    return f"{cap.group_by} {group}"


def _usage_text(cap: Cap, usage: Usage) -> str:
    parts = []
    if cap.max_shots is not None:
        parts.append(f"{usage.shots:,} of {cap.max_shots:,} shots")
    if cap.max_cost_micros is not None:
        parts.append(f"{format_usd(usage.cost_micros)} of {format_usd(cap.max_cost_micros)}")
    return ", ".join(parts)


def _cost_text(cost_micros: int | None) -> str:
    return "unknown (device could not be priced)" if cost_micros is None else format_usd(cost_micros)


def _subject(text: str) -> str:
    text = text.encode("ascii", "replace").decode("ascii")
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3] + "..."


def _slack(title: str, lines: list[str], fallback: str, context: str) -> dict[str, Any]:
    return {
        "text": fallback,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context[:300]}]},
        ],
    }


def _footer(mode: str) -> str:
    return f"braket-guard ({mode} mode)"


def render_warning(cap: Cap, group: str, window_key: str, level: Decimal, usage: Usage,
                   mode: str) -> Alert:
    percent = f"{(level * 100).normalize():f}%"
    title = f"Braket cap '{cap.name}' passed {percent}"
    lines = [
        f"Cap: {cap.name} ({cap.window} {window_key}, per {_group_text(cap, group)})",
        f"Used: {_usage_text(cap, usage)}",
        f"Limit: {cap.limits_text()}",
        f"When the cap is reached, new tasks will be {_action_word(cap, mode)}.",
    ]
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("warning", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))


def _action_word(cap: Cap, mode: str) -> str:
    if mode != "enforce" or cap.on_breach == "alert_only":
        return "reported but not cancelled"
    if cap.on_breach == "cancel_queued":
        return "cancelled, together with the queued backlog of the group"
    return "cancelled"


def render_breach(cap: Cap, group: str, window_key: str, usage: Usage, task: TaskFacts,
                  action: str, mode: str, backlog_cancelled: int = 0) -> Alert:
    title = f"Braket cap '{cap.name}' reached: task {action}"
    lines = [
        f"Cap: {cap.name} ({cap.window} {window_key}, per {_group_text(cap, group)})",
        f"Limit: {cap.limits_text()}",
        f"Already used: {_usage_text(cap, usage)}",
        f"Task: {task.task_arn}",
        f"Device: {short_device(task.device_arn)}, {task.shots:,} shots, cost {_cost_text(task.cost_micros)}",
        f"Created: {task.created_at}",
        f"Action: {action}",
    ]
    if backlog_cancelled:
        lines.append(f"Backlog: {backlog_cancelled} created or queued task(s) of this group also cancelled")
    lines.append("Later tasks over this cap in this window are handled the same way without another alert.")
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    fallback = f"{title} ({short_device(task.device_arn)}, {task.shots:,} shots)"
    return Alert("breach", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], fallback, _footer(mode)))


def render_oversize(cap: Cap, group: str, window_key: str, task: TaskFacts, action: str,
                    mode: str) -> Alert:
    """A task that can never fit a cap on its own (bigger than the limit, or no price): it is
    rejected without a sweep; the cap's own breach alert stays for when the cap really fills."""
    unpriced = task.cost_micros is None
    title = (f"Braket task could not be priced for cap '{cap.name}': task {action}" if unpriced
             else f"Braket task larger than cap '{cap.name}' on its own: task {action}")
    lines = [
        f"Cap: {cap.name} ({cap.window} {window_key}, per {_group_text(cap, group)})",
        f"Limit: {cap.limits_text()}",
        f"Task: {task.task_arn}",
        f"Device: {short_device(task.device_arn)}, {task.shots:,} shots, cost {_cost_text(task.cost_micros)}",
        f"Created: {task.created_at}",
        f"Action: {action}",
        ("No price for this device in the price table, BRAKET_GUARD_PRICES or GetDevice: add one to "
         "BRAKET_GUARD_PRICES (prices variable) so such tasks can be admitted." if unpriced else
         "The cap itself still has room: other tasks are admitted as usual, and its breach alert "
         "comes when it really fills."),
        "Further such tasks for this cap in this window are handled the same way without another alert.",
    ]
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("oversize", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))


def render_overrun(task: TaskFacts, caps: list[str], reason: str, mode: str,
                   last_today: bool = False) -> Alert:
    """A task that did not fit an enforcing cap ran anyway: it is charged, and the user told why."""
    title = f"Braket task ran despite cap {', '.join(caps)}"
    lines = [
        f"Task: {task.task_arn}",
        f"Device: {short_device(task.device_arn)}, {task.shots:,} shots, cost {_cost_text(task.cost_micros)}",
        f"Caps: {', '.join(caps)}",
        f"Why: not cancelled because {reason}",
        "Its cost is counted on every cap it falls in (the counters say what was spent), so later "
        "tasks are judged against the true usage.",
    ]
    if last_today:
        lines.append("This is the last such alert today: further tasks that ran despite a cap are "
                     "logged and counted in the daily digest, not alerted one by one.")
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("overrun", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))


def render_cancel_failed(task: TaskFacts, caps: list[str], error: str, mode: str,
                         last_today: bool = False) -> Alert:
    title = "Braket task over its cap could NOT be cancelled"
    lines = [
        f"Task: {task.task_arn}",
        f"Device: {short_device(task.device_arn)}, {task.shots:,} shots, cost {_cost_text(task.cost_micros)}",
        f"Caps breached: {', '.join(caps)}",
        f"Error: {error}",
        "Check the task in the Braket console and cancel it by hand if it is still queued.",
    ]
    if last_today:
        lines.append("This is the last such alert today: further tasks that cannot be cancelled are "
                     "logged and counted in the daily digest, not alerted one by one.")
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("cancel_failed", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))


def _job_lines(job: Any, cost_micros: int | None) -> list[str]:
    cost = ("unknown (no price for this instance type: add it to BRAKET_GUARD_PRICES, the prices "
            "variable)" if cost_micros is None else format_usd(cost_micros))
    return [f"Job: {job.job_arn}",
            f"Instances: {job.instance_count} x {job.instance_type}, device {short_device(job.device)}",
            f"Instance cost so far: {cost}"]


def render_job_breach(cap: Cap, group: str, window_key: str, usage: Usage, job: Any,
                      cost_micros: int | None, action: str, mode: str, ahead_micros: int = 0) -> Alert:
    """A hybrid job's instance time filled a cap (or would before the next accrual)."""
    title = f"Braket cap '{cap.name}' reached by a hybrid job: {action}"
    lines = [
        f"Cap: {cap.name} ({cap.window} {window_key}, per {_group_text(cap, group)})",
        f"Limit: {cap.limits_text()}",
        f"Already used: {_usage_text(cap, usage)}",
        *_job_lines(job, cost_micros),
    ]
    if ahead_micros:
        lines.append(f"Projected: another {format_usd(ahead_micros)} before the next check")
    lines += [f"Action: {action}",
              "The job's instance time is counted as it runs; the tasks it creates are counted as tasks."]
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("breach", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))


def render_job_stop_failed(job: Any, caps: list[str], error: str, mode: str) -> Alert:
    title = "Braket hybrid job over its cap could NOT be stopped"
    lines = [*_job_lines(job, None)[:2],
             f"Caps breached: {', '.join(caps)}", f"Error: {error}",
             "Stop it in the Braket console (Hybrid jobs, Cancel): it bills instance time until it ends."]
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("cancel_failed", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))


def _bold_label(line: str) -> str:
    label, sep, rest = line.partition(": ")
    return f"*{label}:* {rest}" if sep and len(label) < 20 else line


def render_reconcile(report: dict[str, Any], threshold_text: str, mode: str) -> Alert:
    """A reconciliation that had to correct more than the threshold: events are being missed."""
    title = "braket-guard reconciliation corrected the ledger"
    lines = [
        f"Correction: ${report['correction_usd']} (alert threshold ${threshold_text})",
        f"Tasks searched: {report['tasks_seen']} in {', '.join(report['regions'])} since {report['since']}",
        f"Admitted late: {report['admitted']}, rejected late: {report['rejected']}, "
        f"refunded late: {report['refunded']}, simulator true-ups: {report['trued_up']}",
        "Events are being missed or the guard was deployed mid-window; check the EventBridge rules "
        "and the dead-letter queue. This alert is sent at most once a day.",
    ]
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("reconcile", _subject(f"braket-guard: {title}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))


def render_unguarded_region(region: str, guarded: list[str], day: str, mode: str) -> Alert:
    """Tasks arrived from a region the guard was not told about: they are guarded, but the
    scheduled work (reconciliation, digest totals, native limits) does not look there."""
    title = f"Braket tasks from {region}, which braket-guard does not reconcile"
    lines = [
        f"Region: {region} (guarded regions: {', '.join(guarded) or 'none'})",
        f"Day: {day}",
        "Its task events reach the guard, so its tasks are charged to every cap and stopped when "
        "over one (a cancel there needs the guard's role to allow it).",
        "Reconciliation, the digest's searches, backlog sweeps and native limits do not cover this "
        "region: a missed event there is never corrected.",
        f"Add {region} to the module's regions (BRAKET_GUARD_REGIONS) to guard it fully.",
    ]
    text = "\n".join([title, ""] + lines + ["", _footer(mode)])
    return Alert("unguarded_region", _subject(f"braket-guard: tasks from unguarded region {region}"), text,
                 _slack(title, [_bold_label(line) for line in lines], title, _footer(mode)))

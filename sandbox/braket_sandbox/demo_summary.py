"""The demo's summary (step 4): what each cap let run and cancelled, every alert, the checks against
the emulator's ground truth, and summary.json. A mixin of :class:`braket_sandbox.demo.Demo`."""

from __future__ import annotations

import collections
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

from braket_sandbox import deploy as deploy_mod
from braket_sandbox.progress import format_duration
from braket_sandbox.slack_sink import render_text
from braket_sandbox.verdict import Verdict, judge, parse_cap_specs, short_device, usd

__all__ = ["SummaryMixin", "refused_at_door"]


def refused_at_door(error: str | None) -> bool:
    """A notebook error that is Braket refusing the task for a native spending limit."""
    return bool(error) and "ValidationException" in error and "spending limit" in error

def _table_counters(ddb: Any, table: str) -> dict[tuple[str, str, str], dict[str, int]]:
    """Every cap counter of the ledger by (cap, window, group): the items the guard writes with
    ``cap_name``, ``win`` and ``grp`` attributes (whatever their key layout)."""
    counters: dict[tuple[str, str, str], dict[str, int]] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            if all(name in item for name in ("cap_name", "win", "grp")):
                key = (item["cap_name"]["S"], item["win"]["S"], item["grp"]["S"])
                counters[key] = {k: int(v["N"]) for k, v in item.items() if "N" in v}
        if not page.get("LastEvaluatedKey"):
            return counters
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _read_inbox(sqs: Any, queue_url: str) -> list[dict]:
    mails = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return mails
        for message in messages:
            body = json.loads(message["Body"])
            mails.append({"subject": body.get("Subject", ""), "text": body.get("Message", "")})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


class SummaryMixin:
    """Needs the attributes of a Demo: emulator, sink, invoker, bus, notebook, moto, terraform, options."""

    def summarize(self, deployment: deploy_mod.Deployment, stats: dict, sqs: Any, inbox: str,
                  pattern_ok: bool | None) -> tuple[Verdict, dict]:
        assert self.emulator and self.sink and self.invoker and self.bus and self.notebook and self.moto
        say = self.say
        from braket_guard.core.pricing import build_price_book

        env = deployment.environment
        specs = parse_cap_specs(env["BRAKET_GUARD_CAPS"], env.get("BRAKET_GUARD_MODE", "enforce"))
        book = build_price_book(env.get("BRAKET_GUARD_PRICES"))
        zone = ZoneInfo(env.get("BRAKET_GUARD_TIMEZONE", "UTC"))
        tasks = self.emulator.tasks()
        admitted: set[str] = set()
        rejected: dict[str, list[str]] = {}
        decisions: collections.Counter = collections.Counter()
        for invocation in self.invoker.invocations:
            result = invocation.result or {}
            decisions[result.get("decision", "error")] += 1
            if result.get("decision") == "admitted":
                admitted.add(result["task"])
            elif result.get("decision") == "rejected":
                rejected.setdefault(result["task"], [])
                for cap in result.get("breached", []):
                    if cap not in rejected[result["task"]]:
                        rejected[result["task"]].append(cap)
        slack = [render_text(p) for p in self.sink.payloads()]
        mails = _read_inbox(sqs, inbox)
        counters = _table_counters(deploy_mod.aws_client("dynamodb", self.moto.url), deployment.table)
        submit_errors = [s for s in self.notebook.submissions if s.error]
        refused = [s for s in submit_errors if self.options.native_limits != "off" and refused_at_door(s.error)]
        verdict = judge(tasks=tasks, specs=specs, price_of=book.lookup, zone=zone, admitted=admitted,
                        rejected=rejected, counters=counters, slack_texts=slack,
                        email_texts=[m["subject"] + "\n" + m["text"] for m in mails],
                        dead_letters=len(self.invoker.dead_letters),
                        submitted=len(self.notebook.submissions), submit_errors=len(submit_errors),
                        refused_at_door=len(refused))

        say.step(4, "Summary")
        say(f"  Slack: {len(slack)} message(s) posted to the webhook stored in SSM {deployment.slack_parameter}")
        for number, text in enumerate(slack, 1):
            say(f"  --- Slack message {number} ---")
            say(_indent(text, "    "))
        recipients = ", ".join(deployment.email_endpoints) or "(no email subscription in this deployment)"
        say(f"  Email: {len(mails)} message(s) on SNS topic {deployment.topic_arn.rsplit(':', 1)[-1]} "
            f"for {recipients} (moto sends no mail: read through an SQS subscription)")
        for number, mail in enumerate(mails, 1):
            say(f"    {number:>2}. {mail['subject']}")

        say("")
        say(f"  Deliveries: {self.bus.published} events emitted, {self.bus.deliveries} delivered "
            f"({self.bus.deliveries - self.bus.published} duplicates, {self.bus.out_of_order} out of order), "
            f"{len(self.invoker.invocations)} invocations, {self.invoker.errors} errors, "
            f"{len(self.invoker.dead_letters)} failed after retries")
        say(f"  Guard: " + ", ".join(f"{k} {v}" for k, v in sorted(decisions.items()))
            + f"; first saw tasks as " + ", ".join(f"{k} {v}" for k, v in sorted(stats["first_seen"].items()))
            + f"; reaction time median {stats['reaction_median_ms']} ms, max {stats['reaction_max_ms']} ms")
        if pattern_ok is not None:
            say(f"  EventBridge: the deployed rule {deployment.rule_name} "
                f"{'matches' if pattern_ok else 'does NOT match'} the emulator's events "
                f"({', '.join(stats.get('rule_statuses', []))})")
        if deployment.method == "terraform" and not stats.get("deploy_problem"):
            say(f"  Terraform: {deployment.resources} resources in {format_duration(deployment.seconds)}, "
                f"the guard live after {format_duration(self.terraform.ready_after if self.terraform else 0)}; "
                f"log {self._rel(self.options.logs / 'terraform.log')}")
        say(f"  Lambda log: {stats['lambda_log_lines']} JSON lines (decisions, alerts, EMF metrics) in {self._rel(self.options.logs / 'lambda.log')}")

        native = self._native_limits_summary(refused)
        say("")
        self._print_caps(verdict)
        say("")
        say(f"  Tasks: {verdict.tasks} submitted, {verdict.ran} ran, {verdict.cancelled} cancelled by the guard "
            "before they ran")
        say(f"  Spend prevented: {usd(verdict.prevented_micros)} ({usd(verdict.spent_micros)} spent; the runaway "
            f"would have cost {usd(verdict.spent_micros + verdict.prevented_micros)})")
        say("")
        say("  Checks (against the emulator's ground truth):")
        for check in verdict.checks:
            say(f"    [{'ok' if check.ok else 'FAILED'}] {check.name}" + (f": {check.detail}" if check.detail else ""))
        if stats["timed_out"]:
            say("    [FAILED] the run finished in time: tasks or deliveries were still pending")
        if self.terraform is not None or deployment.method == "terraform":
            problem = stats.get("deploy_problem")
            say(f"    [{'FAILED' if problem else 'ok'}] Terraform finished; its outputs name the table, topic, "
                f"parameter, function and environment the demo used" + (f": {problem}" if problem else ""))
        if pattern_ok is not None:
            say(f"    [{'ok' if pattern_ok else 'FAILED'}] the deployed EventBridge rule matches the emulator's events")
        seen = stats.get("notebook", {})
        say(f"    [{'ok' if seen.get('agrees') else 'FAILED'}] the notebook's SDK reports every task in the state the "
            "emulator holds (cancelled tasks CANCELLED, no result)"
            + ("" if seen.get("agrees") else f": {seen.get('error') or seen.get('disagreements')}"))
        total = time.monotonic() - self.started
        say("")
        if self._all_ok(verdict, stats, pattern_ok):
            say(f"RESULT: every cap held. ({format_duration(total)} in all: services "
                f"{format_duration(self.timings.get('services', 0))}, guard live after "
                f"{format_duration(self.timings.get('deploy', 0))}, notebook {format_duration(self.timings.get('notebook', 0))})")
        else:
            held = ("every cap held" if verdict.caps_held else "a cap did NOT hold" if verdict.rows
                    else "nothing was guarded: no cap covered any task")
            say(f"RESULT: {held}, but not every check passed (see above). ({format_duration(total)})"
                if verdict.caps_held else f"RESULT: {held} (see above). ({format_duration(total)})")

        summary = {
            "deployment": {"method": deployment.method, "table": deployment.table, "topic": deployment.topic_arn,
                           "slack_parameter": deployment.slack_parameter, "function": deployment.function_name,
                           "resources": deployment.resources, "terraform_version": deployment.terraform_version,
                           "rule": deployment.rule_name, "rule_matches_events": pattern_ok,
                           "environment": {k: v for k, v in deployment.environment.items()}},
            "tasks": verdict.tasks, "ran": verdict.ran, "cancelled": verdict.cancelled,
            "spent_usd": str(verdict.spent_micros / 1_000_000), "prevented_micros": verdict.prevented_micros,
            "spent_micros": verdict.spent_micros,
            "admitted": sorted(admitted), "rejected": {k: v for k, v in sorted(rejected.items())},
            "caps": [{"cap": r.cap.name, "window": r.window, "group": r.group, "limit": r.cap.limit_text(),
                      "max_shots": r.cap.max_shots, "max_cost_micros": r.cap.max_cost_micros,
                      "enforced": r.cap.enforced, "ran_tasks": r.ran_tasks, "ran_shots": r.ran_shots,
                      "ran_cost_micros": r.ran_cost, "cancelled_tasks": r.cancelled_tasks,
                      "cancelled_cost_micros": r.cancelled_cost, "rejected_for_this_cap": r.rejected_for_this_cap,
                      "held": r.held, "ledger_matches": r.ledger_matches} for r in verdict.rows],
            "caps_held": verdict.caps_held,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
            "breach_alerts": [{"cap": k[0], "window": k[1], "group": k[2], **v}
                              for k, v in sorted(verdict.breach_alerts.items())],
            "slack": slack, "emails": mails,
            "deliveries": {"published": self.bus.published, "delivered": self.bus.deliveries,
                           "out_of_order": self.bus.out_of_order, "invocations": len(self.invoker.invocations),
                           "errors": self.invoker.errors, "dead_letters": len(self.invoker.dead_letters)},
            "decisions": dict(decisions), "stats": stats, "native_limits": native,
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "seconds": round(total, 2),
        }
        return verdict, summary

    def _native_limits_summary(self, refused: list) -> dict[str, Any]:
        """With native limits on: the limits the guard left on the emulator's QPUs, and the notebook's
        calls Braket refused at CreateQuantumTask (each ended that thread's loop)."""
        if self.options.native_limits == "off":
            return {"mode": "off"}
        assert self.emulator
        limits = [{"device": lim["deviceArn"], "spendingLimit": str(lim["spendingLimit"]),
                   "totalSpend": str(lim["totalSpend"]), "queuedSpend": str(lim["queuedSpend"]),
                   "tags": dict(lim["tags"])} for lim in self.emulator.spending_limits()]
        self.say(f"  Native limits ({self.options.native_limits}): {len(limits)} spending limit(s) on the QPUs")
        for lim in limits:
            self.say(f"    {short_device(lim['device'])}: limit ${lim['spendingLimit']}, total ${lim['totalSpend']}, "
                     f"queued ${lim['queuedSpend']}; tags " + ", ".join(f"{k}={v}" for k, v in sorted(lim["tags"].items())))
        if refused:
            self.say(f"  Braket refused {len(refused)} CreateQuantumTask call(s) at the door; each ended a notebook "
                     f"thread's loop, as a user's loop ends: {refused[0].error}")
        else:
            self.say("  Braket refused no CreateQuantumTask call (no native limit was reached)")
        return {"mode": self.options.native_limits, "limits": limits, "refused": len(refused),
                "first_refusal": refused[0].error if refused else None}

    def _print_caps(self, verdict: Verdict) -> None:
        header = ("cap", "window", "group", "limit", "ran (admitted)", "cancelled", "held")
        rows = []
        for row in verdict.rows:
            group = short_device(row.group) if row.cap.group_by == "device" else row.group
            ran = f"{row.ran_tasks} tasks, {row.ran_shots:,} shots, {usd(row.ran_cost)}"
            cancelled = f"{row.cancelled_tasks} tasks, {usd(row.cancelled_cost)}"
            if row.rejected_for_this_cap:
                cancelled += f" ({row.rejected_for_this_cap} breached this cap)"
            held = ("yes" if row.held else "NO") if row.cap.enforced else ("alert only" + ("" if row.held else ", over"))
            rows.append((row.cap.name, row.window, group, row.cap.limit_text(), ran, cancelled, held))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        self.say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows:
            self.say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))

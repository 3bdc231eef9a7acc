import json
from decimal import Decimal

from braket_guard.core.caps import parse_caps
from braket_guard.alerts.messages import (TaskFacts, Usage, render_breach, render_cancel_failed, render_warning,
                                   short_device)

from .conftest import FORTE, TASK

(DEVICE_CAP,) = parse_caps('[{"name": "daily-qpu", "window": "day", "group_by": "device", '
                           '"max_shots": 1000, "max_cost_usd": 50, "warn_at": [0.8]}]')
FACTS = TaskFacts(TASK, FORTE, 100, 8_300_000, "2026-11-28T01:17:42.898Z")


def test_breach_is_readable_text_not_a_dict_dump():
    alert = render_breach(DEVICE_CAP, FORTE, "2026-11-28", Usage(600, 49_800_000), FACTS, "cancelled", "enforce")
    assert alert.kind == "breach"
    assert alert.subject == "braket-guard: Braket cap 'daily-qpu' reached: task cancelled"
    lines = alert.text.splitlines()
    assert lines[0] == "Braket cap 'daily-qpu' reached: task cancelled"
    assert "Cap: daily-qpu (day 2026-11-28, per device ionq/Forte-1)" in lines
    assert "Limit: 1,000 shots / $50.00" in lines
    assert "Already used: 600 of 1,000 shots, $49.80 of $50.00" in lines
    assert f"Task: {TASK}" in lines
    assert "Device: ionq/Forte-1, 100 shots, cost $8.30" in lines
    assert "{" not in alert.text


def test_breach_slack_blocks_have_fallback_text():
    alert = render_breach(DEVICE_CAP, FORTE, "2026-11-28", Usage(600, 0), FACTS,
                          "not cancelled (monitor mode)", "monitor", backlog_cancelled=3)
    payload = alert.slack
    json.dumps(payload)  # serialisable
    assert payload["text"].startswith("Braket cap 'daily-qpu' reached: task not cancelled (monitor mode)")
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context"]
    assert "*Backlog:* 3 created or queued task(s)" in payload["blocks"][1]["text"]["text"]
    assert payload["blocks"][2]["elements"][0]["text"] == "braket-guard (monitor mode)"


def test_warning():
    alert = render_warning(DEVICE_CAP, FORTE, "2026-11-28", Decimal("0.8"), Usage(800, 10_000_000), "enforce")
    assert alert.subject == "braket-guard: Braket cap 'daily-qpu' passed 80%"
    assert "Used: 800 of 1,000 shots, $10.00 of $50.00" in alert.text
    assert "new tasks will be cancelled" in alert.text


def test_cancel_failed_and_unknown_cost():
    facts = TaskFacts(TASK, "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1", 10, None, "t")
    alert = render_cancel_failed(facts, ["daily-qpu"], "ConflictException: task COMPLETED", "enforce")
    assert "could NOT be cancelled" in alert.subject
    assert "cost unknown (device could not be priced)" in alert.text
    assert "Error: ConflictException: task COMPLETED" in alert.text


def test_subject_is_ascii_and_short():
    (cap,) = parse_caps('[{"name": "%s", "window": "day", "group_by": "tag:team", "max_shots": 1}]' % ("x" * 64))
    alert = render_breach(cap, "équipe", "2026-11-28", Usage(1, 0), FACTS, "cancelled", "enforce")
    assert len(alert.subject) <= 100
    alert.subject.encode("ascii")
    assert "tag team=équipe" in alert.text


def test_short_device():
    assert short_device(FORTE) == "ionq/Forte-1"
    assert short_device("plain") == "plain"

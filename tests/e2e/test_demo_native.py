"""The demo with native limits on (``make demo NATIVE_LIMITS=freeze``), smaller, under pytest: the
guard deployed with boto3 and BRAKET_GUARD_NATIVE_LIMITS=freeze, the same runaway notebook (the
Braket SDK on 4 threads). When a QPU's daily cost cap breaches, the guard freezes that QPU with a
Braket spending limit of its own; Braket then refuses the notebook's next task on it at
CreateQuantumTask, and that thread's loop stops on Braket's error.

Everything is recomputed from the emulator's tasks and limits and the notebook's submissions.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from braket_guard.core.pricing import build_price_book
from braket_sandbox.demo import Demo, DemoOptions

ROOT = Path(__file__).resolve().parents[2]
CAPS_FILE = ROOT / "demo" / "caps.json"
OWNER_TAG = "braket-guard:owner"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    logs = tmp_path_factory.mktemp("demo-native-logs")
    out = io.StringIO()
    demo = Demo(DemoOptions(tasks=120, caps=CAPS_FILE, timezone="UTC", terraform="never", logs=logs, seed=7,
                            native_limits="freeze"), out)
    try:
        result = demo.run()
        yield {"result": result, "out": out.getvalue(), "tasks": demo.emulator.tasks(),
               "limits": demo.emulator.spending_limits(), "submissions": list(demo.notebook.submissions),
               "environment": result.summary.get("deployment", {}).get("environment", {})}
    finally:
        demo.close()


def cost_micros(task: dict) -> int:
    price = build_price_book().lookup(task["deviceArn"])
    return price.per_task_micros + price.per_shot_micros * int(task["shots"])


def test_the_demo_passes_with_native_limits(run):
    assert run["result"].exit_code == 0, run["out"][-3000:]
    assert "RESULT: every cap held." in run["out"]
    assert "[FAILED]" not in run["out"]
    assert run["environment"].get("BRAKET_GUARD_NATIVE_LIMITS") == "freeze"


def test_a_breached_qpu_is_frozen_with_a_limit_the_guard_owns(run):
    daily = next(c for c in json.loads(CAPS_FILE.read_text()) if c["name"] == "daily-qpu-cost")
    assert run["limits"], "the guard created no native spending limit"
    demand: dict[str, int] = defaultdict(int)
    for task in run["tasks"]:
        if "/qpu/" in task["deviceArn"]:
            demand[task["deviceArn"]] += cost_micros(task)
    for limit in run["limits"]:
        assert limit["tags"].get(OWNER_TAG) == run["environment"]["BRAKET_GUARD_TABLE"], limit["tags"]
        assert "/qpu/" in limit["deviceArn"]
        # A freeze leaves no room for another task on that QPU.
        room = limit["spendingLimit"] - limit["totalSpend"] - limit["queuedSpend"]
        assert room < Decimal("0.30") + Decimal("0.01"), limit
        # Only a QPU whose daily cost cap really breached is frozen (created demand beyond the cap).
        assert demand[limit["deviceArn"]] > daily["max_cost_usd"] * 1_000_000, limit["deviceArn"]


def test_the_notebook_loop_stopped_on_brakets_refusal(run):
    summary = run["result"].summary["native_limits"]
    assert summary["mode"] == "freeze" and summary["refused"] >= 1
    refused = [s for s in run["submissions"] if s.error]
    assert len(refused) == summary["refused"]  # no other error
    for submission in refused:
        assert "ValidationException" in submission.error and "spending limit" in submission.error
        assert submission.device in {lim["deviceArn"] for lim in run["limits"]}
        # It was that thread's last call: the loop stopped there, as a user's loop does.
        later = [s for s in run["submissions"] if s.thread == submission.thread
                 and run["submissions"].index(s) > run["submissions"].index(submission)]
        assert later == []
    assert "Braket refused" in run["out"] and "at the door" in run["out"]
    assert len(run["submissions"]) < 120  # the runaway ended before its plan did


def test_no_task_on_a_frozen_qpu_was_created_after_its_freeze(run):
    for limit in run["limits"]:
        frozen_at = limit["updatedAt"]
        late = [t for t in run["tasks"] if t["deviceArn"] == limit["deviceArn"] and t["createdAt"] > frozen_at]
        assert late == [], f"{len(late)} task(s) created on {limit['deviceArn']} after it was frozen"

"""The demo's sandbox end to end, smaller, under pytest: moto (a child process), the Braket
emulator, the Slack sink, the guard deployed with boto3 (the Terraform path is covered by
test_make_demo.py), a runaway notebook of 45 tasks, deliveries at least once and out of order.

The assertions recompute everything from the emulator's tasks and the alerts received, with code
of their own, instead of trusting the demo's summary or the guard's ledger.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from braket_guard.core.pricing import build_price_book
from braket_sandbox.demo import Demo, DemoOptions
from braket_sandbox.slack_sink import render_text

ROOT = Path(__file__).resolve().parents[2]
CAPS_FILE = ROOT / "demo" / "caps.json"
ZONE = "Asia/Tokyo"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One demo run (boto3 deployment), kept open so the tests can read its servers."""
    logs = tmp_path_factory.mktemp("demo-logs")
    out = io.StringIO()
    demo = Demo(DemoOptions(tasks=45, caps=CAPS_FILE, timezone=ZONE, terraform="never", logs=logs,
                            seed=7), out)
    try:
        result = demo.run()
        tasks = demo.emulator.tasks()
        slack = [render_text(p) for p in demo.sink.payloads()]
        invocations = list(demo.invoker.invocations)
        published = demo.bus.published
        yield {"result": result, "tasks": tasks, "slack": slack, "out": out.getvalue(), "logs": logs,
               "invocations": invocations, "published": published}
    finally:
        demo.close()


def cost_micros(task: dict) -> int:
    """QPU tasks only (the demo's cost caps are QPU caps): per-task + per-shot price."""
    price = build_price_book().lookup(task["deviceArn"])
    assert price is not None and not price.by_duration, task["deviceArn"]
    return price.per_task_micros + price.per_shot_micros * int(task["shots"])


def usage(tasks: list[dict], cap: dict) -> dict[tuple[str, str], list[dict]]:
    """Tasks that ran, by (window key, group) of ``cap``, computed here from scratch."""
    zone = ZoneInfo(ZONE)
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for task in tasks:
        if task["status"] == "CANCELLED":
            continue
        kind = "simulator" if "/quantum-simulator/" in task["deviceArn"] else "qpu"
        if cap.get("devices") and kind not in cap["devices"]:
            continue
        local = task["createdAt"].astimezone(zone)
        window = {"day": local.strftime("%Y-%m-%d"), "month": local.strftime("%Y-%m")}[cap["window"]]
        group = {"device": task["deviceArn"], "account": task["quantumTaskArn"].split(":")[4],
                 "tag:project": task["tags"].get("project", "(untagged)")}[cap["group_by"]]
        found[(window, group)].append(task)
    return found


def test_the_demo_passes_and_says_so(run):
    assert run["result"].exit_code == 0, run["out"][-3000:]
    assert "RESULT: every cap held." in run["out"]
    assert "[FAILED]" not in run["out"]
    summary = run["result"].summary
    assert summary["caps_held"] is True
    assert summary["deployment"]["method"] == "boto3"
    assert json.loads((run["logs"] / "summary.json").read_text())["exit_code"] == 0


def test_the_burst_really_hit_the_caps(run):
    tasks = run["tasks"]
    assert len(tasks) == 45
    statuses = Counter(t["status"] for t in tasks)
    assert set(statuses) == {"COMPLETED", "CANCELLED"}, statuses  # every task finished either way
    assert statuses["CANCELLED"] >= 10 and statuses["COMPLETED"] >= 5, statuses


def test_caps_held_exactly(run):
    caps = json.loads(CAPS_FILE.read_text())
    tasks = run["tasks"]
    rejected = run["result"].summary["rejected"]
    for cap in caps:
        groups = usage(tasks, cap)
        for (window, group), ran in groups.items():
            if "max_shots" in cap:
                assert sum(int(t["shots"]) for t in ran) <= cap["max_shots"], (cap["name"], group)
            if "max_cost_usd" in cap:
                assert sum(cost_micros(t) for t in ran) <= cap["max_cost_usd"] * 1_000_000, (cap["name"], group)
    # Exactly: every task rejected for a cap really did not fit in what finally ran.
    by_arn = {t["quantumTaskArn"]: t for t in tasks}
    for arn, breached in rejected.items():
        task = by_arn[arn]
        fits_somewhere_it_was_refused = []
        for cap in caps:
            if cap["name"] not in breached:
                continue
            local = task["createdAt"].astimezone(ZoneInfo(ZONE))
            window = {"day": local.strftime("%Y-%m-%d"), "month": local.strftime("%Y-%m")}[cap["window"]]
            group = {"device": task["deviceArn"], "account": arn.split(":")[4],
                     "tag:project": task["tags"].get("project", "(untagged)")}[cap["group_by"]]
            ran = usage(tasks, cap).get((window, group), [])
            shots_fit = "max_shots" not in cap or sum(int(t["shots"]) for t in ran) + int(task["shots"]) <= cap["max_shots"]
            cost_fit = "max_cost_usd" not in cap or (
                sum(cost_micros(t) for t in ran) + cost_micros(task) <= cap["max_cost_usd"] * 1_000_000)
            fits_somewhere_it_was_refused.append(shots_fit and cost_fit)
        assert fits_somewhere_it_was_refused and not all(fits_somewhere_it_was_refused), arn


def test_rejected_tasks_cancelled_and_admitted_ones_not(run):
    summary = run["result"].summary
    admitted, rejected = set(summary["admitted"]), set(summary["rejected"])
    by_status = defaultdict(set)
    for task in run["tasks"]:
        by_status[task["status"]].add(task["quantumTaskArn"])
    assert rejected and admitted
    assert not admitted & rejected
    assert rejected == by_status["CANCELLED"]  # every rejected task cancelled, nothing else was
    assert admitted == by_status["COMPLETED"]  # no admitted task cancelled


def test_deliveries_were_duplicated_and_reordered_and_all_handled(run):
    summary = run["result"].summary
    deliveries = summary["deliveries"]
    assert deliveries["delivered"] > deliveries["published"] == run["published"]
    assert deliveries["out_of_order"] > 0
    assert deliveries["dead_letters"] == 0
    assert all(i.error is None for i in run["invocations"])
    first_seen = summary["stats"]["first_seen"]
    assert first_seen.get("QUEUED", 0) > 0  # some tasks reached the guard QUEUED before CREATED


def test_one_breach_alert_per_cap_and_window(run):
    summary = run["result"].summary
    caps = {c["name"]: c for c in json.loads(CAPS_FILE.read_text())}
    by_arn = {t["quantumTaskArn"]: t for t in run["tasks"]}
    expected = set()
    for arn, breached in summary["rejected"].items():
        task = by_arn[arn]
        local = task["createdAt"].astimezone(ZoneInfo(ZONE))
        for name in breached:
            cap = caps[name]
            window = {"day": local.strftime("%Y-%m-%d"), "month": local.strftime("%Y-%m")}[cap["window"]]
            group = {"device": "device " + "/".join(task["deviceArn"].split("/")[-2:]),
                     "account": "account " + arn.split(":")[4],
                     "tag:project": "tag project=" + task["tags"].get("project", "(untagged)")}[cap["group_by"]]
            expected.add(f"{name} ({cap['window']} {window}, per {group})")
    assert expected
    slack = Counter(line.split("Cap:* ", 1)[1] for text in run["slack"] if "reached" in text.splitlines()[0]
                    for line in text.splitlines() if line.startswith("*Cap:* "))
    emails = Counter(line.split("Cap: ", 1)[1] for mail in summary["emails"] if "reached" in mail["subject"]
                     for line in mail["text"].splitlines() if line.startswith("Cap: "))
    assert slack == Counter({key: 1 for key in expected})
    assert emails == Counter({key: 1 for key in expected})
    assert not any("could NOT be cancelled" in text for text in run["slack"])


def test_the_summary_shows_what_a_newcomer_needs(run):
    out = run["out"]
    for text in ("[1/4] Local services", "moto server", "Braket API emulator", "Slack incoming-webhook sink",
                 "Terraform not used" if "boto3" in out else "Terraform", "[3/4] Runaway notebook",
                 "tasks [", "--- Slack message 1 ---", "Email:", "Spend prevented", "Checks", "held"):
        assert text in out, text
    prevented = run["result"].summary["prevented_micros"]
    cancelled_cost = sum(cost_micros(t) for t in run["tasks"]
                         if t["status"] == "CANCELLED" and "/quantum-simulator/" not in t["deviceArn"])
    assert prevented >= cancelled_cost > 0


def test_the_notebook_saw_its_tasks_through_the_sdk(run):
    """The notebook is written with the Braket SDK: what ``task.state()`` told it matches the
    emulator, task by task; completed tasks have results in S3, cancelled ones none."""
    seen = run["result"].summary["stats"]["notebook"]
    truth = {t["quantumTaskArn"]: t["status"] for t in run["tasks"]}
    assert seen["states"] == truth
    assert seen["agrees"] is True
    by_state = Counter(truth.values())
    assert by_state["CANCELLED"] > 0 and by_state["COMPLETED"] > 0
    assert sum(sum(c.values()) for c in seen["by_device"].values()) == len(truth) == 45
    completed = [r for r in seen["results"] if r["state"] == "COMPLETED"]
    cancelled = [r for r in seen["results"] if r["state"] == "CANCELLED"]
    assert completed and all("Result" in r["result"] for r in completed)
    assert cancelled and all(r["result"].startswith("None") for r in cancelled)
    sv1 = [r for r in completed if r["device"].startswith("amazon/sv1")]
    assert sv1 and "000" in sv1[0]["result"] and "111" in sv1[0]["result"]  # a real GHZ result
    assert "What the notebook saw (task.state() of each task, as the SDK reports it):" in run["out"]

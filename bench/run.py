"""``python -m bench.run``: braket-guard against the original monitoring tool on the same streams.

Prints the results table and, unless ``--no-write``, writes ``docs/benchmark.md``,
``docs/benchmark.png``, ``bench/results.json`` and the README section between
``<!-- BEGIN_BENCH -->`` and ``<!-- END_BENCH -->``. See bench/workload.py for the stream.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC, PLOT, RAW = ROOT / "docs" / "benchmark.md", ROOT / "docs" / "benchmark.png", ROOT / "bench" / "results.json"
QUOTA_PLOT = "benchmark-quota.png"
README = ROOT / "README.md"
BEGIN, END = "<!-- BEGIN_BENCH -->", "<!-- END_BENCH -->"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def moto_process():
    """bench.moto_proc (locked moto + braket_sandbox.moto_speedups) in a child process; yields its URL."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "sandbox"), str(ROOT / "lambda")]))
    child = subprocess.Popen([sys.executable, "-m", "bench.moto_proc"], stdout=subprocess.PIPE, text=True,
                             env=env, cwd=ROOT)
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line.startswith("READY "):
            raise RuntimeError(f"moto did not start: {line!r}")
        yield line.split()[1]
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


@contextlib.contextmanager
def quiet_guard_output():
    """The guard logs one JSON line per decision and prints EMF metric lines, as in Lambda; the
    bench keeps that cost (formatting, writing) but sends the lines to /dev/null."""
    with open(os.devnull, "w") as sink:
        from braket_guard.aws import logs
        handlers = logs.logger.handlers or [logging.StreamHandler()]
        if not logs.logger.handlers:
            logs.logger.addHandler(handlers[0])
        previous = [h.setStream(sink) for h in handlers if isinstance(h, logging.StreamHandler)]
        try:
            with contextlib.redirect_stdout(sink):
                yield
        finally:
            for handler, stream in zip([h for h in handlers if isinstance(h, logging.StreamHandler)], previous):
                handler.setStream(stream)


# ----------------------------------------------------------------------------------- formatting
def usd(micros: float) -> str:
    return f"${micros / 1e6:,.2f}"


def ratio(a: float, b: float) -> str:
    if b == 0:
        return "∞" if a else "–"
    value = a / b
    return f"{value:,.0f}×" if value >= 100 else f"{value:,.1f}×" if value >= 10 else f"{value:.2f}×"


def results_table(results: list[dict]) -> str:
    lines = ["| N | system | invocations | Braket calls / event | DynamoDB calls / event | handler ms, median | "
             "handler ms, p99 | processing time (16 concurrent) | tasks / s worked off | Braket throttles | "
             "failed invocations (Lambda retries) | admitted of limit | overshoot shots | overshoot $ |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        note = "" if r["complete"] else f" (stopped after {r['tasks_submitted']:,} of {r['n']:,} tasks)"
        if r.get("deliveries_left"):
            note += f" ({r['deliveries_left']:,} deliveries cut at the budget)"
        lines.append(
            f"| {r['n']:,} | {r['system']}{note} | {r['invocations']:,} | {r['braket_per_event']:.2f} | "
            f"{r['ddb_per_event']:.2f} | {r['median_ms']:,.0f} | {r['p99_ms']:,.0f} | {r['processing_s']:,.1f} s | "
            f"{r['tasks_submitted'] / max(r['processing_s'], 1e-9):,.1f} | {throttles(r)} | "
            f"{r['failed_invocations']:,} ({r.get('lambda_retries', 0):,}) | "
            f"{usd(r['admitted_cost_micros'])} of {usd(r['max_cost_micros'])} | {r['overshoot_shots']:,} | "
            f"{usd(r['overshoot_micros'])} |")
    return "\n".join(lines)


def throttles(r: dict) -> str:
    """Throttled Braket calls, by operation (each one retried by the client's backoff, or its end)."""
    if not r.get("quotas", False):
        return "no quotas"
    by_op = r.get("throttled_by_op") or {}
    if not by_op:
        return "0"
    short = {"SearchQuantumTasks": "Search", "CancelQuantumTask": "Cancel", "GetQuantumTask": "Get",
             "CreateQuantumTask": "Create", "GetDevice": "GetDevice"}
    return f"{r['throttled']:,} (" + ", ".join(f"{short.get(op, op)} {n:,}" for op, n in sorted(by_op.items())) + ")"


# The DynamoDB calls per decision class, counted at the moto server on a 20-task burst against a
# $50 daily device cap (issue 23); pinned call by call by tests/integration/test_call_budget.py.
CALL_BUDGET = """\
## DynamoDB calls per decision class (the call budget)

Counted at the moto server (every request naming the guard's table, from both of its clients: the
ledger's and the cancel token bucket's) on a burst of 20 tasks of $8.30 on IonQ Forte-1 against a
$50 daily device cap (6 admitted, 14 rejected), each CREATED event delivered once and then once
more, and on the same cap with `warn_at` 0.8 (the benchmark's cap has one); pinned call by call by
`tests/integration/test_call_budget.py` (a count, not a time). "Start" is the tree of issue 23's
start (36fddfb), "main" the tree this branch left from (d13a0df), "after" this one.

| decision class | budget | start | main | after | calls after |
|---|---:|---:|---:|---:|---|
| duplicate (a later or repeated event) | 1 | 1 | 1 | 1 | BatchGetItem (the record with the task's counters) for a CREATED, QUEUED or RUNNING event whose counters the event names; GetItem otherwise |
| admitted | ≤ 2 | 2 | 2 | 2 | BatchGetItem (record and counter), TransactWriteItems; was GetItem, TransactWriteItems |
| admitted, cap with `warn_at`, no level crossed | ≤ 2 | 4 | 4 | 2 | BatchGetItem (record and counter), TransactWriteItems (bounded below the next level); was GetItem, TransactWriteItems, BatchGetItem, TransactWriteItems |
| admitted, the charge that crosses a level (sends the warning) | – | 6 | 6 | 6 | BatchGetItem, TransactWriteItems, BatchGetItem (the counter), UpdateItem (claim), UpdateItem (settle), TransactWriteItems (work done) |
| admitted, another container charged between the read and the write | – | – | – | +1 | the bounded TransactWriteItems is refused, the charge is made the old way (4 calls, or 6 when it sends the warning) |
| rejected, before its cancel | ≤ 4 | 5 | 4 | 3 | BatchGetItem (record and counter: the cap is already full), TransactWriteItems (rejection), PutItem (a token of the shared cancel bucket); was + a TransactWriteItems (the admission, refused), still made when the read says the task fits and a concurrent charge fills the cap before it |
| rejected, after its cancel, the breach alert already settled | – | 6 | 1 | 1 | TransactWriteItems (the cancel's outcome) |
| rejected, after its cancel, the one that sends the breach alert | – | 5 | 5 | 5 | TransactWriteItems, UpdateItem (claim), BatchGetItem (the counter, for the text), UpdateItem (settle), TransactWriteItems |
| per alert (its marker) | ≤ 2 | 2 | 2 | 2 | UpdateItem (claim), UpdateItem (settle) |
| **a rejected task, in all** | – | 10-11 | 5 (9 for the one that alerts) | 4 (8) | |

How (main): the token bucket writes from the item it last saw (a refused write returns the current
item, `ReturnValuesOnConditionCheckFailure`, so a stale view costs one more write, never a double
token); a refused alert claim returns the marker instead of two reads; a container remembers the
markers it saw settled, so a rejection after the breach alert owes no alert work at all (a cold
container reads the marker once: one refused claim); the breach counter is read only when an alert
is actually sent.

How (this tree): the first read fetches the task's counters with its record (one BatchGetItem,
when the event alone names the counters: no tag grouping, no declared reservation, a listed price).
A task those counters already refuse is rejected without trying the admission (decided as of that
consistent read; a rejection charges nothing, and its record is written only if no other delivery
recorded the task). Under a `warn_at` cap, when the charge cannot reach the next level by the value read, the admission's
transaction is also conditional on each watched counter staying below that level after the charge
(`cost_micros < level - cost`, and the same for shots); it then proves no warning is due and needs
no read after it. Exact under concurrency: a charge that would cross a level because another
container charged meanwhile is refused by that condition and made again the old way (charge, read,
warn), so a warning is never missed; the markers keep it sent once. A level already at or under the
value read takes the fast way only when this container saw its marker settled (a level added by a
new configuration, or one a crashed sender left claimed, is looked at the old way). Counters can
fall between the read and the write (refunds, true-ups): a charge then re-crosses only a level that
was reached before, whose marker is settled.
"""


def ratio_table(results: list[dict]) -> str:
    lines = ["| N | Braket calls / event | all AWS calls / event | handler time, median | handler time, p99 | "
             "processing time | overshoot (original / guard) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    by_n: dict[int, dict[str, dict]] = {}
    for r in results:
        by_n.setdefault(r["n"], {})[r["system"]] = r
    for n, pair in sorted(by_n.items()):
        guard, base = pair.get("braket-guard"), pair.get("original tool")
        if not guard or not base:
            continue
        star = "" if base["complete"] and guard["complete"] else " *"
        lines.append(
            f"| {n:,}{star} | {ratio(base['braket_per_event'], guard['braket_per_event'])} | "
            f"{ratio(base['aws_per_event'], guard['aws_per_event'])} | {ratio(base['median_ms'], guard['median_ms'])} | "
            f"{ratio(base['p99_ms'], guard['p99_ms'])} | "
            f"{ratio(base['processing_s'] * guard['tasks_submitted'], guard['processing_s'] * base['tasks_submitted'])} | "
            f"{usd(base['overshoot_micros'])} / {usd(guard['overshoot_micros'])} |")
    return "\n".join(lines)


def notes_text(results: list[dict]) -> str:
    """What the numbers say, computed from them (so that it stays true when they change)."""
    lines = []
    stopped = [r for r in results if not r["complete"]]
    for r in stopped:
        lines.append(f"- \\* {r['system']}, N = {r['n']:,}: stopped by its time budget after "
                     f"{r['tasks_submitted']:,} of {r['n']:,} tasks; its figures cover those tasks only"
                     + (" (the day's task count was still small, so they understate the original tool's "
                        "cost per event over the whole stream)." if r["system"] == "original tool" else "."))
    guard = [r for r in results if r["system"] == "braket-guard"]
    base = [r for r in results if r["system"] == "original tool"]
    if guard:
        used = [100 * r["admitted_cost_micros"] / r["max_cost_micros"] for r in guard if r["max_cost_micros"]]
        lines.append(f"- braket-guard never admitted anything beyond the limit and used {min(used):.1f}-{max(used):.2f}% "
                     "of it: it cancels exactly the tasks that do not fit. Its calls per event do not grow with N.")
    for r in results:
        if r.get("quotas") and r.get("throttled"):
            calls = max(1, sum(r["braket_calls_by_op"].values()))
            lines.append(f"- {r['system']}, N = {r['n']:,}: {r['throttled']:,} of its {calls:,} Braket calls "
                         f"({100 * r['throttled'] / calls:.0f}%) were throttled; {r['failed_invocations']:,} "
                         f"invocations failed ({r.get('lambda_retries', 0):,} were Lambda's retries).")
    for r in base:
        share = 100 * r["admitted_cost_micros"] / r["max_cost_micros"] if r["max_cost_micros"] else 0
        if r["overshoot_micros"]:
            lines.append(f"- The original tool at N = {r['n']:,} let {usd(r['admitted_cost_micros'])} through, "
                         f"{share:.0f}% of the limit: it caps the QUEUED backlog, not the day's spend, so every task "
                         "the QPU ran before the backlog reached the threshold escaped it.")
        elif r["cancelled_tasks"] == r["tasks_submitted"]:
            lines.append(f"- The original tool at N = {r['n']:,} cancelled all {r['tasks_submitted']} tasks, "
                         "those within the limit too: once the backlog passes the threshold it cancels every "
                         "QUEUED task.")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (calls_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for system, color in (("braket-guard", "tab:blue"), ("original tool", "tab:red")):
        rows = sorted((r for r in results if r["system"] == system), key=lambda r: r["n"])
        if not rows:
            continue
        ns = [r["n"] for r in rows]
        calls_ax.plot(ns, [max(r["aws_per_event"], 1e-2) for r in rows], "o-", color=color,
                      label=f"{system}: all AWS calls")
        if system == "braket-guard":
            calls_ax.plot(ns, [max(r["braket_per_event"], 1e-2) for r in rows], "s--", color=color, alpha=0.6,
                          label=f"{system}: Braket calls")
        time_ax.plot(ns, [r["median_ms"] for r in rows], "o-", color=color, label=f"{system}: median")
        time_ax.plot(ns, [r["p99_ms"] for r in rows], "^:", color=color, label=f"{system}: p99")
        for r in rows:
            if not r["complete"]:
                for ax, y in ((calls_ax, max(r["aws_per_event"], 1e-2)), (time_ax, r["median_ms"])):
                    ax.plot([r["n"]], [y], "o", color="white", markeredgecolor=color, zorder=3)
                    ax.annotate(f"stopped at {r['tasks_submitted']:,} tasks", (r["n"], y),
                                textcoords="offset points", xytext=(-40, -14), fontsize=7, color=color)
    for ax, title, label in ((calls_ax, "AWS API calls per event", "calls per event"),
                             (time_ax, "Handler wall time per event (16 concurrent)", "milliseconds")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tasks created in the day (N)")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def method_text(meta: dict) -> str:
    stream = meta["stream"]
    return f"""\
## Method

- **Stream.** A runaway loop on IonQ Forte-1 during one UTC day: tasks of 20–200 shots (seeded),
  submitted {stream['tick']} at a time; each is CREATED then QUEUED and both events are delivered.
  After each batch the QPU runs the oldest QUEUED tasks at {stream['device_rate']:.0%} of the
  submission rate (a task that started running can no longer be cancelled). Both systems get
  the same limits: {stream['cap_fraction']:.0%} of the stream's shots and of its cost, per device
  and day. Each system's events, including the CANCELLING/CANCELLED events of the tasks it
  cancels, go through a model of Lambda's asynchronous invocation with **16 concurrent
  invocations** (`bench/lambda_sim.py`); the original tool only receives what its EventBridge
  rule matches (CREATED and CANCELLED). The original tool's overshoot depends on the QPU's pace:
  one that runs nothing during the runaway makes it cancel everything (no overshoot, and no task
  within the limit survives either), one that keeps up with the loop never lets the QUEUED
  backlog reach the threshold (everything runs); 50% is in between. The guard's outcome does not
  depend on it.
- **Baseline.** `bench/original_tool.py` implements the original tool's algorithm: per
  invocation three SearchQuantumTasks scans of the device's tasks of the UTC day, 10 per page,
  sum of the QUEUED shots and cost, CancelQuantumTask for every QUEUED task once a sum reaches
  its threshold, one Slack post. Same prices as the guard (the original hard-codes 2022 prices).
- **Guard.** The real handler (`braket_guard.handler.lambda_handler`) configured through its
  environment: one cap `day`/`device`/`qpu` with the same shot and cost limits, `warn_at`
  0.8, email (SNS) and Slack alerts, logging at its default level (lines discarded).
- **Servers.** The repo's Braket emulator and Slack sink in the benchmark process, moto
  (DynamoDB, SNS, SSM, with the sandbox's serializing lock) in a second process. moto's
  TransactWriteItems deep-copies the whole table for rollback (O(table size): 0.3 s per
  transaction at 2,000 items); `sandbox/braket_sandbox/moto_speedups.py` snapshots only the items a transaction names
  instead (same results, checked by `tests/e2e/test_moto_speedups.py`). Without it the
  guard's time would measure moto, not the guard.
- **Quotas.** Both systems run under the emulator's default Braket quotas (token buckets per
  operation and region: CreateQuantumTask 20/s burst 40, CancelQuantumTask 2/s burst 20,
  SearchQuantumTasks 5/s burst 50, GetQuantumTask 100/s burst 500, GetDevice 5/s burst 50),
  answering ThrottlingException; the benchmark's own task creation is not throttled. The guard
  keeps to the cancel quota with its shared token bucket (2/s); the original tool uses boto3's
  default retries. "Braket throttles" counts the calls answered ThrottlingException (each retried
  by the client's backoff, or the end of that call); an invocation that still fails is retried by
  the model of Lambda (twice, without Lambda's 1- and 2-minute delays), then dropped.
- **Metrics.** Calls are HTTP requests counted at the servers (Braket) or by botocore's
  `before-send` event on the guard's clients (DynamoDB; SNS and SSM are in "all AWS calls"),
  divided by the number of invocations. Handler time is the wall time of each invocation under
  the 16-way concurrency of one 2-core machine (both systems share the same conditions), so it
  includes waiting for the CPU and the servers. Processing time is the time the 16 invocations
  needed to work off each batch (driver work excluded), summed. *Admitted* = not CANCELLED at
  the end (it ran or will run); *overshoot* = admitted beyond the limit.
- **Ratios** are original ÷ guard from the same run; processing time is compared per task
  when the original was stopped early.
- **Budget.** So that `make bench` ends within 25 minutes on 2 cores (with the runaway at the quota), a run stops
  submitting tasks once its processing time passes a budget: {meta['baseline_budget_s']:.0f} s
  for the original tool, whose cost per event grows with the day's tasks (three full scans per
  event), and {meta['guard_budget_s']:.0f} s for the guard, whose cost per event is flat but whose
  test doubles (moto at ~5-10 ms per request behind one lock, botocore in one Python process for
  all 16 invocations) bound it to roughly 30 invocations per second here. Rows marked *stopped*
  cover the tasks submitted until then; a batch whose deliveries outlast the budget is cut there
  (the deliveries not started yet are dropped and counted). `make bench BENCH_ARGS="--guard-budget 0"` runs the
  guard's streams to the end (about half an hour here for N = 10,000); `BENCH_ARGS=--full` runs
  every stream to the end (many hours for the original tool at N = 1,000).
"""


def write_doc(meta: dict, results: list[dict], footprint: dict, path: Path = DOC, quota: dict | None = None) -> str:
    fp_text = footprint_text(footprint)
    quota_text, quota_minutes = "", ""
    if quota:
        minutes = quota.get("elapsed_min") or sum(r["duration_s"] for r in quota["results"]) / 60
        if meta.get("quota_included"):  # elapsed_min is the whole run, the runaway at the quota in it
            quota_minutes = f" in all, {minutes:.0f} of them for the runaway at the quota"
        else:
            quota_minutes = f" for the comparison, {minutes:.0f} more for the runaway at the quota"
        from bench.quota import section
        quota_text = section(quota, QUOTA_PLOT) + f"\nThis part: {quota.get('finished', meta['finished'])}.\n\n"
    body = f"""# Benchmark: braket-guard vs the original monitoring tool

Reproduce with `make bench` (about {meta['elapsed_min']:.0f} minutes on this 2-core machine{quota_minutes}).
Latest run of the comparison: {meta['finished']} on {meta['machine']}, Python {meta['python']}.

Both systems under Braket's default quotas (see Method).

## Ratios (original tool ÷ braket-guard, same run)

{ratio_table(results)}

## Results

{results_table(results)}

{notes_text(results)}

![calls and time per event against N](benchmark.png)

{quota_text}{CALL_BUDGET}
## Footprint

{fp_text}

{method_text(meta)}
Raw numbers: `bench/results.json`.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return body


def footprint_text(footprint: dict) -> str:
    lines = []
    cold = footprint.get("cold_start")
    if cold:
        lines.append(f"- **Cold start (imports).** `import braket_guard.handler` takes {cold['handler_ms']:.0f} ms "
                     f"against {cold['boto3_ms']:.0f} ms for a bare `import boto3` (median of {cold['runs']} fresh "
                     f"interpreters each): {cold['ratio']:.2f}× boto3, {cold['extra_ms']:+.0f} ms.")
    package = footprint.get("package")
    if package and "zip_bytes" in package:
        lines.append(f"- **Package.** {package['zip_bytes'] / 1024:,.0f} KiB zipped ({package['entries']} files, "
                     f"{package['unzipped_bytes'] / 1024:,.0f} KiB unzipped; braket_guard itself "
                     f"{package['guard_zipped_bytes'] / 1024:,.0f} KiB zipped), built by {package['source']}; "
                     "boto3 comes from the Lambda runtime.")
    elif package:
        lines.append(f"- **Package.** not measured: {package.get('error')}")
    return "\n".join(lines)


def update_readme(meta: dict, results: list[dict], footprint: dict, quota: dict | None = None) -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        log("README markers not found: README not updated")
        return
    section = f"""{BEGIN}
## Benchmark and reliability

`make bench` (about {meta['elapsed_min']:.0f} minutes on 2 cores in the last run) replays the same runaway
stream (N tasks in one UTC day on one QPU, 16 concurrent invocations) through braket-guard and through
the original monitoring tool's algorithm, against the same Braket emulator and moto servers, under
Braket's default quotas. Ratios are original tool ÷ braket-guard, measured in the same run
({meta['finished']}); this section, written by `bench/run.py`, is its summary:

{ratio_table(results)}

Every figure, the runaway at CreateQuantumTask's quota per native-limits mode, the method, plot and
caveats: [docs/benchmark.md](docs/benchmark.md). What the reliability suite (`make test-reliability`,
part of `make test`) proves under duplicates, reordering, throttling, outages and crashes:
[docs/reliability.md](docs/reliability.md).
{END}"""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    README.write_text(text[:start] + section + text[end:])


def quota_readme(quota: dict | None) -> str:
    if not quota:
        return ""
    from bench.quota import ratios, table
    s = quota["scenario"]
    return (f"\nRunaway at the quota (a notebook loop at CreateQuantumTask's 20/s for up to {s['duration_s']:.0f} s "
            f"against a ${s['cap_usd']} daily device cap; the QPU starts a queued task after {s['start_delay_s']:.0f} s):\n\n"
            f"{table(quota)}\n\n{ratios(quota)}\n")


# ----------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000], help="stream sizes for both systems")
    parser.add_argument("--guard-only", type=int, nargs="*", default=[10000], help="stream sizes for the guard alone")
    parser.add_argument("--baseline-budget", type=float, default=150.0,
                        help="seconds of processing after which an original-tool run stops (0: no limit)")
    parser.add_argument("--guard-budget", type=float, default=200.0,
                        help="seconds of processing after which a guard run stops (0: no limit)")
    parser.add_argument("--full", action="store_true", help="no budgets: every stream to the end (hours)")
    parser.add_argument("--no-footprint", action="store_true", help="skip package size and import timing")
    parser.add_argument("--no-write", action="store_true", help="print only; write no file")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: re-render the docs, plot and README from bench/results.json")
    parser.add_argument("--scenario", choices=("all", "compare", "quota"), default="all",
                        help="compare: guard vs the original tool; quota: the runaway at the quota (the other "
                             "part's figures are kept from bench/results.json); all: both")
    parser.add_argument("--no-quotas", action="store_true",
                        help="the comparison without Braket's default quotas (the committed run applies them)")
    parser.add_argument("--quick", action="store_true",
                        help="a short runaway at the quota (seconds, for the smoke test), not the 2-minute one")
    parser.add_argument("--freeze-runs", type=int, default=None,
                        help="how many times the runaway at the quota runs the freeze mode, its row the worst "
                             "(default 5, 1 with --quick)")
    parser.add_argument("--quota-modes", nargs="+", default=[],
                        help="only these modes of the runaway at the quota (cancel_unpaced cancel_paced freeze mirror)")
    parser.add_argument("--out-dir", type=Path,
                        help="write benchmark.md, benchmark.png and results.json here instead of docs/, "
                             "bench/ and the README")
    args = parser.parse_args(argv)

    sys.path[:0] = [str(ROOT / "lambda"), str(ROOT / "sandbox")]
    from bench.workload import BaselineSystem, GuardSystem, Servers, Stream, run_stream

    if args.render_only:
        saved = json.loads(RAW.read_text())
        plot(saved["results"], PLOT)
        if saved.get("quota"):
            from bench.quota import plot as quota_plot
            quota_plot(saved["quota"], DOC.parent / QUOTA_PLOT)
        write_doc(saved["meta"], saved["results"], saved["footprint"], quota=saved.get("quota"))
        update_readme(saved["meta"], saved["results"], saved["footprint"], saved.get("quota"))
        log(f"re-rendered {DOC.relative_to(ROOT)}, {PLOT.relative_to(ROOT)} and the README from {RAW.relative_to(ROOT)}")
        return 0

    started = time.time()
    results: list[dict[str, Any]] = []
    quota: dict[str, Any] | None = None
    saved: dict[str, Any] = json.loads(RAW.read_text()) if RAW.exists() and not args.out_dir else {}
    plan = [(n, GuardSystem) for n in args.n] + [(n, BaselineSystem) for n in args.n] + \
        [(n, GuardSystem) for n in args.guard_only]
    if args.scenario == "quota":
        plan = []
    plan.sort(key=lambda item: (item[0], item[1] is BaselineSystem))
    with moto_process() as moto_url:
        servers = Servers(moto_url)
        try:
            with quiet_guard_output():
                for n, system in plan:
                    budget = args.baseline_budget if system is BaselineSystem else args.guard_budget
                    budget = None if args.full or budget <= 0 else budget
                    log(f"{system.name}, N={n:,}" + (f" (budget {budget:.0f} s)" if budget else ""))
                    result = run_stream(servers, Stream(n), system, budget_s=budget, progress=log,
                                        quotas=not args.no_quotas)
                    results.append(result.as_dict())
                    log(f"  done: {result.invocations:,} invocations, {result.processing_s:.1f} s, "
                        f"overshoot {usd(result.overshoot_micros)}, failed {result.failed_invocations}")
                if args.scenario in ("all", "quota"):
                    from bench.quota import FULL, QUICK, run_all
                    quota_started = time.time()
                    quota = run_all(servers, QUICK if args.quick else FULL, progress=log,
                                    freeze_runs=max(1, args.freeze_runs or (1 if args.quick else 5)), only=tuple(args.quota_modes))
                    quota["elapsed_min"] = (time.time() - quota_started) / 60
                    quota["finished"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                    quota["quick"] = args.quick
        finally:
            servers.stop()
    footprint: dict[str, Any] = {}
    if args.scenario == "quota" and saved:
        # Only the runaway at the quota was measured: the comparison keeps its saved figures.
        results, footprint = saved.get("results", []), saved.get("footprint", {})
    elif args.scenario == "compare" and saved.get("quota"):
        quota = saved["quota"]
    if not args.no_footprint and args.scenario != "quota":
        log("cold start and package size")
        footprint = {"cold_start": __import__("bench.footprint", fromlist=["cold_start"]).cold_start(),
                     "package": __import__("bench.footprint", fromlist=["package_size"]).package_size()}
    stream = Stream(0)
    meta = saved.get("meta", {}) if args.scenario == "quota" and saved else {}
    meta = meta or {"finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}",
            "python": platform.python_version(), "elapsed_min": (time.time() - started) / 60,
            "quota_included": args.scenario == "all",
            "baseline_budget_s": 0 if args.full else args.baseline_budget,
            "guard_budget_s": 0 if args.full else args.guard_budget,
            "stream": {"tick": stream.tick, "device_rate": stream.device_rate, "cap_fraction": stream.cap_fraction,
                       "seed": stream.seed}}
    print("\n" + ratio_table(results) + "\n\n" + results_table(results) + "\n\n" + footprint_text(footprint))
    if quota:
        from bench.quota import cost_table, ratios, table
        print("\n" + table(quota) + "\n\n" + ratios(quota) + "\n\n" + cost_table(quota))
    payload = {"meta": meta, "results": results, "footprint": footprint, "quota": quota}
    if args.no_write:
        return 0
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "results.json").write_text(json.dumps(payload, indent=2, default=str))
        plot(results, args.out_dir / "benchmark.png")
        if quota:
            from bench.quota import plot as quota_plot
            quota_plot(quota, args.out_dir / QUOTA_PLOT)
        write_doc(meta, results, footprint, args.out_dir / "benchmark.md", quota=quota)
        log(f"wrote {args.out_dir}/benchmark.md, benchmark.png, results.json")
        return 0
    RAW.write_text(json.dumps(payload, indent=2, default=str))
    plot(results, PLOT)
    if quota:
        from bench.quota import plot as quota_plot
        quota_plot(quota, DOC.parent / QUOTA_PLOT)
    write_doc(meta, results, footprint, quota=quota)
    update_readme(meta, results, footprint, quota)
    log(f"wrote {DOC.relative_to(ROOT)}, {PLOT.relative_to(ROOT)}, {RAW.relative_to(ROOT)}, README section")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Hybrid jobs, searched: random instance shapes, random schedules of accruals (events,
reconciliations, duplicated and concurrent deliveries, clock steps across midnight), random ends
(completed, failed, cancelled by its user, stopped by the guard) and billed durations (plausible
in milliseconds, or not). Real JobGuard over HTTP to moto and the Braket emulator.

Invariants after every step: what the counters hold for the job equals what its record says was
charged (nothing lost, nothing twice), the day counters add up to the total counter, and a
running job's charge never goes down. At the end: the charge is exactly the instance time Braket
bills (by the guard's documented reading of billableDuration), no open work is left, and with an
accrual at least every horizon an enforcing cap is never overshot by a job it stopped.
8 examples in `make test`; JOB_EXAMPLES=200 searches harder.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from braket_guard import handler
from braket_guard.jobs import rules as J
from braket_guard.jobs.guard import JobGuard
from braket_guard.core.pricing import instance_cost_micros

from .conftest import REGION

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
GPU = "ml.p3.8xlarge"
RATE_MICROS = 12_000_000  # $12 an instance-hour
T0 = datetime(2026, 11, 28, 22, 30, tzinfo=timezone.utc)  # midnight comes 90 minutes in

steps = st.lists(st.one_of(
    st.tuples(st.just("accrue"), st.integers(0, 15 * 60)),       # seconds to the next accrual
    st.tuples(st.just("duplicate"), st.just(0)),                  # the same moment again
    st.tuples(st.just("concurrent"), st.integers(0, 15 * 60)),    # two invocations at once
), min_size=1, max_size=6)
ends = st.sampled_from(["COMPLETED", "FAILED", "CANCELLED", None])  # None: still running
billing = st.sampled_from(["exact", "less", "seconds", "missing"])


@settings(max_examples=int(os.environ.get("JOB_EXAMPLES", "8")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(count=st.integers(1, 4), limit_usd=st.sampled_from([None, 3, 10, 40]), plan=steps, end=ends,
       bill=billing, queued_s=st.integers(0, 600))
def test_a_jobs_charge_is_exact_whatever_the_schedule(harness, count, limit_usd, plan, end, bill, queued_s):
    run = f"r{uuid.uuid4().hex[:12]}"  # a job and counters of its own in the shared table
    caps = [{"name": "total", "window": "total", "group_by": "tag:run", "max_cost_usd": 10**6, "kinds": ["job"]},
            {"name": "daily", "window": "day", "group_by": "tag:run", "max_cost_usd": 10**6, "kinds": ["job"],
             "on_breach": "alert_only"}]
    if limit_usd is not None:
        caps.append({"name": "budget", "window": "total", "group_by": "tag:run", "max_cost_usd": limit_usd,
                     "kinds": ["job"]})
    harness.configure(caps, prices={GPU: {"per_hour_usd": "12"}})
    clock = {"now": T0}
    real_clock = harness.emu.clock
    harness.emu.clock = lambda: clock["now"]
    try:
        arn = harness.emu.create_job(REGION, SV1, instance_type=GPU, instance_count=count, tags={"run": run},
                                     name=run, emit_event=False)
        guard = JobGuard(handler.runtime().guard)

        def job_now():
            return J.job_from_api(guard.braket.get_job(arn, REGION))

        def counters():
            total = harness.counter("total", "total", run).get("cost_micros", 0)
            days = sum(harness.counter("daily", d, run).get("cost_micros", 0) for d in ("2026-11-28", "2026-11-29"))
            return total, days

        def check(running: bool, previous: int) -> int:
            record = harness.item(f"JOB#{arn}", "JOB")
            charged = int(record["cost_micros"]["N"]) if record else 0
            total, days = counters()
            assert total == charged and days == charged, (total, days, charged)
            if running:
                assert charged >= previous
            return charged

        clock["now"] += timedelta(seconds=queued_s)
        guard.handle(job_now(), clock["now"])
        if harness.emu.job(arn)["status"] == "QUEUED":  # not stopped before it started
            harness.emu.advance_job(arn, "RUNNING")
        charged = check(True, 0)
        for kind, seconds in plan:
            clock["now"] += timedelta(seconds=seconds)
            job = job_now()
            if kind == "concurrent":
                threads = [threading.Thread(target=guard.handle, args=(job, clock["now"])) for _ in range(2)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            else:
                guard.handle(job, clock["now"])
            charged = check(job.status not in J.TERMINAL, charged)
        note(f"status before the end: {harness.emu.job(arn)['status']}, charged {charged}")
        stopped = harness.emu.job(arn)["status"] in J.TERMINAL
        if end is not None and not stopped:
            clock["now"] += timedelta(seconds=60)
            started = harness.emu.job(arn)["startedAt"]
            wall_ms = int((clock["now"] - started).total_seconds() * 1000)
            billed = {"exact": wall_ms, "less": wall_ms // 2, "seconds": wall_ms // 1000, "missing": None}[bill]
            if end == "CANCELLED":
                harness.emu.cancel_job(arn)
            else:
                harness.emu.advance_job(arn, end, billable_duration=billed)
        job = job_now()
        for _ in range(2):  # the end, delivered twice
            guard.handle(job, clock["now"])
        final = check(not job.ended, charged)
        if job.ended:  # an ended job's rate is off every counter (no phantom projection)
            assert all(harness.counter(cap, window, run).get("job_burn", 0) == 0
                       for cap, window in (("total", "total"), ("daily", "2026-11-28"), ("daily", "2026-11-29")))
            ms, _source = J.billed_ms(job, clock["now"])
            assert final == instance_cost_micros(RATE_MICROS, count, ms)
            assert harness.item("WORK", f"JOB#{arn}") is None
        if limit_usd is not None and stopped:  # accruals at most a horizon apart: never overshot
            assert final <= limit_usd * 1_000_000, (final, limit_usd)
    finally:
        harness.emu.clock = real_clock

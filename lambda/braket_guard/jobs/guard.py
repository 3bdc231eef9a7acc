"""Runs the job table (``jobs.JOB_TABLE``) for one hybrid job: charge its instance time, stop it
with CancelJob when an enforcing cap is full or about to be, warn and alert once per cap group
and window, true it up when it ends. Driven by "Braket Job State Change" events and by
reconciliation (which accrues every open job and finds jobs whose events were missed).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from braket_guard.alerts.messages import Usage, render_job_breach, render_job_stop_failed, render_warning
from braket_guard.aws import metrics
from braket_guard.aws.logs import log_event
from braket_guard.aws.retry import error_code
from braket_guard.core.caps import Cap, counter_key, warnings_reached
from braket_guard.core.money import micros_to_str
from braket_guard.core.pricing import instance_cost_micros
from braket_guard.core.windows import format_timestamp, window_for
from braket_guard.jobs import rules as J
from braket_guard.jobs.ledger import JobCharge, JobLedger, JobRecord
from braket_guard.tasks.decision import PERMANENT_TASK_ERRORS, GuardRetry

# A job may run up to 5 days (maxRuntimeInSeconds <= 432,000) after waiting in its queue:
# reconciliation searches this far back for jobs whose events were all missed.
JOB_LOOKBACK = timedelta(days=7)
MAX_RACES = 4


class JobGuard:
    def __init__(self, guard: Any):
        self.guard = guard
        self.config, self.braket = guard.config, guard.braket
        self.ledger = JobLedger(guard.ledger)
        self.throttled = False  # the last stop was throttled: the caller retries

    def now(self) -> datetime:
        return self.guard.ledger.clock()

    # -- entry points ----------------------------------------------------------------------------
    def handle_event(self, event: J.JobEvent) -> dict[str, Any]:
        unguarded = self.guard.is_unguarded(event.region)
        if unguarded:  # guarded all the same, and told once a day
            self.guard.note_unguarded(event.region)
            metrics.emit({"UnguardedRegionEvents": 1}, {"Region": event.region})
        try:
            job = self._get_job(event.job_arn, event.region)
        except ClientError as exc:
            # The module's role may not read jobs outside the guarded regions: a certain denial
            # there is reported (the once-a-day alert says the region is not guarded), not
            # redelivered forever. In a guarded region it raises, as before.
            if not (unguarded and error_code(exc) in PERMANENT_TASK_ERRORS):
                raise
            log_event("warning", "job_unreadable", job=event.job_arn, region=event.region, error=str(exc)[:300])
            return {"decision": "unreadable", "job": event.job_arn,
                    "reason": f"GetJob refused in {event.region}, outside BRAKET_GUARD_REGIONS: {error_code(exc)}"}
        result = self.handle(job)
        if result.get("retry"):  # a throttled CancelJob is never a decision: Lambda redelivers
            raise GuardRetry(f"{event.job_arn}: CancelJob throttled; the redelivered event stops it")
        return result

    def _get_job(self, job_arn: str, region: str) -> J.Job:
        return J.job_from_api(self.braket.get_job(job_arn, region))

    def handle(self, job: J.Job, now: datetime | None = None) -> dict[str, Any]:
        """One pass of the table for the job as Braket shows it now."""
        now = now or self.now()
        for _ in range(MAX_RACES):
            record = self.ledger.get(job.job_arn)
            state = record.state if record else J.NEW
            step = J.job_step(state, job.status)
            if step == J.NOTHING:
                return self._summary("duplicate", job, record, reason=f"already {state}")
            result = self._charge(job, record, step, now)
            if result is not None:
                return result
        raise RuntimeError(f"job record of {job.job_arn} kept changing under the guard")

    def reconcile(self, now: datetime) -> dict[str, Any]:
        """Accrue every open job; find and charge jobs no event told the guard about."""
        report: dict[str, Any] = {"jobs_open": 0, "jobs_found": 0, "jobs_stopped": 0, "job_errors": {}}
        seen: set[str] = set()
        for arn in self.ledger.open_jobs():
            seen.add(arn)
            report["jobs_open"] += 1
            region = J.JOB_ARN.match(arn).group("region") if J.JOB_ARN.match(arn) else ""
            try:
                outcome = self.handle(self._get_job(arn, region), now)
            except (ClientError, BotoCoreError, ValueError) as exc:
                report["job_errors"][arn] = str(exc)[:300]
                continue
            report["jobs_stopped"] += int(outcome.get("stopped", False))
        for region in self.config.regions:
            try:
                summaries = self.braket.search_jobs(region, now - JOB_LOOKBACK)
            except (ClientError, BotoCoreError) as exc:
                report["job_errors"][region] = str(exc)[:300]
                continue
            unknown = [s["jobArn"] for s in summaries if s.get("jobArn") and s["jobArn"] not in seen]
            known = self.ledger.get_many(unknown)
            for arn in unknown:
                if arn in known:
                    continue
                try:
                    outcome = self.handle(self._get_job(arn, region), now)
                except (ClientError, BotoCoreError, ValueError) as exc:
                    report["job_errors"][arn] = str(exc)[:300]
                    continue
                report["jobs_found"] += 1
                report["jobs_stopped"] += int(outcome.get("stopped", False))
        return report

    # -- the accrue and settle steps --------------------------------------------------------------
    def _caps(self, job: J.Job) -> list[Cap]:
        return [cap for cap in self.config.caps if cap.counts_jobs and self._applies(cap, job)]

    @staticmethod
    def _applies(cap: Cap, job: J.Job) -> bool:
        return not cap.devices or job.device in cap.devices or job.device_kind in cap.devices

    def _group(self, cap: Cap, job: J.Job) -> str:
        if cap.group_by == "account":
            return job.account
        if cap.group_by == "region":
            return job.region
        if cap.group_by == "device":
            return job.device or "(no device)"
        value = (job.tags or {}).get(cap.tag_key or "")
        return value if value else "(untagged)"

    def _charge(self, job: J.Job, record: JobRecord | None, step: str, now: datetime) -> dict[str, Any] | None:
        per_hour = self.config.prices.job_instance_price(job.instance_type)
        if step == J.SETTLE:
            ms, source = J.billed_ms(job, now)
        else:  # never less than charged: an invocation with an older clock gives nothing back
            ms, source = max(J.run_ms(job, now), record.charged_ms if record else 0), "accrued: startedAt to now"
        total = None if per_hour is None else instance_cost_micros(per_hour, job.instance_count, ms)
        charged = (record.cost_micros or 0) if record else 0
        delta = 0 if total is None else total - charged
        caps = self._caps(job)
        when = (job.ended_at or now) if step == J.SETTLE else now
        deltas: list[JobCharge] = []
        for cap in caps:
            window = window_for(cap.window, when, self.config.zone)
            key = counter_key(cap.name, window.key, self._group(cap, job))
            if delta > 0:
                deltas.append(JobCharge(key, cap.name, delta, window.expires_at()))
            elif delta < 0:  # billed less than accrued: give back, newest counter first
                deltas += self._give_back(record, cap.name, -delta)
        merged = _merge(list(record.charges) if record else [], deltas)
        # Burn: while a job runs, its rate is on each counter it charges (job_burn), so that every
        # job's projection sees all the jobs running in its group, not itself alone.
        burn = 0 if per_hour is None else per_hour * job.instance_count
        burn_keys = list(record.burn_keys) if record else []
        live = step != J.SETTLE and not job.ended and not (record and record.state == J.STOPPING)
        if live and burn:
            for cap in caps:
                key = counter_key(cap.name, window_for(cap.window, when, self.config.zone).key, self._group(cap, job))
                if key not in burn_keys:
                    deltas.append(JobCharge(key, cap.name, 0, window_for(cap.window, when, self.config.zone).expires_at(),
                                            burn=burn))
                    burn_keys.append(key)
        elif not live and record and record.burn_keys:
            deltas += _burn_off(record)
            burn_keys = []
        state = J.SETTLED if step == J.SETTLE else (record.state if record and record.state != J.NEW else J.OPEN)
        new = JobRecord(job_arn=job.job_arn, state=state, status=job.status, device=job.device, region=job.region,
                        account=job.account, instance_type=job.instance_type, instance_count=job.instance_count,
                        cost_micros=total if total is not None else (record.cost_micros if record else None),
                        charged_ms=ms, version=record.version if record else 0,
                        created_at=format_timestamp(job.created_at), charges=tuple(merged),
                        breached=record.breached if record else (),
                        stop_status=record.stop_status if record else "",
                        stop_error=record.stop_error if record else "", billed_source=source,
                        reservation_arn=job.reservation_arn or "", burn=burn if burn_keys else 0,
                        burn_keys=tuple(burn_keys))
        if not self.ledger.write(record, new, deltas):
            return None  # raced: read again
        new = replace(new, version=new.version + 1)  # as stored: the next write is conditioned on it
        log_event("info", "job_charged", job=job.job_arn, status=job.status, step=step,
                  instance=f"{job.instance_count} x {job.instance_type}", billed_ms=ms, source=source,
                  cost_usd=None if total is None else micros_to_str(total),
                  delta_usd=micros_to_str(delta))
        return self._judge(job, new, caps, per_hour, step, when, delta)

    def _give_back(self, record: JobRecord | None, cap: str, amount: int) -> list[JobCharge]:
        out = []
        for charge in reversed([c for c in (record.charges if record else ()) if c.cap == cap]):
            take = min(amount, charge.cost_micros)
            if take:
                out.append(JobCharge(charge.counter_key, cap, -take, charge.expires_at))
                amount -= take
            if not amount:
                break
        return out

    def _judge(self, job: J.Job, record: JobRecord, caps: list[Cap], per_hour: int | None, step: str,
               now: datetime, delta: int) -> dict[str, Any]:
        """After a charge: which caps are full (or will be within the horizon), stop the job if an
        enforcing one is, and send the warnings and breach alerts owed (each once)."""
        windows = {cap.name: window_for(cap.window, now, self.config.zone) for cap in caps}
        keys = {cap.name: counter_key(cap.name, windows[cap.name].key, self._group(cap, job)) for cap in caps}
        counters = self.guard.ledger.read_counters(keys.values())
        horizon = self.config.reconcile_seconds or J.ACCRUAL_HORIZON_SECONDS  # the reconcile period
        ahead = 0 if per_hour is None else instance_cost_micros(per_hour, job.instance_count,
                                                                J.horizon_ms(job, now, horizon))
        own_burn = record.burn if keys and record.burn_keys else 0
        over: list[Cap] = []
        for cap in caps:
            counter = counters[keys[cap.name]]
            if cap.max_cost_micros is None:
                continue
            # this job's own next minutes (bounded by its max runtime) plus the other running jobs'
            others = instance_cost_micros(max(0, counter.job_burn - (own_burn if keys[cap.name] in record.burn_keys
                                                                     else 0)), 1, horizon * 1000)
            if per_hour is None or counter.cost_micros + (0 if job.ended else ahead + others) > cap.max_cost_micros:
                over.append(cap)
        enforcing_over = [c for c in over if c.enforcing]
        stopped = False
        stop_text = ""
        # A job still RUNNING after the guard's CancelJob (it answered CANCELLING but the job went
        # on) is asked again at every accrual: CancelJob is idempotent.
        if enforcing_over and not job.ended and job.status != J.CANCELLING:
            if not self.config.enforcing:
                stop_text = "not stopped: monitor mode"
            else:
                stopped, stop_text, record = self._stop(job, record, [c.name for c in enforcing_over])
        elif enforcing_over and record.state == J.STOPPING:
            stop_text = "stopped (CancelJob requested)"
        alerts = 0
        stopping = stopped or self.throttled or record.state == J.STOPPING
        for cap in over:
            if cap.enforcing and stopping:
                continue  # a job the guard stops has an alert of its own, below (once per job)
            counter = counters[keys[cap.name]]
            action = stop_text if cap.enforcing else "not stopped (alert_only cap)"
            if cap.enforcing and not action:
                action = "ended before the guard could stop it" if job.ended else "not stopped"
            settled, sent = self.guard.alerts.send_once(
                keys[cap.name], "BREACH", windows[cap.name].expires_at(),
                lambda c=cap, u=Usage(counter.shots, counter.cost_micros), a=action: render_job_breach(
                    c, self._group(c, job), windows[c.name].key, u, job,
                    record.cost_micros, a, self.config.mode, ahead),
                detail=job.job_arn)
            alerts += int(sent)
        if stopped:  # every job the guard stops is named in an alert, whatever told the cap's breach
            first = enforcing_over[0]
            counter = counters[keys[first.name]]
            alerts += int(self._once_per_job(job, "STOPPED", lambda: render_job_breach(
                first, self._group(first, job), windows[first.name].key, Usage(counter.shots, counter.cost_micros),
                job, record.cost_micros, stop_text, self.config.mode, ahead), sent=True))
        for cap in caps:
            counter = counters[keys[cap.name]]
            levels = list(reversed(warnings_reached(cap, counter.shots, counter.cost_micros)))
            _settled, sent = self.guard.alerts.send_warnings(
                keys[cap.name], levels, windows[cap.name].expires_at(),
                lambda lv, c=cap, u=Usage(counter.shots, counter.cost_micros): render_warning(
                    c, self._group(c, job), windows[c.name].key, lv, u, self.config.mode))
            alerts += sent
        decision = "job_settled" if step == J.SETTLE else ("job_stopped" if stopped else "job_accrued")
        retry, self.throttled = self.throttled, False
        return self._summary(decision, job, record, stopped=stopped, alerts=alerts, delta=delta,
                             breached=[c.name for c in over], reason=stop_text, retry=retry)

    def _stop(self, job: J.Job, record: JobRecord, caps: list[str]) -> tuple[bool, str, JobRecord]:
        result = self.braket.cancel_job(job.job_arn, job.region)
        outcome = result.outcome
        if outcome == "throttled":  # the event is redelivered (reconciliation: the next run)
            log_event("warning", "job_cancel_throttled", job=job.job_arn, error=result.error)
            self.throttled = True
            return False, "stop requested, throttled: retried", record
        burn_off: list[JobCharge] = []
        if result.ok:  # a stopped job's rate leaves its counters: the other jobs may go on
            stopped = replace(record, state=J.STOPPING, stop_status=result.status or "CANCELLING",
                              breached=tuple(sorted(set(record.breached) | set(caps))), burn=0, burn_keys=())
            burn_off = _burn_off(record)
            text = "stopped (CancelJob requested)"
        elif outcome == "ended":
            stopped = replace(record, breached=tuple(sorted(set(record.breached) | set(caps))))
            text = "not stopped: it had already ended"
        else:
            stopped = replace(record, stop_error=result.error, breached=tuple(sorted(set(record.breached) | set(caps))))
            text = f"NOT stopped: {result.error}"
            if not self._once_per_job(job, "STOP_FAILED", lambda: render_job_stop_failed(
                    job, caps, result.error, self.config.mode)):
                log_event("warning", "job_stop_failed_alert_pending", job=job.job_arn)
        log_event("info" if result.ok else "error", "job_cancel", job=job.job_arn, outcome=outcome,
                  status=result.status, error=result.error, caps=caps)
        if self.ledger.write(record, stopped, burn_off):
            record = replace(stopped, version=record.version + 1)
        return result.ok, text, record

    def _once_per_job(self, job: J.Job, name: str, render, sent: bool = False) -> bool:
        """One alert per job and kind (a marker on the job's record). Returns settled, or with
        ``sent`` whether this call sent it."""
        key = (f"JOB#{job.job_arn}", "JOB")
        settled, was_sent = self.guard.alerts.send_once(key, name, self.guard.ledger.now() + 40 * 86400, render,
                                                 detail=job.job_arn)
        return was_sent if sent else settled

    def _summary(self, decision: str, job: J.Job, record: JobRecord | None, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"decision": decision, "job": job.job_arn, "status": job.status,
                               "instance": f"{job.instance_count} x {job.instance_type}",
                               "state": record.state if record else J.NEW, "mode": self.config.mode}
        if record is not None:
            out["cost_usd"] = None if record.cost_micros is None else micros_to_str(record.cost_micros)
            out["caps"] = sorted({c.cap for c in record.charges})
        delta = extra.pop("delta", None)
        if delta:
            out["charged_usd"] = micros_to_str(delta)
        out.update({k: v for k, v in extra.items() if v not in (None, "", [], 0, False)})
        return out


def _burn_off(record: JobRecord) -> list[JobCharge]:
    """Take a job's rate off every counter it was put on."""
    return [JobCharge(key, "", 0, None, burn=-record.burn) for key in record.burn_keys]


def _merge(charges: list[JobCharge], deltas: list[JobCharge]) -> list[JobCharge]:
    totals: dict[tuple, JobCharge] = {(c.counter_key, c.cap): c for c in charges}
    for d in deltas:
        old = totals.get((d.counter_key, d.cap))
        totals[(d.counter_key, d.cap)] = JobCharge(d.counter_key, d.cap, (old.cost_micros if old else 0)
                                                   + d.cost_micros, d.expires_at or (old.expires_at if old else None))
    return [c for c in totals.values() if c.cost_micros]



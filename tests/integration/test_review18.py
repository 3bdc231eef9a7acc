"""Adversarial review of issue 18 (the Lambda side): each test shows one defect and fails today.

Real boto3 over HTTP to moto, the Braket emulator and the Slack sink (the ``harness`` fixture),
as in test_boundary.py.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from braket_guard import handler

from .conftest import ACCOUNT, FORTE, GARNET, REGION

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
DAY = "2026-11-28"
GPU = "ml.p3.8xlarge"
RATE = {GPU: {"per_hour_usd": "12.00"}}


class FakeContext:
    """A Lambda context whose get_remaining_time_in_millis counts down from ``seconds``."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def created(harness, device=FORTE, shots=100, region=REGION, created_at=T0, tags=None):
    kwargs = {"created_at": created_at}
    if tags is not None:
        kwargs["tags"] = tags
    arn = harness.emu.create_task(region, device, shots, **kwargs)
    events = [e for e in harness.take_events() if e["detail"]["quantumTaskArn"] == arn]
    return arn, events[0]


def invoke_all(harness, event, lambda_retries: int = 2):
    """Every delivery Lambda makes of one asynchronous event: the answers, or the errors."""
    outcomes = []
    for _ in range(lambda_retries + 1):
        try:
            outcomes.append(handler.lambda_handler(event, None))
            break
        except Exception as exc:  # noqa: BLE001 - what a redelivery loop looks like
            outcomes.append(exc)
    return outcomes


# -- time budget ------------------------------------------------------------------------------------
@pytest.mark.parametrize("timeout", [20, 30])  # variables.tf's lowest timeout is 20 s (clients.MIN_LAMBDA_TIMEOUT_SECONDS)
def test_a_lambda_timeout_terraform_accepts_still_guards_a_healthy_event(harness, timeout):
    """variables.tf accepts lambda_timeout_seconds from 3 to 900, but the handler's budget is the
    remaining time less a 10 s reserve and every Backoff.call first needs that budget to exceed
    the worst call (LAMBDA.worst_call_seconds = 21 s) plus a 2 s margin: with a timeout of 33 s or
    less the very first ledger read raises DeadlineExceeded, against endpoints that answer in
    milliseconds. Every event fails and is redelivered; every cap is blind. Expected: a timeout
    Terraform accepts guards events (or Terraform refuses that timeout)."""
    harness.configure([{"name": "one", "window": "day", "group_by": "account", "max_shots": 1000}])
    arn, event = created(harness, shots=100)
    result = handler.lambda_handler(event, FakeContext(timeout))
    assert result["decision"] == "admitted", result
    assert harness.task_state(arn) is not None


# -- job events: Python's own errors ---------------------------------------------------------------
@pytest.mark.parametrize("status", [["QUEUED"], {"s": "QUEUED"}])
def test_a_job_event_with_an_unhashable_status_is_dropped_not_a_type_error(harness, caplog, status):
    """jobs.parse_job_event tests ``status not in STATUSES`` (a frozenset) without checking the
    type first: a status that is a JSON list or object raises Python's TypeError (unhashable
    type), which the handler does not catch, so Lambda retries a malformed event. Expected: dropped
    with one event_dropped line, like every other malformed field."""
    harness.configure([{"name": "jobs", "window": "total", "group_by": "account", "max_cost_usd": "10",
                        "kinds": ["job"]}], prices=RATE)
    event = {"version": "0", "id": "0d8e2f9a-1111-2222-3333-444455556666", "source": "aws.braket",
             "detail-type": "Braket Job State Change", "account": ACCOUNT, "region": REGION,
             "time": "2026-11-28T09:00:00Z", "resources": [],
             "detail": {"jobArn": f"arn:aws:braket:{REGION}:{ACCOUNT}:job/j1", "status": status}}
    with caplog.at_level(logging.INFO, logger="braket_guard"):
        result = handler.lambda_handler(event, None)
    assert result["decision"] == "dropped", result
    assert len([r for r in caplog.records if '"event_dropped"' in r.getMessage()]) == 1


# -- an unguarded region where the module's role is denied -----------------------------------------
def test_a_tag_cap_on_an_unguarded_region_denied_get_task_is_not_a_redelivery_loop(harness, monkeypatch,
                                                                                     fast_backoff):
    """iam.tf grants GetQuantumTask/CancelQuantumTask only on quantum-task ARNs of var.regions, so
    in a region outside BRAKET_GUARD_REGIONS every GetQuantumTask is AccessDenied. With a cap that
    groups by a tag, guard._plan re-raises that denial on every delivery ("tags that cannot be
    read still raise"): each event of the region fails, Lambda retries it and drops it, and no
    shot or dollar of the region is ever counted, although issue 18 says such events are guarded
    (never dropped on the floor). Expected: a permanent denial in an unguarded region is a
    decision (e.g. charged to the (untagged) group, and said in the once-a-day alert), never
    a redelivery."""
    harness.configure([{"name": "team", "window": "day", "group_by": "tag:team", "max_shots": 1500}])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    harness.emu.set_fault("GetQuantumTask", throttle_rate=1.0, error="AccessDeniedException")
    arn, event = created(harness, GARNET, 1000, region="eu-north-1", tags={"team": "a"})
    outcomes = invoke_all(harness, event)
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert harness.task_state(arn) is not None, "the task's shots were never counted"


def test_a_job_on_an_unguarded_region_denied_get_job_is_not_a_redelivery_loop(harness, monkeypatch,
                                                                                fast_backoff):
    """iam.tf grants GetJob/CancelJob only on job ARNs of var.regions. A hybrid job event from a
    region outside BRAKET_GUARD_REGIONS now goes to JobGuard.handle_event (issue 18: guarded, not
    ignored), whose first call is GetJob: AccessDenied there is raised by the handler on every
    delivery (a GuardErrors alarm each time, Lambda retries, then drops it). Expected: the denial,
    certain for that region by the module's own policy, is one decision (logged and told, e.g.
    in the once-a-day unguarded-region alert), not a failure Lambda redelivers."""
    harness.configure([{"name": "jobs", "window": "total", "group_by": "account", "max_cost_usd": "10",
                        "kinds": ["job"]}], prices=RATE)
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    harness.emu.set_fault("GetJob", throttle_rate=1.0, error="AccessDeniedException")
    harness.emu.create_job("eu-north-1", GARNET, instance_type=GPU)
    events = [e for e in harness.take_events() if e.get("detail-type") == "Braket Job State Change"]
    assert events, "the emulator emitted no job event"
    outcomes = invoke_all(harness, events[0])
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes


# -- identifiers without a length bound ------------------------------------------------------------
def test_a_task_arn_with_an_overlong_region_is_dropped_in_one_short_line(harness, monkeypatch, caplog):
    """events.TASK_ARN bounds the task id (128) but not the region ([a-z]{2}(-[a-z]+)+-[0-9]) nor
    the partition (aws[a-z-]*): an ARN whose region is 3,000 letters is parsed as a task of an
    unguarded region. The handler then logs the whole region in unguarded_region_event,
    unguarded_region_alert_failed and guard_error (3 lines of over 3,000 characters each: the
    alert marker's key is over DynamoDB's limit), and the event raises a DynamoDB
    ValidationException (hash key over 2,048 bytes), so Lambda retries a malformed event.
    Expected: no AWS region is that long; the event is dropped with one event_dropped line of
    bounded length, and the ledger is never asked."""
    harness.configure([{"name": "one", "window": "day", "group_by": "account", "max_shots": 100_000}])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    arn, event = created(harness, GARNET, 100, region="eu-north-1")
    event["detail"]["quantumTaskArn"] = arn.replace("eu-north-1", "eu-" + "n" * 3000 + "-1")
    with caplog.at_level(logging.INFO, logger="braket_guard"):
        result = handler.lambda_handler(event, None)  # raises ClientError today
    assert result["decision"] == "dropped", result
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("{")]
    assert len(lines) == 1 and '"event_dropped"' in lines[0] and len(lines[0]) < 2000, [l[:120] for l in lines]


# -- no guarded region at all ------------------------------------------------------------------------
def test_with_no_guarded_region_every_region_is_reported_as_unguarded(harness, monkeypatch, capsys):
    """A Lambda configured from the README's table (caps, table, topic) in a region where Braket
    does not run (eu-central-1) and BRAKET_GUARD_REGIONS unset gets regions == () (config._regions).
    Guard.is_unguarded is then False for every region (``bool(self.config.regions) and ...``), so
    the us-east-1 burst it receives is never told as unguarded: no alert, no
    UnguardedRegionEvents metric, nothing in the digest, while reconciliation searches no region
    at all. README: "An event from any other region is still guarded ... and reported: metric
    UnguardedRegionEvents, one alert per region and day". Expected: with no guarded region, every
    region that sends an event is unguarded and reported."""
    harness.configure([{"name": "big", "window": "day", "group_by": "account", "max_shots": 10**6}])
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # the Lambda's own region: not a Braket region
    _arn, event = created(harness, FORTE, 10)
    assert harness.invoke(event)["decision"] == "admitted"
    assert handler.runtime().config.regions == ()  # the premise: no region is guarded
    told = [m["Subject"] for m in harness.emails() if "unguarded" in m.get("Subject", "")]
    assert told == ["braket-guard: tasks from unguarded region us-east-1"], told
    assert '"UnguardedRegionEvents":1' in capsys.readouterr().out


# -- action payloads matched loosely ---------------------------------------------------------------
@pytest.mark.parametrize("value", ["true\n", " TRUE ", "False\t"])
def test_an_action_flag_with_whitespace_or_capitals_is_dropped(harness, caplog, value):
    """operations.flag accepts any string whose strip().lower() is "true" or "false": "true\\n"
    and " TRUE " start a forced digest, although issue 18 asks every value of an action payload to
    be matched whole (its own boundary test drops "2026-11-28\\n" as a date). Expected: only true,
    false, "true" and "false" are flags; anything else is dropped in one action_dropped line."""
    harness.configure([{"name": "big", "window": "day", "group_by": "account", "max_shots": 10**6}])
    with caplog.at_level(logging.INFO, logger="braket_guard"):
        result = handler.lambda_handler({"braket_guard": "digest", "date": DAY, "always": value}, None)
    assert result.get("decision") == "dropped", result  # today: the digest ran


# -- sweeps in an unguarded region -----------------------------------------------------------------
def _sweep_scenario(harness, monkeypatch, region, device):
    harness.configure([{"name": "q", "window": "day", "group_by": "account", "max_shots": 1500,
                        "on_breach": "cancel_queued"}])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    monkeypatch.setenv("BRAKET_GUARD_CANCELS_PER_SECOND", "0")
    first, first_event = created(harness, device, 1000, region=region)
    backlog = harness.emu.create_task(region, device, 1000, created_at=T0 + timedelta(seconds=1))
    harness.take_events()  # the backlog task's event is late (or lost): the sweep is what stops it
    third, third_event = created(harness, device, 1000, region=region, created_at=T0 + timedelta(seconds=2))
    assert harness.invoke(first_event)["decision"] == "admitted"
    assert harness.invoke(third_event)["decision"] == "rejected"
    return backlog


def test_a_cancel_queued_cap_breached_in_an_unguarded_region_sweeps_that_region(harness, monkeypatch):
    """guard._sweep intersects the regions to search with BRAKET_GUARD_REGIONS
    (``regions &= set(self.config.regions)``), so a cancel_queued cap filled by a task of an
    unguarded region never sweeps that region: its queued backlog runs on, although the task
    that breached it is cancelled there (the same role cancels both) and the digest says such
    tasks "were charged and enforced". In us-east-1 (guarded) the same scenario cancels the
    backlog. Expected: the region of the task that filled the cap is swept too (a denied cancel
    there is logged, as for the task itself)."""
    backlog = _sweep_scenario(harness, monkeypatch, "eu-north-1", GARNET)
    assert harness.emu.task(backlog)["status"] == "CANCELLED", harness.emu.task(backlog)["status"]


# -- alerts outside the time budget ----------------------------------------------------------------
def test_an_alert_to_stalled_channels_stays_inside_the_time_budget(harness, monkeypatch):
    """retry.deadline lets Backoff start an attempt only while the worst call (21 s) plus a 2 s
    margin still fits in the budget (Lambda's remaining time less TIMEOUT_RESERVE_SECONDS), but
    alerts are sent outside Backoff.call: SnsChannel.publish (3 botocore attempts of a 5 s read)
    and SlackChannel's ssm.get_parameter (the same) are never counted, so one delivery to stalled
    SNS and SSM endpoints takes 30 to 36 s after the last check. Here (a 40 s Lambda, a budget of
    30 s) the unguarded-region alert is claimed with 30 s left and the handler runs past the
    budget into the reserve kept for logging and answering; with a 34 s Lambda the same delivery
    can outlive the function itself. Expected: every AWS call an invocation makes ends inside
    its budget (alerts under the deadline, or their worst case counted)."""
    from .test_boundary import SilentListener
    harness.configure([{"name": "big", "window": "day", "group_by": "account", "max_shots": 10**6}])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    silent = SilentListener()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", silent.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", silent.url)
        assert harness.invoke(created(harness, FORTE, 10)[1])["decision"] == "admitted"  # warm, no alert
        _arn, event = created(harness, GARNET, 10, region="eu-north-1")
        timeout = 40.0
        budget = timeout - handler.TIMEOUT_RESERVE_SECONDS
        started = time.monotonic()
        try:
            handler.lambda_handler(event, FakeContext(timeout))
        except Exception:  # noqa: BLE001 - giving up is fine; running past the budget is not
            pass
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed <= budget, f"the handler ran {elapsed:.1f} s, past its {budget:.0f} s budget"


# -- endedAt without a range -----------------------------------------------------------------------
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def test_a_completed_event_with_an_ended_at_in_year_9999_is_dropped_not_charged(harness):
    """events.parse_event keeps createdAt within 2019-2999 ("far dates are garbage") but accepts
    any endedAt, and guard._true_up charges a simulator endedAt - createdAt: one COMPLETED event
    of an SV1 task with endedAt 9999-12-31 is trued up to about $314 million, so the account's
    $100 cap is full and the next good task (a 100-shot Forte-1 task, $8.30) is rejected and
    cancelled. Expected: an endedAt outside the plausible years (or before createdAt) is
    malformed: the event is dropped with one line and changes nothing, and the good task runs."""
    harness.configure([{"name": "daily", "window": "day", "group_by": "account", "max_cost_usd": "100"}])
    now = datetime.now(timezone.utc).replace(microsecond=0)
    sim, sim_event = created(harness, SV1, 100, created_at=now)
    assert harness.invoke(sim_event)["decision"] == "admitted"
    harness.emu.advance(sim, "RUNNING")
    harness.emu.advance(sim, "COMPLETED")
    done = [e for e in harness.take_events() if e["detail"]["status"] == "COMPLETED"][0]
    done = json.loads(json.dumps(done))
    done["detail"]["endedAt"] = "9999-12-31T23:59:59.000Z"
    result = harness.invoke(done)
    good, good_event = created(harness, FORTE, 100, created_at=now)
    after = harness.invoke(good_event)
    assert result["decision"] == "dropped", result
    assert after["decision"] == "admitted", after
    assert harness.emu.task(good)["status"] == "CREATED"


@pytest.mark.parametrize("extra", [3_000, 100_000])
def test_a_device_arn_of_thousands_of_characters_is_dropped_without_calling_braket(harness, caplog, extra):
    """events.DEVICE_ARN bounds neither the provider nor the device name, so a deviceArn of
    Forte-1's ARN plus 3,000 characters passes the boundary: the guard calls GetDevice with it,
    finds no price and, under this cost cap, rejects the task as unpriced and CANCELS it: a good
    $8.30 task under a $1,000 cap is cancelled by one malformed event (under a shot-only cap it is
    booked as an unknown device instead, and the real event is then a duplicate); log lines are
    3.4 KB. With 100,000 characters
    GetDevice answers HTTP 414, which is not a permanent error: the event raises (a 100 KB log
    line) and Lambda retries it. issue 18's property (test_boundary MALFORMED has "arn of 100k
    characters" for the task ARN only): a malformed input is dropped with one line and never
    changes the ledger or Braket. Expected: dropped, no Braket call, no task record."""
    harness.configure([{"name": "one", "window": "day", "group_by": "account", "max_cost_usd": "1000"}])
    arn, event = created(harness, FORTE, 100)
    bad = json.loads(json.dumps(event))
    bad["detail"]["deviceArn"] = FORTE + "1" * extra
    harness.emu.reset_calls()
    with caplog.at_level(logging.INFO, logger="braket_guard"):
        try:
            result = handler.lambda_handler(bad, None)
        except Exception as exc:  # noqa: BLE001 - a retried malformed event is the defect
            result = {"decision": f"raised {type(exc).__name__}"}
    calls = dict(harness.emu.calls)
    state = harness.task_state(arn)
    assert (result["decision"], calls, state) == ("dropped", {}, None), (result["decision"], calls, state)


# -- native limits in an unguarded region: calls on every event -------------------------------------
def test_mirror_mode_makes_no_spending_limit_calls_per_event_in_an_unguarded_region(harness, monkeypatch,
                                                                                      fast_backoff):
    """The unguarded-region alert says native limits do not cover that region, and iam.tf grants
    CreateSpendingLimit only on spending-limit ARNs of var.regions. Yet in mirror_and_freeze mode
    every admitted task of an unguarded region's QPU runs NativeLimiter.ensure_mirror: a
    SearchSpendingLimits and a denied CreateSpendingLimit (and an ERROR log line), and since the
    sync had errors the device is never marked ensured, so the next event does it again: two
    extra Braket calls per event for as long as the region sends tasks (in a runaway, hundreds a
    minute against SearchSpendingLimits' quota). Expected: no spending-limit call for a region
    outside BRAKET_GUARD_REGIONS (or at most one per container and window)."""
    harness.configure([{"name": "dev", "window": "day", "group_by": "device", "devices": ["qpu"],
                        "max_cost_usd": "1000"}])
    monkeypatch.setenv("BRAKET_GUARD_NATIVE_LIMITS", "mirror_and_freeze")
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    harness.emu.set_fault("CreateSpendingLimit", throttle_rate=1.0, error="AccessDeniedException")
    now = datetime.now(timezone.utc)
    per_event = []
    for i in range(4):
        _arn, event = created(harness, GARNET, 10, region="eu-north-1", created_at=now + timedelta(seconds=i))
        harness.emu.reset_calls()
        assert harness.invoke(event)["decision"] == "admitted"
        per_event.append({op: n for op, n in harness.emu.calls.items() if "SpendingLimit" in op})
    assert all(not calls for calls in per_event[1:]), per_event


# -- reconciliation out of time -------------------------------------------------------------------
def test_reconcile_out_of_time_reports_what_it_did_instead_of_raising(harness, fast_backoff):
    """retry.Backoff raises DeadlineExceeded (a RuntimeError) once the budget cannot hold another
    call, "the caller redelivers or reports". reconcile() catches it for a region's search and
    _finish_open_work for GetQuantumTask, but _apply (which catches GuardRetry, ClientError,
    BotoCoreError and TransientLedgerError only) does not: a reconciliation with more work than
    its budget holds (here 60 tasks whose cancel was refused, a 34 s Lambda) raises out of the
    scheduled action from guard.handle (reconcile.py _apply -> ledger.get_task). Its report, its
    "reconciled" line and its reconcile alert are lost, and the next run starts over with the same
    work. Expected: out of time, reconcile stops, counts the rest as left for the next run and
    returns its report.
    """
    harness.configure([{"name": "none", "window": "day", "group_by": "account", "max_shots": 0}])
    harness.emu.set_fault("CancelQuantumTask", throttle_rate=1.0, error="AccessDeniedException")
    now = datetime.now(timezone.utc)
    for i in range(60):
        _arn, event = created(harness, FORTE, 10, created_at=now - timedelta(seconds=i))
        assert harness.invoke(event)["decision"] == "rejected"
    result = handler.lambda_handler({"braket_guard": "reconcile"}, FakeContext(34))  # raises today
    assert isinstance(result, dict), result


def test_a_job_event_from_an_unguarded_region_counts_in_the_unguarded_metric(harness, monkeypatch, capsys):
    """README (Configuration, BRAKET_GUARD_REGIONS): an event from any other region is guarded
    and reported with the metric UnguardedRegionEvents. Guard.handle emits it for task events,
    but JobGuard.handle_event only calls note_unguarded: a hybrid job's events from eu-north-1
    are charged and alerted once, yet never counted in UnguardedRegionEvents, so a dashboard or
    alarm on that metric misses them. Expected: the metric for job events too."""
    harness.configure([{"name": "jobs", "window": "total", "group_by": "account", "max_cost_usd": "10",
                        "kinds": ["job"]}], prices=RATE)
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    harness.emu.create_job("eu-north-1", GARNET, instance_type=GPU)
    events = [e for e in harness.take_events() if e.get("detail-type") == "Braket Job State Change"]
    capsys.readouterr()
    result = harness.invoke(events[0])
    assert result["decision"] == "job_accrued", result
    out = capsys.readouterr().out
    assert [m for m in harness.emails() if "unguarded region eu-north-1" in m.get("Subject", "")]  # holds
    assert '"UnguardedRegionEvents":1' in out, out[-600:]


# -- the hot path while another sender holds the unguarded-region alert -----------------------------
def _ledger_calls(harness, event):
    import collections
    calls = collections.Counter()
    client = handler.runtime().guard.ledger.client

    def hook(model, **_kwargs):
        calls[model.name] += 1
    client.meta.events.register("before-call.dynamodb.*", hook)
    try:
        decision = harness.invoke(event)["decision"]
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", hook)
    return decision, dict(calls)


def test_events_of_an_unguarded_region_cost_no_extra_ledger_calls_while_its_alert_is_claimed(harness,
                                                                                           monkeypatch):
    """Guard.note_unguarded remembers a region only once send_once says "settled"; while another
    sender holds the alert's claim (up to ALERT_LEASE_SECONDS = 300 s: a slow sender, or one that
    timed out mid-send as in the stalled-channel test above) it is not settled, so every event of
    that region in every container makes a claim UpdateItem and two GetItems before its own
    work: 5 DynamoDB calls instead of a guarded event's 2, for every task of a runaway in that
    region. Expected: the unguarded-region check costs no extra ledger call per event once a
    container knows the alert is being handled (one attempt per container and lease at most)."""
    from braket_guard.tasks.decision import UNGUARDED_PK
    harness.configure([{"name": "big", "window": "day", "group_by": "account", "max_shots": 10**6}])
    monkeypatch.setenv("BRAKET_GUARD_REGIONS", "us-east-1")
    assert harness.invoke(created(harness, FORTE, 10)[1])["decision"] == "admitted"  # warm
    guard = handler.runtime().guard
    day = guard.ledger.clock().astimezone(guard.config.zone).date().isoformat()
    held = guard.ledger.claim_alert((f"{UNGUARDED_PK}#{day}", "REGION#eu-north-1"), "ALERT", None, "eu-north-1")
    assert held is not None  # another sender holds the alert, as a slow or dead one would
    _d, guarded = _ledger_calls(harness, created(harness, FORTE, 10, created_at=T0 + timedelta(seconds=1))[1])
    unguarded = [_ledger_calls(harness, created(harness, GARNET, 10, region="eu-north-1",
                                                created_at=T0 + timedelta(seconds=2 + i))[1])[1] for i in range(3)]
    assert all(calls == guarded for calls in unguarded[1:]), (guarded, unguarded)

"""Issue 18, "No time bounds": every CLI command that calls AWS, pointed at an endpoint that
accepts the connection and never answers, gives up in under 30 s with one line on stderr that
names the service and the endpoint, exit 2, nothing on stdout.

The CLI runs as users run it (``python -m braket_guard.cli`` in a fresh interpreter). The six
runs share one listener and run at the same time (each waits on sockets, not the CPU), so the
file costs one stalled run's time (~10-15 s), not six."""

from __future__ import annotations

import json
import re

import pytest

from .cli_process import CLI_LIMIT_SECONDS, StalledEndpoint, base_env, finish_cli, start_cli

TASK = "arn:aws:braket:us-east-1:123456789012:quantum-task/62ad2080-4575-4080-97ca-0d1373435665"
CAPS = json.dumps([{"name": "forte-day", "window": "day", "group_by": "device", "max_cost_usd": "10",
                    "devices": ["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"]}])
HOME = {"AWS_REGION": "us-east-1", "BRAKET_GUARD_CAPS": CAPS, "BRAKET_GUARD_TABLE": "guard-ledger"}

# name -> (argv, the service whose endpoint stalls, extra environment)
CASES = {
    "status": (["status"], "dynamodb", {}),
    "report": (["report", "--date", "2026-12-01", "--region", "us-east-1"], "braket", {}),
    "explain": (["explain", TASK], "dynamodb", {}),
    "prices": (["prices"], "pricing", {}),
    "unfreeze": (["unfreeze", "forte-day"], "dynamodb", {"BRAKET_GUARD_NATIVE_LIMITS": "freeze"}),
    "function": (["status", "--function", "braket-guard", "--json"], "lambda", {}),
}


@pytest.fixture(scope="module")
def stalled_runs():
    with StalledEndpoint() as stall:
        started = {}
        for name, (argv, service, extra) in CASES.items():
            env = base_env(**HOME, **extra, **{f"AWS_ENDPOINT_URL_{service.upper()}": stall.url})
            started[name] = (argv, *start_cli(argv, env))
        runs = {name: finish_cli(argv, proc, t0) for name, (argv, proc, t0) in started.items()}
        accepted = stall.accepted
    yield stall.url, runs, accepted


@pytest.mark.parametrize("name", list(CASES))
def test_a_stalled_endpoint_ends_the_cli_in_under_30_s_with_one_line(stalled_runs, name):
    url, runs, accepted = stalled_runs
    run = runs[name]
    argv, service, _ = CASES[name]
    assert accepted >= len(CASES), f"the listener saw {accepted} connections: some run never reached it"
    assert run.seconds < CLI_LIMIT_SECONDS, f"{argv} took {run.seconds:.1f} s: {run.stderr[-500:]}"
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert run.stdout == "", f"nothing may reach stdout on an error, got {run.stdout[:500]!r}"
    assert run.stderr.count("\n") == 1 and run.stderr.endswith("\n"), run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    message = json.loads(run.stderr)["error"] if "--json" in argv else run.stderr
    assert re.search(rf"\b{service} at {re.escape(url)}/", message), message
    assert "timeout" in message or "No answer" in message, message


def test_ctrl_c_while_waiting_is_one_line_not_a_traceback():
    """A user who gives up before the timeout (SIGINT) gets one line and exit 130."""
    import signal
    import time

    with StalledEndpoint() as stall:
        proc, started = start_cli(["status"], base_env(**HOME, AWS_ENDPOINT_URL_DYNAMODB=stall.url))
        deadline = time.monotonic() + 20
        while stall.accepted == 0 and time.monotonic() < deadline:  # it is waiting on the endpoint
            time.sleep(0.05)
        assert stall.accepted, "the CLI never reached the endpoint"
        proc.send_signal(signal.SIGINT)
        run = finish_cli(["status"], proc, started)
    assert run.returncode == 130 and run.stdout == ""
    assert run.stderr == "braket-guard: interrupted\n", run.stderr


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """``braket-guard prices --from-file big.json | head -1``: more output than a pipe holds, the
    reader closes after one line; the CLI ends without a BrokenPipeError traceback."""
    import subprocess
    import sys

    product = {"product": {"productFamily": "Quantum Task-Shot", "sku": "S{}", "attributes": {
        "deviceName": "Unknown-{}", "regionCode": "us-east-1"}}, "terms": {}}
    items = [json.dumps(product).replace("{}", str(i)) for i in range(3000)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(items))
    proc = subprocess.Popen([sys.executable, "-m", "braket_guard.cli", "prices", "--from-file", str(path)],
                            env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.startswith(f"{path}: 3000 product(s)".encode()), first
    assert proc.returncode == 1, (proc.returncode, stderr)
    assert stderr == "", stderr


WIDGET = json.dumps({"product": {"productFamily": "Quantum Widget", "sku": "W1", "attributes": {}}})


def test_a_long_run_that_keeps_getting_answers_is_not_cut_off():
    """The budget bounds the wait on an endpoint that does not answer, not the length of a run:
    ten GetProducts pages at 1.5 s each (15 s) outlast what a fixed 25 s budget lets a run start
    calls for (25 - 14 s for one worst-case call - 2 s margin = 9 s), and every page is read."""
    from .cli_process import SlowPriceList, run_cli
    from braket_guard.aws import clients
    from braket_guard.aws import retry

    assert 10 * 1.5 > clients.CLI_SECONDS - clients.CLI.worst_call_seconds - retry.DEADLINE_MARGIN_SECONDS
    with SlowPriceList(WIDGET, delay=1.5, pages=10) as endpoint:
        run = run_cli(["prices"], base_env(AWS_ENDPOINT_URL_PRICING=endpoint.url))
        calls = endpoint.calls
    assert run.returncode == 0 and run.stderr == "", (run.returncode, run.stderr)
    assert calls == 10
    assert run.stdout.startswith("pricing:GetProducts in us-east-1: 10 product(s), 0 priced"), run.stdout[:200]


def test_an_endpoint_that_stops_answering_mid_run_ends_it_within_the_budget():
    """Three pages answered, then silence: the run ends within the budget of the last answer,
    with one line naming the endpoint."""
    from .cli_process import SlowPriceList, run_cli
    from braket_guard.aws import clients

    with SlowPriceList(WIDGET, delay=0.2, pages=3, stall=True) as endpoint:
        run = run_cli(["prices"], base_env(AWS_ENDPOINT_URL_PRICING=endpoint.url))
        calls = endpoint.calls
    assert run.returncode == 2 and run.stdout == "", (run.returncode, run.stderr)
    assert calls >= 4  # the fourth call (and botocore's second attempt) got no answer
    assert run.seconds < CLI_LIMIT_SECONDS and run.seconds < 3 * 0.2 + clients.CLI_SECONDS, run.seconds
    assert run.stderr == (f"braket-guard: error: No answer from pricing at {endpoint.url}/ (read timeout): check the "
                          "network, the region or AWS_ENDPOINT_URL\n"), run.stderr

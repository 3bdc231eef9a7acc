"""Issue 18, "tests that search the space": the whole CLI under random argv and environments.

Every subcommand (status, report, explain, check-config, prices, unfreeze, ``--help``, no
command, junk) with random and duplicated flags, in random environments (malformed JSON, huge
and tiny numbers, deep nesting, bad zones, dates at the ends of the calendar, missing
credentials and regions, unreachable, garbage and stalled endpoints), run as users run it:
``python -m braket_guard.cli`` in a fresh interpreter, against moto, the Braket emulator and a
Price List replay where an endpoint works.

The property, for every run: exit code 0, 1 or 2; no traceback; no "internal error" line (the
CLI's last-resort handler: a bug, counted as a failure); an error (exit 2) is exactly one line on
stderr with nothing on stdout; exit 0 or 1 prints its (whole or partial) answer on stdout and
leaves at most one line on stderr (progress bars aside); the run ends in under 30 s.

Every example is run and every failure is collected, then reported together (the first failing
example would hide the others). ``BRAKET_GUARD_CLI_EXAMPLES`` raises the example count (default
45, ``derandomize=True``: the same examples in every CI run; ``BRAKET_GUARD_CLI_SEED`` picks another
fixed set), plus the explicit stalled, garbage-endpoint and issue examples.
"""

from __future__ import annotations

import json
import os
import random
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from .cli_process import (CLI_LIMIT_SECONDS, StalledEndpoint, base_env, closed_port_url, run_cli)
from .conftest import FORTE, REGION, SV1, Harness
from .pricing_replay import PricingReplay

EXAMPLES = int(os.environ.get("BRAKET_GUARD_CLI_EXAMPLES", "45"))
# Another fixed set of examples (exploring beyond CI's): BRAKET_GUARD_CLI_SEED=<any integer>.
SEED = int(os.environ.get("BRAKET_GUARD_CLI_SEED", "0"))
ROOT = Path(__file__).resolve().parent.parent.parent
PRICE_FIXTURE = ROOT / "tests" / "fixtures" / "pricelist_amazonbraket.json"
ACCOUNT = "123456789012"
UNKNOWN_TASK = f"arn:aws:braket:us-east-1:{ACCOUNT}:quantum-task/00000000-0000-0000-0000-000000000000"
JOB = f"arn:aws:braket:us-east-1:{ACCOUNT}:job/nightly-vqe"
CAPS = [{"name": "daily", "window": "day", "group_by": "device", "max_shots": 250, "max_cost_usd": "100",
         "devices": ["qpu"], "warn_at": [0.8]},
        {"name": "month", "window": "month", "group_by": "account", "max_cost_usd": "1000"}]
DEEP = "[" * 100_000
PROGRESS = re.compile(r"(?:\r?Searching [a-z0-9-]+ \[[#.]{30}\] [0-9]+ tasks)+")


def cap(**fields):
    return json.dumps([{**CAPS[0], **fields}])


CAPS_TEXTS = {  # BRAKET_GUARD_CAPS values, and the caps files below
    "valid": json.dumps(CAPS), "empty-list": "[]", "deep": DEEP, "deep-object": '{"a":' * 20_000,
    "overflow": cap(max_cost_usd="1e999999"), "1e400": cap(max_cost_usd="1e400"),
    "tiny": cap(max_cost_usd="1e-999999"), "shots-1e40": cap(max_shots=10 ** 40),
    "shots-5000-digits": '[{"name": "d", "window": "day", "group_by": "account", "max_shots": ' + "9" * 5000 + "}]",
    "float": '[{"name": "d", "window": "day", "group_by": "account", "max_cost_usd": 1.5}]',
    "no-group-by": json.dumps([{"name": "d", "window": "total", "max_shots": 10}]),
    "malformed": "{", "null": "null", "string": '"caps"', "negative": cap(max_shots=-1),
    "unicode-digits": cap(max_shots="\u0661\u0662"), "bad-name": cap(name="daily\n"),
    "warn-huge": cap(warn_at=["1e999999"]), "dup-names": json.dumps([CAPS[0], CAPS[0]]),
}
PRICE_TEXTS = {
    "fixture": PRICE_FIXTURE.read_text("utf-8"), "deep": DEEP, "malformed": "[",
    "1e400": json.dumps([{"product": {"productFamily": "Quantum Task-Shot", "sku": "S", "attributes": {
        "deviceName": "Forte-1", "regionCode": "us-east-1"}}, "terms": {"OnDemand": {"t": {"priceDimensions": {
            "d": {"unit": "Shots", "pricePerUnit": {"USD": "1e400"}}}}}}}]),
    "wrong-types": json.dumps([{"product": [], "terms": {"OnDemand": []}}, {"terms": "x"}, 1]),
    "not-utf8": None,  # written as bytes below
}
ENV_CHOICES = {
    "BRAKET_GUARD_CAPS": [None, None] + list(CAPS_TEXTS),  # names resolved to text in the case
    "BRAKET_GUARD_TABLE": [None, "<table>", "<table>", "no-such-table", "x", "tbl\n", "t" * 300],
    "BRAKET_GUARD_TIMEZONE": [None, "UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12", "Mars/Olympus",
                              "", "../../etc/passwd", "UTC\n", "A" * 300, "America/Argentina/Buenos_Aires"],
    "BRAKET_GUARD_REGIONS": [None, None, "us-east-1", '["us-east-1", "us-east-1"]', "us-east-1,eu-north-1", "[",
                             "not-a-region", "[" * 5000, '["us-east-\u0661"]', "us-east-1\n", '{"a": 1}'],
    "BRAKET_GUARD_PRICES": [None, None, json.dumps({FORTE: {"per_task_usd": "0.30", "per_shot_usd": "0.08"}}),
                            json.dumps({FORTE: {"per_task_usd": "0.30", "per_shot_usd": "1e400"}}),
                            json.dumps({SV1: {"per_minute_usd": "1e-999999"}}), DEEP, "{", "[]"],
    "BRAKET_GUARD_NATIVE_LIMITS": [None, None, "off", "freeze", "mirror_and_freeze", "bogus"],
    "AWS_REGION": [None, REGION, REGION, "eu-west-1", "not a region!", "us-east-1\n"],
    "AWS_DEFAULT_REGION": [None, None, "us-west-2", "", "eu west 2"],
    "AWS_PROFILE": [None, None, "no-such-profile"],
    "AWS_CONFIG_FILE": [None, None, "<bad-ini>", "<dir>"],
    "AWS_MAX_ATTEMPTS": [None, None, "abc", "0", "100000"],
    "AWS_DEFAULTS_MODE": [None, None, "warp"],
    "PYTHONIOENCODING": [None, None, "latin-1", "ascii"],  # a terminal that cannot show an echoed argument
    "credentials": ["present", "present", "present", "absent", "partial"],
}

FILES = ["caps:valid", "caps:deep", "caps:overflow", "caps:1e400", "caps:shots-5000-digits", "caps:empty-list",
         "caps:malformed", "caps:no-group-by", "caps:tiny", "caps:float", "caps:not-utf8", "<dir>", "<missing>",
         "prices:fixture", "prices:deep", "prices:1e400", "prices:malformed", "prices:wrong-types",
         "prices:not-utf8", "/dev/null"]
SHORT_TEXT = st.text(alphabet="ab-_:/.0123456789\u0661\u00e9 \n", max_size=12)
ISSUE_CASES = [  # tracebacks the issue lists, always among the examples
    {"argv": ["report", "--date", "", "--region", REGION], "endpoints": "ok"},
    {"argv": ["report", "--date", "9999-12-31"], "endpoints": "ok"},
    {"argv": ["report", "--date", "0001-01-01", "--timezone", "Asia/Tokyo"], "endpoints": "ok"},
    {"argv": ["prices", "--from-file", "prices:1e400"], "endpoints": "ok"},
    {"argv": ["prices", "--from-file", "prices:deep"], "endpoints": "ok"},
    {"argv": ["report", "--month", "<month>", "--region", REGION, "--region", REGION], "endpoints": "ok"},
    {"argv": ["report", "--month", "<month>"], "endpoints": "ok", "env": {
        **dict.fromkeys(ENV_CHOICES), "AWS_REGION": REGION, "credentials": "absent"}},
]
QUIET = {**dict.fromkeys(ENV_CHOICES), "BRAKET_GUARD_TABLE": "<table>", "BRAKET_GUARD_CAPS": "valid",
         "AWS_REGION": REGION, "credentials": "present"}  # a working deployment's environment


# A case is a working command in a working deployment plus a few faults, each one step away from
# valid (a bad variable, a bad or repeated flag, a bad positional, a broken endpoint): most runs
# then get past argv and reach the parsers, the ledger and the endpoints, where the faults bite.
BASES = {
    "status": [["status"]],
    "report": [["report", "--date", "<today>"], ["report", "--month", "<month>"]],
    "explain": [["explain", "<task>"], ["explain", JOB]],
    "check-config": [["check-config", "caps:valid"]],
    "prices": [["prices", "--from-file", "prices:fixture"], ["prices"]],
    "unfreeze": [["unfreeze", "daily"]],
}
# Every fault, concretely: one flat list per command, so each draw picks any of them alike.
ENV_FAULTS = [("env", name, value) for name, values in sorted(ENV_CHOICES.items())
              for value in dict.fromkeys(values) if value != QUIET.get(name)]
# weighted: one endpoint fault stands for many (every service, every call), against ~100 others
ENDPOINT_FAULTS = [("endpoints", "unreachable"), ("endpoints", "garbage")] * 6
TEXTS = ["", "x", "\n", "\u2028", "us-east-1\n", "\u0661\u0662", "a" * 300, "--json"]
COMMON_FLAGS = ([["--json"], ["--progress"], ["--region", REGION], ["--region", REGION]]
                + [["--table", v] for v in ["<table>", "no-such-table", "x", "t\n", "\u0661\u0662\u0663"]]
                + [["--caps", f] for f in FILES]
                + [["--timezone", z] for z in ENV_CHOICES["BRAKET_GUARD_TIMEZONE"][1:] + TEXTS]
                + [["--function", f] for f in ["no-such-fn", "fn\n", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:g"]]
                + [["--region", r] for r in ["eu-north-1", "us-west-2", "eu-west-1"] + TEXTS])
REPORT_FLAGS = ([["--date", d] for d in ["", "9999-12-31", "0001-01-01", "9999-12-30", "0001-01-02", "2026-02-30",
                                        "20261201", "<today>", "2026-12-0\u0661", "2026-12-01\n", "1999-01-01"]]
                + [["--month", m] for m in ["9999-12", "0001-01", "2026-13", "<month>", "2026-1", ""]]
                + [["--device", d] for d in [FORTE, SV1, FORTE + "\n", "Forte-1", ""]])
PRICES_FLAGS = ([["--json"]] + [["--from-file", f] for f in FILES] + [["--region", r] for r in
                ["eu-central-1", "eu-west-1", "us-east-1\n", ""]] + [["--price-region", r] for r in
                ["eu-west-2", "us-east-1", "x", "eu-west-2\n"]] + [["--device-arn", d] for d in
                ["arn:aws:braket:us-east-1::device/qpu/acme/Novel-1", FORTE + "\n", "Novel-1"]])
GROUPS = [[g] for g in [ACCOUNT, REGION, FORTE, "12345678901\u0662", "tag:team", "team\n"]]  # unfreeze CAP GROUP
POSITIONALS = {"explain": ["<task>", "<task>\n", UNKNOWN_TASK, JOB, UNKNOWN_TASK.replace("1234", "\u0661234"),
                           " " + UNKNOWN_TASK, "arn:x", ""],
               "check-config": FILES,
               "unfreeze": ["daily", "month", "no-such-cap", "daily\n", "d" * 65, ""]}


def faults_for(command: str) -> list[tuple]:
    flags = PRICES_FLAGS if command == "prices" else COMMON_FLAGS + {"report": REPORT_FLAGS,
                                                                     "unfreeze": GROUPS}.get(command, [])
    return (ENV_FAULTS + ENDPOINT_FAULTS + [("flag", f) for f in flags]
            + [("positional", p) for p in POSITIONALS.get(command, [])])


FAULTS = {command: faults_for(command) for command in BASES}


JUNK = ["--json", "--", "-", "--region", "status", "report", "", "\n", "\x1c", "\u0661", "-h", "--date", "x" * 40]
HELP = [["--help"], [], ["-h"], ["report", "--help"], ["prices", "-h"], ["unfreeze", "--help"], ["status", "-h"]]


def case_from_seed(seed: int) -> dict:
    """A working command in a working deployment plus one to three faults picked uniformly from
    the command's catalogue. Hypothesis draws the seed: with only ~50 examples its own choices
    cluster around simple values (and every run would start from the same few faults); a seeded
    pick spreads the examples over the whole catalogue and is still the same in every CI run."""
    rng = random.Random(seed ^ SEED)
    command = rng.choice(["status", "status", "report", "report", "explain", "check-config", "check-config",
                          "prices", "unfreeze", "other"])
    if command == "other":  # help, no command, junk
        argv = rng.choice(HELP) if rng.random() < 0.5 else [rng.choice(JUNK) for _ in range(rng.randint(1, 4))]
        return {"argv": argv, "env": dict(QUIET), "endpoints": "ok", "seed": seed}
    argv = list(rng.choice(BASES[command]))
    env = dict(QUIET, BRAKET_GUARD_NATIVE_LIMITS="freeze" if command == "unfreeze" else None)
    endpoints = "ok"
    for fault in rng.choices(FAULTS[command], k=rng.randint(1, 3)):
        if fault[0] == "env":
            env[fault[1]] = fault[2]
        elif fault[0] == "flag":
            argv += fault[1]
        elif fault[0] == "positional":
            argv[1] = fault[1]
        else:
            endpoints = fault[1]
    return {"argv": argv, "env": env, "endpoints": endpoints, "seed": seed}


def cases():
    return st.integers(min_value=0, max_value=2 ** 63).map(case_from_seed)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, moto_server, emulator, slack_sink):
    """A guard deployment with state: a ledger table holding counters and task records (the
    handler decided three tasks), the emulator holding the tasks, a Price List replay."""
    with pytest.MonkeyPatch.context() as patch:
        harness = Harness(patch, moto_server, emulator, slack_sink)
        harness.configure(CAPS, alerts=False)
        now = datetime.now(timezone.utc)
        tasks = [emulator.create_task(REGION, FORTE, shots, created_at=now) for shots in (100, 100, 100)]
        emulator.create_task(REGION, SV1, 1000, created_at=now)
        for event in harness.take_events():
            harness.invoke(event)
        table = harness.table
    files = tmp_path_factory.mktemp("cli-files")
    (files / "bad.ini").write_text("[default\nregion")
    paths = {"<dir>": str(files), "<missing>": str(files / "missing.json"), "/dev/null": "/dev/null",
             "<bad-ini>": str(files / "bad.ini")}
    for kind, texts in (("caps", CAPS_TEXTS), ("prices", PRICE_TEXTS)):
        for name, text in list(texts.items()) + [("not-utf8", None)]:
            path = files / f"{kind}-{name}.json"
            path.write_bytes(b"\xff\xfe[\x00" if text is None else text.encode("utf-8"))
            paths[f"{kind}:{name}"] = str(path)
    with PricingReplay(json.loads(PRICE_TEXTS["fixture"]), page_size=10) as replay, StalledEndpoint() as stall:
        yield {"table": table, "task": tasks[0], "paths": paths, "moto": moto_server.url, "braket": emulator.url,
               "pricing": replay.url, "stalled": stall.url, "today": now.date().isoformat(),
               "month": now.date().isoformat()[:7]}


def materialize(case: dict, world: dict) -> tuple[list[str], dict[str, str]]:
    """The case's placeholders as real values: the argv and the whole environment of the run."""
    swap = {"<table>": world["table"], "<task>": world["task"], "<task>\n": world["task"] + "\n",
            "<today>": world["today"], "<month>": world["month"], **world["paths"]}
    argv = [swap.get(arg, arg) for arg in case["argv"]]
    extra: dict[str, str] = {}
    for name, value in case["env"].items():
        if name == "credentials" or value is None:
            continue
        if name == "BRAKET_GUARD_CAPS":
            value = CAPS_TEXTS[value]
        extra[name] = swap.get(value, value)
    env = base_env(**extra)
    if case["env"]["credentials"] == "absent":
        env.pop("AWS_ACCESS_KEY_ID"), env.pop("AWS_SECRET_ACCESS_KEY")
    elif case["env"]["credentials"] == "partial":
        env.pop("AWS_SECRET_ACCESS_KEY")
    mode = case["endpoints"]
    urls = {"ok": {"DYNAMODB": world["moto"], "LAMBDA": world["moto"], "BRAKET": world["braket"],
                   "PRICING": world["pricing"]},
            "unreachable": dict.fromkeys(("DYNAMODB", "LAMBDA", "BRAKET", "PRICING"), closed_port_url()),
            "garbage": {"DYNAMODB": "not a url", "LAMBDA": "http://[::1", "BRAKET": "ftp://127.0.0.1:1",
                        "PRICING": "http://"},
            "stalled": dict.fromkeys(("DYNAMODB", "LAMBDA", "BRAKET", "PRICING"), world["stalled"])}[mode]
    env.update({f"AWS_ENDPOINT_URL_{service}": url for service, url in urls.items()})
    return argv, env


def violations(run) -> list[str]:
    """What this run broke of the property (empty: it held)."""
    found = []
    # splitlines: every character Python (and a terminal) breaks a line at, not only "\n"
    stderr_lines = [line for line in run.stderr.splitlines() if line and not PROGRESS.fullmatch(line)]
    if run.returncode not in (0, 1, 2):
        found.append(f"exit code {run.returncode}")
    if "Traceback" in run.stderr:
        found.append("a traceback on stderr")
    if "internal error" in run.stderr:
        found.append("the last-resort 'internal error' line (an unexpected exception)")
    if run.seconds >= CLI_LIMIT_SECONDS:
        found.append(f"took {run.seconds:.1f} s")
    if run.returncode == 2:
        if len(stderr_lines) != 1:
            found.append(f"an error with {len(stderr_lines)} lines on stderr (one expected)")
        if run.stdout:
            found.append("an error with output on stdout")
    elif run.returncode in (0, 1):
        if len(stderr_lines) > 1:
            found.append(f"{len(stderr_lines)} lines on stderr")
        if not run.stdout.strip():
            found.append(f"exit {run.returncode} with nothing on stdout (a result, partial or whole, is printed)")
    return found


STALLED = [  # few: each costs one read-timeout cycle (~10-15 s)
    {"argv": ["report", "--month", "<month>", "--region", REGION, "--region", REGION, "--region", "eu-north-1",
              "--progress"], "endpoints": "stalled"},
    {"argv": ["status", "--function", "braket-guard", "--json"], "endpoints": "stalled"},
    {"argv": ["prices", "--json"], "endpoints": "stalled"},
]
GARBAGE = [  # endpoint URLs botocore cannot use, always among the examples
    {"argv": ["status"], "endpoints": "garbage"},
    {"argv": ["report", "--date", "<today>"], "endpoints": "garbage"},
]


def test_every_cli_run_exits_0_1_or_2_with_at_most_one_line_and_no_traceback(deployment, capsys):
    runs: list = []
    failures: list[str] = []
    codes: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=(Phase.explicit, Phase.generate),  # no shrinking: every failure is collected below
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(case=cases())
    def check(case):
        argv, env = materialize(case, deployment)
        run = run_cli(argv, env)
        runs.append(case["endpoints"])
        if os.environ.get("BRAKET_GUARD_CLI_TRACE"):  # what each example ran and got, for tuning
            changed = {k: str(v)[:30] for k, v in case["env"].items() if v != QUIET.get(k)}
            print(f"{run.returncode} {run.seconds:4.1f}s {argv!r} {changed} {case['endpoints']} "
                  f"{run.stderr.strip()[-160:]!r}")
        codes[run.returncode] = codes.get(run.returncode, 0) + 1
        broken = violations(run)
        if broken:
            shown = {k: (v if v is None or len(str(v)) < 80 else str(v)[:77] + "...") for k, v in case["env"].items()
                     if v is not None}
            failures.append(f"{'; '.join(broken)}\n    argv={argv!r}\n    env={shown} endpoints={case['endpoints']}"
                            f"\n    exit={run.returncode} in {run.seconds:.1f} s\n    stderr={run.stderr[-1500:]!r}"
                            f"\n    stdout={run.stdout[:300]!r}")

    for explicit in STALLED + GARBAGE + ISSUE_CASES:
        check = example(case={"env": QUIET, **explicit})(check)
    check()
    with capsys.disabled():
        print(f"\n[cli property] {len(runs)} CLI runs ({runs.count('stalled')} against a stalled endpoint, "
              f"{runs.count('unreachable')} unreachable, {runs.count('garbage')} garbage endpoint URLs); "
              f"exit codes {dict(sorted(codes.items()))}; {len(failures)} broke the property")
    assert len(runs) >= EXAMPLES, f"hypothesis ran {len(runs)} examples, fewer than the {EXAMPLES} asked for"
    assert runs.count("stalled") == len(STALLED), runs.count("stalled")
    assert not failures, f"{len(failures)} of {len(runs)} CLI runs broke the property:\n" + "\n".join(failures[:25])

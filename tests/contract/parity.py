#!/usr/bin/env python3
"""The configuration parity table (config_cases.json) for both sides.

- ``lambda_environment(kind, case)``: the BRAKET_GUARD_* variables Terraform renders for a case,
  fed to the Lambda's loader by test_config_parity.py.
- ``tftest()``: tests/terraform/parity.tftest.hcl, one ``terraform test`` run per case (and two
  per device ARN: as a cap's device and as a prices key); an invalid case expects the variable's
  validation to fail, a valid one plans and checks that Terraform rendered what the Lambda got.

    python tests/contract/parity.py           # rewrite tests/terraform/parity.tftest.hcl
    python tests/contract/parity.py --check   # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CASES = HERE / "config_cases.json"
TFTEST = ROOT / "tests" / "terraform" / "parity.tftest.hcl"
CAP_DEFAULTS = {"group_by": "account", "on_breach": "cancel_task"}
PRICE_OF_ARN_CASE = {"per_shot_usd": "0.01"}


def load_cases() -> dict[str, list[dict]]:
    """The hand-written cases of config_cases.json, then the generated ones (``generated_cases``)."""
    cases = {k: v for k, v in json.loads(CASES.read_text("utf-8")).items() if not k.startswith("_")}
    for kind, extra in generated_cases().items():
        cases.setdefault(kind, []).extend(extra)
    return cases


# The one range of money and of a cap's shots (lambda/braket_guard/core/strict.py says the same; the
# unit test test_parity_ranges_follow_the_package checks these against it).
MAX_USD = 1_000_000_000
MAX_CAP_SHOTS = 10**15
MAX_NUMBER_CHARS = 40
QPU_ARN = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"


def generated_cases() -> dict[str, list[dict]]:
    """Cases at and just past every edge of the ranges, derived from the constants above, so that a
    range changed on one side only fails on the other (issue 18)."""
    def cap(name: str, **limits) -> list[dict]:
        return [{"name": name, "window": "day", **limits}]

    caps = [
        {"case": "generated: max_cost_usd at the top of the range", "valid": True, "caps": cap("top", max_cost_usd=MAX_USD)},
        {"case": "generated: max_cost_usd a micro-dollar past the range", "valid": False,
         "caps": cap("past", max_cost_usd=f"{MAX_USD}.000001")},
        {"case": "generated: max_cost_usd 1e400", "valid": False, "caps": cap("huge", max_cost_usd="1e400")},
        {"case": "generated: max_cost_usd 1e999999", "valid": False, "caps": cap("huger", max_cost_usd="1e999999")},
        {"case": "generated: max_shots at the top of the range", "valid": True, "caps": cap("shots-top", max_shots=MAX_CAP_SHOTS)},
        {"case": "generated: max_shots one past the range", "valid": False, "caps": cap("shots-past", max_shots=MAX_CAP_SHOTS + 1)},
        {"case": "generated: max_shots 10^40", "valid": False, "caps": cap("shots-huge", max_shots=10**40)},
        {"case": "generated: no caps at all", "valid": False, "caps": []},
        {"case": "generated: group_by left out means account", "valid": True,
         "caps": [{"name": "no-group", "window": "month", "max_cost_usd": 5}]},
    ]
    price_edges = [
        ("at the top of the range", str(MAX_USD), True),
        ("a micro-dollar past the range", f"{MAX_USD}.000001", False),
        ("of 41 characters", "0." + "0" * (MAX_NUMBER_CHARS - 2) + "1", False),
        ("of 40 characters", "0." + "0" * (MAX_NUMBER_CHARS - 3) + "1", True),
        ("of 400 digits", "9" * 400, False),
    ]
    prices = [{"case": f"generated: per_shot_usd {what}", "valid": valid, "device_arn": QPU_ARN,
               "price": {"per_shot_usd": value}} for what, value, valid in price_edges]
    alert = [{"case": f"generated: reconcile_alert_usd {what}", "valid": valid, "value": value}
             for what, value, valid in price_edges]
    alert += [{"case": "generated: reconcile_alert_usd 1e400", "valid": False, "value": "1e400"},
              {"case": "generated: reconcile_alert_usd negative", "valid": False, "value": "-1"}]
    return {"caps": caps, "prices": prices, "reconcile_alert_usd": alert}


def caps_of(kind: str, case: dict) -> list[dict] | None:
    """The caps input of a case (None: the case is about prices and uses the default caps)."""
    if kind == "caps":
        return case["caps"]
    if kind == "tag_keys":
        return [{"name": "by-tag", "window": "month", "group_by": f"tag:{case['key']}", "max_cost_usd": 100}]
    if kind == "device_arns:caps":
        return [{"name": "one-device", "window": "day", "devices": [case["arn"]], "max_shots": 100}]
    if kind == "reconcile_schedule":
        return case.get("caps")
    return None


def prices_of(kind: str, case: dict) -> dict | None:
    if kind == "prices":  # keyed by a device ARN or (for hybrid-job instances) an ML instance type
        return {case.get("key", case.get("device_arn")): case["price"]}
    if kind == "device_arns:prices":
        return {case["arn"]: PRICE_OF_ARN_CASE}
    return None


def reservations_of(kind: str, case: dict) -> list | None:
    return case["reservations"] if kind == "reservations" else None


DEFAULT_CAPS = [{"name": "daily-qpu", "window": "day", "max_shots": 1000}]
# Kinds whose cases are one string variable, rendered unchanged to one environment variable.
# Terraform leaves the variable out when the value is the default (the Lambda's default too).
SETTINGS = {"native_limits": "BRAKET_GUARD_NATIVE_LIMITS", "cancels_per_second": "BRAKET_GUARD_CANCELS_PER_SECOND",
            "reconcile_alert_usd": "BRAKET_GUARD_RECONCILE_ALERT_USD"}
SETTING_DEFAULTS = {"native_limits": "off", "cancels_per_second": "2", "reconcile_alert_usd": None}
# reconcile_schedule cases: "schedule" is Terraform's input, "seconds" what it renders to
# BRAKET_GUARD_RECONCILE_SECONDS (null: not rendered, the default 900).
RECONCILE_SECONDS = "BRAKET_GUARD_RECONCILE_SECONDS"


def rendered_caps(caps: list[dict]) -> str:
    """BRAKET_GUARD_CAPS as lambda.tf renders it: defaults applied, unset attributes left out."""
    return json.dumps([{**CAP_DEFAULTS, **{k: v for k, v in c.items() if v is not None}} for c in caps],
                      ensure_ascii=False)


def lambda_environment(kind: str, case: dict) -> dict[str, str]:
    env = {"BRAKET_GUARD_TABLE": "braket-guard-ledger",
           "BRAKET_GUARD_CAPS": rendered_caps(DEFAULT_CAPS if caps_of(kind, case) is None else caps_of(kind, case))}
    prices = prices_of(kind, case)
    if prices:
        env["BRAKET_GUARD_PRICES"] = json.dumps(prices, ensure_ascii=False)
    reservations = reservations_of(kind, case)
    if reservations:  # as lambda.tf renders it: unset attributes left out
        env["BRAKET_GUARD_RESERVATIONS"] = json.dumps(
            [{k: v for k, v in r.items() if v is not None} for r in reservations], ensure_ascii=False)
    if kind in SETTINGS and case["value"] != SETTING_DEFAULTS[kind]:
        env[SETTINGS[kind]] = case["value"]
    if kind == "reconcile_schedule" and case["seconds"] is not None:  # the schedule's period, as schedules.tf renders it
        env[RECONCILE_SECONDS] = case["seconds"]
    return env


def expanded() -> list[tuple[str, dict]]:
    """(kind, case) for every check: device ARN cases are checked as a device and as a price key."""
    out = []
    for kind, cases in load_cases().items():
        for case in cases:
            if kind == "device_arns":
                out += [("device_arns:caps", case), ("device_arns:prices", case)]
            else:
                out.append((kind, case))
    return out


def case_id(kind: str, case: dict) -> str:
    return f"{kind}: {case['case']}"


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def hcl(value) -> str:
    """A JSON value as a one-line HCL expression, laid out as `terraform fmt` leaves it."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{k if IDENTIFIER.match(k) else hcl(k)} = {hcl(v)}" for k, v in value.items()]
        return "{ " + ", ".join(items) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    if isinstance(value, str):  # JSON string escapes are HCL's; template sequences are escaped
        return json.dumps(value, ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")
    return json.dumps(value)


def run_name(kind: str, case: dict) -> str:
    return "parity_" + re.sub(r"[^a-z0-9]+", "_", case_id(kind, case).lower()).strip("_")


def tftest() -> str:
    lines = [
        "# GENERATED by tests/contract/parity.py from tests/contract/config_cases.json: do not edit.",
        "# One run per case of the configuration parity table; test_config_parity.py feeds the same",
        "# cases to the Lambda's loader and checks this file is current.",
        "",
        'mock_provider "aws" {',
        '  source          = "./tests/terraform/mocks"',
        "  override_during = plan",
        "}",
        "",
        "variables {",
        f"  caps = {hcl(DEFAULT_CAPS)}",
        "}",
    ]
    seen: set[str] = set()
    for kind, case in expanded():
        name = run_name(kind, case)
        assert name not in seen, f"two cases named alike: {name}"
        seen.add(name)
        caps, prices, reservations = caps_of(kind, case), prices_of(kind, case), reservations_of(kind, case)
        variable = (kind if kind in SETTINGS or kind == "reconcile_schedule" else "caps" if caps is not None
                    else "reservations" if reservations is not None else "prices")
        lines += ["", f'run "{name}" {{', "  command = plan", "", "  variables {"]
        assigned: list[tuple[str, str]] = []
        if caps is not None:
            assigned.append(("caps", hcl(caps)))
        if prices is not None:
            assigned.append(("prices", hcl(prices)))
        if reservations is not None:
            assigned.append(("reservations", hcl(reservations)))
        if kind in SETTINGS:
            assigned.append((kind, hcl(case["value"])))
        if kind == "reconcile_schedule":
            assigned.append(("reconcile_schedule", hcl(case["schedule"])))
        width = max(len(k) for k, _ in assigned)  # aligned as `terraform fmt` aligns them
        lines += [f"    {k.ljust(width)} = {v}" for k, v in assigned]
        lines.append("  }")
        if case["valid"] and kind == "reconcile_schedule":
            lines += [
                "",
                "  assert {",
                f'    condition     = lookup(aws_lambda_function.guard.environment[0].variables, "{RECONCILE_SECONDS}", '
                f'"unset") == {hcl(case["seconds"] or "unset")}',
                f"    error_message = {hcl('Terraform must render exactly what the Lambda loader is given for: ' + case_id(kind, case))}",
                "  }",
            ]
        elif case["valid"] and kind in SETTINGS:
            key = SETTINGS[kind]
            lines += [
                "",
                "  assert {",
                f'    condition     = lookup(aws_lambda_function.guard.environment[0].variables, "{key}", '
                f'{hcl(SETTING_DEFAULTS[kind])}) == {hcl(case["value"])}',
                f"    error_message = {hcl('Terraform must render exactly what the Lambda loader is given for: ' + case_id(kind, case))}",
                "  }",
            ]
        elif case["valid"]:
            env = lambda_environment(kind, case)
            key = f"BRAKET_GUARD_{variable.upper()}"
            lines += [
                "",
                "  assert {",
                f'    condition     = jsondecode(aws_lambda_function.guard.environment[0].variables["{key}"]) == jsondecode({hcl(env[key])})',
                f"    error_message = {hcl('Terraform must render exactly what the Lambda loader is given for: ' + case_id(kind, case))}",
                "  }",
            ]
        else:
            lines.append(f"  expect_failures = [var.{variable}]")
        lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when parity.tftest.hcl is stale")
    args = parser.parse_args(argv)
    text = tftest()
    if args.check:
        if not TFTEST.is_file() or TFTEST.read_text("utf-8") != text:
            print(f"{TFTEST.relative_to(ROOT)} is stale: run python tests/contract/parity.py", file=sys.stderr)
            return 1
        return 0
    TFTEST.write_text(text, "utf-8")
    print(f"wrote {TFTEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

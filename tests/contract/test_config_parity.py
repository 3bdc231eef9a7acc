"""Configuration parity: the Lambda's loader agrees with config_cases.json on every case.

Terraform's side is tests/terraform/parity.tftest.hcl (generated from the same table, run by
`make tf-test`): together they fail whenever Terraform accepts a configuration the Lambda rejects
on every event (or the other way round).
"""

from __future__ import annotations

import pytest

import parity
from braket_guard.config import ConfigError, load_config

CHECKS = parity.expanded()


@pytest.mark.parametrize("kind,case", CHECKS, ids=[parity.case_id(k, c) for k, c in CHECKS])
def test_lambda_loader_agrees_with_the_table(kind, case):
    env = parity.lambda_environment(kind, case)
    try:
        load_config(env)
        accepted, problem = True, None
    except ConfigError as exc:
        accepted, problem = False, str(exc)
    assert accepted == case["valid"], (
        f"{parity.case_id(kind, case)}: the table says {'valid' if case['valid'] else 'invalid'}, "
        f"the Lambda {'accepts' if accepted else 'rejects'} it ({problem}); environment {env}")


def test_terraform_runs_are_generated_from_the_table():
    assert parity.TFTEST.is_file(), f"{parity.TFTEST} is missing: run python tests/contract/parity.py"
    assert parity.TFTEST.read_text("utf-8") == parity.tftest(), (
        "tests/terraform/parity.tftest.hcl is stale: run python tests/contract/parity.py")


def test_every_kind_has_valid_and_invalid_cases():
    for kind, cases in parity.load_cases().items():
        assert {c["valid"] for c in cases} == {True, False}, kind


def test_parity_ranges_follow_the_package():
    from braket_guard.core import strict
    assert (parity.MAX_USD, parity.MAX_CAP_SHOTS, parity.MAX_NUMBER_CHARS) == (
        strict.MAX_USD, strict.MAX_CAP_SHOTS, strict.MAX_NUMBER_CHARS), "parity.py's ranges drifted from strict.py"


def test_generated_cases_are_part_of_the_table():
    generated = [c for cases in parity.load_cases().values() for c in cases if c["case"].startswith("generated:")]
    assert len(generated) >= 20, f"only {len(generated)} generated cases"

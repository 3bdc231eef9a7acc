"""Every deployable example (examples/* but sandbox) has a terraform.tfvars.example that names
each of its variables, and a plan of the example with that file succeeds against moto.

The examples have no endpoint settings: the plan reaches moto through AWS_ENDPOINT_URL (see
tfharness.example_env), so the files are planned exactly as a user copies them. A plan needs
only STS (the caller identity) from moto; nothing is applied.
"""

from __future__ import annotations

import re
import subprocess

import pytest

import exampleplans
import tfharness

VARIABLE = re.compile(r'^variable\s+"([^"]+)"\s*\{', re.M)
# A top-level assignment, or one commented out ("# name = ..."): lines inside a block are indented.
ASSIGNMENT = re.compile(r"^(#\s?)?([A-Za-z_][A-Za-z0-9_]*)\s*=", re.M)

EXAMPLES = exampleplans.deployable_examples()



@pytest.fixture(scope="session")
def example_plans():
    return exampleplans.example_plans()

def declared_variables(example) -> set[str]:
    return {name for path in example.glob("*.tf") for name in VARIABLE.findall(path.read_text())}


def assignments(tfvars) -> tuple[set[str], set[str]]:
    active, commented = set(), set()
    for comment, name in ASSIGNMENT.findall(tfvars.read_text()):
        (commented if comment else active).add(name)
    return active, commented


def test_there_are_deployable_examples():
    names = [e.name for e in EXAMPLES]
    assert {"basic", "multi-region"} <= set(names), f"deployable examples found: {names}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_has_a_tfvars_example_naming_every_variable(example):
    tfvars = example / exampleplans.EXAMPLE_TFVARS
    assert tfvars.is_file(), (
        f"examples/{example.name} deploys to AWS but has no {exampleplans.EXAMPLE_TFVARS}: write one "
        "(commented, every variable of the example set or commented out with a sensible value)")
    declared = declared_variables(example)
    active, commented = assignments(tfvars)
    missing = sorted(declared - active - commented)
    undeclared = sorted(active - declared)  # a commented line may name what a newer module takes
    assert not missing, f"{tfvars.relative_to(tfharness.ROOT)} does not mention the variables {missing}"
    assert not undeclared, f"{tfvars.relative_to(tfharness.ROOT)} sets variables the example does not declare: {undeclared}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_plans_with_its_tfvars_example(example, example_plans):
    plan = example_plans.plan(example.name)
    created = [r for r in plan["resource_changes"] if r["change"]["actions"] == ["create"]]
    assert any(r["type"] == "aws_lambda_function" for r in created), f"examples/{example.name}: no Lambda planned"
    others = [r["address"] for r in plan["resource_changes"] if r["change"]["actions"] not in (["create"], ["read"], ["no-op"])]
    assert not others, f"examples/{example.name}: a plan from scratch should only create, found {others}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_file_reaches_the_lambda(example, example_plans):
    """The values of the file are the ones deployed: mode and time zone, where the example takes
    them, end up in the Lambda's environment, and a file starts in monitor mode (README)."""
    plan = example_plans.plan(example.name)
    text = (example / exampleplans.EXAMPLE_TFVARS).read_text()
    functions = [v for a, v in tfharness.planned_resources(plan).items() if a.endswith("aws_lambda_function.guard")]
    assert len(functions) == 1, f"examples/{example.name}: expected one guard Lambda, found {len(functions)}"
    env = functions[0]["environment"][0]["variables"]
    declared = declared_variables(example)
    if "mode" in declared:
        assert re.search(r'^mode\s*=\s*"monitor"', text, re.M), f"examples/{example.name}: the file should start in monitor mode"
        assert env["BRAKET_GUARD_MODE"] == "monitor"
    if "timezone" in declared:
        timezone = re.search(r'^timezone\s*=\s*"([^"]+)"', text, re.M)
        assert timezone, f"examples/{example.name}: the file sets no timezone"
        assert env["BRAKET_GUARD_TIMEZONE"] == timezone.group(1)
    names = re.search(r'^name_prefix\s*=\s*"([^"]+)"', text, re.M)
    if names:
        assert functions[0]["function_name"] == names.group(1)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_tfvars_is_formatted(example, tmp_path):
    """`terraform fmt -recursive` skips *.example files: the test formats each one itself."""
    tfvars = example / exampleplans.EXAMPLE_TFVARS
    if not tfvars.is_file():
        pytest.fail(f"examples/{example.name} has no {exampleplans.EXAMPLE_TFVARS}")
    text = tfvars.read_text()
    result = subprocess.run(["terraform", "fmt", "-"], input=text, capture_output=True, text=True,
                            env=tfharness.terraform_env(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == text, f"{tfvars.relative_to(tfharness.ROOT)} is not formatted as terraform fmt would"

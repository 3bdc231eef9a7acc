"""Every example passes every input of the root module through to it, with the module's type.

Terraform drops object attributes that a variable's type does not declare: an example whose
`caps` type lacks `kinds` deploys `kinds = ["job"]` from a tfvars file as a task cap, and an
example without a `native_limits` variable only warns about it. So, for examples/basic,
multi-region, tokyo and sandbox (read as text with the HCL reader of scripts/tf_docs.py, no Terraform run): each variable of the root
module is an argument of the example's `module "braket_guard"` block whose expression uses
`var.<name>`, the example declares `<name>` with exactly the module's type (so every attribute of
caps, reservations, prices and spending_limits is reachable), or the input is in EXEMPT with the
reason the example fixes it. The failure messages name what is missing.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import tfharness

_spec = importlib.util.spec_from_file_location("tf_docs", tfharness.ROOT / "scripts" / "tf_docs.py")
tf_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tf_docs)

# Every example (a directory of examples/ with *.tf files), so a new one is checked too.
EXAMPLES = sorted(d.name for d in (tfharness.ROOT / "examples").iterdir() if d.is_dir() and any(d.glob("*.tf")))
# Inputs an example sets itself, on purpose; each reason says why a tfvars value cannot change it.
EXEMPT = {
    "basic": {"regions": "guards exactly var.region (its one provider); examples/multi-region guards several"},
    "tokyo": {"regions": "its forwarders and providers are for us-east-1 and eu-north-1 only"},
    "sandbox": {"regions": "its two providers point us-east-1 and us-west-2 at moto"},
}
MODULE_BLOCK = re.compile(r'^module\s+"braket_guard"\s*\{', re.M)


def normalized(type_expr: str) -> str:
    return re.sub(r"\s+", "", type_expr)


def module_variables(root: Path) -> dict[str, str]:
    """variable -> type expression as written."""
    return {name: attrs.get("type", "any") for name, attrs in tf_docs.blocks(root / "variables.tf", "variable")}


def object_attributes(type_expr: str) -> list[str]:
    """Attribute names of the object(...) in a type expression as written (one per line)."""
    match = re.search(r"object\(\{(.*)\}\)", type_expr, re.S)
    return re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", match.group(1), re.M) if match else []


def example_view(example: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(argument -> expression of its module "braket_guard" block, variable -> normalized type)."""
    arguments: dict[str, str] = {}
    for path in example.glob("*.tf"):
        text = path.read_text()
        match = MODULE_BLOCK.search(text)
        if match:
            arguments = tf_docs.attributes(tf_docs.block_body(text, match.end() - 1))
    declared = {name: attrs.get("type", "any")
                for path in example.glob("*.tf") for name, attrs in tf_docs.blocks(path, "variable")}
    return arguments, declared


def unreachable(module: dict[str, str], arguments: dict[str, str], declared: dict[str, str],
                exempt: dict[str, str]) -> list[str]:
    """What a tfvars user of the example cannot set, one line per input or attribute."""
    problems: list[str] = []
    if not arguments:
        return ['no module "braket_guard" block']
    for name, module_type in module.items():
        if name in exempt:
            if name in declared and re.search(rf"\bvar\.{name}\b", arguments.get(name, "")):
                problems.append(f"{name}: listed in EXEMPT but passed through; drop the exemption")
            continue
        expression = arguments.get(name)
        if expression is None:
            problems.append(f"{name}: not an argument of the module block")
            continue
        if not re.search(rf"\bvar\.{name}\b", expression):
            problems.append(f"{name}: set to {expression!r}, not from var.{name}")
            continue
        if name not in declared:
            problems.append(f"{name}: no variable \"{name}\" in the example")
            continue
        if normalized(declared[name]) != normalized(module_type):
            missing = sorted(set(object_attributes(module_type)) - set(object_attributes(declared[name])))
            detail = f" (attributes missing: {', '.join(f'{name}.{a}' for a in missing)})" if missing else ""
            problems.append(f"{name}: type {normalized(declared[name])} differs from the module's "
                            f"{normalized(module_type)}{detail}")
    return problems


def test_the_examples_are_found():
    assert {"basic", "multi-region", "tokyo", "sandbox"} <= set(EXAMPLES), EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_passes_every_module_input(name):
    example = tfharness.ROOT / "examples" / name
    module = module_variables(tfharness.ROOT)
    assert {"caps", "native_limits", "reservations", "reconcile_schedule"} <= set(module), "variables.tf was not read"
    arguments, declared = example_view(example)
    problems = unreachable(module, arguments, declared, EXEMPT.get(name, {}))
    assert not problems, f"examples/{name}: a tfvars user cannot reach these module inputs:\n  " + "\n  ".join(problems)


# The root inputs each modules/region-forwarder of an example must get too (the home region's
# forwarder gets them inside the module): forwarder input -> root input.
FORWARDER_INPUTS = {"create_alarms": "create_alarms", "max_retry_attempts": "event_max_retry_attempts",
                    "max_event_age_seconds": "event_max_age_seconds", "dlq_retention_seconds": "dlq_retention_seconds",
                    "tags": "tags"}
FORWARDER_BLOCK = re.compile(r'^module\s+"([^"]+)"\s*\{', re.M)


def forwarder_problems(example: Path) -> list[str]:
    problems = []
    for path in example.glob("*.tf"):
        text = path.read_text()
        for match in FORWARDER_BLOCK.finditer(text):
            arguments = tf_docs.attributes(tf_docs.block_body(text, match.end() - 1))
            if "region-forwarder" not in arguments.get("source", ""):
                continue
            for forwarder_input, root_input in FORWARDER_INPUTS.items():
                if not re.search(rf"\bvar\.{root_input}\b", arguments.get(forwarder_input, "")):
                    problems.append(f"module.{match.group(1)}: {forwarder_input} is not set from var.{root_input}")
    return problems


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_forwarder_gets_the_settings_of_the_home_region(name):
    """create_alarms = false (or other retries, ages, retention, tags) must reach every region,
    not only the home forwarder the module makes itself."""
    problems = forwarder_problems(tfharness.ROOT / "examples" / name)
    assert not problems, f"examples/{name}:\n  " + "\n  ".join(problems)


def test_every_cap_attribute_is_counted():
    """The caps type is read attribute by attribute (the messages above rely on it)."""
    caps = module_variables(tfharness.ROOT)["caps"]
    assert object_attributes(caps) == ["name", "window", "group_by", "devices", "max_shots", "max_cost_usd",
                                       "warn_at", "on_breach", "kinds"]


def test_the_check_names_a_missing_cap_attribute_and_a_missing_input():
    """The checker fails on the issue's case: an example typing caps without kinds and passing
    no native_limits."""
    module = module_variables(tfharness.ROOT)
    arguments, declared = example_view(tfharness.ROOT / "examples" / "multi-region")
    declared = dict(declared, caps=re.sub(r"\n\s*kinds\s*=.*", "", declared["caps"]))
    arguments = {k: v for k, v in arguments.items() if k != "native_limits"}
    problems = unreachable(module, arguments, declared, {})
    assert any("caps.kinds" in p for p in problems), problems
    assert "native_limits: not an argument of the module block" in problems, problems
    fixed = unreachable(module, dict(arguments, native_limits='"freeze"'), declared, {})
    assert "native_limits: set to '\"freeze\"', not from var.native_limits" in fixed, fixed

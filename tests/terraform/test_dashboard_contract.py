"""Contract: the dashboard graphs only metrics that lambda/braket_guard really emits, under the
namespace and dimensions it emits them with.

The emitted metrics come from the package itself: the namespace and metric names from
``metrics.py`` (parsed with ast), and the ``Operation`` dimension of each metric from the
``metrics.emit({...}, {"Operation": "..."})`` calls in the package; every other metric is emitted
per cap (dimension ``Cap``, ``Decision.metrics`` in guard.py). The dashboard body is the one in the
plan of examples/sandbox, so it is checked exactly as Terraform would send it.
"""

from __future__ import annotations

import ast
import json
import re

import pytest

import tfharness

PACKAGE = tfharness.ROOT / "lambda" / "braket_guard"
SEARCH = re.compile(r"^SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<metric>[A-Za-z]+)\"', '(?P<stat>[A-Za-z]+)', (?P<period>\d+)\)$")


def package_metrics() -> tuple[str, set[str]]:
    """(namespace, metric names) from the constants of metrics.py."""
    path = PACKAGE / "aws" / "metrics.py"
    if not path.is_file():
        pytest.fail(f"{path.relative_to(tfharness.ROOT)} is missing: the dashboard contract cannot be checked")
    namespace, names = None, set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "NAMESPACE" and isinstance(node.value, ast.Constant):
                namespace = node.value.value
            elif node.targets[0].id == "UNITS" and isinstance(node.value, ast.Dict):
                names = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    assert namespace and names, "metrics.py must define NAMESPACE and UNITS"
    return namespace, names


def operation_metrics() -> dict[str, str]:
    """metric name -> Operation value, from every emit(<values>, {"Operation": ...}) call."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit"
                    and len(node.args) == 2 and all(isinstance(a, ast.Dict) for a in node.args)):
                continue
            values, dimensions = node.args
            dims = {k.value: v.value for k, v in zip(dimensions.keys, dimensions.values)
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
            if "Operation" in dims:
                for key in values.keys:
                    if isinstance(key, ast.Constant):
                        found[key.value] = dims["Operation"]
    return found


def dashboard_body(plan: dict) -> dict:
    for address, values in tfharness.planned_resources(plan).items():
        if address.endswith("aws_cloudwatch_dashboard.guard[0]"):
            return json.loads(values["dashboard_body"])
    raise AssertionError("no aws_cloudwatch_dashboard.guard in the plan of examples/sandbox")


def graphed(body: dict) -> tuple[set[str], set[tuple[str, str, tuple[str, ...]]], set[str]]:
    """(per-cap SEARCH metric names, (namespace, metric, dimensions) of plain metrics, regions)."""
    searches, plain, regions = set(), set(), set()
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        regions.add(widget["properties"]["region"])
        for entry in widget["properties"]["metrics"]:
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            expression = options.get("expression")
            if expression is None:
                names = entry[:-1] if isinstance(entry[-1], dict) else entry
                plain.add((names[0], names[1], tuple(names[2:])))
            elif expression.startswith("SEARCH("):
                match = SEARCH.match(expression)
                assert match, f"unexpected SEARCH expression: {expression}"
                searches.add((match["schema"], match["metric"]))
    return searches, plain, regions


def test_dashboard_graphs_what_the_package_emits(sandbox):
    namespace, emitted = package_metrics()
    operations = operation_metrics()
    per_cap = emitted - set(operations)
    searches, plain, regions = graphed(dashboard_body(sandbox.plan))

    assert regions == {"us-east-1"}, "every graph must read the Lambda's (home) region"
    assert searches, "the dashboard has no per-cap graph"
    for schema, metric in searches:
        assert schema == f"{namespace},Cap", f"per-cap SEARCH over {schema!r}, expected {namespace},Cap"
        assert metric in per_cap, f"{metric} is not emitted per cap by the package (per cap: {sorted(per_cap)})"

    guard_metrics = {(metric, dims) for ns, metric, dims in plain if ns == namespace}
    assert guard_metrics, "the dashboard graphs no Operation metric"
    for metric, dims in guard_metrics:
        assert metric in operations, f"{metric} is not emitted with an Operation dimension"
        assert dims == ("Operation", operations[metric]), f"{metric}: dimensions {dims}, emitted with Operation={operations[metric]}"
    assert any(ns == "AWS/SQS" and dims == ("QueueName", "bg-sandbox-dlq") for ns, _, dims in plain)

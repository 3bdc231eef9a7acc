"""examples/basic and examples/multi-region are planned on the installed provider (5.100 here)
against moto, as they are, with only their providers pointed at moto (override file in a scratch
copy): so every example is planned, not only validated. They run in a thread pool beside the
applies of examples/sandbox and examples/tokyo."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

import tfharness

EXAMPLES = {
    "basic": {"aliases": [None],
              "vars": ["-var=alert_email=ops@example.com", "-var=slack_webhook_url=https://hooks.slack.com/services/T/B/X"],
              "regions": ["us-east-1"]},
    "multi-region": {"aliases": [None, "us_west_1", "us_west_2", "eu_west_2", "eu_north_1"],
                     "vars": [],
                     "regions": ["us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1"]},
}


@pytest.fixture(scope="module")
def plans(moto_server, tmp_path_factory):
    def plan(name: str) -> dict:
        workdir = tmp_path_factory.mktemp(f"plan-{name}")
        example = tfharness.scratch_copy(tfharness.ROOT / "examples" / name, workdir / "module", moto_server.url,
                               EXAMPLES[name]["aliases"])
        env = tfharness.terraform_env(workdir)
        tfharness.terraform(["init", "-input=false", "-no-color"], cwd=example, env=env)
        tfharness.terraform(["plan", "-input=false", "-no-color", *EXAMPLES[name]["vars"], "-out=plan.tfplan"],
                            cwd=example, env=env)
        return json.loads(tfharness.terraform(["show", "-json", "plan.tfplan"], cwd=example, env=env).stdout)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(plan, name) for name in EXAMPLES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_plans(plans, name):
    resources = tfharness.planned_resources(plans[name])
    function = next(v for a, v in resources.items() if a.endswith("aws_lambda_function.guard"))
    env = function["environment"][0]["variables"]
    assert json.loads(env["BRAKET_GUARD_REGIONS"]) == EXAMPLES[name]["regions"]
    rules = sorted(a for a in resources if a.endswith("aws_cloudwatch_event_rule.forward"))
    assert len(rules) == len(EXAMPLES[name]["regions"]), rules
    assert "hooks.slack.com" not in json.dumps(plans[name]), "the ephemeral Slack URL must not be in the plan"

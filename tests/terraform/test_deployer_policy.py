"""Contract: docs/deployer-policy.json, the IAM policy of whoever runs `make deploy`, grants exactly
what Terraform needs for the resources the module and the examples declare, on ARNs no wider
than the name prefix allows.

Three checks, from three sources:
  1. The resource types come from the plans of every deployable example with its tfvars file
     (test_example_tfvars.py's plans): every resource block of the configuration, created or not
     (count = 0 included, e.g. the Cloud Control spending limits). Each type maps to the IAM
     actions the AWS provider needs to create, read, update, delete and tag it (TYPE_ACTIONS);
     the policy's actions must equal the union for the declared types, no more, no less.
  2. Every planned resource's ARN (built from its planned name) is matched by a statement that
     grants each action of its type, so the name patterns really cover what the module creates.
  3. moto records every request of the sandbox's init, plan, apply, re-plan and destroy; each
     call the provider made must be allowed by the policy (test_sandbox_deployer_calls.py). This
     is the provider's real behaviour for the paths moto exercises; TYPE_ACTIONS adds the update
     and tagging actions a first deployment does not call.
"""

from __future__ import annotations

import fnmatch
import json

import pytest

import exampleplans
import tfharness

POLICY_PATH = tfharness.ROOT / "docs" / "deployer-policy.json"
PREFIX = "braket-guard"
ACCOUNT, REGION = "123456789012", "us-east-1"  # any: the policy's ARNs leave both open

EVENT_TAGS = ["events:TagResource", "events:UntagResource", "events:ListTagsForResource"]
# Per resource type: what the provider calls to create, read, update, delete and tag it, plus
# the permission-only actions those calls need (iam:PassRole). The calls moto records are a
# subset (test_sandbox_deployer_calls.py).
TYPE_ACTIONS: dict[str, list[str]] = {
    "aws_cloudwatch_event_bus": ["events:CreateEventBus", "events:DescribeEventBus", "events:UpdateEventBus",
                                 "events:DeleteEventBus", *EVENT_TAGS],
    "aws_cloudwatch_event_bus_policy": ["events:PutPermission", "events:RemovePermission", "events:DescribeEventBus"],
    "aws_cloudwatch_event_rule": ["events:PutRule", "events:DescribeRule", "events:DeleteRule", *EVENT_TAGS],
    "aws_cloudwatch_event_target": ["events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule",
                                    "iam:PassRole"],
    "aws_iam_role": ["iam:CreateRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
                     "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:TagRole", "iam:UntagRole",
                     "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"],
    "aws_iam_role_policy": ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"],
    "aws_lambda_function": ["lambda:CreateFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
                            "lambda:GetFunctionCodeSigningConfig", "lambda:ListVersionsByFunction",
                            "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction",
                            "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
                            "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags", "iam:PassRole"],
    "aws_lambda_permission": ["lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy"],
    # native_cleanup.tf: Invoke (RequestResponse) on create, update and delete; reading it calls nothing.
    "aws_lambda_invocation": ["lambda:InvokeFunction"],
    "aws_lambda_function_event_invoke_config": ["lambda:PutFunctionEventInvokeConfig",
                                                "lambda:UpdateFunctionEventInvokeConfig",
                                                "lambda:GetFunctionEventInvokeConfig",
                                                "lambda:DeleteFunctionEventInvokeConfig"],
    "aws_dynamodb_table": ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
                           "dynamodb:DeleteTable", "dynamodb:DescribeContinuousBackups",
                           "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeTimeToLive",
                           "dynamodb:UpdateTimeToLive", "dynamodb:TagResource", "dynamodb:UntagResource",
                           "dynamodb:ListTagsOfResource"],
    "aws_sqs_queue": ["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:DeleteQueue",
                      "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags"],
    "aws_sqs_queue_policy": ["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"],
    "aws_sns_topic": ["sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:DeleteTopic",
                      "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource"],
    "aws_sns_topic_policy": ["sns:SetTopicAttributes", "sns:GetTopicAttributes"],
    "aws_sns_topic_subscription": ["sns:Subscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes",
                                   "sns:Unsubscribe"],
    "aws_ssm_parameter": ["ssm:PutParameter", "ssm:GetParameter", "ssm:DescribeParameters", "ssm:DeleteParameter",
                          "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", "ssm:ListTagsForResource"],
    "aws_cloudwatch_log_group": ["logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:DeleteLogGroup",
                                 "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagResource",
                                 "logs:UntagResource", "logs:ListTagsForResource", "logs:AssociateKmsKey",
                                 "logs:DisassociateKmsKey"],
    "aws_cloudwatch_metric_alarm": ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
                                    "cloudwatch:TagResource", "cloudwatch:UntagResource",
                                    "cloudwatch:ListTagsForResource"],
    "aws_cloudwatch_dashboard": ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
    "aws_scheduler_schedule": ["scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule",
                               "scheduler:DeleteSchedule", "iam:PassRole"],
    # Cloud Control: the provider reads the type's schema at plan time (DescribeType), then
    # Cloud Control runs the AWS::Braket::SpendingLimit handlers with the caller's permissions
    # (the handler permissions of the resource schema).
    "aws_cloudcontrolapi_resource": ["cloudformation:DescribeType", "cloudformation:CreateResource",
                                     "cloudformation:GetResource", "cloudformation:UpdateResource",
                                     "cloudformation:DeleteResource", "cloudformation:GetResourceRequestStatus",
                                     "braket:CreateSpendingLimit", "braket:SearchSpendingLimits",
                                     "braket:UpdateSpendingLimit", "braket:DeleteSpendingLimit",
                                     "braket:TagResource", "braket:UntagResource", "braket:ListTagsForResource"],
}
# Data sources that call AWS. GetCallerIdentity needs no permission (it cannot be denied);
# aws_partition and aws_region answer from the provider configuration.
DATA_ACTIONS: dict[str, list[str]] = {"aws_caller_identity": [], "aws_partition": [], "aws_region": []}
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}

# Actions with no resource type in the Service Authorization Reference: "*" is the only
# resource they can be granted on. Every other action must name the prefix's ARNs.
NO_RESOURCE_TYPE = {
    "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe",
    "ssm:DescribeParameters", "braket:SearchSpendingLimits",
    "cloudformation:CreateResource", "cloudformation:GetResource", "cloudformation:UpdateResource",
    "cloudformation:DeleteResource", "cloudformation:GetResourceRequestStatus", "cloudformation:DescribeType",
}
# Resources not named by the prefix, and why.
UNPREFIXED_RESOURCES = {
    "*": "actions without a resource type (NO_RESOURCE_TYPE)",
    "arn:aws:logs:*:*:log-group:*": "DescribeLogGroups lists log groups by name prefix; it is read-only",
    "arn:aws:braket:*:*:spending-limit/*": "spending limits have no name: Braket generates their ARN",
    "arn:aws:braket:*:*:device/qpu/*": "CreateSpendingLimit is authorised on the device too; QPUs only",
}



@pytest.fixture(scope="session")
def example_plans():
    return exampleplans.example_plans()

def load_policy() -> dict:
    if not POLICY_PATH.is_file():
        pytest.fail(f"{POLICY_PATH.relative_to(tfharness.ROOT)} is missing")
    return json.loads(POLICY_PATH.read_text())


def statements(policy: dict) -> list[dict]:
    found = []
    for statement in policy["Statement"]:
        actions = statement["Action"]
        resources = statement["Resource"]
        found.append({**statement, "Action": [actions] if isinstance(actions, str) else actions,
                      "Resource": [resources] if isinstance(resources, str) else resources})
    return found


def granted_actions(policy: dict) -> set[str]:
    return {a for s in statements(policy) for a in s["Action"]}


def allowed(policy: dict, action: str, arn: str) -> bool:
    return any(action in s["Action"] and any(fnmatch.fnmatchcase(arn, r) for r in s["Resource"])
               for s in statements(policy) if s["Effect"] == "Allow")


def plans(example_plans) -> dict[str, dict]:
    for example in exampleplans.deployable_examples():
        example_plans.plan(example.name)  # fails with the reason when an example was not planned
    return example_plans.plans


def declared_types(example_plans) -> dict[str, set[str]]:
    """type -> the examples that declare it (managed resources only)."""
    found: dict[str, set[str]] = {}
    for name, plan in plans(example_plans).items():
        for _, mode, kind in exampleplans.configured_resources(plan):
            if mode == "managed":
                found.setdefault(kind, set()).add(name)
            elif kind not in DATA_ACTIONS:
                pytest.fail(f"examples/{name} reads data source {kind}: add it to DATA_ACTIONS with the actions it needs")
    return found


def resource_arns(kind: str, values: dict, roles: list[str]) -> list[str]:
    """The ARNs IAM evaluates the type's actions against, from the planned values."""
    a, r = ACCOUNT, REGION
    if kind == "aws_cloudwatch_event_bus":
        return [f"arn:aws:events:{r}:{a}:event-bus/{_name(values)}"]
    if kind == "aws_cloudwatch_event_bus_policy":
        return [f"arn:aws:events:{r}:{a}:event-bus/{values['event_bus_name']}"]
    if kind in ("aws_cloudwatch_event_rule", "aws_cloudwatch_event_target"):
        name = _name(values) if kind == "aws_cloudwatch_event_rule" else _name(values, "rule")
        bus = values.get("event_bus_name") or "default"
        return [f"arn:aws:events:{r}:{a}:rule/{name}" if bus == "default" else f"arn:aws:events:{r}:{a}:rule/{bus}/{name}"]
    if kind in ("aws_iam_role", "aws_iam_role_policy"):
        return [f"arn:aws:iam::{a}:role/{role}" for role in roles]
    if kind in ("aws_lambda_function", "aws_lambda_permission", "aws_lambda_function_event_invoke_config",
                "aws_lambda_invocation"):
        return [f"arn:aws:lambda:{r}:{a}:function:{values['function_name']}"]
    if kind == "aws_dynamodb_table":
        return [f"arn:aws:dynamodb:{r}:{a}:table/{_name(values)}"]
    if kind == "aws_sqs_queue":
        return [f"arn:aws:sqs:{r}:{a}:{_name(values)}"]
    if kind == "aws_sns_topic":
        return [f"arn:aws:sns:{r}:{a}:{_name(values)}"]
    if kind == "aws_ssm_parameter":
        return [f"arn:aws:ssm:{r}:{a}:parameter/{_name(values).lstrip('/')}"]
    if kind == "aws_cloudwatch_log_group":
        return [f"arn:aws:logs:{r}:{a}:log-group:{_name(values)}"]
    if kind == "aws_cloudwatch_metric_alarm":
        # a name known only at apply (built from module outputs) still starts with the name prefix
        return [f"arn:aws:cloudwatch:{r}:{a}:alarm:{values.get('alarm_name') or 'braket-guard-known-after-apply'}"]
    if kind == "aws_cloudwatch_dashboard":
        return [f"arn:aws:cloudwatch::{a}:dashboard/{values['dashboard_name']}"]
    if kind == "aws_scheduler_schedule":
        return [f"arn:aws:scheduler:{r}:{a}:schedule/{values.get('group_name') or 'default'}/{_name(values)}"]
    return []  # ARNs known only after apply (queue policy, subscription): covered by the type's other resources


def test_policy_shape():
    policy = load_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [s.get("Sid") for s in policy["Statement"]]
    assert len(set(sids)) == len(sids) and all(sids), f"every statement needs a unique Sid: {sids}"
    for statement in statements(policy):
        assert statement["Effect"] == "Allow", statement["Sid"]
        assert not any("*" in a or "?" in a for a in statement["Action"]), f"{statement['Sid']}: wildcard action"
        assert "NotAction" not in statement and "NotResource" not in statement, statement["Sid"]


def test_policy_grants_exactly_what_the_declared_resources_need(example_plans):
    declared = declared_types(example_plans)
    unknown = sorted(set(declared) - set(TYPE_ACTIONS))
    assert not unknown, (
        f"resource types {unknown} (declared by {[sorted(declared[t]) for t in unknown]}) have no entry in "
        "TYPE_ACTIONS: add the IAM actions the provider needs for each (create, read, update, delete, tag) there "
        "and to docs/deployer-policy.json")
    needed = {a for kind in declared for a in TYPE_ACTIONS[kind]}
    granted = granted_actions(load_policy())
    missing, extra = sorted(needed - granted), sorted(granted - needed)
    assert not missing and not extra, (
        f"docs/deployer-policy.json and the declared resources differ.\n  needed but not granted: {missing}\n"
        f"  granted but needed by no declared resource type: {extra}\n  declared types: {sorted(declared)}")


def _name(values: dict, key: str = "name") -> str:
    """A planned name; one known only after apply (built from module outputs in the forwarder
    modules) still starts with the name prefix, which is what the policy scopes."""
    return values.get(key) or "braket-guard-known-after-apply"


def test_every_planned_resource_is_inside_the_policy(example_plans):
    policy = load_policy()
    outside = []
    for name, plan in plans(example_plans).items():
        resources = tfharness.planned_resources(plan)
        kinds = {address: r["type"] for address, r in
                 ((c["address"], c) for c in plan["resource_changes"])}
        roles = sorted(_name(v) for address, v in resources.items() if kinds.get(address) == "aws_iam_role")
        for address, values in resources.items():
            kind = kinds.get(address)
            if kind not in TYPE_ACTIONS:
                continue
            for arn in resource_arns(kind, values, roles):
                for action in TYPE_ACTIONS[kind]:
                    if action == "iam:PassRole":
                        continue  # checked below against every role
                    if not allowed(policy, action, arn):
                        outside.append(f"examples/{name} {address}: {action} on {arn}")
        for role in roles:
            if not allowed(policy, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{role}"):
                outside.append(f"examples/{name}: iam:PassRole on role {role}")
    assert not outside, "the policy does not cover:\n  " + "\n  ".join(outside)


def test_resources_are_as_narrow_as_the_name_prefix_allows():
    problems = []
    for statement in statements(load_policy()):
        for resource in statement["Resource"]:
            if resource in UNPREFIXED_RESOURCES:
                if resource == "*":
                    wide = sorted(set(statement["Action"]) - NO_RESOURCE_TYPE)
                    if wide:
                        problems.append(f"{statement['Sid']}: {wide} have resource types but are granted on '*'")
                continue
            parts = resource.split(":", 5)
            if len(parts) < 6 or parts[0] != "arn" or parts[1] != "aws":
                problems.append(f"{statement['Sid']}: {resource} is not an ARN")
            elif PREFIX not in parts[5]:
                problems.append(f"{statement['Sid']}: {resource} is not scoped by the name prefix {PREFIX}")
        for action in statement["Action"]:
            if action in NO_RESOURCE_TYPE and statement["Resource"] != ["*"]:
                problems.append(f"{statement['Sid']}: {action} has no resource type, so it must be granted on '*' alone")
    assert not problems, "\n".join(problems)


def test_pass_role_only_to_the_services_of_the_module():
    statements_with_pass_role = [s for s in statements(load_policy()) if "iam:PassRole" in s["Action"]]
    assert len(statements_with_pass_role) == 1
    statement = statements_with_pass_role[0]
    assert statement["Action"] == ["iam:PassRole"]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": [
        "events.amazonaws.com", "lambda.amazonaws.com", "scheduler.amazonaws.com"]}}

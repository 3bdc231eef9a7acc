"""terraform apply, re-plan and destroy of examples/sandbox against moto in server mode.

The tests run in file order on one session fixture (see conftest.py): apply the plan, check the
resources with boto3, re-plan (must show no changes), destroy (nothing may be left).
"""

from __future__ import annotations

import json
import time

import boto3
import pytest

PREFIX = "bg-sandbox"
REGIONS = ("us-east-1", "us-west-2")


def client(sandbox, service: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=sandbox.moto.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def require_applied(sandbox) -> None:
    if not sandbox.applied:
        pytest.skip("apply did not succeed")


def test_apply(sandbox):
    start = time.monotonic()
    sandbox.tf("apply", "-input=false", "-no-color", f"-state={sandbox.workdir / 'terraform.tfstate'}",
               str(sandbox.plan_file))
    sandbox.applied = True
    sandbox.timings["apply"] = time.monotonic() - start


def test_lambda_settings(sandbox):
    require_applied(sandbox)
    fn = client(sandbox, "lambda").get_function(FunctionName=PREFIX)["Configuration"]
    assert fn["Runtime"] == "python3.12"
    assert fn["Handler"] == "braket_guard.handler.lambda_handler"
    assert fn["Architectures"] == ["x86_64"]
    env = fn["Environment"]["Variables"]
    assert env["BRAKET_GUARD_TABLE"] == f"{PREFIX}-ledger"
    assert env["BRAKET_GUARD_MODE"] == "enforce"
    assert env["BRAKET_GUARD_TIMEZONE"] == "Europe/Berlin"
    assert env["BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"] == f"/{PREFIX}/slack-webhook-url"
    assert env["BRAKET_GUARD_SNS_TOPIC_ARN"].endswith(f":{PREFIX}-alerts")
    assert "127.0.0.1:9/slack" not in json.dumps(env), "the webhook URL must stay out of the environment"
    caps = json.loads(env["BRAKET_GUARD_CAPS"])
    assert [c["name"] for c in caps] == ["daily-device-shots", "daily-device-cost", "monthly-project"]
    assert caps[0] == {"name": "daily-device-shots", "window": "day", "group_by": "device",
                       "devices": ["qpu"], "max_shots": 1000, "on_breach": "cancel_queued"}
    assert json.loads(env["BRAKET_GUARD_PRICES"]) == {
        "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1": {"per_task_usd": "0.30", "per_shot_usd": "0.08"}}

    invoke = client(sandbox, "lambda").get_function_event_invoke_config(FunctionName=PREFIX)
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"].endswith(f":{PREFIX}-dlq")


def test_ledger_table(sandbox):
    require_applied(sandbox)
    ddb = client(sandbox, "dynamodb")
    table = ddb.describe_table(TableName=f"{PREFIX}-ledger")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = ddb.describe_time_to_live(TableName=f"{PREFIX}-ledger")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = ddb.describe_continuous_backups(TableName=f"{PREFIX}-ledger")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_event_routing(sandbox):
    require_applied(sandbox)
    pattern = {"source": ["aws.braket"], "detail-type": ["Braket Task State Change"]}
    bus_arn = client(sandbox, "events").describe_event_bus(Name=f"{PREFIX}-events")["Arn"]
    for region in REGIONS:
        events = client(sandbox, "events", region)
        rule = events.describe_rule(Name=f"{PREFIX}-forward-braket-tasks", EventBusName="default")
        assert json.loads(rule["EventPattern"]) == pattern, region
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="default")["Targets"]
        assert [t["Arn"] for t in targets] == [bus_arn], region
        assert targets[0]["RoleArn"].endswith(f":role/{PREFIX}-forwarder")

    events = client(sandbox, "events")
    central = events.describe_rule(Name=f"{PREFIX}-tasks-to-lambda", EventBusName=f"{PREFIX}-events")
    assert json.loads(central["EventPattern"]) == pattern
    target = events.list_targets_by_rule(Rule=central["Name"], EventBusName=f"{PREFIX}-events")["Targets"][0]
    assert target["Arn"].endswith(f":function:{PREFIX}")
    assert target["DeadLetterConfig"]["Arn"].endswith(f":{PREFIX}-dlq")
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600}

    policy = json.loads(events.describe_event_bus(Name=f"{PREFIX}-events")["Policy"])
    principals = [s["Principal"]["AWS"] for s in policy["Statement"]]
    assert principals == [f"arn:aws:iam::123456789012:role/{PREFIX}-forwarder"]


def test_iam_roles(sandbox):
    require_applied(sandbox)
    iam = client(sandbox, "iam")
    trust = iam.get_role(RoleName=f"{PREFIX}-forwarder")["Role"]["AssumeRolePolicyDocument"]
    assert sorted(trust["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        f"arn:aws:events:{r}:123456789012:rule/{PREFIX}-forward-braket-tasks" for r in REGIONS)
    doc = iam.get_role_policy(RoleName=f"{PREFIX}-lambda", PolicyName="braket-guard")["PolicyDocument"]
    actions = {a for s in doc["Statement"] for a in s["Action"]}
    assert not any(a.endswith("*") for a in actions)
    assert {"braket:CancelQuantumTask", "ssm:GetParameter", "sns:Publish"} <= actions


def test_alerting(sandbox):
    require_applied(sandbox)
    sns = client(sandbox, "sns")
    topic = f"arn:aws:sns:us-east-1:123456789012:{PREFIX}-alerts"
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "quantum-team@example.com")]
    parameter = client(sandbox, "ssm").get_parameter(Name=f"/{PREFIX}/slack-webhook-url", WithDecryption=True)
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert parameter["Parameter"]["Value"] == "http://127.0.0.1:9/slack"
    alarms = client(sandbox, "cloudwatch").describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == [
        f"{PREFIX}-dlq-not-empty", f"{PREFIX}-eventbridge-failed-invocations", f"{PREFIX}-lambda-errors"]
    assert all(a["AlarmActions"] == [topic] for a in alarms)
    logs = client(sandbox, "logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{PREFIX}")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in logs] == [(f"/aws/lambda/{PREFIX}", 7)]


def test_dashboard(sandbox):
    require_applied(sandbox)
    dashboard = client(sandbox, "cloudwatch").get_dashboard(DashboardName=PREFIX)
    body = json.loads(dashboard["DashboardBody"])
    graphs = [w for w in body["widgets"] if w["type"] == "metric"]
    assert len(graphs) == 9
    assert {w["properties"]["region"] for w in graphs} == {"us-east-1"}
    text = json.dumps(body)
    for name in ("BraketGuard", f"{PREFIX}-dlq", f"{PREFIX}-tasks-to-lambda", f"{PREFIX}-events"):
        assert name in text, name


def test_schedules(sandbox):
    require_applied(sandbox)
    scheduler = client(sandbox, "scheduler")
    for action, expression in (("reconcile", "rate(15 minutes)"), ("digest", "cron(0 8 * * ? *)")):
        schedule = scheduler.get_schedule(Name=f"{PREFIX}-{action}")
        assert schedule["ScheduleExpression"] == expression
        assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
        assert json.loads(schedule["Target"]["Input"]) == {"braket_guard": action}
        assert schedule["Target"]["Arn"].endswith(f":function:{PREFIX}")
        assert schedule["Target"]["RoleArn"].endswith(f":role/{PREFIX}-scheduler")
    env = client(sandbox, "lambda").get_function(FunctionName=PREFIX)["Configuration"]["Environment"]["Variables"]
    assert json.loads(env["BRAKET_GUARD_REGIONS"]) == list(REGIONS)


def test_state_keeps_no_webhook_url(sandbox):
    require_applied(sandbox)
    state = (sandbox.workdir / "terraform.tfstate").read_text()
    assert "127.0.0.1:9/slack" not in state, "value_wo must keep the Slack URL out of the state"


def test_replan_shows_no_changes(sandbox):
    require_applied(sandbox)
    start = time.monotonic()
    result = sandbox.tf("plan", "-detailed-exitcode", "-input=false", "-no-color", *sandbox.var_args,
                        check=False)
    sandbox.timings["re-plan"] = time.monotonic() - start
    assert result.returncode == 0, f"re-plan is not empty (exit {result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


def test_destroy(sandbox):
    require_applied(sandbox)
    start = time.monotonic()
    sandbox.tf("destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", *sandbox.var_args)
    sandbox.destroyed = True
    sandbox.timings["destroy"] = time.monotonic() - start
    assert client(sandbox, "lambda").list_functions()["Functions"] == []
    assert client(sandbox, "dynamodb").list_tables()["TableNames"] == []
    assert client(sandbox, "cloudwatch").list_dashboards()["DashboardEntries"] == []
    for region in REGIONS:
        rules = client(sandbox, "events", region).list_rules(EventBusName="default")["Rules"]
        assert [r["Name"] for r in rules if r["Name"].startswith(PREFIX)] == []
    print("\nsandbox timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in sandbox.timings.items()))

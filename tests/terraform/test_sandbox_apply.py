"""terraform apply, re-plan and destroy of examples/sandbox against moto in server mode.

The tests run in file order on one session fixture (see conftest.py): apply the plan, check the
resources with boto3, re-plan (must show no changes), destroy (nothing may be left).
examples/tokyo is applied to the same moto server at the same time (test_tokyo_apply.py) with
the same name_prefix but home region ap-northeast-1, guarding us-east-1 too: what it creates in
us-east-1 and in IAM ends with "-ap-northeast-1", and the checks here leave it out (own()).
"""

from __future__ import annotations

import json
import time

import boto3
import pytest

import tfharness

PREFIX = "bg-sandbox"
REGIONS = ("us-east-1", "us-west-2")
HOME = "us-east-1"
OTHER_HOME = "ap-northeast-1"  # examples/tokyo's home region, same prefix
# Native limits in the emulator at uninstall: the guard's own (owner tag = its table name), one
# made by hand, one of another guard. Destroy must delete exactly the guard's.
OWNER_TAG = "braket-guard:owner"
TABLE = f"{PREFIX}-ledger"
OWNED_DEVICES = ("arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1",
                 "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1")
HAND_MADE_DEVICE = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
OTHER_GUARD_DEVICE = "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1"
MISSING_ACTION = ("the Lambda has no native_cleanup action (issue 19, the Lambda side: operations.py, built on "
                  "another branch): the destroy-time invocation cannot remove the guard's native limits")


def own(names) -> list[str]:
    return [n for n in names if n.startswith(PREFIX) and not n.endswith((OTHER_HOME, f"{OTHER_HOME}-alarms"))]


def client(sandbox, service: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=sandbox.moto.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def require_applied(sandbox) -> None:
    if not sandbox.applied:
        pytest.fail("examples/sandbox is not applied: see test_apply")


def test_forwarder_targets_wait_for_the_role_policy(sandbox):
    """Plan configuration: the home forwarder module depends on the forwarder role's policy, and
    the forwarder_role_arn output (which every other region's forwarder takes) does too."""
    guard = sandbox.plan["configuration"]["root_module"]["module_calls"]["braket_guard"]["module"]
    assert "aws_iam_role_policy.forwarder" in guard["module_calls"]["home_forwarder"]["depends_on"]
    assert "aws_iam_role_policy.forwarder" in guard["outputs"]["forwarder_role_arn"]["depends_on"]
    assert "aws_iam_role_policy.alarm_forwarder" in guard["outputs"]["alarm_forwarder_role_arn"]["depends_on"]
    west = sandbox.plan["configuration"]["root_module"]["module_calls"]["forwarder_us_west_2"]["expressions"]
    assert "module.braket_guard.forwarder_role_arn" in west["forwarder_role_arn"]["references"]


def braket(emulator, region: str = HOME):
    return boto3.client("braket", region_name=region, endpoint_url=emulator.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def limits(emulator, region: str = HOME) -> list[dict]:
    found, kwargs = [], {"maxResults": 100}
    while True:
        page = braket(emulator, region).search_spending_limits(**kwargs)
        found += page.get("spendingLimits", [])
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def invocation_state(sandbox) -> dict:
    shown = json.loads(sandbox.tf("show", "-json", f"{sandbox.workdir / 'terraform.tfstate'}").stdout)
    module = next(m for m in shown["values"]["root_module"]["child_modules"] if m["address"] == "module.braket_guard")
    return next(r["values"] for r in module["resources"] if r["address"].endswith("aws_lambda_invocation.native_cleanup"))


def test_native_cleanup_is_destroyed_before_what_it_uses(sandbox):
    """Plan configuration: the destroy-time invocation depends on the function, its role and
    policy, the ledger, the log group and the alert channels, so a destroy removes it (and
    invokes the Lambda) first; it is invoked on every lifecycle event with the tf key."""
    guard = sandbox.plan["configuration"]["root_module"]["module_calls"]["braket_guard"]["module"]
    invocation = next(r for r in guard["resources"] if r["address"] == "aws_lambda_invocation.native_cleanup")
    assert {"aws_lambda_function.guard", "aws_iam_role.lambda", "aws_iam_role_policy.lambda",
            "aws_dynamodb_table.ledger", "aws_cloudwatch_log_group.guard"} <= set(invocation["depends_on"])
    # and what delivers events to the Lambda is removed before it: nothing runs after the cleanup
    for address in ("aws_lambda_permission.eventbridge", "aws_cloudwatch_event_target.lambda",
                    "aws_scheduler_schedule.guard"):
        resource = next(r for r in guard["resources"] if r["address"] == address)
        assert "aws_lambda_invocation.native_cleanup" in resource.get("depends_on", []), address
    planned = tfharness.planned_resources(sandbox.plan)["module.braket_guard.aws_lambda_invocation.native_cleanup"]
    assert planned["lifecycle_scope"] == "CRUD" and planned["terraform_key"] == "tf"
    assert json.loads(planned["input"]) == {"braket_guard": "native_cleanup"}


def test_apply(sandbox):
    start = time.monotonic()
    sandbox.tf("apply", "-input=false", "-no-color", f"-state={sandbox.workdir / 'terraform.tfstate'}",
               *sandbox.secret_args, str(sandbox.plan_file))
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
    assert json.loads(env["BRAKET_GUARD_REGIONS"]) == list(REGIONS)
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
    pattern = {"source": ["aws.braket"], "detail-type": ["Braket Task State Change", "Braket Job State Change"]}
    bus_arn = client(sandbox, "events").describe_event_bus(Name=f"{PREFIX}-events")["Arn"]
    for region in REGIONS:
        events = client(sandbox, "events", region)
        rule = events.describe_rule(Name=f"{PREFIX}-forward-{HOME}", EventBusName="default")
        assert json.loads(rule["EventPattern"]) == pattern, region
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="default")["Targets"]
        assert [t["Arn"] for t in targets] == [bus_arn], region
        assert targets[0]["RoleArn"].endswith(f":role/{PREFIX}-forwarder-{HOME}")
        assert targets[0]["DeadLetterConfig"]["Arn"] == f"arn:aws:sqs:{region}:123456789012:{PREFIX}-forward-dlq-{HOME}", region
        queue = client(sandbox, "sqs", region).get_queue_url(QueueName=f"{PREFIX}-forward-dlq-{HOME}")["QueueUrl"]
        attributes = client(sandbox, "sqs", region).get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attributes["SqsManagedSseEnabled"] == "true", region
        queue_policy = json.loads(attributes["Policy"])["Statement"][0]
        assert queue_policy["Principal"] == {"Service": "events.amazonaws.com"}
        assert rule["Arn"] in queue_policy["Condition"]["ArnEquals"]["aws:SourceArn"], region

    events = client(sandbox, "events")
    central = events.describe_rule(Name=f"{PREFIX}-tasks-to-lambda", EventBusName=f"{PREFIX}-events")
    assert json.loads(central["EventPattern"]) == pattern
    target = events.list_targets_by_rule(Rule=central["Name"], EventBusName=f"{PREFIX}-events")["Targets"][0]
    assert target["Arn"].endswith(f":function:{PREFIX}")
    assert target["DeadLetterConfig"]["Arn"].endswith(f":{PREFIX}-dlq")
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600}

    policy = json.loads(events.describe_event_bus(Name=f"{PREFIX}-events")["Policy"])
    principals = [s["Principal"]["AWS"] for s in policy["Statement"]]
    assert principals == ["arn:aws:iam::123456789012:root"], "the account, not just-created role ARNs"
    assert [s["Condition"] for s in policy["Statement"]] == [{"ArnEquals": {"aws:PrincipalArn": [
        f"arn:aws:iam::123456789012:role/{PREFIX}-forwarder-{HOME}",
        f"arn:aws:iam::123456789012:role/{PREFIX}-alarm-fwd-{HOME}"]}}]


def test_iam_roles(sandbox):
    require_applied(sandbox)
    iam = client(sandbox, "iam")
    trust = iam.get_role(RoleName=f"{PREFIX}-forwarder-{HOME}")["Role"]["AssumeRolePolicyDocument"]
    assert sorted(trust["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        f"arn:aws:events:{r}:123456789012:rule/{PREFIX}-forward-{HOME}" for r in REGIONS)
    alarm_trust = iam.get_role(RoleName=f"{PREFIX}-alarm-fwd-{HOME}")["Role"]["AssumeRolePolicyDocument"]
    assert sorted(alarm_trust["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        f"arn:aws:events:{r}:123456789012:rule/{PREFIX}-forward-{HOME}-alarms" for r in REGIONS)
    doc = iam.get_role_policy(RoleName=f"{PREFIX}-lambda-{HOME}", PolicyName="braket-guard")["PolicyDocument"]
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
    assert parameter["Parameter"]["Value"] == sandbox.slack_url
    alarms = [a for a in client(sandbox, "cloudwatch").describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
              if own([a["AlarmName"]])]
    home = [f"{PREFIX}-dlq-not-empty", f"{PREFIX}-eventbridge-failed-invocations", f"{PREFIX}-lambda-errors"]
    forward = [f"{PREFIX}-forward-dlq-not-empty-{HOME}", f"{PREFIX}-forward-failed-invocations-{HOME}"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(home + forward)
    assert all(a["AlarmActions"] == [topic] for a in alarms if a["AlarmName"] in home)
    for region in REGIONS:
        regional = [a for a in client(sandbox, "cloudwatch", region).describe_alarms(
            AlarmNamePrefix=f"{PREFIX}-forward-")["MetricAlarms"] if own([a["AlarmName"]])]
        assert sorted(a["AlarmName"] for a in regional) == forward, region
        assert all(a["AlarmActions"] == [] for a in regional), "alarm actions would have to be in the alarm's region"
        dlq_alarm = next(a for a in regional if a["AlarmName"].endswith(f"dlq-not-empty-{HOME}"))
        assert dlq_alarm["Dimensions"] == [{"Name": "QueueName", "Value": f"{PREFIX}-forward-dlq-{HOME}"}]
    logs = client(sandbox, "logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{PREFIX}")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in logs] == [(f"/aws/lambda/{PREFIX}", 7)]


def test_dashboard(sandbox):
    require_applied(sandbox)
    dashboard = client(sandbox, "cloudwatch").get_dashboard(DashboardName=f"{PREFIX}-{HOME}")
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
        assert schedule["Target"]["RoleArn"].endswith(f":role/{PREFIX}-scheduler-{HOME}")
    env = client(sandbox, "lambda").get_function(FunctionName=PREFIX)["Configuration"]["Environment"]["Variables"]
    assert json.loads(env["BRAKET_GUARD_REGIONS"]) == list(REGIONS)


def test_alarm_of_another_region_reaches_the_home_topic(sandbox):
    """A forwarder alarm in us-west-2 changes state: its event goes to the central bus (alarm
    forwarder role) and the region-alarms rule publishes it to the alert topic in us-east-1,
    where a test queue subscribed to the topic receives it."""
    require_applied(sandbox)
    sqs, sns = client(sandbox, "sqs"), client(sandbox, "sns")
    queue_url = sqs.create_queue(QueueName=f"{PREFIX}-test-alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = f"arn:aws:sns:{HOME}:123456789012:{PREFIX}-alerts"
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    try:
        alarm = client(sandbox, "cloudwatch", "us-west-2").describe_alarms(
            AlarmNames=[f"{PREFIX}-forward-dlq-not-empty-{HOME}"])["MetricAlarms"][0]
        detail = {"alarmName": alarm["AlarmName"],
                  "state": {"value": "ALARM", "reason": "Threshold Crossed: 1 datapoint [3.0] was >= 1.0"},
                  "previousState": {"value": "OK"},
                  "configuration": {"description": alarm["AlarmDescription"]}}
        result = client(sandbox, "events", "us-west-2").put_events(Entries=[{
            "Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
            "Resources": [alarm["AlarmArn"]], "Detail": json.dumps(detail), "EventBusName": "default"}])
        assert result["FailedEntryCount"] == 0
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
        bodies = [json.loads(m["Body"])["Message"] for m in messages]
        assert len(bodies) == 1, bodies
        assert f"alarm {PREFIX}-forward-dlq-not-empty-{HOME} is ALARM" in bodies[0], bodies[0]
        assert "us-west-2" in bodies[0], "the alert must say which region failed"
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=queue_url)


def test_no_webhook_url_in_plan_state_or_logs(sandbox):
    """The Slack URL is ephemeral: it reaches SSM (test_alerting) and nothing else."""
    import zipfile

    require_applied(sandbox)
    secret = sandbox.slack_url
    with zipfile.ZipFile(sandbox.plan_file) as plan:
        for member in plan.namelist():
            assert secret.encode() not in plan.read(member), f"the plan file's {member} holds the Slack URL"
    assert secret.encode() not in sandbox.plan_file.read_bytes()
    assert secret not in json.dumps(sandbox.plan), "terraform show -json of the plan holds the Slack URL"
    shown = sandbox.tf("show", "-json", f"{sandbox.workdir / 'terraform.tfstate'}").stdout
    assert secret not in shown
    assert secret not in (sandbox.workdir / "terraform.tfstate").read_text(), "the state holds the Slack URL"
    logs = "\n".join(sandbox.logs)
    assert "$ terraform apply" in logs and "$ terraform plan" in logs
    assert secret not in logs, "terraform's output holds the Slack URL"
    env = client(sandbox, "lambda").get_function(FunctionName=PREFIX)["Configuration"]["Environment"]["Variables"]
    assert secret not in json.dumps(env)


def test_the_create_time_invocation_did_nothing(sandbox):
    """apply invoked native_cleanup with tf.action = "create": the Lambda answered that it
    skipped it (the contract of the action), and the apply went on."""
    require_applied(sandbox)
    result = json.loads(invocation_state(sandbox)["result"])
    assert result.get("decision") != "dropped", f"{MISSING_ACTION}; it answered {result}"
    assert result == {"action": "native_cleanup", "skipped": "create"}


def test_replan_shows_no_changes(sandbox):
    require_applied(sandbox)
    start = time.monotonic()
    result = sandbox.tf("plan", "-detailed-exitcode", "-input=false", "-no-color", *sandbox.var_args,
                        *sandbox.secret_args, check=False)
    sandbox.timings["re-plan"] = time.monotonic() - start
    assert result.returncode == 0, f"re-plan is not empty (exit {result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"


def seed_limits(emulator) -> dict[str, str]:
    """device -> limit ARN: two limits of the guard (as it tags them), one made by hand, one of
    another guard, all in the emulator the destroy-time Lambda reaches."""
    client = braket(emulator)
    made = {}
    tags = {**{d: {OWNER_TAG: TABLE, "braket-guard:window": "day"} for d in OWNED_DEVICES},
            HAND_MADE_DEVICE: {"team": "lab"}, OTHER_GUARD_DEVICE: {OWNER_TAG: "other-guard-ledger"}}
    for i, (device, device_tags) in enumerate(tags.items()):
        made[device] = client.create_spending_limit(deviceArn=device, spendingLimit="0.01", tags=device_tags,
                                                    clientToken=f"apply-test-{i}")["spendingLimitArn"]
    return made


def test_destroy(sandbox, braket_emulator):
    require_applied(sandbox)
    for limit in limits(braket_emulator):  # a clean device table: earlier runs of the same emulator
        braket(braket_emulator).delete_spending_limit(spendingLimitArn=limit["spendingLimitArn"])
    made = seed_limits(braket_emulator)
    start = time.monotonic()
    result = sandbox.tf("destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false", *sandbox.var_args,
                        *sandbox.secret_args, check=False)
    assert result.returncode == 0, (
        "terraform destroy failed; the destroy-time native_cleanup fails it while a limit of the guard remains:\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    sandbox.destroyed = True
    sandbox.timings["destroy"] = time.monotonic() - start

    # Uninstall removed the guard's own native limits (the README promises make clean removes
    # everything the guard created), and nothing else.
    calls = [c for c in sandbox.moto.lambda_endpoints()["invocations"]
             if c["function"] == PREFIX and c["region"] == HOME and isinstance(c["payload"], dict)
             and c["payload"].get("tf", {}).get("action") == "delete"]
    assert len(calls) == 1, f"destroy invoked native_cleanup {len(calls)} times (expected once): {calls}"
    answer = calls[0].get("result") or calls[0].get("error")
    assert not (isinstance(answer, dict) and answer.get("decision") == "dropped"), f"{MISSING_ACTION}; it answered {answer}"
    assert calls[0]["payload"]["braket_guard"] == "native_cleanup"
    left = {l["deviceArn"]: l for l in limits(braket_emulator)}
    assert not [d for d in OWNED_DEVICES if d in left], (
        f"the guard's native limits outlived the uninstall: {[left[d] for d in OWNED_DEVICES if d in left]}")
    assert left.get(HAND_MADE_DEVICE, {}).get("spendingLimitArn") == made[HAND_MADE_DEVICE], "a hand-made limit was touched"
    assert left.get(OTHER_GUARD_DEVICE, {}).get("spendingLimitArn") == made[OTHER_GUARD_DEVICE], "another guard's limit was touched"
    mine = own
    assert mine(f["FunctionName"] for f in client(sandbox, "lambda").list_functions()["Functions"]) == []
    assert mine(client(sandbox, "dynamodb").list_tables()["TableNames"]) == []
    assert mine(d["DashboardName"] for d in client(sandbox, "cloudwatch").list_dashboards()["DashboardEntries"]) == []
    assert mine(r["RoleName"] for r in client(sandbox, "iam").list_roles()["Roles"]) == []
    for region in REGIONS:
        rules = client(sandbox, "events", region).list_rules(EventBusName="default")["Rules"]
        assert mine(r["Name"] for r in rules) == []
        assert mine(q.rsplit("/", 1)[1] for q in client(sandbox, "sqs", region).list_queues().get("QueueUrls", [])) == []
    print("\nsandbox timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in sandbox.timings.items()))

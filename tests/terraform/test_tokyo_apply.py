"""examples/tokyo against moto: the guard runs in ap-northeast-1 (no Braket there) and guards
us-east-1 and eu-north-1. The apply runs in a thread started with the session (conftest.py,
TokyoRun) while examples/sandbox is planned and applied; these tests wait for it, check what
exists in each of the three regions, then let it destroy and check nothing is left.
"""

from __future__ import annotations

import json

import boto3

import tfharness

PREFIX = "bg-sandbox"  # the same prefix as examples/sandbox (home us-east-1), applied at the same time
HOME = "ap-northeast-1"
GUARDED = ("us-east-1", "eu-north-1")


def client(tokyo, service: str, region: str = HOME):
    return boto3.client(service, region_name=region, endpoint_url=tokyo.moto.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_tokyo_plan_creates_nothing_braket_in_the_home_region(tokyo):
    tokyo.wait_applied()
    resources = tfharness.all_resources(tokyo.plan)
    assert not [a for a in resources if a.startswith("module.braket_guard.module.home_forwarder")]
    forwarders = {a.split(".")[1] for a in resources if a.startswith("module.forwarder_")}
    assert forwarders == {"forwarder_us_east_1", "forwarder_eu_north_1"}
    policy = tfharness.lambda_policy_from_plan(tokyo.plan)
    tasks = next(s for s in policy["Statement"] if s["Sid"] == "BraketTasks")["Resource"]
    assert tasks == [f"arn:aws:braket:{r}:123456789012:quantum-task/*" for r in GUARDED]


def test_tokyo_guard_runs_at_home_and_guards_exactly_the_braket_regions(tokyo):
    tokyo.wait_applied()
    fn = client(tokyo, "lambda").get_function(FunctionName=PREFIX)["Configuration"]
    assert fn["FunctionArn"].startswith(f"arn:aws:lambda:{HOME}:")
    env = fn["Environment"]["Variables"]
    assert json.loads(env["BRAKET_GUARD_REGIONS"]) == list(GUARDED), "the unguarded home region must not be in it"
    assert env["BRAKET_GUARD_TIMEZONE"] == "Asia/Tokyo"
    assert tokyo.SLACK_URL not in json.dumps(env)
    home_rules = client(tokyo, "events").list_rules(EventBusName="default", NamePrefix=PREFIX)["Rules"]
    assert home_rules == [], "no forwarding rule in a home region that is not guarded"
    assert client(tokyo, "events").describe_event_bus(Name=f"{PREFIX}-events")["Arn"].startswith(f"arn:aws:events:{HOME}:")
    assert client(tokyo, "iam").get_role(RoleName=f"{PREFIX}-lambda-{HOME}")["Role"]["RoleName"]
    assert client(tokyo, "cloudwatch").get_dashboard(DashboardName=f"{PREFIX}-{HOME}")["DashboardName"]


def test_tokyo_each_guarded_region_forwards_with_a_dead_letter_queue_and_alarms(tokyo):
    tokyo.wait_applied()
    bus_arn = f"arn:aws:events:{HOME}:123456789012:event-bus/{PREFIX}-events"
    for region in GUARDED:
        events = client(tokyo, "events", region)
        names = sorted(r["Name"] for r in events.list_rules(EventBusName="default", NamePrefix=PREFIX)["Rules"])
        assert names == [f"{PREFIX}-forward-{HOME}", f"{PREFIX}-forward-{HOME}-alarms"], region
        for name in names:
            target = events.list_targets_by_rule(Rule=name, EventBusName="default")["Targets"][0]
            assert target["Arn"] == bus_arn, region
            assert target["DeadLetterConfig"]["Arn"] == f"arn:aws:sqs:{region}:123456789012:{PREFIX}-forward-dlq-{HOME}"
        alarms = client(tokyo, "cloudwatch", region).describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
        assert sorted(a["AlarmName"] for a in alarms) == [f"{PREFIX}-forward-dlq-not-empty-{HOME}",
                                                         f"{PREFIX}-forward-failed-invocations-{HOME}"], region
        assert client(tokyo, "sqs", region).get_queue_url(QueueName=f"{PREFIX}-forward-dlq-{HOME}")["QueueUrl"]


def test_tokyo_alarm_in_eu_north_1_reaches_the_topic_in_tokyo(tokyo):
    tokyo.wait_applied()
    sqs, sns = client(tokyo, "sqs"), client(tokyo, "sns")
    queue_url = sqs.create_queue(QueueName=f"{PREFIX}-test-alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = f"arn:aws:sns:{HOME}:123456789012:{PREFIX}-alerts"
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    try:
        alarm = client(tokyo, "cloudwatch", "eu-north-1").describe_alarms(
            AlarmNames=[f"{PREFIX}-forward-failed-invocations-{HOME}"])["MetricAlarms"][0]
        detail = {"alarmName": alarm["AlarmName"], "state": {"value": "ALARM", "reason": "Threshold Crossed"},
                  "configuration": {"description": alarm["AlarmDescription"]}}
        client(tokyo, "events", "eu-north-1").put_events(Entries=[{
            "Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
            "Resources": [alarm["AlarmArn"]], "Detail": json.dumps(detail), "EventBusName": "default"}])
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
        bodies = [json.loads(m["Body"])["Message"] for m in messages]
        assert len(bodies) == 1 and f"{PREFIX}-forward-failed-invocations-{HOME} is ALARM" in bodies[0], bodies
        assert "eu-north-1" in bodies[0]
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=queue_url)


def test_tokyo_secret_only_in_ssm(tokyo):
    tokyo.wait_applied()
    value = client(tokyo, "ssm").get_parameter(Name=f"/{PREFIX}/slack-webhook-url", WithDecryption=True)["Parameter"]["Value"]
    assert value == tokyo.SLACK_URL
    assert tokyo.SLACK_URL not in json.dumps(tokyo.plan)
    assert tokyo.SLACK_URL not in tokyo.state.read_text()


def test_tokyo_destroy(tokyo):
    tokyo.wait_applied()
    tokyo.finish()
    assert tokyo.error is None, f"examples/tokyo did not destroy: {tokyo.error}"
    assert tokyo.destroyed
    # In the guarded regions and in IAM, this deployment's names end with its home region.
    mine = lambda names: [n for n in names if n.startswith(PREFIX) and HOME in n]  # noqa: E731
    assert [f["FunctionName"] for f in client(tokyo, "lambda").list_functions()["Functions"]
            if f["FunctionName"].startswith(PREFIX)] == []
    assert mine(r["RoleName"] for r in client(tokyo, "iam").list_roles()["Roles"]) == []
    assert [q for q in client(tokyo, "sqs").list_queues().get("QueueUrls", []) if f"/{PREFIX}" in q] == []
    for region in GUARDED:
        assert mine(r["Name"] for r in client(tokyo, "events", region).list_rules(EventBusName="default")["Rules"]) == []
        assert mine(q.rsplit("/", 1)[1] for q in client(tokyo, "sqs", region).list_queues().get("QueueUrls", [])) == []
        assert mine(a["AlarmName"] for a in client(tokyo, "cloudwatch", region).describe_alarms()["MetricAlarms"]) == []
    print("\ntokyo timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in tokyo.timings.items()))

# Plan-level tests of the root module with a mocked AWS provider (no credentials, no network).

mock_provider "aws" {
  source          = "./tests/terraform/mocks"
  override_during = plan
}

variables {
  caps = [{ name = "daily-qpu", window = "day", max_shots = 1000 }]
}

run "defaults" {
  command = plan

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.central.event_pattern) == { source = ["aws.braket"], "detail-type" = ["Braket Task State Change", "Braket Job State Change"] }
    error_message = "The central rule must match exactly source aws.braket and detail-type Braket Task State Change."
  }
  assert {
    condition     = jsondecode(module.home_forwarder[0].rule_event_pattern) == { source = ["aws.braket"], "detail-type" = ["Braket Task State Change", "Braket Job State Change"] }
    error_message = "The home forwarder must match the same event pattern."
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Action])) == toset([
      "logs:CreateLogStream", "logs:PutLogEvents",
      "dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
      "braket:CancelQuantumTask", "braket:GetQuantumTask", "braket:SearchQuantumTasks", "braket:GetDevice",
      "braket:CancelJob", "braket:GetJob", "braket:SearchJobs",
      "braket:SearchSpendingLimits", "braket:ListTagsForResource", "braket:DeleteSpendingLimit",
      "sns:Publish", "sqs:SendMessage",
    ])
    error_message = "Without Slack and KMS the Lambda role grants exactly logs, the ledger, Braket (with Search and Delete of its own spending limits, kept while native limits are off), sns:Publish and sqs:SendMessage."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : alltrue([for a in s.Action : !endswith(a, "*")])])
    error_message = "No wildcard actions."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Sid if contains(s.Resource, "*")] == ["NativeLimitsSearch", "BraketSearch"]
    error_message = "Only the Search actions (no resource type in IAM) may use Resource \"*\"."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "BraketTasks"]) == ["arn:aws:braket:us-east-1:123456789012:quantum-task/*"]
    error_message = "Braket task actions are scoped to this account's tasks in the home region."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "Ledger"]) == ["arn:aws:dynamodb:us-east-1:123456789012:table/braket-guard-ledger"]
    error_message = "DynamoDB actions are scoped to the ledger table."
  }
  assert {
    condition = aws_lambda_function.guard.environment[0].variables == tomap({
      BRAKET_GUARD_TABLE         = "braket-guard-ledger"
      BRAKET_GUARD_CAPS          = "[{\"group_by\":\"account\",\"max_shots\":1000,\"name\":\"daily-qpu\",\"on_breach\":\"cancel_task\",\"window\":\"day\"}]"
      BRAKET_GUARD_MODE          = "enforce"
      BRAKET_GUARD_TIMEZONE      = "UTC"
      BRAKET_GUARD_SNS_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:braket-guard-alerts"
      LOG_LEVEL                  = "INFO"
      BRAKET_GUARD_REGIONS       = "[\"us-east-1\"]"
    })
    error_message = "The default environment must be exactly the contract's variables, without unset options."
  }
  assert {
    condition     = aws_lambda_function.guard.runtime == "python3.12" && aws_lambda_function.guard.architectures == tolist(["arm64"]) && aws_lambda_function.guard.handler == "braket_guard.handler.lambda_handler"
    error_message = "Default runtime python3.12 on arm64 with the contract's handler."
  }
  assert {
    condition     = aws_lambda_function.guard.source_code_hash == filebase64sha256("${path.module}/dist/braket-guard-lambda.zip")
    error_message = "The bundled zip is deployed, identified by its hash."
  }
  assert {
    condition     = aws_cloudwatch_event_target.lambda.retry_policy[0].maximum_retry_attempts == 20 && aws_cloudwatch_event_target.lambda.dead_letter_config[0].arn == "arn:aws:sqs:us-east-1:123456789012:braket-guard-dlq"
    error_message = "The Lambda target retries and dead-letters to the SQS queue."
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.guard.destination_config[0].on_failure[0].destination == "arn:aws:sqs:us-east-1:123456789012:braket-guard-dlq"
    error_message = "Failed asynchronous invocations go to the dead-letter queue."
  }
  assert {
    condition     = aws_lambda_permission.eventbridge.source_arn == aws_cloudwatch_event_rule.central.arn && aws_lambda_permission.eventbridge.principal == "events.amazonaws.com"
    error_message = "The invoke permission is scoped to the central rule."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_bus_policy.central.policy).Statement[0].Principal.AWS == "arn:aws:iam::123456789012:root" && jsondecode(aws_cloudwatch_event_bus_policy.central.policy).Statement[0].Condition == { ArnEquals = { "aws:PrincipalArn" = ["arn:aws:iam::123456789012:role/braket-guard-forwarder-us-east-1", "arn:aws:iam::123456789012:role/braket-guard-alarm-fwd-us-east-1"] } } && jsondecode(aws_cloudwatch_event_bus_policy.central.policy).Statement[0].Action == "events:PutEvents"
    error_message = "The bus policy admits PutEvents only from the two forwarder roles (tasks, alarms), whose names carry the home region: the account as principal, the roles in an aws:PrincipalArn condition (no just-created role ARN as principal)."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "BraketDevices"]) == ["arn:aws:braket:*:*:device/*"]
    error_message = "GetDevice is granted on every device ARN form (QPUs with a region, simulators without): arn:<partition>:braket:*:*:device/*."
  }
  assert {
    condition     = aws_iam_role.lambda.name == "braket-guard-lambda-us-east-1" && aws_iam_role.forwarder.name == "braket-guard-forwarder-us-east-1" && aws_iam_role.alarm_forwarder[0].name == "braket-guard-alarm-fwd-us-east-1" && aws_iam_role.scheduler[0].name == "braket-guard-scheduler-us-east-1"
    error_message = "IAM role names (global per account) carry the home region, so one name_prefix can be deployed in two home regions."
  }
  assert {
    condition     = output.guarded_regions == tolist(["us-east-1"]) && output.home_region == "us-east-1" && length(module.home_forwarder) == 1
    error_message = "With regions unset, a Braket home region guards itself and gets its forwarder."
  }
  assert {
    condition     = module.home_forwarder[0].alarm_names == { dlq_not_empty = "braket-guard-forward-dlq-not-empty-us-east-1", failed_invocations = "braket-guard-forward-failed-invocations-us-east-1" }
    error_message = "The home forwarder has its dead-letter queue and failed-forward alarms."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.region_alarms[0].event_pattern) == { source = ["aws.cloudwatch"], "detail-type" = ["CloudWatch Alarm State Change"], detail = { alarmName = [{ prefix = "braket-guard-forward-" }] } } && aws_cloudwatch_event_target.region_alarms[0].arn == "arn:aws:sns:us-east-1:123456789012:braket-guard-alerts" && aws_cloudwatch_event_target.region_alarms[0].dead_letter_config[0].arn == "arn:aws:sqs:us-east-1:123456789012:braket-guard-dlq"
    error_message = "Forwarding alarm state changes arriving on the central bus are published to the alert topic (dead letters to the home DLQ)."
  }
  assert {
    condition     = one([for st in jsondecode(aws_sns_topic_policy.alerts[0].policy).Statement : st.Condition.ArnEquals["aws:SourceArn"] if st.Sid == "RegionAlarmsRule"]) == "arn:aws:events:us-east-1:123456789012:rule/braket-guard-events/braket-guard-region-alarms"
    error_message = "The created topic lets exactly the region alarms rule publish."
  }
  assert {
    condition     = jsondecode(aws_iam_role.alarm_forwarder[0].assume_role_policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == ["arn:aws:events:us-east-1:123456789012:rule/braket-guard-forward-us-east-1-alarms"]
    error_message = "The alarm forwarder role trusts only the alarm rules of the guarded regions."
  }
  assert {
    condition     = jsondecode(aws_iam_role.forwarder.assume_role_policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == ["arn:aws:events:us-east-1:123456789012:rule/braket-guard-forward-us-east-1"]
    error_message = "The forwarder role trusts only the forwarding rules on the default buses of the guarded regions."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.forwarder.policy).Statement[0].Action == ["events:PutEvents"] && jsondecode(aws_iam_role_policy.forwarder.policy).Statement[0].Resource == ["arn:aws:events:us-east-1:123456789012:event-bus/braket-guard-events"]
    error_message = "The forwarder role may only put events on the central bus."
  }
  assert {
    condition     = aws_dynamodb_table.ledger.hash_key == "pk" && aws_dynamodb_table.ledger.range_key == "sk" && aws_dynamodb_table.ledger.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.ledger.ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.ledger.point_in_time_recovery[0].enabled
    error_message = "Ledger: pk/sk, on demand, TTL expires_at, point-in-time recovery."
  }
  assert {
    condition     = aws_cloudwatch_log_group.guard.retention_in_days == 365
    error_message = "Log retention defaults to a year."
  }
  assert {
    condition     = length(aws_sns_topic.alerts) == 1 && length(aws_ssm_parameter.slack_webhook) == 0 && length(aws_sns_topic_subscription.email) == 0
    error_message = "By default a topic is created, and no Slack parameter nor email subscription."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.lambda_errors) == 1 && length(aws_cloudwatch_metric_alarm.dlq_not_empty) == 1 && length(aws_cloudwatch_metric_alarm.failed_invocations) == 1
    error_message = "The three alarms exist by default."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.failed_invocations[0].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:braket-guard-alerts"])
    error_message = "Alarms notify the alert topic."
  }
  assert {
    condition     = length(module.home_forwarder[0].spending_limit_ids) == 0
    error_message = "Native spending limits are off by default."
  }
  assert {
    condition     = aws_scheduler_schedule.guard["reconcile"].schedule_expression == "rate(15 minutes)" && jsondecode(aws_scheduler_schedule.guard["reconcile"].target[0].input) == { braket_guard = "reconcile" } && aws_scheduler_schedule.guard["digest"].schedule_expression_timezone == "UTC" && jsondecode(aws_scheduler_schedule.guard["digest"].target[0].input) == { braket_guard = "digest" }
    error_message = "Reconciliation every 15 minutes and a daily digest invoke the Lambda with their action, in the guard's time zone."
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.scheduler[0].policy).Statement : s.Action])) == toset(["lambda:InvokeFunction", "sqs:SendMessage"]) && one([for s in jsondecode(aws_iam_role_policy.scheduler[0].policy).Statement : s.Resource if s.Sid == "InvokeGuard"]) == ["arn:aws:lambda:us-east-1:123456789012:function:braket-guard"]
    error_message = "The scheduler role may only invoke the guard and dead-letter to the queue."
  }
  assert {
    condition     = length(aws_cloudwatch_dashboard.guard) == 1 && aws_cloudwatch_dashboard.guard[0].dashboard_name == "braket-guard-us-east-1" && output.dashboard_name == "braket-guard-us-east-1"
    error_message = "The dashboard exists by default, named after name_prefix and the home region (dashboards are global per account), and is an output."
  }
  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.guard[0].dashboard_body, "BraketGuard") && strcontains(aws_cloudwatch_dashboard.guard[0].dashboard_body, "braket-guard-dlq")
    error_message = "The dashboard graphs the BraketGuard namespace and the module's dead-letter queue."
  }
  assert {
    condition = alltrue([
      for w in jsondecode(aws_cloudwatch_dashboard.guard[0].dashboard_body).widgets : w.properties.region == "us-east-1" if w.type == "metric"
    ])
    error_message = "Every graph reads the home region, where the Lambda's embedded metrics land."
  }
  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.guard[0].dashboard_body).widgets : [
        for m in w.properties.metrics : regex("^SEARCH\\('\\{BraketGuard,Cap\\} MetricName=\"([A-Za-z]+)\"", m[0].expression)[0]
        if can(m[0].expression) && startswith(try(m[0].expression, ""), "SEARCH(")
      ] if w.type == "metric"
      ])) == toset([
      "TasksAdmitted", "TasksRejected", "TasksCancelled", "TasksRefunded", "CancelFailures", "ShotsAdmitted",
      "CostAdmittedMicroUSD", "CostPreventedMicroUSD", "CostRefundedMicroUSD", "SimulatorTrueUpMicroUSD",
    ])
    error_message = "Usage, decisions, spend prevented and cancel failures are graphed per cap with SEARCH over the Cap dimension of BraketGuard."
  }
  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.guard[0].dashboard_body).widgets : [
        for m in w.properties.metrics : jsonencode(slice(m, 0, length(m) - 1)) if !can(m[0].expression)
      ] if w.type == "metric"
      ])) == toset([for m in [
      ["BraketGuard", "GuardErrors", "Operation", "event"],
      ["BraketGuard", "EventsDropped", "Operation", "event"],
      ["BraketGuard", "ReconcileTasksSeen", "Operation", "reconcile"],
      ["BraketGuard", "ReconcileCorrections", "Operation", "reconcile"],
      ["BraketGuard", "ReconcileCorrectionMicroUSD", "Operation", "reconcile"],
      ["AWS/Lambda", "Errors", "FunctionName", "braket-guard"],
      ["AWS/Lambda", "Throttles", "FunctionName", "braket-guard"],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "braket-guard-dlq"],
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "braket-guard-dlq"],
      ["AWS/Events", "FailedInvocations", "EventBusName", "braket-guard-events", "RuleName", "braket-guard-tasks-to-lambda"],
      ["AWS/Events", "Invocations", "EventBusName", "braket-guard-events", "RuleName", "braket-guard-tasks-to-lambda"],
    ] : jsonencode(m)])
    error_message = "The dashboard graphs the guard's operation metrics, the function's errors and throttles, the module's DLQ and the central rule's invocations."
  }
  assert {
    condition = sum([
      for w in jsondecode(aws_cloudwatch_dashboard.guard[0].dashboard_body).widgets : length([
        for m in w.properties.metrics : m if strcontains(jsonencode(m), "MicroUSD")
      ]) if w.type == "metric"
      ]) == 5 && alltrue(flatten([
        for w in jsondecode(aws_cloudwatch_dashboard.guard[0].dashboard_body).widgets : [
          for m in w.properties.metrics : lookup(m[length(m) - 1], "visible", true) == false && contains(
            [for n in w.properties.metrics : n[0].expression if can(n[0].expression)], "${m[length(m) - 1].id} / 1000000"
          ) if strcontains(jsonencode(m), "MicroUSD")
        ] if w.type == "metric"
    ]))
    error_message = "Micro-dollar series are hidden and shown in USD through a metric-math division by 1e6."
  }
}

run "everything_on" {
  command = plan

  variables {
    name_prefix                    = "bg"
    slack_webhook_url              = "https://hooks.slack.com/services/T000/B000/XXXX"
    create_slack_webhook_parameter = true
    alert_emails                   = ["a@example.com", "b@example.org"]
    regions                        = ["us-east-1", "us-west-1", "eu-north-1"]
    kms_key_arn                    = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    mode                           = "monitor"
    timezone                       = "America/New_York"
    prices = {
      "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"    = { per_task_usd = "0.30", per_shot_usd = "0.08" }
      "arn:aws:braket:::device/quantum-simulator/amazon/sv1" = { per_minute_usd = "0.075" }
    }
    caps = [
      { name = "daily-device", window = "day", group_by = "device", devices = ["qpu", "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"], max_shots = 5000, max_cost_usd = 25.5, warn_at = [0.5, 0.8], on_breach = "cancel_queued" },
      { name = "team", window = "month", group_by = "tag:team", max_cost_usd = 100, on_breach = "alert_only" },
    ]
    spending_limits = [
      { device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "100.00" },
      { device_arn = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet", limit_usd = "50", start_at = "2026-01-01T00:00:00Z", end_at = "2026-12-31T23:59:59Z" },
    ]
  }

  assert {
    condition     = aws_ssm_parameter.slack_webhook[0].type == "SecureString" && aws_ssm_parameter.slack_webhook[0].name == "/bg/slack-webhook-url" && aws_ssm_parameter.slack_webhook[0].key_id == var.kms_key_arn
    error_message = "The Slack URL is stored as a SecureString under /<prefix>/slack-webhook-url."
  }
  assert {
    condition     = aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"] == "/bg/slack-webhook-url" && !strcontains(jsonencode(aws_lambda_function.guard.environment[0].variables), "hooks.slack.com")
    error_message = "The environment names the parameter and never holds the URL."
  }
  assert {
    condition = jsondecode(aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_CAPS"]) == [
      { name = "daily-device", window = "day", group_by = "device", devices = ["qpu", "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"], max_shots = 5000, max_cost_usd = 25.5, warn_at = [0.5, 0.8], on_breach = "cancel_queued" },
      { name = "team", window = "month", group_by = "tag:team", max_cost_usd = 100, on_breach = "alert_only" },
    ]
    error_message = "Caps are rendered as the contract's JSON, with only the attributes that are set."
  }
  assert {
    condition = jsondecode(aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_PRICES"]) == {
      "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"    = { per_task_usd = "0.30", per_shot_usd = "0.08" }
      "arn:aws:braket:::device/quantum-simulator/amazon/sv1" = { per_minute_usd = "0.075" }
    }
    error_message = "Prices are rendered as decimal strings by device ARN."
  }
  assert {
    condition     = jsondecode(aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_REGIONS"]) == ["us-east-1", "us-west-1", "eu-north-1"] && aws_scheduler_schedule.guard["digest"].schedule_expression_timezone == "America/New_York"
    error_message = "Reconciliation searches every guarded region; schedules follow the guard's time zone."
  }
  assert {
    condition     = aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_MODE"] == "monitor" && aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_TIMEZONE"] == "America/New_York"
    error_message = "Mode and timezone are passed through."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Action if s.Sid == "SlackWebhook"]) == ["ssm:GetParameter"] && one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "SlackWebhook"]) == ["arn:aws:ssm:us-east-1:123456789012:parameter/bg/slack-webhook-url"]
    error_message = "ssm:GetParameter on exactly the one parameter."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "Kms"]) == [var.kms_key_arn] && contains(one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Action if s.Sid == "Kms"]), "kms:Decrypt")
    error_message = "kms:Decrypt on the given key."
  }
  assert {
    condition = alltrue(flatten([
      for p in [aws_iam_role_policy.lambda.policy, aws_iam_role_policy.scheduler[0].policy] : [
        for st in jsondecode(p).Statement : can(st.Condition.StringEquals["kms:ViaService"]) if anytrue([for a in st.Action : startswith(a, "kms:")])
      ]
    ])) && length([for st in jsondecode(aws_iam_role_policy.lambda.policy).Statement : st if st.Sid == "Kms"]) == 1
    error_message = "Every KMS statement of the module carries a kms:ViaService condition."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Condition.StringEquals["kms:ViaService"] if s.Sid == "Kms"]) == ["dynamodb.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com", "ssm.us-east-1.amazonaws.com"]
    error_message = "The Lambda may use the key only through DynamoDB, SNS, SQS and SSM of the home region."
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "BraketTasks"]) == [
      "arn:aws:braket:us-east-1:123456789012:quantum-task/*",
      "arn:aws:braket:us-west-1:123456789012:quantum-task/*",
      "arn:aws:braket:eu-north-1:123456789012:quantum-task/*",
    ]
    error_message = "Task actions cover the home region and every listed region."
  }
  assert {
    condition     = length(jsondecode(aws_iam_role.forwarder.assume_role_policy).Statement[0].Condition.ArnEquals["aws:SourceArn"]) == 3
    error_message = "The forwarder role trusts the forwarding rule of each guarded region."
  }
  assert {
    condition     = length(aws_sns_topic_subscription.email) == 2 && aws_sns_topic_subscription.email["b@example.org"].protocol == "email"
    error_message = "One email subscription per address."
  }
  assert {
    condition     = aws_sns_topic.alerts[0].kms_master_key_id == var.kms_key_arn && aws_sqs_queue.dlq.kms_master_key_id == var.kms_key_arn && aws_cloudwatch_log_group.guard.kms_key_id == var.kms_key_arn && aws_dynamodb_table.ledger.server_side_encryption[0].kms_key_arn == var.kms_key_arn && aws_lambda_function.guard.kms_key_arn == var.kms_key_arn
    error_message = "The customer key encrypts the topic, queue, log group, table and environment."
  }
  assert {
    condition     = keys(module.home_forwarder[0].spending_limit_ids) == ["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"]
    error_message = "The home forwarder creates the home region's spending limits only."
  }
  assert {
    condition     = output.spending_limits_by_region["eu-north-1"][0].limit_usd == "50" && length(output.spending_limits_by_region) == 2
    error_message = "Other regions' limits are handed out by region."
  }
  assert {
    condition     = jsondecode(module.home_forwarder[0].spending_limit_desired_states["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"]) == { DeviceArn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", SpendingLimit = "100.00", Tags = [{ Key = "braket-guard:module", Value = "braket-guard" }] }
    error_message = "The spending limit's Cloud Control desired state."
  }
  assert {
    condition     = aws_cloudwatch_dashboard.guard[0].dashboard_name == "bg-us-east-1" && strcontains(aws_cloudwatch_dashboard.guard[0].dashboard_body, "\"bg-dlq\"") && strcontains(aws_cloudwatch_dashboard.guard[0].dashboard_body, "\"bg-tasks-to-lambda\"") && !strcontains(aws_cloudwatch_dashboard.guard[0].dashboard_body, "braket-guard-dlq")
    error_message = "The dashboard and the queue, function and rule it graphs follow name_prefix."
  }
}

run "existing_topic_and_parameter" {
  command = plan

  variables {
    sns_topic_arn                = "arn:aws:sns:us-east-1:123456789012:ops-alerts"
    slack_webhook_parameter_name = "/ops/slack"
    alert_emails                 = ["a@example.com"]
    create_alarms                = false
    reconcile_schedule           = null
    digest_schedule              = null
    reconcile_alert_usd          = "2.50"
    digest_always                = true
    create_dashboard             = false
  }

  assert {
    condition     = length(aws_sns_topic.alerts) == 0 && length(aws_ssm_parameter.slack_webhook) == 0
    error_message = "No topic nor parameter is created when existing ones are given."
  }
  assert {
    condition     = aws_sns_topic_subscription.email["a@example.com"].topic_arn == var.sns_topic_arn && aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_SNS_TOPIC_ARN"] == var.sns_topic_arn
    error_message = "Emails and the Lambda use the given topic."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "SlackWebhook"]) == ["arn:aws:ssm:us-east-1:123456789012:parameter/ops/slack"] && aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"] == "/ops/slack"
    error_message = "The given parameter is named in the environment and readable by the role."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "Alerts"]) == [var.sns_topic_arn]
    error_message = "sns:Publish on the given topic."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.lambda_errors) + length(aws_cloudwatch_metric_alarm.dlq_not_empty) + length(aws_cloudwatch_metric_alarm.failed_invocations) == 0
    error_message = "create_alarms = false creates no alarm."
  }
  assert {
    condition     = length(aws_scheduler_schedule.guard) == 0 && length(aws_iam_role.scheduler) == 0
    error_message = "Null schedules create no schedule and no scheduler role."
  }
  assert {
    condition     = aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_RECONCILE_ALERT_USD"] == "2.50" && aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_DIGEST_ALWAYS"] == "true"
    error_message = "Reconciliation alert threshold and digest_always reach the environment."
  }
  assert {
    condition     = length(aws_cloudwatch_dashboard.guard) == 0 && output.dashboard_name == null
    error_message = "create_dashboard = false creates no dashboard and the output is null."
  }
}

run "sizing_and_own_package" {
  command = plan

  variables {
    lambda_runtime               = "python3.13"
    lambda_architecture          = "x86_64"
    lambda_memory_mb             = 512
    lambda_timeout_seconds       = 300
    log_level                    = "DEBUG"
    log_retention_days           = 30
    lambda_package_path          = "./tests/terraform/fixtures/own-package.zip"
    lambda_environment_variables = { EXTRA = "1" }
  }

  assert {
    condition     = aws_lambda_function.guard.filename == "./tests/terraform/fixtures/own-package.zip" && aws_lambda_function.guard.source_code_hash == filebase64sha256("./tests/terraform/fixtures/own-package.zip")
    error_message = "A user's own zip replaces the bundled one."
  }
  assert {
    condition     = aws_lambda_function.guard.memory_size == 512 && aws_lambda_function.guard.timeout == 300 && aws_lambda_function.guard.architectures == tolist(["x86_64"]) && aws_lambda_function.guard.runtime == "python3.13"
    error_message = "Sizing inputs reach the function."
  }
  assert {
    condition     = aws_lambda_function.guard.environment[0].variables["LOG_LEVEL"] == "DEBUG" && aws_lambda_function.guard.environment[0].variables["EXTRA"] == "1"
    error_message = "Log level and extra variables reach the environment."
  }
}

run "environment_over_4kb" {
  command = plan

  variables {
    caps = [for i in range(40) : { name = "a-rather-long-cap-name-number-${i}", window = "month", group_by = "tag:cost-center", max_shots = 100000, max_cost_usd = 1000, warn_at = [0.5, 0.75, 0.9], on_breach = "cancel_queued" }]
  }
  expect_failures = [aws_lambda_function.guard]
}

run "spending_limit_outside_regions" {
  command = plan

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3", limit_usd = "10.00" }]
  }
  expect_failures = [aws_cloudwatch_event_bus.central]
}

# The original tool's users: home in Tokyo, where Braket does not run.
run "tokyo_home_without_braket" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { id = "ap-northeast-1", name = "ap-northeast-1" }
  }

  variables {
    regions = ["us-east-1", "eu-north-1"]
  }

  assert {
    condition     = aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_REGIONS"] == "[\"us-east-1\",\"eu-north-1\"]"
    error_message = "BRAKET_GUARD_REGIONS is exactly the guarded regions, without the unguarded home region."
  }
  assert {
    condition     = length(module.home_forwarder) == 0 && output.home_forwarder_rule_arn == null && output.home_region == "ap-northeast-1"
    error_message = "An unguarded home region gets no forwarder."
  }
  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == "BraketTasks"]) == [
      "arn:aws:braket:us-east-1:123456789012:quantum-task/*", "arn:aws:braket:eu-north-1:123456789012:quantum-task/*",
    ]
    error_message = "Braket task permissions cover the guarded regions only."
  }
  assert {
    condition = jsondecode(aws_iam_role.forwarder.assume_role_policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == [
      "arn:aws:events:us-east-1:123456789012:rule/braket-guard-forward-ap-northeast-1", "arn:aws:events:eu-north-1:123456789012:rule/braket-guard-forward-ap-northeast-1",
    ]
    error_message = "The forwarder role trusts the rules of the guarded regions only."
  }
  assert {
    condition     = aws_iam_role.lambda.name == "braket-guard-lambda-ap-northeast-1" && aws_cloudwatch_dashboard.guard[0].dashboard_name == "braket-guard-ap-northeast-1" && aws_dynamodb_table.ledger.name == "braket-guard-ledger"
    error_message = "Global names carry the home region; regional ones do not need to."
  }
  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.guard[0].dashboard_body).widgets : w.properties.region == "ap-northeast-1" if w.type == "metric"])
    error_message = "The dashboard reads the home region, where the Lambda's metrics land."
  }
}

run "home_without_braket_needs_regions" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { id = "ap-northeast-1", name = "ap-northeast-1" }
  }
  expect_failures = [aws_cloudwatch_event_bus.central]
}

run "braket_regions_override" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { id = "ap-northeast-1", name = "ap-northeast-1" }
  }

  variables {
    braket_regions = ["us-east-1", "ap-northeast-1"]
  }

  assert {
    condition     = output.guarded_regions == tolist(["ap-northeast-1"]) && length(module.home_forwarder) == 1
    error_message = "Once braket_regions lists the home region, it is guarded by default."
  }
}

run "sns_topic_in_other_region" {
  command = plan

  variables {
    sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ops-alerts"
  }
  expect_failures = [aws_cloudwatch_event_bus.central]
}

run "kms_key_in_other_region" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }
  expect_failures = [aws_cloudwatch_event_bus.central]
}

run "slack_key_in_other_region" {
  command = plan

  variables {
    slack_webhook_parameter_name = "/ops/slack"
    slack_webhook_kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }
  expect_failures = [aws_cloudwatch_event_bus.central]
}

run "existing_parameter_with_its_own_key" {
  command = plan

  variables {
    slack_webhook_parameter_name = "/ops/slack"
    slack_webhook_kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s if s.Sid == "SlackWebhookKms"]) == {
      Sid       = "SlackWebhookKms", Effect = "Allow", Action = ["kms:Decrypt"], Resource = ["arn:aws:kms:us-east-1:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"]
      Condition = { StringEquals = { "kms:ViaService" = "ssm.us-east-1.amazonaws.com" } }
    }
    error_message = "The parameter's own key: kms:Decrypt through SSM of the home region only."
  }
  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s if s.Sid == "Kms"]) == 0 && length(aws_ssm_parameter.slack_webhook) == 0
    error_message = "No other KMS grant and no parameter is created."
  }
}

run "no_alarms" {
  command = plan

  variables {
    create_alarms = false
  }

  assert {
    condition     = length(aws_iam_role.alarm_forwarder) == 0 && length(aws_cloudwatch_event_rule.region_alarms) == 0 && module.home_forwarder[0].alarm_names == {} && module.home_forwarder[0].alarm_rule_arn == null && output.alarm_forwarder_role_arn == null
    error_message = "create_alarms = false creates no alarm anywhere, nor their rules and role."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_bus_policy.central.policy).Statement[0].Principal.AWS == "arn:aws:iam::123456789012:root" && jsondecode(aws_cloudwatch_event_bus_policy.central.policy).Statement[0].Condition.ArnEquals["aws:PrincipalArn"] == ["arn:aws:iam::123456789012:role/braket-guard-forwarder-us-east-1"]
    error_message = "Without alarms only the task forwarder role may put events on the bus."
  }
}

run "native_limits_on" {
  command = plan

  variables {
    native_limits      = "mirror_and_freeze"
    cancels_per_second = "1.5"
  }

  assert {
    condition     = aws_lambda_invocation.native_cleanup.lifecycle_scope == "CRUD" && jsondecode(aws_lambda_invocation.native_cleanup.input) == { braket_guard = "native_cleanup" }
    error_message = "Uninstall invokes the guard's native_cleanup on destroy with native limits on."
  }

  assert {
    condition = { for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Sid => s.Action if startswith(s.Sid, "NativeLimits") } == {
      NativeLimitsSearch = ["braket:SearchSpendingLimits"], NativeLimitsTags = ["braket:ListTagsForResource"], NativeLimitsDelete = ["braket:DeleteSpendingLimit"],
      NativeLimitsCreate = ["braket:CreateSpendingLimit"], NativeLimitsTagOnCreate = ["braket:TagResource"],
    }
    error_message = "With native limits on: Search, ListTagsForResource, Delete, Create and TagResource (tag-on-create) of spending limits, each in its own statement; no Update (the guard never changes a limit)."
  }
  assert {
    condition     = alltrue([for sid in ["NativeLimitsDelete", "NativeLimitsTagOnCreate"] : one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Condition.StringEquals["aws:ResourceTag/braket-guard:owner"] if s.Sid == sid]) == "braket-guard-ledger"])
    error_message = "Delete and TagResource only on limits tagged with this guard's owner tag (its table name): TagResource cannot stamp the owner tag on a limit someone else made."
  }
  assert {
    condition     = alltrue([for sid in ["NativeLimitsTags", "NativeLimitsDelete", "NativeLimitsTagOnCreate"] : one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Resource if s.Sid == sid]) == ["arn:aws:braket:us-east-1:123456789012:spending-limit/*"]])
    error_message = "Spending limits of the guarded regions only."
  }
  assert {
    condition     = alltrue([for sid in ["NativeLimitsCreate", "NativeLimitsTagOnCreate"] : one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Condition.StringEquals["aws:RequestTag/braket-guard:owner"] if s.Sid == sid]) == "braket-guard-ledger" && length(one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Condition["ForAllValues:StringEquals"]["aws:TagKeys"] if s.Sid == sid])) == 5])
    error_message = "Create and its tag-on-create only with this guard's owner tag in the request and only the guard's tag keys."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Sid if contains(s.Resource, "*")] == ["NativeLimitsSearch", "BraketSearch"]
    error_message = "Only the two Search actions (no resource type in IAM) may use Resource \"*\"."
  }
  assert {
    condition     = aws_scheduler_schedule.guard["native-limits"].schedule_expression == "cron(0 0 * * ? *)" && aws_scheduler_schedule.guard["native-limits"].schedule_expression_timezone == "UTC" && jsondecode(aws_scheduler_schedule.guard["native-limits"].target[0].input).braket_guard == "native_limits"
    error_message = "A schedule at every local midnight rolls the native limits."
  }
  assert {
    condition     = aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_CANCELS_PER_SECOND"] == "1.5"
    error_message = "cancels_per_second reaches the Lambda."
  }
}

run "native_limits_off_by_default" {
  command = plan

  assert {
    condition     = aws_lambda_invocation.native_cleanup.lifecycle_scope == "CRUD" && aws_lambda_invocation.native_cleanup.terraform_key == "tf" && jsondecode(aws_lambda_invocation.native_cleanup.input) == { braket_guard = "native_cleanup" } && aws_lambda_invocation.native_cleanup.function_name == "braket-guard"
    error_message = "Uninstall invokes the guard's native_cleanup on destroy (lifecycle_scope CRUD, the tf key), native limits off too: limits of an earlier setting are removed."
  }

  assert {
    condition     = { for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Sid => s.Action if startswith(s.Sid, "NativeLimits") } == { NativeLimitsSearch = ["braket:SearchSpendingLimits"], NativeLimitsTags = ["braket:ListTagsForResource"], NativeLimitsDelete = ["braket:DeleteSpendingLimit"] } && !contains(keys(aws_scheduler_schedule.guard), "native-limits")
    error_message = "With native_limits off the Lambda may only find (Search, ListTagsForResource) and delete the limits it owns (so that it can remove them after a switch to off and at uninstall): no Create, Update or TagResource, and no boundary schedule."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.lambda.policy).Statement : s.Condition.StringEquals["aws:ResourceTag/braket-guard:owner"] if s.Sid == "NativeLimitsDelete"]) == "braket-guard-ledger"
    error_message = "Delete only on limits tagged with this guard's owner tag, native limits off too."
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.guard.environment[0].variables), "BRAKET_GUARD_NATIVE_LIMITS") && !contains(keys(aws_lambda_function.guard.environment[0].variables), "BRAKET_GUARD_CANCELS_PER_SECOND")
    error_message = "native_limits (off) and cancels_per_second (2) are the Lambda's defaults: not rendered."
  }
}

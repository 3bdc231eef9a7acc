# Validation rules of modules/region-forwarder, one expect_failures run each.

mock_provider "aws" {
  source          = "./tests/terraform/mocks"
  override_during = plan
}

variables {
  central_event_bus_arn    = "arn:aws:events:us-east-1:123456789012:event-bus/braket-guard-events"
  forwarder_role_arn       = "arn:aws:iam::123456789012:role/braket-guard-forwarder-us-east-1"
  alarm_forwarder_role_arn = "arn:aws:iam::123456789012:role/braket-guard-alarm-fwd-us-east-1"
}

run "forwarder_plan" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "100.00", start_at = "2026-01-01T00:00:00Z", end_at = "2026-02-01T00:00:00Z" }]
  }

  assert {
    condition     = aws_cloudwatch_event_rule.forward.event_bus_name == "default" && aws_cloudwatch_event_rule.forward.name == "braket-guard-forward-us-east-1"
    error_message = "The forwarding rule lives on the default bus with the name the forwarder role trusts."
  }
  assert {
    condition     = aws_cloudwatch_event_target.central_bus.arn == var.central_event_bus_arn && aws_cloudwatch_event_target.central_bus.role_arn == var.forwarder_role_arn
    error_message = "The target is the central bus, put with the forwarder role."
  }
  assert {
    condition     = aws_cloudwatch_event_target.central_bus.dead_letter_config[0].arn == aws_sqs_queue.dlq.arn && aws_sqs_queue.dlq.name == "braket-guard-forward-dlq-us-east-1" && aws_sqs_queue.dlq.sqs_managed_sse_enabled
    error_message = "Undeliverable events go to an encrypted dead-letter queue in the forwarder's own region."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.forwarding["dlq_not_empty"].dimensions == tomap({ QueueName = "braket-guard-forward-dlq-us-east-1" }) && aws_cloudwatch_metric_alarm.forwarding["failed_invocations"].dimensions == tomap({ RuleName = "braket-guard-forward-us-east-1" }) && length(aws_cloudwatch_metric_alarm.forwarding["dlq_not_empty"].alarm_actions) == 0
    error_message = "Alarms watch the region's DLQ and failed forwards; they have no (cross-region) actions."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.alarms[0].event_pattern).detail.alarmName == ["braket-guard-forward-dlq-not-empty-us-east-1", "braket-guard-forward-failed-invocations-us-east-1"] && aws_cloudwatch_event_rule.alarms[0].name == "braket-guard-forward-us-east-1-alarms" && aws_cloudwatch_event_target.alarms[0].arn == var.central_event_bus_arn && aws_cloudwatch_event_target.alarms[0].role_arn == var.alarm_forwarder_role_arn
    error_message = "The alarms' state changes are forwarded to the central bus with the alarm forwarder role."
  }
  assert {
    condition     = jsondecode(aws_cloudcontrolapi_resource.spending_limit["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"].desired_state).TimePeriod == { StartAt = "2026-01-01T00:00:00Z", EndAt = "2026-02-01T00:00:00Z" } && aws_cloudcontrolapi_resource.spending_limit["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"].type_name == "AWS::Braket::SpendingLimit"
    error_message = "Spending limits become AWS::Braket::SpendingLimit resources with their time period."
  }
}

run "forwarder_limit_of_other_region" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet", limit_usd = "100.00" }]
  }
  expect_failures = [aws_cloudcontrolapi_resource.spending_limit]
}

run "invalid_forwarder_name_prefix" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    name_prefix = "-bad"
  }
  expect_failures = [var.name_prefix]
}

run "invalid_forwarder_central_event_bus_arn" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    central_event_bus_arn = "braket-guard-events"
  }
  expect_failures = [var.central_event_bus_arn]
}

run "invalid_forwarder_forwarder_role_arn" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    forwarder_role_arn = "braket-guard-forwarder"
  }
  expect_failures = [var.forwarder_role_arn]
}

run "forwarder_alarms_need_their_role" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    alarm_forwarder_role_arn = null
  }
  expect_failures = [aws_cloudwatch_event_target.alarms]
}

run "invalid_forwarder_alarm_forwarder_role_arn" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    alarm_forwarder_role_arn = "braket-guard-alarm-fwd"
  }
  expect_failures = [var.alarm_forwarder_role_arn]
}

run "invalid_forwarder_max_retry_attempts" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    max_retry_attempts = 186
  }
  expect_failures = [var.max_retry_attempts]
}

run "invalid_forwarder_max_event_age_seconds" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    max_event_age_seconds = 30
  }
  expect_failures = [var.max_event_age_seconds]
}

run "invalid_forwarder_dlq_retention_seconds" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    dlq_retention_seconds = 59
  }
  expect_failures = [var.dlq_retention_seconds]
}

run "invalid_forwarder_rule_name" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    rule_name = "a-rule-name-that-is-far-too-long-for-eventbridge-with-alarms-x"
  }
  expect_failures = [var.rule_name]
}

run "invalid_forwarder_event_pattern" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    event_pattern = "source = aws.braket"
  }
  expect_failures = [var.event_pattern]
}

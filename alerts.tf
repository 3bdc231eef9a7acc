# Alerting: SNS topic with email subscriptions, the Slack webhook parameter and the alarms.

resource "aws_sns_topic" "alerts" {
  #checkov:skip=CKV_AWS_26:Encrypted with var.kms_key_arn when given. Without a customer key the topic stays unencrypted on purpose: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key (alias/aws/sns).
  count             = local.create_topic ? 1 : 0
  name              = local.names.topic
  kms_master_key_id = var.kms_key_arn
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = local.create_topic ? aws_sns_topic.alerts[0].arn : var.sns_topic_arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_ssm_parameter" "slack_webhook" {
  #checkov:skip=CKV_AWS_337:SecureString encrypted with var.kms_key_arn when given, otherwise with the AWS managed key alias/aws/ssm.
  # count comes from a plain flag: slack_webhook_url is ephemeral and cannot decide it.
  count       = local.create_slack ? 1 : 0
  name        = local.names.slack_parameter
  description = "Slack incoming-webhook URL of braket-guard"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  # Ephemeral variable into a write-only argument: the URL is in neither the plan nor the state.
  value_wo         = var.slack_webhook_url
  value_wo_version = var.slack_webhook_version
  tags             = local.tags
}

locals {
  alarm_topic_arn = local.create_topic ? aws_sns_topic.alerts[0].arn : var.sns_topic_arn
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  count               = var.create_alarms ? 1 : 0
  alarm_name          = "${var.name_prefix}-lambda-errors"
  alarm_description   = "The braket-guard Lambda failed; caps may not be enforced. See log group ${local.names.log_group}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.guard.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  count               = var.create_alarms ? 1 : 0
  alarm_name          = "${var.name_prefix}-dlq-not-empty"
  alarm_description   = "Braket task events were not processed by braket-guard: inspect and redrive queue ${local.names.dlq}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "failed_invocations" {
  count               = var.create_alarms ? 1 : 0
  alarm_name          = "${var.name_prefix}-eventbridge-failed-invocations"
  alarm_description   = "EventBridge could not invoke the braket-guard Lambda for Braket task events."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { EventBusName = aws_cloudwatch_event_bus.central.name, RuleName = aws_cloudwatch_event_rule.central.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]
  tags                = local.tags
}

# ---------------------------------------------------------------------------------------------
# Alarms of the other regions (modules/region-forwarder) arrive on the central bus as "CloudWatch
# Alarm State Change" events; this rule publishes them to the alert topic as one readable line.
# ---------------------------------------------------------------------------------------------
resource "aws_cloudwatch_event_rule" "region_alarms" {
  count          = var.create_alarms ? 1 : 0
  name           = local.names.alarm_rule
  description    = "braket-guard: state changes of the forwarding alarms of every guarded region, to the alert topic."
  event_bus_name = aws_cloudwatch_event_bus.central.name
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    detail        = { alarmName = [{ prefix = "${var.name_prefix}-forward-" }] }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "region_alarms" {
  count          = var.create_alarms ? 1 : 0
  rule           = aws_cloudwatch_event_rule.region_alarms[0].name
  event_bus_name = aws_cloudwatch_event_bus.central.name
  target_id      = "braket-guard-alert-topic"
  arn            = local.alarm_topic_arn

  input_transformer {
    # The description names the alarm's region and what to do (modules/region-forwarder);
    # $.region would be the region of the central bus once the event has been forwarded.
    input_paths = {
      alarm       = "$.detail.alarmName"
      state       = "$.detail.state.value"
      reason      = "$.detail.state.reason"
      description = "$.detail.configuration.description"
    }
    input_template = "\"braket-guard: alarm <alarm> is <state>. <description> (<reason>)\""
  }

  retry_policy {
    maximum_retry_attempts       = var.event_max_retry_attempts
    maximum_event_age_in_seconds = var.event_max_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [aws_sns_topic_policy.alerts]
}

# The created topic's policy: the account as owner, CloudWatch alarms of this account, and the
# region_alarms rule. A topic you supply (sns_topic_arn) needs the last statement added by you
# (docs/terraform.md, "Alerts from every region").
resource "aws_sns_topic_policy" "alerts" {
  count = local.create_topic ? 1 : 0
  arn   = aws_sns_topic.alerts[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid       = "Owner"
          Effect    = "Allow"
          Principal = { AWS = "${local.arn_prefix}:iam::${local.account_id}:root" }
          Action = [
            "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
            "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish",
          ]
          Resource = aws_sns_topic.alerts[0].arn
        },
        {
          Sid       = "CloudWatchAlarms"
          Effect    = "Allow"
          Principal = { Service = "cloudwatch.amazonaws.com" }
          Action    = "SNS:Publish"
          Resource  = aws_sns_topic.alerts[0].arn
          Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
        },
      ],
      var.create_alarms ? [{
        Sid       = "RegionAlarmsRule"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "SNS:Publish"
        Resource  = aws_sns_topic.alerts[0].arn
        Condition = { ArnEquals = { "aws:SourceArn" = local.arns.alarm_rule } }
      }] : [],
    )
  })
}

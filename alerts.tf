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
  count       = local.create_slack ? 1 : 0
  name        = local.names.slack_parameter
  description = "Slack incoming-webhook URL of braket-guard"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  # Write-only: the URL never lands in the Terraform state.
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

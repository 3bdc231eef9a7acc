output "event_bus_arn" {
  description = "ARN of the central event bus in the home region; pass it to every modules/region-forwarder as central_event_bus_arn."
  value       = aws_cloudwatch_event_bus.central.arn
}

output "event_bus_name" {
  description = "Name of the central event bus (<name_prefix>-events) in the home region."
  value       = aws_cloudwatch_event_bus.central.name
}

output "forwarder_role_arn" {
  description = "ARN of the IAM role the task forwarding rules use to put events on the central bus; pass it to every modules/region-forwarder as forwarder_role_arn. Known only once the role's policy and the bus policy exist, so forwarders that use it are created after them."
  value       = aws_iam_role.forwarder.arn
  depends_on  = [aws_iam_role_policy.forwarder, aws_cloudwatch_event_bus_policy.central]
}

output "alarm_forwarder_role_arn" {
  description = "ARN of the IAM role the forwarders' alarm rules use to put alarm state changes on the central bus; pass it to every modules/region-forwarder as alarm_forwarder_role_arn. Null when create_alarms is false."
  value       = var.create_alarms ? aws_iam_role.alarm_forwarder[0].arn : null
  depends_on  = [aws_iam_role_policy.alarm_forwarder, aws_cloudwatch_event_bus_policy.central]
}

output "forwarder_rule_name" {
  description = "Name every guarded region's forwarding rule must have (the forwarder roles trust only this rule and <name>-alarms in the guarded regions); pass it to every modules/region-forwarder as rule_name."
  value       = local.names.forward_rule
}

output "home_region" {
  description = "The home region: where the guard runs (the region of the provider given to this module)."
  value       = local.home_region
}

output "guarded_regions" {
  description = "The regions whose Braket tasks are guarded, exactly as in BRAKET_GUARD_REGIONS: var.regions, or the home region alone when regions is null. Contains the home region only if it is guarded. Every one needs a forwarder: this module creates the home region's, add a modules/region-forwarder for each other one."
  value       = local.regions
}

output "spending_limits_by_region" {
  description = "The spending_limits input grouped by device region (map of region to list of limits); pass lookup(..., \"<region>\", []) to that region's forwarder. The home region's are created by this module."
  value       = local.spending_limits_by_region
}

output "lambda_function_name" {
  description = "Name of the guard Lambda function (<name_prefix>)."
  value       = aws_lambda_function.guard.function_name
}

output "lambda_function_arn" {
  description = "ARN of the guard Lambda function."
  value       = aws_lambda_function.guard.arn
}

output "lambda_role_arn" {
  description = "ARN of the guard Lambda's execution role."
  value       = aws_iam_role.lambda.arn
}

output "lambda_environment" {
  description = "The environment variables of the guard Lambda as rendered (BRAKET_GUARD_* and LOG_LEVEL plus lambda_environment_variables); contains no secret, the Slack URL stays in SSM."
  value       = local.lambda_environment
}

output "table_name" {
  description = "Name of the DynamoDB ledger table (<name_prefix>-ledger)."
  value       = aws_dynamodb_table.ledger.name
}

output "sns_topic_arn" {
  description = "ARN of the alert topic the Lambda and every alarm notify: the one created (<name_prefix>-alerts) or sns_topic_arn."
  value       = local.alarm_topic_arn
}

output "slack_webhook_parameter_name" {
  description = "Name of the SSM parameter the Lambda reads the Slack webhook URL from (created or given), or null when Slack is not configured."
  value       = local.create_slack ? aws_ssm_parameter.slack_webhook[0].name : var.slack_webhook_parameter_name
}

output "dead_letter_queue_url" {
  description = "URL of the home region's dead-letter queue (<name_prefix>-dlq): events the central rule could not deliver, failed asynchronous invocations, schedules that could not invoke."
  value       = aws_sqs_queue.dlq.id
}

output "dead_letter_queue_arn" {
  description = "ARN of the home region's dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "log_group_name" {
  description = "Name of the CloudWatch log group of the guard Lambda."
  value       = aws_cloudwatch_log_group.guard.name
}

output "home_forwarder_rule_arn" {
  description = "ARN of the forwarding rule on the home region's default bus, or null when the home region is not guarded."
  value       = one(module.home_forwarder[*].rule_arn)
}

output "home_forwarder_dead_letter_queue_url" {
  description = "URL of the home region forwarder's dead-letter queue (<name_prefix>-forward-dlq-<home region>), or null when the home region is not guarded."
  value       = one(module.home_forwarder[*].dead_letter_queue_url)
}

output "schedule_names" {
  description = "Names of the EventBridge Scheduler schedules that invoke the Lambda, by action (reconcile, digest); an action switched off is absent."
  value       = { for k, s in aws_scheduler_schedule.guard : k => s.name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of the guard's metrics (<name_prefix>-<home region>), or null when create_dashboard is false."
  value       = var.create_dashboard ? aws_cloudwatch_dashboard.guard[0].dashboard_name : null
}

output "event_bus_arn" {
  description = "ARN of the central event bus; pass it to modules/region-forwarder as central_event_bus_arn."
  value       = aws_cloudwatch_event_bus.central.arn
}

output "event_bus_name" {
  description = "Name of the central event bus."
  value       = aws_cloudwatch_event_bus.central.name
}

output "forwarder_role_arn" {
  description = "ARN of the role the forwarding rules use; pass it to modules/region-forwarder as forwarder_role_arn."
  value       = aws_iam_role.forwarder.arn
}

output "forwarder_rule_name" {
  description = "Name every region's forwarding rule must have (the forwarder role trusts only these rules)."
  value       = local.names.forward_rule
}

output "guarded_regions" {
  description = "Regions whose Braket tasks the Lambda may read and cancel (home region first). Each needs a forwarder."
  value       = local.regions
}

output "spending_limits_by_region" {
  description = "The spending_limits input grouped by device region; pass [\"<region>\"] to that region's forwarder."
  value       = local.spending_limits_by_region
}

output "lambda_function_name" {
  description = "Name of the guard Lambda."
  value       = aws_lambda_function.guard.function_name
}

output "lambda_function_arn" {
  description = "ARN of the guard Lambda."
  value       = aws_lambda_function.guard.arn
}

output "lambda_role_arn" {
  description = "ARN of the guard Lambda's execution role."
  value       = aws_iam_role.lambda.arn
}

output "lambda_environment" {
  description = "Environment rendered for the Lambda (contains no secret: the Slack URL stays in SSM)."
  value       = local.lambda_environment
}

output "table_name" {
  description = "Name of the DynamoDB ledger table."
  value       = aws_dynamodb_table.ledger.name
}

output "sns_topic_arn" {
  description = "ARN of the alert topic (created or given)."
  value       = local.alarm_topic_arn
}

output "slack_webhook_parameter_name" {
  description = "Name of the SSM parameter holding the Slack webhook URL, or null."
  value       = local.create_slack ? aws_ssm_parameter.slack_webhook[0].name : var.slack_webhook_parameter_name
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (failed deliveries and invocations)."
  value       = aws_sqs_queue.dlq.id
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the Lambda."
  value       = aws_cloudwatch_log_group.guard.name
}

output "home_forwarder_rule_arn" {
  description = "ARN of the forwarding rule in the home region."
  value       = module.home_forwarder.rule_arn
}

output "schedule_names" {
  description = "EventBridge Scheduler schedules of the Lambda (reconcile, digest), by action."
  value       = { for k, s in aws_scheduler_schedule.guard : k => s.name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of the guard's metrics, or null when create_dashboard is false."
  value       = var.create_dashboard ? aws_cloudwatch_dashboard.guard[0].dashboard_name : null
}

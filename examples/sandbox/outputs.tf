output "lambda_function_name" {
  description = "Name of the guard Lambda."
  value       = module.braket_guard.lambda_function_name
}

output "lambda_environment" {
  description = "Rendered Lambda environment."
  value       = module.braket_guard.lambda_environment
}

output "table_name" {
  description = "DynamoDB ledger table."
  value       = module.braket_guard.table_name
}

output "event_bus_name" {
  description = "Central event bus."
  value       = module.braket_guard.event_bus_name
}

output "sns_topic_arn" {
  description = "Alert topic."
  value       = module.braket_guard.sns_topic_arn
}

output "slack_webhook_parameter_name" {
  description = "SSM parameter with the Slack webhook URL."
  value       = module.braket_guard.slack_webhook_parameter_name
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue."
  value       = module.braket_guard.dead_letter_queue_url
}

output "forwarder_rule_arns" {
  description = "Forwarding rules by region."
  value = {
    "us-east-1" = module.braket_guard.home_forwarder_rule_arn
    "us-west-2" = module.forwarder_us_west_2.rule_arn
  }
}

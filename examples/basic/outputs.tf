output "lambda_function_name" {
  description = "Name of the guard Lambda."
  value       = module.braket_guard.lambda_function_name
}

output "sns_topic_arn" {
  description = "Alert topic."
  value       = module.braket_guard.sns_topic_arn
}

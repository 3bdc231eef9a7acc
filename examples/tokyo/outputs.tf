output "home_region" {
  description = "Where the guard runs."
  value       = module.braket_guard.home_region
}

output "guarded_regions" {
  description = "Regions whose Braket tasks are guarded (BRAKET_GUARD_REGIONS)."
  value       = module.braket_guard.guarded_regions
}

output "lambda_function_name" {
  description = "Name of the guard Lambda (in ap-northeast-1)."
  value       = module.braket_guard.lambda_function_name
}

output "lambda_environment" {
  description = "Rendered Lambda environment."
  value       = module.braket_guard.lambda_environment
}

output "sns_topic_arn" {
  description = "Alert topic (in ap-northeast-1)."
  value       = module.braket_guard.sns_topic_arn
}

output "forwarder_rule_arns" {
  description = "Forwarding rules by guarded region."
  value = {
    "us-east-1"  = module.forwarder_us_east_1.rule_arn
    "eu-north-1" = module.forwarder_eu_north_1.rule_arn
  }
}

output "forwarder_dead_letter_queue_urls" {
  description = "Dead-letter queues of the forwarders by guarded region."
  value = {
    "us-east-1"  = module.forwarder_us_east_1.dead_letter_queue_url
    "eu-north-1" = module.forwarder_eu_north_1.dead_letter_queue_url
  }
}

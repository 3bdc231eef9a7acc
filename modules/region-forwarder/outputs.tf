output "region" {
  description = "Region of this forwarder."
  value       = local.region
}

output "rule_arn" {
  description = "ARN of the forwarding rule on the region's default bus."
  value       = aws_cloudwatch_event_rule.forward.arn
}

output "spending_limit_ids" {
  description = "Cloud Control identifiers of the native spending limits, by device ARN."
  value       = { for arn, r in aws_cloudcontrolapi_resource.spending_limit : arn => r.id }
}

output "rule_event_pattern" {
  description = "Event pattern of the forwarding rule."
  value       = aws_cloudwatch_event_rule.forward.event_pattern
}

output "spending_limit_desired_states" {
  description = "Cloud Control desired state (JSON) of each native spending limit, by device ARN."
  value       = { for arn, r in aws_cloudcontrolapi_resource.spending_limit : arn => r.desired_state }
}

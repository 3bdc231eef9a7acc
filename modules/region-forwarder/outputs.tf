output "region" {
  description = "Region of this forwarder (the region of the provider it was given)."
  value       = local.region
}

output "rule_arn" {
  description = "ARN of the rule on this region's default bus that forwards Braket task state changes to the central bus."
  value       = aws_cloudwatch_event_rule.forward.arn
}

output "rule_event_pattern" {
  description = "Event pattern (JSON) of the forwarding rule."
  value       = aws_cloudwatch_event_rule.forward.event_pattern
}

output "dead_letter_queue_url" {
  description = "URL of this region's dead-letter queue (events the forwarding rules could not deliver)."
  value       = aws_sqs_queue.dlq.id
}

output "dead_letter_queue_arn" {
  description = "ARN of this region's dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "alarm_names" {
  description = "Names of this region's forwarding alarms (dead-letter queue not empty, failed forwards), by kind; empty when create_alarms is false."
  value       = { for k, a in aws_cloudwatch_metric_alarm.forwarding : k => a.alarm_name }
}

output "alarm_rule_arn" {
  description = "ARN of the rule that forwards the alarms' state changes to the central bus, or null when create_alarms is false."
  value       = one(aws_cloudwatch_event_rule.alarms[*].arn)
}

output "spending_limit_ids" {
  description = "Cloud Control identifiers of this region's native spending limits, by device ARN."
  value       = { for arn, r in aws_cloudcontrolapi_resource.spending_limit : arn => r.id }
}

output "spending_limit_desired_states" {
  description = "Cloud Control desired state (JSON) of each of this region's native spending limits, by device ARN."
  value       = { for arn, r in aws_cloudcontrolapi_resource.spending_limit : arn => r.desired_state }
}

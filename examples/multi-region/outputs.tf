output "event_bus_arn" {
  description = "Central event bus."
  value       = module.braket_guard.event_bus_arn
}

output "guarded_regions" {
  description = "Regions whose Braket tasks are guarded."
  value       = module.braket_guard.guarded_regions
}

output "forwarder_rule_arns" {
  description = "Forwarding rules of the other regions."
  value = concat(
    module.forwarder_us_west_1[*].rule_arn,
    module.forwarder_us_west_2[*].rule_arn,
    module.forwarder_eu_west_2[*].rule_arn,
    module.forwarder_eu_north_1[*].rule_arn,
  )
}

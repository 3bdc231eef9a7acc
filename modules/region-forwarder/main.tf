# One Braket region: a rule on the region's default event bus forwards Braket task state changes
# to the central braket-guard bus, and optional native spending limits for the region's QPUs.
# Instantiate once per region with that region's provider (providers = { aws = aws.<alias> }).

data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.name
  rule_name = coalesce(var.rule_name, "${var.name_prefix}-forward-braket-tasks")
  event_pattern = coalesce(var.event_pattern, jsonencode({
    source        = ["aws.braket"]
    "detail-type" = ["Braket Task State Change"]
  }))
  spending_limits = { for l in var.spending_limits : l.device_arn => l }
}

resource "aws_cloudwatch_event_rule" "forward" {
  name           = local.rule_name
  description    = "braket-guard: forward Braket task state changes to the central bus."
  event_bus_name = "default"
  event_pattern  = local.event_pattern
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "central_bus" {
  rule           = aws_cloudwatch_event_rule.forward.name
  event_bus_name = "default"
  target_id      = "braket-guard-central-bus"
  arn            = var.central_event_bus_arn
  role_arn       = var.forwarder_role_arn

  retry_policy {
    maximum_retry_attempts       = var.max_retry_attempts
    maximum_event_age_in_seconds = var.max_event_age_seconds
  }
}

# Native Braket spending limits: the synchronous first line of defence, checked by Braket at
# CreateQuantumTask. Cloud Control creates them in this provider's region.
resource "aws_cloudcontrolapi_resource" "spending_limit" {
  for_each  = local.spending_limits
  type_name = "AWS::Braket::SpendingLimit"

  desired_state = jsonencode(merge(
    {
      DeviceArn     = each.value.device_arn
      SpendingLimit = each.value.limit_usd
      Tags          = [for k in sort(keys(var.tags)) : { Key = k, Value = var.tags[k] }]
    },
    each.value.start_at == null ? {} : {
      TimePeriod = { StartAt = each.value.start_at, EndAt = each.value.end_at }
    },
  ))

  lifecycle {
    precondition {
      condition     = split(":", each.value.device_arn)[3] == local.region
      error_message = "Spending limit for ${each.value.device_arn} passed to the forwarder of ${local.region}: pass each region's forwarder only the limits of its own devices (spending_limits_by_region output of the root module)."
    }
  }
}

# One Braket region: a rule on the region's default event bus forwards Braket task state changes
# to the central braket-guard bus, a dead-letter queue in this region catches what EventBridge
# could not deliver, alarms on it report home, and optional native spending limits for the
# region's QPUs. Instantiate once per guarded region with that region's provider
# (providers = { aws = aws.<alias> }).
#
# How a regional alarm reaches the home alert topic: CloudWatch alarm actions must be in the
# alarm's region, so the alarms here have no actions. Every alarm state change is an event on
# this region's default bus ("CloudWatch Alarm State Change"); a second rule forwards those of
# this module's alarms to the central bus with a role of their own (not the task forwarder
# role, so a broken task forwarder role cannot also silence its alarm), and the root module's
# "<prefix>-region-alarms" rule on the central bus publishes them to the alert topic.

data "aws_region" "current" {}

locals {
  # `id` is the region name with provider 5.x and 6.x (docs/terraform.md, "Provider 6").
  region = data.aws_region.current.id
  # The home region (of the central bus) is in every name here: two deployments with the same
  # name_prefix in two home regions can both guard this region.
  home_region     = split(":", var.central_event_bus_arn)[3]
  rule_name       = coalesce(var.rule_name, "${var.name_prefix}-forward-${local.home_region}")
  alarm_rule_name = "${local.rule_name}-alarms"
  event_pattern = coalesce(var.event_pattern, jsonencode({
    source        = ["aws.braket"]
    "detail-type" = ["Braket Task State Change", "Braket Job State Change"]
  }))
  spending_limits = { for l in var.spending_limits : l.device_arn => l }

  dlq_name = "${var.name_prefix}-forward-dlq-${local.home_region}"
  alarms = var.create_alarms ? {
    dlq_not_empty = {
      name        = "${var.name_prefix}-forward-dlq-not-empty-${local.home_region}"
      description = "Braket task events of ${local.region} could not be forwarded to the braket-guard central bus and are in queue ${local.dlq_name} of ${local.region}: the guard did not see them. Fix the cause, then redrive."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = local.dlq_name }
      statistic   = "Maximum"
    }
    failed_invocations = {
      name        = "${var.name_prefix}-forward-failed-invocations-${local.home_region}"
      description = "EventBridge in ${local.region} failed to forward Braket task events to the braket-guard central bus (rule ${local.rule_name}): see queue ${local.dlq_name} of ${local.region}."
      namespace   = "AWS/Events"
      metric      = "FailedInvocations"
      dimensions  = { RuleName = local.rule_name }
      statistic   = "Sum"
    }
  } : {}
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
  # The root module's forwarder_role_arn output depends on the role's policy, so this target
  # is only created once the role may put events (its first events are not dropped for lack of
  # permission; IAM may still take seconds to propagate: those land in the DLQ below).
  role_arn = var.forwarder_role_arn

  retry_policy {
    maximum_retry_attempts       = var.max_retry_attempts
    maximum_event_age_in_seconds = var.max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [aws_sqs_queue_policy.dlq]
}

# ---------------------------------------------------------------------------------------------
# Dead letters of this region's rules: EventBridge drops an event at once on a client-side error
# (for example a role this region's rule may not assume) unless the target has a DLQ. The queue
# must be in the rule's region, so it uses SQS-managed encryption (a KMS key is regional).
# ---------------------------------------------------------------------------------------------
resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ForwardingRulesDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dlq.arn
      Condition = { ArnEquals = { "aws:SourceArn" = concat([aws_cloudwatch_event_rule.forward.arn], aws_cloudwatch_event_rule.alarms[*].arn) } }
    }]
  })
}

resource "aws_cloudwatch_metric_alarm" "forwarding" {
  for_each            = local.alarms
  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  # No actions: they would have to be in this region. The state change event goes home (below).
  alarm_actions = []
  tags          = var.tags
}

resource "aws_cloudwatch_event_rule" "alarms" {
  count          = var.create_alarms ? 1 : 0
  name           = local.alarm_rule_name
  description    = "braket-guard: forward the state changes of this region's forwarding alarms to the central bus."
  event_bus_name = "default"
  event_pattern = jsonencode({
    source        = ["aws.cloudwatch"]
    "detail-type" = ["CloudWatch Alarm State Change"]
    detail        = { alarmName = [for a in local.alarms : a.name] }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "alarms" {
  count          = var.create_alarms ? 1 : 0
  rule           = aws_cloudwatch_event_rule.alarms[0].name
  event_bus_name = "default"
  target_id      = "braket-guard-central-bus"
  arn            = var.central_event_bus_arn
  role_arn       = var.alarm_forwarder_role_arn

  retry_policy {
    maximum_retry_attempts       = var.max_retry_attempts
    maximum_event_age_in_seconds = var.max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [aws_sqs_queue_policy.dlq]

  lifecycle {
    precondition {
      condition     = var.alarm_forwarder_role_arn != null
      error_message = "alarm_forwarder_role_arn is null: pass the root module's alarm_forwarder_role_arn output, or set create_alarms = false."
    }
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

# braket-guard: a central event bus in the home region (the provider's region, where the guard
# runs) receives every Braket task state change forwarded from the guarded regions
# (var.regions), and a Lambda enforces shot and cost caps on them. The home region need not be a
# Braket region, and it is guarded only when it is listed (or by default when Braket runs there).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # `id` is the region name in provider 5.x and 6.x (`name` is deprecated in 6.x, `region` is
  # new in 6.x): see docs/terraform.md, "Provider 6".
  home_region = data.aws_region.current.id
  # Where Braket tasks are guarded: exactly var.regions, or the home region when Braket runs there.
  regions        = var.regions != null ? var.regions : [local.home_region]
  home_guarded   = contains(local.regions, local.home_region)
  region_suffix  = local.home_region
  kms_key_region = var.kms_key_arn == null ? null : try(split(":", var.kms_key_arn)[3], "")

  names = {
    function     = var.name_prefix
    table        = "${var.name_prefix}-ledger"
    bus          = "${var.name_prefix}-events"
    central_rule = "${var.name_prefix}-tasks-to-lambda"
    # Rules, queues and alarms in the guarded regions carry the home region too: two deployments
    # with the same name_prefix in two home regions may guard the same Braket region.
    forward_rule    = "${var.name_prefix}-forward-${local.region_suffix}"
    dlq             = "${var.name_prefix}-dlq"
    topic           = "${var.name_prefix}-alerts"
    log_group       = "/aws/lambda/${var.name_prefix}"
    slack_parameter = "/${var.name_prefix}/slack-webhook-url"
    alarm_rule      = "${var.name_prefix}-region-alarms"
    # IAM roles and dashboards are global per account: the home region in their names lets the
    # same name_prefix be deployed in two home regions of one account (at most 63 characters).
    lambda_role          = "${var.name_prefix}-lambda-${local.region_suffix}"
    forwarder_role       = "${var.name_prefix}-forwarder-${local.region_suffix}"
    alarm_forwarder_role = "${var.name_prefix}-alarm-fwd-${local.region_suffix}"
    scheduler_role       = "${var.name_prefix}-scheduler-${local.region_suffix}"
    dashboard            = "${var.name_prefix}-${local.region_suffix}"
  }

  # ARNs are built from names so that the IAM policies are fully known at plan time (reviewable
  # in the plan, and checked by tests/terraform/test_iam_contract.py).
  arn_prefix = "arn:${local.partition}"
  arns = {
    table          = "${local.arn_prefix}:dynamodb:${local.home_region}:${local.account_id}:table/${local.names.table}"
    bus            = "${local.arn_prefix}:events:${local.home_region}:${local.account_id}:event-bus/${local.names.bus}"
    central_rule   = "${local.arn_prefix}:events:${local.home_region}:${local.account_id}:rule/${local.names.bus}/${local.names.central_rule}"
    alarm_rule     = "${local.arn_prefix}:events:${local.home_region}:${local.account_id}:rule/${local.names.bus}/${local.names.alarm_rule}"
    dlq            = "${local.arn_prefix}:sqs:${local.home_region}:${local.account_id}:${local.names.dlq}"
    log_group      = "${local.arn_prefix}:logs:${local.home_region}:${local.account_id}:log-group:${local.names.log_group}"
    forwarder_role = "${local.arn_prefix}:iam::${local.account_id}:role/${local.names.forwarder_role}"
    alarm_role     = "${local.arn_prefix}:iam::${local.account_id}:role/${local.names.alarm_forwarder_role}"
    function       = "${local.arn_prefix}:lambda:${local.home_region}:${local.account_id}:function:${local.names.function}"
    topic          = var.sns_topic_arn != null ? var.sns_topic_arn : "${local.arn_prefix}:sns:${local.home_region}:${local.account_id}:${local.names.topic}"
    slack_parameter = local.slack_parameter_name == null ? null : (
      "${local.arn_prefix}:ssm:${local.home_region}:${local.account_id}:parameter/${trimprefix(local.slack_parameter_name, "/")}"
    )
  }

  create_topic         = var.sns_topic_arn == null
  create_slack         = var.create_slack_webhook_parameter
  slack_parameter_name = local.create_slack ? local.names.slack_parameter : var.slack_webhook_parameter_name

  # The rules on every default bus and on the central bus match exactly this.
  event_pattern = jsonencode({
    source        = ["aws.braket"]
    "detail-type" = ["Braket Task State Change", "Braket Job State Change"]
  })

  tags = merge({ "braket-guard:module" = "braket-guard" }, var.tags)

  spending_limits_by_region = {
    for r in distinct([for l in var.spending_limits : split(":", l.device_arn)[3]]) :
    r => [for l in var.spending_limits : l if split(":", l.device_arn)[3] == r]
  }
}

# ---------------------------------------------------------------------------------------------
# Central bus: admits events only from the forwarding rules on this account's default buses.
# ---------------------------------------------------------------------------------------------
resource "aws_cloudwatch_event_bus" "central" {
  name = local.names.bus
  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.regions != null || contains(var.braket_regions, local.home_region)
      error_message = "Amazon Braket does not run in the home region ${local.home_region} (the provider's region; braket_regions lists where it runs): set regions to the Braket regions to guard, e.g. [\"us-east-1\", \"eu-north-1\"], with a modules/region-forwarder for each (see examples/tokyo)."
    }
    precondition {
      condition     = alltrue([for r in keys(local.spending_limits_by_region) : contains(local.regions, r)])
      error_message = "A spending_limits device is in a region that is not guarded: add that region to regions (and a region-forwarder for it)."
    }
    precondition {
      condition     = var.sns_topic_arn == null || try(split(":", var.sns_topic_arn)[3], "") == local.home_region
      error_message = "sns_topic_arn must be a topic in the home region ${local.home_region}: CloudWatch alarm actions must be in the alarm's region. Create the topic in ${local.home_region} or leave sns_topic_arn null."
    }
    precondition {
      condition     = var.kms_key_arn == null || local.kms_key_region == local.home_region
      error_message = "kms_key_arn must be a key in the home region ${local.home_region}: KMS keys are regional and the table, queue, topic, log group and function it encrypts are in ${local.home_region}."
    }
    precondition {
      condition     = var.slack_webhook_kms_key_arn == null || try(split(":", var.slack_webhook_kms_key_arn)[3], "") == local.home_region
      error_message = "slack_webhook_kms_key_arn must be a key in the home region ${local.home_region}, where the Slack SSM parameter is."
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "central" {
  event_bus_name = aws_cloudwatch_event_bus.central.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid    = "BraketTaskEventsFromDefaultBuses"
      Effect = "Allow"
      # The account as principal and the forwarder roles in a condition: a policy naming a role
      # ARN as principal is checked against IAM when it is written, and a role created in the
      # same apply may not have propagated yet (the first apply would fail). aws:PrincipalArn
      # is compared when a request is made instead.
      Principal = { AWS = "${local.arn_prefix}:iam::${local.account_id}:root" }
      Action    = "events:PutEvents"
      Resource  = local.arns.bus
      # Only the forwarder roles are admitted, and their trust policies (iam.tf) let only the
      # forwarding rules on this account's default buses in the guarded regions assume them.
      Condition = { ArnEquals = { "aws:PrincipalArn" = concat([local.arns.forwarder_role], var.create_alarms ? [local.arns.alarm_role] : []) } }
    }]
  })
}

resource "aws_cloudwatch_event_rule" "central" {
  name           = local.names.central_rule
  description    = "Braket task state changes from every guarded region to the braket-guard Lambda."
  event_bus_name = aws_cloudwatch_event_bus.central.name
  event_pattern  = local.event_pattern
  tags           = local.tags
}

resource "aws_cloudwatch_event_target" "lambda" {
  rule           = aws_cloudwatch_event_rule.central.name
  event_bus_name = aws_cloudwatch_event_bus.central.name
  target_id      = "braket-guard-lambda"
  arn            = aws_lambda_function.guard.arn

  retry_policy {
    maximum_retry_attempts       = var.event_max_retry_attempts
    maximum_event_age_in_seconds = var.event_max_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
  # Removed before the destroy-time native_cleanup runs (native_cleanup.tf): no event reaches the
  # Lambda after it has deleted the guard's limits, so no late breach can freeze a QPU for good.
  depends_on = [aws_lambda_invocation.native_cleanup]
}

resource "aws_lambda_permission" "eventbridge" {
  statement_id   = "AllowCentralRuleInvoke"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.guard.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.central.arn
  source_account = local.account_id
  # Removed before the destroy-time native_cleanup runs (native_cleanup.tf): no event reaches the
  # Lambda after it has deleted the guard's limits, so no late breach can freeze a QPU for good.
  depends_on = [aws_lambda_invocation.native_cleanup]
}

# The home region forwards through the same submodule as every other region, when it is guarded.
module "home_forwarder" {
  source = "./modules/region-forwarder"
  count  = local.home_guarded ? 1 : 0

  name_prefix              = var.name_prefix
  rule_name                = local.names.forward_rule
  central_event_bus_arn    = aws_cloudwatch_event_bus.central.arn
  forwarder_role_arn       = aws_iam_role.forwarder.arn
  alarm_forwarder_role_arn = var.create_alarms ? aws_iam_role.alarm_forwarder[0].arn : null
  create_alarms            = var.create_alarms
  event_pattern            = local.event_pattern
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(local.spending_limits_by_region, local.home_region, [])
  tags                     = local.tags

  # The targets may only exist once the roles may put events on the bus and the bus admits them.
  depends_on = [aws_cloudwatch_event_bus_policy.central, aws_iam_role_policy.forwarder, aws_iam_role_policy.alarm_forwarder]
}

# ---------------------------------------------------------------------------------------------
# Dead-letter queue for events EventBridge could not deliver and invocations that kept failing.
# ---------------------------------------------------------------------------------------------
resource "aws_sqs_queue" "dlq" {
  name                              = local.names.dlq
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 3600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  tags                              = local.tags
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CentralRuleDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.arns.dlq
      Condition = { ArnEquals = { "aws:SourceArn" = concat([local.arns.central_rule], var.create_alarms ? [local.arns.alarm_rule] : []) } }
    }]
  })
}

# ---------------------------------------------------------------------------------------------
# Ledger table (pk/sk, TTL expires_at), on demand, point-in-time recovery.
# ---------------------------------------------------------------------------------------------
resource "aws_dynamodb_table" "ledger" {
  #checkov:skip=CKV_AWS_119:A customer managed key is optional (var.kms_key_arn); without one DynamoDB encrypts with an AWS owned key.
  name                        = local.names.table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = false
  tags                        = local.tags

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }
}

# The guard Lambda, its package, log group and asynchronous-invocation settings.

locals {
  package_path = coalesce(var.lambda_package_path, "${path.module}/dist/braket-guard-lambda.zip")

  # The cap objects exactly as the package reads them: unset optional attributes are left out.
  caps_json = jsonencode([for c in var.caps : { for k, v in c : k => v if v != null }])

  prices_json = jsonencode({
    for arn, p in var.prices : arn => { for k, v in p : k => v if v != null }
  })

  guard_environment = merge(
    {
      BRAKET_GUARD_TABLE    = local.names.table
      BRAKET_GUARD_CAPS     = local.caps_json
      BRAKET_GUARD_MODE     = var.mode
      BRAKET_GUARD_TIMEZONE = var.timezone
      LOG_LEVEL             = var.log_level
      # Regions that reconciliation searches: the home region and every forwarded one.
      BRAKET_GUARD_REGIONS = jsonencode(local.regions)
      # Alerts go to the created or given topic: alarms use it too, so it always exists.
      BRAKET_GUARD_SNS_TOPIC_ARN = local.arns.topic
    },
    local.slack_parameter_name == null ? {} : { BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER = local.slack_parameter_name },
    length(var.prices) == 0 ? {} : { BRAKET_GUARD_PRICES = local.prices_json },
    var.reconcile_alert_usd == null ? {} : { BRAKET_GUARD_RECONCILE_ALERT_USD = var.reconcile_alert_usd },
    var.digest_always ? { BRAKET_GUARD_DIGEST_ALWAYS = "true" } : {},
    length(var.reservations) == 0 ? {} : { BRAKET_GUARD_RESERVATIONS = jsonencode([for r in var.reservations : { for k, v in r : k => v if v != null }]) },
    # Native spending limits and the shared cancel budget (native_limits.py, pacing.py), when not the default.
    var.native_limits == "off" ? {} : {
      BRAKET_GUARD_NATIVE_LIMITS = var.native_limits
    },
    var.cancels_per_second == "2" ? {} : {
      BRAKET_GUARD_CANCELS_PER_SECOND = var.cancels_per_second
    },
    # The reconcile schedule's period (schedules.tf), when not the default 15 minutes.
    local.reconcile_seconds == 900 ? {} : {
      BRAKET_GUARD_RECONCILE_SECONDS = tostring(local.reconcile_seconds)
    },
  )

  lambda_environment = merge(var.lambda_environment_variables, local.guard_environment)

  # Lambda rejects environments whose keys and values add up to more than 4 KB.
  lambda_environment_size = sum(concat([0], [for k, v in local.lambda_environment : length(k) + length(v)]))
}

resource "aws_cloudwatch_log_group" "guard" {
  #checkov:skip=CKV_AWS_158:A customer managed key is optional (var.kms_key_arn); CloudWatch Logs always encrypts log data at rest.
  name              = local.names.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_lambda_function" "guard" {
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the SQS queue through the on-failure destination (aws_lambda_function_event_invoke_config), which supersedes the legacy DLQ setting.
  #checkov:skip=CKV_AWS_117:The function only calls public AWS APIs and Slack; a VPC would add NAT cost and nothing to protect.
  #checkov:skip=CKV_AWS_173:Environment variables hold no secret (the Slack URL stays in SSM); they are encrypted with var.kms_key_arn when one is given, otherwise with the Lambda service key.
  #checkov:skip=CKV_AWS_272:The package is a reproducible zip checked in CI against its sources; code signing needs a signer profile the user would have to own.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not needed to operate the guard and would require xray:Put* on "*".
  function_name                  = local.names.function
  description                    = "braket-guard: shot and cost caps for Amazon Braket tasks"
  role                           = aws_iam_role.lambda.arn
  handler                        = "braket_guard.handler.lambda_handler"
  runtime                        = var.lambda_runtime
  architectures                  = [var.lambda_architecture]
  memory_size                    = var.lambda_memory_mb
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  filename                       = local.package_path
  source_code_hash               = filebase64sha256(local.package_path)
  kms_key_arn                    = var.kms_key_arn
  tags                           = local.tags

  environment {
    variables = local.lambda_environment
  }

  lifecycle {
    precondition {
      condition     = local.lambda_environment_size <= 4096
      error_message = "The Lambda environment would exceed Lambda's 4 KB limit: use fewer or shorter caps, fewer price overrides or fewer lambda_environment_variables."
    }
  }

  # The default log group of the function is the one created above, with its retention.
  depends_on = [aws_iam_role_policy.lambda, aws_cloudwatch_log_group.guard]
}

resource "aws_lambda_function_event_invoke_config" "guard" {
  function_name                = aws_lambda_function.guard.function_name
  maximum_retry_attempts       = var.lambda_async_retry_attempts
  maximum_event_age_in_seconds = var.event_max_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq.arn
    }
  }
}

# The original monitoring tool's behaviour in one region: per device and UTC day, cancel the
# queued tasks once the day's shots or cost pass a threshold; alert by email and Slack.

# The guard runs in var.region and guards it: Braket must run there (the plan says so otherwise;
# see examples/tokyo for a home region without Braket).
provider "aws" {
  region = var.region
}

# The example's two caps, unless var.caps replaces them. Every cap attribute is spelled out (null:
# the module's default), as the module reads them.
locals {
  default_caps = [
    { name = "daily-device-shots", window = "day", group_by = "device", devices = ["qpu"], max_shots = var.daily_max_shots, max_cost_usd = null, warn_at = null, on_breach = "cancel_queued", kinds = null },
    { name = "daily-device-cost", window = "day", group_by = "device", devices = ["qpu"], max_shots = null, max_cost_usd = var.daily_max_cost_usd, warn_at = null, on_breach = "cancel_queued", kinds = null },
  ]
}

module "braket_guard" {
  source = "../.."

  name_prefix = var.name_prefix
  tags        = var.tags
  # Through JSON: a typed list and a tuple literal cannot be the two results of one conditional.
  caps                           = jsondecode(var.caps != null ? jsonencode(var.caps) : jsonencode(local.default_caps))
  reservations                   = var.reservations
  mode                           = var.mode
  timezone                       = var.timezone
  alert_emails                   = distinct(concat([var.alert_email], var.alert_emails))
  sns_topic_arn                  = var.sns_topic_arn
  slack_webhook_url              = var.slack_webhook_url
  create_slack_webhook_parameter = var.create_slack_webhook_parameter
  slack_webhook_parameter_name   = var.slack_webhook_parameter_name
  slack_webhook_kms_key_arn      = var.slack_webhook_kms_key_arn
  slack_webhook_version          = var.slack_webhook_version
  prices                         = var.prices
  braket_regions                 = var.braket_regions
  kms_key_arn                    = var.kms_key_arn
  log_retention_days             = var.log_retention_days
  log_level                      = var.log_level
  lambda_runtime                 = var.lambda_runtime
  lambda_architecture            = var.lambda_architecture
  lambda_memory_mb               = var.lambda_memory_mb
  lambda_timeout_seconds         = var.lambda_timeout_seconds
  lambda_reserved_concurrency    = var.lambda_reserved_concurrency
  lambda_environment_variables   = var.lambda_environment_variables
  lambda_package_path            = var.lambda_package_path
  event_max_retry_attempts       = var.event_max_retry_attempts
  event_max_age_seconds          = var.event_max_age_seconds
  lambda_async_retry_attempts    = var.lambda_async_retry_attempts
  dlq_retention_seconds          = var.dlq_retention_seconds
  create_alarms                  = var.create_alarms
  create_dashboard               = var.create_dashboard
  spending_limits                = var.spending_limits
  native_limits                  = var.native_limits
  cancels_per_second             = var.cancels_per_second
  reconcile_schedule             = var.reconcile_schedule
  digest_schedule                = var.digest_schedule
  digest_always                  = var.digest_always
  reconcile_alert_usd            = var.reconcile_alert_usd
}

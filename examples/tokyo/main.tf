# The guard runs in Tokyo (ap-northeast-1), where Braket does not run, and guards the Braket
# regions the team uses: us-east-1 (IonQ, QuEra) and eu-north-1 (IQM, AQT). Nothing Braket-related
# is created in ap-northeast-1 and the Lambda never calls Braket there: BRAKET_GUARD_REGIONS is
# exactly ["us-east-1", "eu-north-1"]. Day and month windows follow Japan time.
#
#   ap-northeast-1 (home): central bus, Lambda, ledger, alert topic, Slack parameter, alarms,
#                          dashboard, schedules
#   us-east-1, eu-north-1: forwarding rule -> central bus, dead-letter queue, alarms whose state
#                          changes go to the central bus and from there to the alert topic
#
# Terraform cannot loop over providers with AWS provider 5.x, so each guarded region has its own
# provider alias and module block.

provider "aws" {
  region = "ap-northeast-1"
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

provider "aws" {
  alias  = "eu_north_1"
  region = "eu-north-1"
}

# The example's three caps, unless var.caps replaces them. Every cap attribute is spelled out
# (null: the module's default), as the module reads them.
locals {
  default_caps = [
    { name = "daily-device-shots", window = "day", group_by = "device", devices = ["qpu"], max_shots = var.daily_max_shots, max_cost_usd = null, warn_at = null, on_breach = "cancel_queued", kinds = null },
    { name = "daily-device-cost", window = "day", group_by = "device", devices = ["qpu"], max_shots = null, max_cost_usd = var.daily_max_cost_usd, warn_at = [0.8], on_breach = "cancel_queued", kinds = null },
    { name = "monthly-account-cost", window = "month", group_by = "account", devices = null, max_shots = null, max_cost_usd = var.monthly_max_cost_usd, warn_at = [0.5, 0.8], on_breach = "cancel_task", kinds = null },
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
  alert_emails                   = var.alert_emails
  sns_topic_arn                  = var.sns_topic_arn
  slack_webhook_url              = var.slack_webhook_url
  create_slack_webhook_parameter = var.create_slack_webhook_parameter
  slack_webhook_parameter_name   = var.slack_webhook_parameter_name
  slack_webhook_kms_key_arn      = var.slack_webhook_kms_key_arn
  slack_webhook_version          = var.slack_webhook_version
  prices                         = var.prices
  regions                        = ["us-east-1", "eu-north-1"]
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

module "forwarder_us_east_1" {
  source    = "../../modules/region-forwarder"
  providers = { aws = aws.us_east_1 }

  name_prefix              = var.name_prefix
  rule_name                = module.braket_guard.forwarder_rule_name
  central_event_bus_arn    = module.braket_guard.event_bus_arn
  forwarder_role_arn       = module.braket_guard.forwarder_role_arn
  alarm_forwarder_role_arn = module.braket_guard.alarm_forwarder_role_arn
  create_alarms            = var.create_alarms
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "us-east-1", [])
  tags                     = var.tags
}

module "forwarder_eu_north_1" {
  source    = "../../modules/region-forwarder"
  providers = { aws = aws.eu_north_1 }

  name_prefix              = var.name_prefix
  rule_name                = module.braket_guard.forwarder_rule_name
  central_event_bus_arn    = module.braket_guard.event_bus_arn
  forwarder_role_arn       = module.braket_guard.forwarder_role_arn
  alarm_forwarder_role_arn = module.braket_guard.alarm_forwarder_role_arn
  create_alarms            = var.create_alarms
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "eu-north-1", [])
  tags                     = var.tags
}

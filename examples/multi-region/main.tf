# One apply guards every Braket region: the guard runs in us-east-1 (which forwards its own
# events through the module's built-in forwarder while us-east-1 is in var.regions), and one
# region-forwarder per other region sends that region's Braket task events to the central bus.
#
# Terraform cannot loop over providers with AWS provider 5.x (and the module supports 5.x and
# 6.x), so every region has its own provider alias and module block; var.regions switches them.
# `make deploy TFVARS=my.tfvars` applies this configuration.

provider "aws" {
  region = "us-east-1"
}

provider "aws" {
  alias  = "us_west_1"
  region = "us-west-1"
}

provider "aws" {
  alias  = "us_west_2"
  region = "us-west-2"
}

provider "aws" {
  alias  = "eu_west_2"
  region = "eu-west-2"
}

provider "aws" {
  alias  = "eu_north_1"
  region = "eu-north-1"
}

module "braket_guard" {
  source = "../.."

  name_prefix                    = var.name_prefix
  tags                           = var.tags
  caps                           = var.caps
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
  regions                        = var.regions
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

locals {
  forwarder = {
    name_prefix           = var.name_prefix
    central_event_bus_arn = module.braket_guard.event_bus_arn
    forwarder_role_arn    = module.braket_guard.forwarder_role_arn
    alarm_role_arn        = module.braket_guard.alarm_forwarder_role_arn
    rule_name             = module.braket_guard.forwarder_rule_name
  }
}

module "forwarder_us_west_1" {
  source    = "../../modules/region-forwarder"
  count     = contains(var.regions, "us-west-1") ? 1 : 0
  providers = { aws = aws.us_west_1 }

  name_prefix              = local.forwarder.name_prefix
  rule_name                = local.forwarder.rule_name
  central_event_bus_arn    = local.forwarder.central_event_bus_arn
  forwarder_role_arn       = local.forwarder.forwarder_role_arn
  alarm_forwarder_role_arn = local.forwarder.alarm_role_arn
  create_alarms            = var.create_alarms
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "us-west-1", [])
  tags                     = var.tags
}

module "forwarder_us_west_2" {
  source    = "../../modules/region-forwarder"
  count     = contains(var.regions, "us-west-2") ? 1 : 0
  providers = { aws = aws.us_west_2 }

  name_prefix              = local.forwarder.name_prefix
  rule_name                = local.forwarder.rule_name
  central_event_bus_arn    = local.forwarder.central_event_bus_arn
  forwarder_role_arn       = local.forwarder.forwarder_role_arn
  alarm_forwarder_role_arn = local.forwarder.alarm_role_arn
  create_alarms            = var.create_alarms
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "us-west-2", [])
  tags                     = var.tags
}

module "forwarder_eu_west_2" {
  source    = "../../modules/region-forwarder"
  count     = contains(var.regions, "eu-west-2") ? 1 : 0
  providers = { aws = aws.eu_west_2 }

  name_prefix              = local.forwarder.name_prefix
  rule_name                = local.forwarder.rule_name
  central_event_bus_arn    = local.forwarder.central_event_bus_arn
  forwarder_role_arn       = local.forwarder.forwarder_role_arn
  alarm_forwarder_role_arn = local.forwarder.alarm_role_arn
  create_alarms            = var.create_alarms
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "eu-west-2", [])
  tags                     = var.tags
}

module "forwarder_eu_north_1" {
  source    = "../../modules/region-forwarder"
  count     = contains(var.regions, "eu-north-1") ? 1 : 0
  providers = { aws = aws.eu_north_1 }

  name_prefix              = local.forwarder.name_prefix
  rule_name                = local.forwarder.rule_name
  central_event_bus_arn    = local.forwarder.central_event_bus_arn
  forwarder_role_arn       = local.forwarder.forwarder_role_arn
  alarm_forwarder_role_arn = local.forwarder.alarm_role_arn
  create_alarms            = var.create_alarms
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "eu-north-1", [])
  tags                     = var.tags
}

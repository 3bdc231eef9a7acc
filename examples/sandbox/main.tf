# The module against local endpoints (moto in server mode, see sandbox/): used by the local
# end-to-end test tests/terraform/test_sandbox_apply.py. No AWS account, no credentials.
# Two regions exercise the cross-region forwarder: us-east-1 (home) and us-west-2.
# Cloud Control is not emulated, so the module's static spending_limits stay off here; the guard's
# own native limits (native_limits, off by default) go through the Braket API, which the demo serves
# with its emulator (`make demo NATIVE_LIMITS=freeze`).

locals {
  endpoints = {
    cloudwatch = var.endpoint
    dynamodb   = var.endpoint
    events     = var.endpoint
    iam        = var.endpoint
    lambda     = var.endpoint
    scheduler  = var.endpoint
    logs       = var.endpoint
    sns        = var.endpoint
    sqs        = var.endpoint
    ssm        = var.endpoint
    sts        = var.endpoint
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch = local.endpoints.cloudwatch
    dynamodb   = local.endpoints.dynamodb
    events     = local.endpoints.events
    iam        = local.endpoints.iam
    lambda     = local.endpoints.lambda
    scheduler  = local.endpoints.scheduler
    logs       = local.endpoints.logs
    sns        = local.endpoints.sns
    sqs        = local.endpoints.sqs
    ssm        = local.endpoints.ssm
    sts        = local.endpoints.sts
  }
}

provider "aws" {
  alias                       = "us_west_2"
  region                      = "us-west-2"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch = local.endpoints.cloudwatch
    dynamodb   = local.endpoints.dynamodb
    events     = local.endpoints.events
    iam        = local.endpoints.iam
    lambda     = local.endpoints.lambda
    scheduler  = local.endpoints.scheduler
    logs       = local.endpoints.logs
    sns        = local.endpoints.sns
    sqs        = local.endpoints.sqs
    ssm        = local.endpoints.ssm
    sts        = local.endpoints.sts
  }
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
  regions                        = ["us-east-1", "us-west-2"]
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

module "forwarder_us_west_2" {
  source    = "../../modules/region-forwarder"
  providers = { aws = aws.us_west_2 }

  name_prefix              = var.name_prefix
  rule_name                = module.braket_guard.forwarder_rule_name
  central_event_bus_arn    = module.braket_guard.event_bus_arn
  forwarder_role_arn       = module.braket_guard.forwarder_role_arn
  alarm_forwarder_role_arn = module.braket_guard.alarm_forwarder_role_arn
  create_alarms            = var.create_alarms
  max_retry_attempts       = var.event_max_retry_attempts
  max_event_age_seconds    = var.event_max_age_seconds
  dlq_retention_seconds    = var.dlq_retention_seconds
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "us-west-2", [])
  tags                     = var.tags
}

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

  name_prefix = var.name_prefix
  tags        = { environment = "sandbox" }
  regions     = ["us-east-1", "us-west-2"]

  caps = [
    { name = "daily-device-shots", window = "day", group_by = "device", devices = ["qpu"], max_shots = 1000, on_breach = "cancel_queued" },
    { name = "daily-device-cost", window = "day", group_by = "device", devices = ["qpu"], max_cost_usd = 5, warn_at = [0.5, 0.8], on_breach = "cancel_queued" },
    { name = "monthly-project", window = "month", group_by = "tag:project", max_cost_usd = 50, on_breach = "cancel_task" },
  ]
  timezone = "Europe/Berlin"
  prices = {
    "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1" = { per_task_usd = "0.30", per_shot_usd = "0.08" }
  }

  alert_emails                   = ["quantum-team@example.com"]
  create_slack_webhook_parameter = true
  slack_webhook_url              = var.slack_webhook_url

  lambda_architecture = "x86_64"
  log_retention_days  = 7

  native_limits = var.native_limits
}

module "forwarder_us_west_2" {
  source    = "../../modules/region-forwarder"
  providers = { aws = aws.us_west_2 }

  name_prefix              = var.name_prefix
  rule_name                = module.braket_guard.forwarder_rule_name
  central_event_bus_arn    = module.braket_guard.event_bus_arn
  forwarder_role_arn       = module.braket_guard.forwarder_role_arn
  alarm_forwarder_role_arn = module.braket_guard.alarm_forwarder_role_arn
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "us-west-2", [])
}

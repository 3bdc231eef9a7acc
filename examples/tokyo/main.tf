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

module "braket_guard" {
  source = "../.."

  name_prefix = var.name_prefix
  mode        = var.mode
  regions     = ["us-east-1", "eu-north-1"]
  timezone    = "Asia/Tokyo"

  caps = [
    { name = "daily-device-shots", window = "day", group_by = "device", devices = ["qpu"], max_shots = var.daily_max_shots, on_breach = "cancel_queued" },
    { name = "daily-device-cost", window = "day", group_by = "device", devices = ["qpu"], max_cost_usd = var.daily_max_cost_usd, warn_at = [0.8], on_breach = "cancel_queued" },
    { name = "monthly-account-cost", window = "month", max_cost_usd = var.monthly_max_cost_usd, warn_at = [0.5, 0.8], on_breach = "cancel_task" },
  ]

  alert_emails                   = var.alert_emails
  create_slack_webhook_parameter = var.create_slack_webhook_parameter
  slack_webhook_url              = var.slack_webhook_url
}

module "forwarder_us_east_1" {
  source    = "../../modules/region-forwarder"
  providers = { aws = aws.us_east_1 }

  name_prefix              = var.name_prefix
  rule_name                = module.braket_guard.forwarder_rule_name
  central_event_bus_arn    = module.braket_guard.event_bus_arn
  forwarder_role_arn       = module.braket_guard.forwarder_role_arn
  alarm_forwarder_role_arn = module.braket_guard.alarm_forwarder_role_arn
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "us-east-1", [])
}

module "forwarder_eu_north_1" {
  source    = "../../modules/region-forwarder"
  providers = { aws = aws.eu_north_1 }

  name_prefix              = var.name_prefix
  rule_name                = module.braket_guard.forwarder_rule_name
  central_event_bus_arn    = module.braket_guard.event_bus_arn
  forwarder_role_arn       = module.braket_guard.forwarder_role_arn
  alarm_forwarder_role_arn = module.braket_guard.alarm_forwarder_role_arn
  spending_limits          = lookup(module.braket_guard.spending_limits_by_region, "eu-north-1", [])
}

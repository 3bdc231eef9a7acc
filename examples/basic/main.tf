# The original monitoring tool's behaviour in one region: per device and UTC day, cancel the
# queued tasks once the day's shots or cost pass a threshold; alert by email and Slack.

# The guard runs in var.region and guards it: Braket must run there (the plan says so otherwise;
# see examples/tokyo for a home region without Braket).
provider "aws" {
  region = var.region
}

module "braket_guard" {
  source = "../.."

  mode     = var.mode
  timezone = var.timezone

  caps = [
    {
      name      = "daily-device-shots"
      window    = "day"
      group_by  = "device"
      devices   = ["qpu"]
      max_shots = var.daily_max_shots
      on_breach = "cancel_queued"
    },
    {
      name         = "daily-device-cost"
      window       = "day"
      group_by     = "device"
      devices      = ["qpu"]
      max_cost_usd = var.daily_max_cost_usd
      on_breach    = "cancel_queued"
    },
  ]

  alert_emails = [var.alert_email]

  # The URL is ephemeral (in neither the plan nor the state); the flag says the parameter exists.
  create_slack_webhook_parameter = true
  slack_webhook_url              = var.slack_webhook_url
}

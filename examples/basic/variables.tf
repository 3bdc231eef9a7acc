variable "region" {
  description = "The one Braket region to guard, also where the guard runs (us-east-1, us-west-1, us-west-2, eu-west-2 or eu-north-1)."
  type        = string
  default     = "us-east-1"
}

variable "daily_max_shots" {
  description = "Shots per QPU device and day (in timezone) before queued tasks are cancelled."
  type        = number
  default     = 10000
}

variable "daily_max_cost_usd" {
  description = "Cost per QPU device and day (in timezone, USD) before queued tasks are cancelled."
  type        = number
  default     = 100
}

variable "alert_email" {
  description = "Email address that receives alerts (confirm the subscription mail)."
  type        = string
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL (stored as an SSM SecureString; ephemeral: never in the plan nor the state, so give it again when applying a saved plan)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "mode" {
  description = "\"monitor\" records and alerts only; \"enforce\" also cancels (the original tool's behaviour)."
  type        = string
  default     = "enforce"
}

variable "timezone" {
  description = "IANA time zone that starts each day (the original tool used UTC days)."
  type        = string
  default     = "UTC"
}

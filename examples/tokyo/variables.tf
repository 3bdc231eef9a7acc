variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "braket-guard"
}

variable "mode" {
  description = "\"monitor\" records and alerts only; \"enforce\" also cancels tasks over a cap."
  type        = string
  default     = "enforce"
}

variable "daily_max_shots" {
  description = "Shots per QPU device and Japan day before queued tasks are cancelled."
  type        = number
  default     = 10000
}

variable "daily_max_cost_usd" {
  description = "Cost per QPU device and Japan day (USD) before queued tasks are cancelled."
  type        = number
  default     = 100
}

variable "monthly_max_cost_usd" {
  description = "Cost of the whole account per Japan month (USD) before new tasks are cancelled."
  type        = number
  default     = 1000
}

variable "alert_emails" {
  description = "Email addresses that receive alerts (each must confirm the subscription mail)."
  type        = list(string)
  default     = []
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL, or null for no Slack (ephemeral: never in the plan nor the state, so give it again when applying a saved plan)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "create_slack_webhook_parameter" {
  description = "Create the SSM parameter from slack_webhook_url (true together with slack_webhook_url: the URL is ephemeral and cannot decide it)."
  type        = bool
  default     = false
}

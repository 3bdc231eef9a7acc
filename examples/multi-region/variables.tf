# Inputs passed through to the root module (see its variables.tf for every validation).

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "braket-guard"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "caps" {
  description = "Shot and cost caps (see the root module's caps input)."
  type = list(object({
    name         = string
    window       = string
    group_by     = optional(string, "account")
    devices      = optional(list(string))
    max_shots    = optional(number)
    max_cost_usd = optional(number)
    warn_at      = optional(list(number))
    on_breach    = optional(string, "cancel_task")
  }))
  default = [
    { name = "daily-account-cost", window = "day", max_cost_usd = 200, warn_at = [0.5, 0.8], on_breach = "cancel_task" },
    { name = "monthly-account-cost", window = "month", max_cost_usd = 2000, warn_at = [0.8], on_breach = "cancel_task" },
    { name = "daily-device-shots", window = "day", group_by = "device", devices = ["qpu"], max_shots = 20000, on_breach = "cancel_queued" },
  ]
}

variable "mode" {
  description = "\"enforce\" or \"monitor\"."
  type        = string
  default     = "enforce"
}

variable "timezone" {
  description = "IANA time zone of the day and month windows."
  type        = string
  default     = "UTC"
}

variable "alert_emails" {
  description = "Email addresses subscribed to the alerts."
  type        = list(string)
  default     = []
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL, or null (ephemeral: never in the plan nor the state; set create_slack_webhook_parameter with it)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "create_slack_webhook_parameter" {
  description = "Create the SSM parameter from slack_webhook_url (true together with slack_webhook_url)."
  type        = bool
  default     = false
}

variable "slack_webhook_parameter_name" {
  description = "Existing SSM SecureString holding the Slack webhook URL, or null."
  type        = string
  default     = null
}

variable "prices" {
  description = "Price overrides by device ARN or ML instance type (braket-guard prices --json prints them)."
  type = map(object({
    per_task_usd   = optional(string)
    per_shot_usd   = optional(string)
    per_minute_usd = optional(string)
    per_hour_usd   = optional(string)
  }))
  default = {}
}

variable "regions" {
  description = "Guarded regions, exactly: any of us-east-1 (the home region, guarded only when listed), us-west-1, us-west-2, eu-west-2, eu-north-1."
  type        = list(string)
  default     = ["us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1"]

  validation {
    condition     = alltrue([for r in var.regions : contains(["us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1"], r)])
    error_message = "This configuration has providers for us-east-1, us-west-1, us-west-2, eu-west-2 and eu-north-1 only: add a provider alias and a forwarder module block for any other region."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key, or null."
  type        = string
  default     = null
}

variable "spending_limits" {
  description = "Native Braket spending limits per QPU (off when empty)."
  type = list(object({
    device_arn = string
    limit_usd  = string
    start_at   = optional(string)
    end_at     = optional(string)
  }))
  default = []
}

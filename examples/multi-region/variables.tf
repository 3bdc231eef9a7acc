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
    kinds        = optional(list(string))
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

# Every other input of the root module, passed through unchanged (same type, the module's
# default unless this example says otherwise; the module validates them).

variable "reservations" {
  description = "Passed to the module: see its reservations input (README, Terraform module, Inputs)."
  type = list(object({
    device_arn = string
    ends_at    = optional(string)
  }))
  default = []
}

variable "sns_topic_arn" {
  description = "Passed to the module: see its sns_topic_arn input (README, Terraform module, Inputs)."
  type        = string
  default     = null
}

variable "slack_webhook_kms_key_arn" {
  description = "Passed to the module: see its slack_webhook_kms_key_arn input (README, Terraform module, Inputs)."
  type        = string
  default     = null
}

variable "slack_webhook_version" {
  description = "Passed to the module: see its slack_webhook_version input (README, Terraform module, Inputs)."
  type        = number
  default     = 1
}

variable "braket_regions" {
  description = "Passed to the module: see its braket_regions input (README, Terraform module, Inputs)."
  type        = list(string)
  default     = ["us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1"]
}

variable "log_retention_days" {
  description = "Passed to the module: see its log_retention_days input (README, Terraform module, Inputs)."
  type        = number
  default     = 365
}

variable "log_level" {
  description = "Passed to the module: see its log_level input (README, Terraform module, Inputs)."
  type        = string
  default     = "INFO"
}

variable "lambda_runtime" {
  description = "Passed to the module: see its lambda_runtime input (README, Terraform module, Inputs)."
  type        = string
  default     = "python3.12"
}

variable "lambda_architecture" {
  description = "Passed to the module: see its lambda_architecture input (README, Terraform module, Inputs)."
  type        = string
  default     = "arm64"
}

variable "lambda_memory_mb" {
  description = "Passed to the module: see its lambda_memory_mb input (README, Terraform module, Inputs)."
  type        = number
  default     = 256
}

variable "lambda_timeout_seconds" {
  description = "Passed to the module: see its lambda_timeout_seconds input (README, Terraform module, Inputs)."
  type        = number
  default     = 120
}

variable "lambda_reserved_concurrency" {
  description = "Passed to the module: see its lambda_reserved_concurrency input (README, Terraform module, Inputs)."
  type        = number
  default     = -1
}

variable "lambda_environment_variables" {
  description = "Passed to the module: see its lambda_environment_variables input (README, Terraform module, Inputs)."
  type        = map(string)
  default     = {}
}

variable "lambda_package_path" {
  description = "Passed to the module: see its lambda_package_path input (README, Terraform module, Inputs)."
  type        = string
  default     = null
}

variable "event_max_retry_attempts" {
  description = "Passed to the module: see its event_max_retry_attempts input (README, Terraform module, Inputs)."
  type        = number
  default     = 20
}

variable "event_max_age_seconds" {
  description = "Passed to the module: see its event_max_age_seconds input (README, Terraform module, Inputs)."
  type        = number
  default     = 3600
}

variable "lambda_async_retry_attempts" {
  description = "Passed to the module: see its lambda_async_retry_attempts input (README, Terraform module, Inputs)."
  type        = number
  default     = 2
}

variable "dlq_retention_seconds" {
  description = "Passed to the module: see its dlq_retention_seconds input (README, Terraform module, Inputs)."
  type        = number
  default     = 1209600
}

variable "create_alarms" {
  description = "Passed to the module: see its create_alarms input (README, Terraform module, Inputs)."
  type        = bool
  default     = true
}

variable "create_dashboard" {
  description = "Passed to the module: see its create_dashboard input (README, Terraform module, Inputs)."
  type        = bool
  default     = true
}

variable "native_limits" {
  description = "Passed to the module: see its native_limits input (README, Terraform module, Inputs)."
  type        = string
  default     = "off"
}

variable "cancels_per_second" {
  description = "Passed to the module: see its cancels_per_second input (README, Terraform module, Inputs)."
  type        = string
  default     = "2"
}

variable "reconcile_schedule" {
  description = "Passed to the module: see its reconcile_schedule input (README, Terraform module, Inputs)."
  type        = string
  default     = "rate(15 minutes)"
}

variable "digest_schedule" {
  description = "Passed to the module: see its digest_schedule input (README, Terraform module, Inputs)."
  type        = string
  default     = "cron(0 8 * * ? *)"
}

variable "digest_always" {
  description = "Passed to the module: see its digest_always input (README, Terraform module, Inputs)."
  type        = bool
  default     = false
}

variable "reconcile_alert_usd" {
  description = "Passed to the module: see its reconcile_alert_usd input (README, Terraform module, Inputs)."
  type        = string
  default     = null
}

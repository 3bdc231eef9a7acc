variable "endpoint" {
  description = "URL of the local AWS emulator (moto server), e.g. http://127.0.0.1:5000."
  type        = string
  default     = "http://127.0.0.1:5000"
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "bg-sandbox"
}

variable "slack_webhook_url" {
  description = "Slack webhook URL stored in the SSM parameter (a local sink in the sandbox)."
  type        = string
  default     = "http://127.0.0.1:9/slack"
  sensitive   = true
  ephemeral   = true
}

variable "native_limits" {
  description = "Passed to the module: whether the guard drives Braket's native spending limits (\"off\", \"freeze\", \"mirror_and_freeze\")."
  type        = string
  default     = "off"
}

# Every other input of the root module, passed through unchanged (same type, the module's
# default unless this example says otherwise; the module validates them).

variable "tags" {
  description = "Passed to the module: see its tags input (README, Terraform module, Inputs)."
  type        = map(string)
  default     = { environment = "sandbox" }
}

variable "caps" {
  description = "Passed to the module: see its caps input (README, Terraform module, Inputs)."
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
    { name = "daily-device-shots", window = "day", group_by = "device", devices = ["qpu"], max_shots = 1000, on_breach = "cancel_queued" },
    { name = "daily-device-cost", window = "day", group_by = "device", devices = ["qpu"], max_cost_usd = 5, warn_at = [0.5, 0.8], on_breach = "cancel_queued" },
    { name = "monthly-project", window = "month", group_by = "tag:project", max_cost_usd = 50, on_breach = "cancel_task" },
  ]
}

variable "reservations" {
  description = "Passed to the module: see its reservations input (README, Terraform module, Inputs)."
  type = list(object({
    device_arn = string
    ends_at    = optional(string)
  }))
  default = []
}

variable "mode" {
  description = "Passed to the module: see its mode input (README, Terraform module, Inputs)."
  type        = string
  default     = "enforce"
}

variable "timezone" {
  description = "Passed to the module: see its timezone input (README, Terraform module, Inputs)."
  type        = string
  default     = "Europe/Berlin"
}

variable "alert_emails" {
  description = "Passed to the module: see its alert_emails input (README, Terraform module, Inputs)."
  type        = list(string)
  default     = ["quantum-team@example.com"]
}

variable "sns_topic_arn" {
  description = "Passed to the module: see its sns_topic_arn input (README, Terraform module, Inputs)."
  type        = string
  default     = null
}

variable "create_slack_webhook_parameter" {
  description = "Passed to the module: see its create_slack_webhook_parameter input (README, Terraform module, Inputs)."
  type        = bool
  default     = true
}

variable "slack_webhook_parameter_name" {
  description = "Passed to the module: see its slack_webhook_parameter_name input (README, Terraform module, Inputs)."
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

variable "prices" {
  description = "Passed to the module: see its prices input (README, Terraform module, Inputs)."
  type = map(object({
    per_task_usd   = optional(string)
    per_shot_usd   = optional(string)
    per_minute_usd = optional(string)
    per_hour_usd   = optional(string)
  }))
  default = {
    "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1" = { per_task_usd = "0.30", per_shot_usd = "0.08" }
  }
}

variable "braket_regions" {
  description = "Passed to the module: see its braket_regions input (README, Terraform module, Inputs)."
  type        = list(string)
  default     = ["us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1"]
}

variable "kms_key_arn" {
  description = "Passed to the module: see its kms_key_arn input (README, Terraform module, Inputs)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Passed to the module: see its log_retention_days input (README, Terraform module, Inputs)."
  type        = number
  default     = 7
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
  default     = "x86_64"
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

variable "spending_limits" {
  description = "Passed to the module: see its spending_limits input (README, Terraform module, Inputs)."
  type = list(object({
    device_arn = string
    limit_usd  = string
    start_at   = optional(string)
    end_at     = optional(string)
  }))
  default = []
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

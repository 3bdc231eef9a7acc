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

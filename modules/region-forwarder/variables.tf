variable "name_prefix" {
  description = "Name prefix of the braket-guard deployment (the root module's name_prefix)."
  type        = string
  default     = "braket-guard"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,31}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and contain only letters, digits and hyphens, at most 32 characters."
  }
}

variable "rule_name" {
  description = "Name of the forwarding rule (at most 57 characters: the alarm rule is <rule_name>-alarms); null derives it from name_prefix and the home region (<name_prefix>-forward-<home region>). It must match the root module's forwarder_rule_name output, which the forwarder roles' trust policies name."
  type        = string
  default     = null

  validation {
    condition     = var.rule_name == null || can(regex("^[A-Za-z0-9._-]{1,57}$", var.rule_name))
    error_message = "rule_name must be 1 to 57 letters, digits, \".\", \"_\" or \"-\" (EventBridge allows 64, and the alarm rule appends \"-alarms\"), or null."
  }
}

variable "central_event_bus_arn" {
  description = "ARN of the central braket-guard event bus (root module output event_bus_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/.+$", var.central_event_bus_arn))
    error_message = "central_event_bus_arn must be an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)."
  }
}

variable "forwarder_role_arn" {
  description = "ARN of the role EventBridge uses to put events on the central bus (root module output forwarder_role_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.forwarder_role_arn))
    error_message = "forwarder_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "event_pattern" {
  description = "Event pattern of the forwarding rule; null matches Braket task and hybrid-job state changes (source aws.braket, detail-type \"Braket Task State Change\" or \"Braket Job State Change\")."
  type        = string
  default     = null

  validation {
    condition     = var.event_pattern == null || can(keys(jsondecode(var.event_pattern)))
    error_message = "event_pattern must be a JSON object (an EventBridge event pattern), or null."
  }
}

variable "max_retry_attempts" {
  description = "EventBridge retries when putting an event on the central bus (0 to 185) before it goes to this region's dead-letter queue."
  type        = number
  default     = 20

  validation {
    condition     = var.max_retry_attempts >= 0 && var.max_retry_attempts <= 185 && floor(var.max_retry_attempts) == var.max_retry_attempts
    error_message = "max_retry_attempts must be a whole number from 0 to 185."
  }
}

variable "max_event_age_seconds" {
  description = "Maximum age of an event EventBridge still retries forwarding, in seconds (60 to 86400)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_event_age_seconds >= 60 && var.max_event_age_seconds <= 86400 && floor(var.max_event_age_seconds) == var.max_event_age_seconds
    error_message = "max_event_age_seconds must be a whole number from 60 to 86400."
  }
}

variable "spending_limits" {
  description = "Native spending limits for QPUs of this region (root module output spending_limits_by_region[\"<region>\"])."
  type = list(object({
    device_arn = string
    limit_usd  = string
    start_at   = optional(string)
    end_at     = optional(string)
  }))
  default = []
}

variable "tags" {
  description = "Tags of the rule and spending limits."
  type        = map(string)
  default     = {}
}

variable "alarm_forwarder_role_arn" {
  description = "ARN of the role EventBridge uses to put this region's alarm state changes on the central bus (root module output alarm_forwarder_role_arn). Required when create_alarms is true."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_forwarder_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.alarm_forwarder_role_arn))
    error_message = "alarm_forwarder_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>) or null."
  }
}

variable "create_alarms" {
  description = "Create the alarms on this region's dead-letter queue and failed forwards, and the rule that sends their state changes to the central bus (and from there to the alert topic)."
  type        = bool
  default     = true
}

variable "dlq_retention_seconds" {
  description = "How long this region's dead-letter queue keeps events that could not be forwarded, in seconds (60 to 1209600)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600 && floor(var.dlq_retention_seconds) == var.dlq_retention_seconds
    error_message = "dlq_retention_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

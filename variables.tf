# Inputs of the braket-guard root module. Every validation message says what to change.

variable "name_prefix" {
  description = "Prefix of every resource name (function, table, bus, queue, topic, roles). Letters, digits and hyphens, starting with a letter, at most 32 characters."
  type        = string
  default     = "braket-guard"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,31}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and contain only letters, digits and hyphens, at most 32 characters (e.g. \"braket-guard\")."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports tags (keys 1 to 128 characters, values at most 256, not starting with \"aws:\")."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "Every tag key must be 1 to 128 characters and not start with \"aws:\" (reserved by AWS), every value at most 256 characters."
  }
}

variable "caps" {
  description = <<-EOT
    Shot and cost caps, rendered to the BRAKET_GUARD_CAPS JSON of the Lambda. Each cap:
    name (unique, [A-Za-z0-9_-]{1,64}); window ("day", "month" or "total");
    group_by ("account", "region", "device" or "tag:<key>"; default "account");
    devices (optional filter: device ARNs or the words "qpu"/"simulator");
    max_shots and/or max_cost_usd (at least one, 0 or more); warn_at (optional fractions in (0,1));
    on_breach ("cancel_task" (default), "cancel_queued" or "alert_only");
    kinds (optional: ["task"] (default), ["job"] or ["task", "job"]: what the cap counts, quantum
    tasks and/or the instance time of hybrid jobs).
  EOT
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

  validation {
    condition     = length(var.caps) > 0
    error_message = "caps is empty: give at least one cap, e.g. { name = \"daily-qpu\", window = \"day\", group_by = \"device\", max_shots = 10000 }."
  }
  validation {
    condition     = length(var.caps) <= 98
    error_message = "At most 98 caps: one DynamoDB transaction holds the task record, its open-work entry and every counter it falls in (100 items)."
  }
  validation {
    condition     = alltrue([for c in var.caps : can(regex("^[A-Za-z0-9_-]{1,64}$", c.name))])
    error_message = "Every cap name must be 1 to 64 characters of letters, digits, \"_\" or \"-\"."
  }
  validation {
    condition     = length(distinct([for c in var.caps : c.name])) == length(var.caps)
    error_message = "Cap names must be unique: rename the caps that share a name."
  }
  validation {
    condition     = alltrue([for c in var.caps : contains(["day", "month", "total"], c.window)])
    error_message = "Every cap window must be \"day\", \"month\" or \"total\"."
  }
  validation {
    condition     = alltrue([for c in var.caps : can(regex("^(account|region|device|tag:[\\p{L}\\p{N}_.:/=+@ -]{1,128})$", c.group_by))])
    error_message = "Every cap group_by must be \"account\", \"region\", \"device\" or \"tag:<key>\" with a tag key of 1 to 128 letters, digits, spaces and _ . : / = + @ - (e.g. \"tag:project\"; no comma, tab or newline)."
  }
  validation {
    condition = alltrue([for c in var.caps : c.devices == null ? true : (
      length(c.devices) > 0 && alltrue([for d in c.devices : length(d) <= 256 && can(regex("^(qpu|simulator|arn:aws[a-z-]*:braket:(?:[a-z]{2}(?:-[a-z]+)+-[0-9])?::device/(?:qpu|quantum-simulator)/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)$", d))])
    )])
    error_message = "Every entry of a cap's devices must be \"qpu\", \"simulator\" or a Braket device ARN (arn:aws:braket:<region>::device/qpu/<provider>/<name> or arn:aws:braket:::device/quantum-simulator/<provider>/<name>); leave devices unset (not empty) to match every device."
  }
  validation {
    condition     = alltrue([for c in var.caps : c.max_shots != null || c.max_cost_usd != null])
    error_message = "Every cap needs max_shots, max_cost_usd or both."
  }
  validation {
    condition     = alltrue([for c in var.caps : c.max_shots == null ? true : (c.max_shots >= 0 && c.max_shots <= 1000000000000000 && floor(c.max_shots) == c.max_shots)])
    error_message = "max_shots must be a whole number from 0 to 1000000000000000 (10^15; 0 stops every task the cap covers)."
  }
  validation {
    condition     = alltrue([for c in var.caps : c.max_cost_usd == null ? true : (c.max_cost_usd >= 0 && c.max_cost_usd <= 1000000000)])
    error_message = "max_cost_usd must be from 0 to 1000000000 US dollars (e.g. 25.5; 0 stops every priced task the cap covers)."
  }
  validation {
    condition     = alltrue([for c in var.caps : c.warn_at == null ? true : alltrue([for w in c.warn_at : w > 0 && w < 1])])
    error_message = "Every warn_at value must be a fraction strictly between 0 and 1 (e.g. [0.5, 0.8])."
  }
  validation {
    condition     = alltrue([for c in var.caps : contains(["cancel_task", "cancel_queued", "alert_only"], c.on_breach)])
    error_message = "Every cap on_breach must be \"cancel_task\", \"cancel_queued\" or \"alert_only\"."
  }
  validation {
    condition = alltrue([for c in var.caps : c.kinds == null ? true : (
      length(c.kinds) > 0 && length(distinct(c.kinds)) == length(c.kinds) && alltrue([for k in c.kinds : contains(["task", "job"], k)])
    )])
    error_message = "Every cap's kinds must be a non-empty list of distinct \"task\" and \"job\" (e.g. [\"job\"] for a hybrid-job budget); leave it unset to count tasks only."
  }
  validation {
    condition     = alltrue([for c in var.caps : !(try(toset(c.kinds) == toset(["job"]), false) && c.max_cost_usd == null)])
    error_message = "A cap that counts only hybrid jobs (kinds = [\"job\"]) needs max_cost_usd: jobs have no shots, so max_shots alone would guard nothing."
  }
}

variable "reservations" {
  description = "Braket Direct reservations: QPUs (device_arn) whose tasks may run in a reservation, until ends_at (ISO 8601 with a time zone; null: no end). Tasks on them are looked up with one GetQuantumTask; a task in a reservation is charged $0 against cost caps and never cancelled for cost (its shots still count). Rendered to BRAKET_GUARD_RESERVATIONS."
  type = list(object({
    device_arn = string
    ends_at    = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.reservations : length(r.device_arn) <= 256 && can(regex("^arn:aws[a-z-]*:braket:(?:[a-z]{2}(?:-[a-z]+)+-[0-9])?::device/qpu/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$", r.device_arn))])
    error_message = "Every reservations device_arn must be a QPU device ARN (arn:aws:braket:<region>::device/qpu/<provider>/<name>): reservations are for QPUs."
  }
  validation {
    condition     = alltrue([for r in var.reservations : r.ends_at == null ? true : can(formatdate("YYYY", r.ends_at))])
    error_message = "Every reservations ends_at must be an RFC 3339 timestamp with a time zone, e.g. \"2026-12-24T18:00:00Z\", or null."
  }
}

variable "mode" {
  description = "\"enforce\" cancels tasks on a breach; \"monitor\" only records and alerts."
  type        = string
  default     = "enforce"

  validation {
    condition     = contains(["enforce", "monitor"], var.mode)
    error_message = "mode must be \"enforce\" or \"monitor\"."
  }
}

variable "timezone" {
  description = "IANA time zone that starts the day and month windows (e.g. \"UTC\", \"Europe/Berlin\"). The Lambda rejects names missing from its zone database at start-up."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^(UTC|GMT|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$", var.timezone))
    error_message = "timezone must be an IANA zone name such as \"UTC\", \"America/New_York\" or \"Europe/Berlin\"."
  }
}

variable "alert_emails" {
  description = "Email addresses subscribed to the alert topic (each must confirm the subscription mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$", e))])
    error_message = "Every alert_emails entry must be an email address such as \"quantum-team@example.com\"."
  }
  validation {
    condition     = length(distinct(var.alert_emails)) == length(var.alert_emails)
    error_message = "alert_emails lists an address twice: remove the duplicate."
  }
}

variable "sns_topic_arn" {
  description = "Existing SNS topic for alerts and alarms. Null creates a topic named <name_prefix>-alerts. alert_emails are subscribed to whichever topic is used."
  type        = string
  default     = null

  validation {
    condition     = var.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.sns_topic_arn))
    error_message = "sns_topic_arn must be the ARN of a standard SNS topic (arn:aws:sns:<region>:<account>:<name>, the name of letters, digits, - and _) or null. FIFO topics (.fifo) cannot deliver email and are refused."
  }
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL for the SSM SecureString this module creates when create_slack_webhook_parameter is true. Ephemeral: it reaches SSM through a write-only argument and is in neither the plan, the state nor the Lambda environment (give it again at apply time when you apply a saved plan)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.slack_webhook_url == null || can(regex("^(https://[^\\s/]+/\\S+|http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?/\\S*)$", var.slack_webhook_url))
    error_message = "slack_webhook_url must be an https:// URL (e.g. https://hooks.slack.com/services/...); plain http is accepted only for a local sink on 127.0.0.1 or localhost."
  }
  validation {
    condition     = (var.slack_webhook_url != null) == var.create_slack_webhook_parameter
    error_message = "Set create_slack_webhook_parameter = true together with slack_webhook_url (the module then creates the SSM parameter), or neither: the URL is ephemeral, so only the flag can decide whether the parameter exists."
  }
}

variable "create_slack_webhook_parameter" {
  description = "Create the SSM SecureString /<name_prefix>/slack-webhook-url from slack_webhook_url (both or neither). Mutually exclusive with slack_webhook_parameter_name."
  type        = bool
  default     = false

  validation {
    condition     = !(var.create_slack_webhook_parameter && var.slack_webhook_parameter_name != null)
    error_message = "Set create_slack_webhook_parameter (with slack_webhook_url) or slack_webhook_parameter_name, not both."
  }
}

variable "slack_webhook_parameter_name" {
  description = "Name of an existing SSM SecureString parameter holding the Slack webhook URL (in the home region). Mutually exclusive with create_slack_webhook_parameter. If its key is a customer managed key other than kms_key_arn, give it as slack_webhook_kms_key_arn."
  type        = string
  default     = null

  validation {
    condition     = var.slack_webhook_parameter_name == null || can(regex("^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.slack_webhook_parameter_name))
    error_message = "slack_webhook_parameter_name must be an SSM parameter name such as \"/braket-guard/slack-webhook-url\" (letters, digits, \"_\", \".\", \"-\" and \"/\")."
  }
}

variable "slack_webhook_kms_key_arn" {
  description = "KMS key (home region) that encrypts the existing parameter slack_webhook_parameter_name, when it is not kms_key_arn nor the AWS managed alias/aws/ssm: the Lambda role gets kms:Decrypt on it through SSM only (kms:ViaService). Null otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.slack_webhook_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.slack_webhook_kms_key_arn))
    error_message = "slack_webhook_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias, or null."
  }
  validation {
    condition     = var.slack_webhook_kms_key_arn == null || var.slack_webhook_parameter_name != null
    error_message = "slack_webhook_kms_key_arn is the key of an existing parameter: set slack_webhook_parameter_name too (a parameter this module creates uses kms_key_arn)."
  }
}

variable "slack_webhook_version" {
  description = "Bump to push a changed slack_webhook_url (the value is write-only, so Terraform cannot see a change by itself)."
  type        = number
  default     = 1

  validation {
    condition     = var.slack_webhook_version >= 1 && floor(var.slack_webhook_version) == var.slack_webhook_version
    error_message = "slack_webhook_version must be a whole number of at least 1; increase it to write a new slack_webhook_url."
  }
}

variable "prices" {
  description = "Price overrides, as decimal strings in USD, keyed by device ARN or by ML instance type: { per_task_usd, per_shot_usd } for QPUs, { per_minute_usd } for simulators, { per_hour_usd } for a hybrid-job instance type such as ml.m5.large. `braket-guard prices --json` prints such a map from the AWS Price List."
  type = map(object({
    per_task_usd   = optional(string)
    per_shot_usd   = optional(string)
    per_minute_usd = optional(string)
    per_hour_usd   = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for key, p in var.prices : length(key) <= 256 && can(regex("^arn:aws[a-z-]*:braket:(?:[a-z]{2}(?:-[a-z]+)+-[0-9])?::device/(?:qpu|quantum-simulator)/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$", key)) || can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", key))])
    error_message = "Every prices key must be a Braket device ARN (arn:aws:braket:<region>::device/qpu/<provider>/<name> or arn:aws:braket:::device/quantum-simulator/<provider>/<name>) or an ML instance type such as ml.m5.large."
  }
  validation {
    condition = alltrue([for key, p in var.prices : alltrue([
      for v in [p.per_task_usd, p.per_shot_usd, p.per_minute_usd, p.per_hour_usd] : v == null ? true : (can(regex("^[0-9]+(\\.[0-9]+)?$", v)) && length(v) <= 40 && try(tonumber(v) <= 1000000000, false))
    ])])
    error_message = "Prices must be decimal strings such as \"0.30\" or \"0.00145\" (no sign, no exponent), from 0 to 1000000000 US dollars and at most 40 characters."
  }
  validation {
    condition = alltrue([for key, p in var.prices :
      can(regex("^ml\\.", key)) ? (p.per_hour_usd != null && p.per_task_usd == null && p.per_shot_usd == null && p.per_minute_usd == null) : true
    ])
    error_message = "A prices entry keyed by an ML instance type (ml.*) sets per_hour_usd and nothing else."
  }
  validation {
    condition = alltrue([for key, p in var.prices :
      can(regex("^ml\\.", key)) ? true : (p.per_hour_usd == null && (p.per_minute_usd != null ? (p.per_task_usd == null && p.per_shot_usd == null) : p.per_shot_usd != null))
    ])
    error_message = "Each device prices entry sets per_minute_usd (simulators) or per_shot_usd with an optional per_task_usd (QPUs; the fee defaults to the built-in 0.30), not both kinds, not per_task_usd alone and never per_hour_usd (only ML instance types are priced per hour)."
  }
}

variable "regions" {
  description = "Regions whose Braket tasks are guarded, exactly (BRAKET_GUARD_REGIONS). Null guards the home region (the provider's) alone, which needs Braket to run there. The home region is guarded only when listed: it then gets its forwarder from this module; every other region needs one modules/region-forwarder (see examples/multi-region and examples/tokyo)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.regions == null || try(length(var.regions) > 0, false)
    error_message = "regions is empty: list the Braket regions to guard (e.g. [\"us-east-1\"]), or leave it null to guard the home region."
  }
  validation {
    condition     = var.regions == null || alltrue([for r in coalesce(var.regions, []) : can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", r))])
    error_message = "Every regions entry must be an AWS region code such as \"us-east-1\" or \"eu-north-1\"."
  }
  validation {
    condition     = var.regions == null || length(distinct(coalesce(var.regions, []))) == length(coalesce(var.regions, []))
    error_message = "regions lists a region twice: remove the duplicate."
  }
  validation {
    condition     = var.regions == null || alltrue([for r in coalesce(var.regions, []) : contains(var.braket_regions, r)])
    error_message = "Amazon Braket does not run in every listed region: each regions entry must be in braket_regions (by default us-east-1, us-west-1, us-west-2, eu-west-2, eu-north-1). Remove the others, or add a region to braket_regions once Braket runs there."
  }
}

variable "braket_regions" {
  description = "Regions where Amazon Braket runs (data: devices come and go, override when AWS adds or removes a region). Every guarded region must be one of them; a home region outside this list is not guarded by default."
  type        = list(string)
  default     = ["us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1"]

  validation {
    condition     = length(var.braket_regions) > 0 && alltrue([for r in var.braket_regions : can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", r))])
    error_message = "braket_regions must list AWS region codes such as \"us-east-1\"."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key (in the home region) for the table, topic, queue, parameter, log group, schedules and Lambda environment. Null uses AWS owned/managed encryption. Its key policy must let the services that use it do so: docs/terraform.md has one to paste."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias, or null."
  }
}

variable "log_retention_days" {
  description = "Retention of the Lambda's CloudWatch log group, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the Lambda."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the Lambda."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.(1[1-9]|[2-9][0-9])$", var.lambda_runtime))
    error_message = "lambda_runtime must be python3.11 or later, e.g. \"python3.12\"."
  }
}

variable "lambda_architecture" {
  description = "Lambda instruction set; the package is pure Python and runs on both."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "lambda_memory_mb" {
  description = "Lambda memory size in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Lambda timeout in seconds. Mass cancellations are throttled by CancelQuantumTask (2/s), so leave room."
  type        = number
  default     = 120

  validation {
    condition     = var.lambda_timeout_seconds >= 20 && var.lambda_timeout_seconds <= 900 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds must be a whole number from 20 to 900 (the guard needs room for one AWS call that hits its timeouts, about 14 s, inside the Lambda timeout)."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency of the Lambda; -1 leaves it unreserved (new accounts often cannot reserve any). 0 is refused: it would stop the guard."
  type        = number
  default     = -1

  validation {
    condition     = (var.lambda_reserved_concurrency == -1 || var.lambda_reserved_concurrency >= 1) && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency
    error_message = "lambda_reserved_concurrency must be -1 (unreserved) or a whole number of at least 1: 0 would throttle every invocation and disable the guard."
  }
}

variable "lambda_environment_variables" {
  description = "Extra environment variables for the Lambda. They must not set the BRAKET_GUARD_* or LOG_LEVEL variables, which this module renders."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.lambda_environment_variables : !startswith(k, "BRAKET_GUARD_") && k != "LOG_LEVEL"])
    error_message = "lambda_environment_variables must not set BRAKET_GUARD_* or LOG_LEVEL: use the dedicated inputs (caps, mode, timezone, prices, log_level, ...)."
  }
  validation {
    condition     = alltrue([for k, v in var.lambda_environment_variables : can(regex("^[A-Za-z][A-Za-z0-9_]*$", k)) && !startswith(k, "AWS_")])
    error_message = "lambda_environment_variables keys must start with a letter, contain only letters, digits and \"_\", and not start with AWS_ (reserved by Lambda)."
  }
}

variable "lambda_package_path" {
  description = "Path of your own Lambda zip (handler braket_guard.handler.lambda_handler). Null uses the reproducible dist/braket-guard-lambda.zip committed with this module."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_package_path == null || endswith(coalesce(var.lambda_package_path, "-"), ".zip")
    error_message = "lambda_package_path must be the path of a .zip file, or null for the bundled package."
  }
}

variable "event_max_retry_attempts" {
  description = "How often EventBridge retries delivering an event to the Lambda before it goes to the dead-letter queue."
  type        = number
  default     = 20

  validation {
    condition     = var.event_max_retry_attempts >= 0 && var.event_max_retry_attempts <= 185 && floor(var.event_max_retry_attempts) == var.event_max_retry_attempts
    error_message = "event_max_retry_attempts must be a whole number from 0 to 185."
  }
}

variable "event_max_age_seconds" {
  description = "Maximum age of an event that EventBridge and Lambda still retry, in seconds (60 to 21600). Older events go to the dead-letter queue."
  type        = number
  default     = 3600

  validation {
    condition     = var.event_max_age_seconds >= 60 && var.event_max_age_seconds <= 21600 && floor(var.event_max_age_seconds) == var.event_max_age_seconds
    error_message = "event_max_age_seconds must be a whole number from 60 to 21600."
  }
}

variable "lambda_async_retry_attempts" {
  description = "Retries of a failed asynchronous Lambda invocation (0 to 2) before it goes to the on-failure destination (the dead-letter queue)."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.lambda_async_retry_attempts)
    error_message = "lambda_async_retry_attempts must be 0, 1 or 2."
  }
}

variable "dlq_retention_seconds" {
  description = "How long the dead-letter queue keeps failed events, in seconds (60 to 1209600)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be from 60 to 1209600 (14 days)."
  }
}

variable "create_alarms" {
  description = "Create CloudWatch alarms that notify the alert topic: Lambda errors, dead-letter queue not empty and EventBridge failed invocations in the home region, and in every guarded region its forwarder's dead-letter queue not empty and failed forwards (routed home through the central bus)."
  type        = bool
  default     = true
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard named <name_prefix>-<home region> of the guard's metrics: cost, shots and tasks per cap, spend prevented, cancel failures and guard errors, Lambda errors and throttles, dead-letter queue depth, EventBridge failed invocations and reconciliation corrections (all in the home region)."
  type        = bool
  default     = true
}

variable "spending_limits" {
  description = <<-EOT
    Native Braket spending limits (synchronous, per QPU device, created through Cloud Control as
    AWS::Braket::SpendingLimit in the device's region). Off (empty) by default. Limits for the
    home region are created by this module; pass spending_limits_by_region["<region>"] to the
    region-forwarder of every other region. limit_usd is a string such as "100.00";
    start_at/end_at are optional RFC 3339 times bounding the limit.
  EOT
  type = list(object({
    device_arn = string
    limit_usd  = string
    start_at   = optional(string)
    end_at     = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for l in var.spending_limits : length(l.device_arn) <= 256 && can(regex("^arn:aws[a-z-]*:braket:[a-z]{2}(?:-[a-z]+)+-[0-9]::device/qpu/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$", l.device_arn))])
    error_message = "Every spending_limits device_arn must be a QPU device ARN with a region (arn:aws:braket:<region>::device/qpu/...): simulators have no spending limits."
  }
  validation {
    condition     = alltrue([for l in var.spending_limits : can(regex("^[0-9]+(\\.[0-9]{1,2})?$", l.limit_usd))])
    error_message = "Every spending_limits limit_usd must be a USD amount string with at most two decimals, e.g. \"100.00\"."
  }
  validation {
    condition     = length(distinct([for l in var.spending_limits : l.device_arn])) == length(var.spending_limits)
    error_message = "A device has more than one spending limit: keep one entry per device_arn."
  }
  validation {
    condition = alltrue([for l in var.spending_limits : alltrue([
      for t in [l.start_at, l.end_at] : t == null ? true : can(formatdate("YYYY", t))
    ])])
    error_message = "spending_limits start_at/end_at must be RFC 3339 times such as \"2026-01-01T00:00:00Z\"."
  }
  validation {
    condition     = alltrue([for l in var.spending_limits : (l.start_at == null) == (l.end_at == null)])
    error_message = "Give both start_at and end_at of a spending limit, or neither."
  }
}

variable "native_limits" {
  description = <<-EOT
    Whether the guard drives Braket's native spending limits (BRAKET_GUARD_NATIVE_LIMITS; off by
    default). "freeze": when an enforcing cap grouped by account, region or device breaches, every
    QPU in the breached group gets a zero native limit until the window ends, so Braket refuses new
    tasks at CreateQuantumTask. "mirror_and_freeze": also keeps, for every enforcing cost cap
    grouped by device, one native limit per QPU equal to the room left in the cap's window, renewed
    at every window boundary. The guard only changes limits tagged braket-guard:owner with its
    table name; a device with any other limit falls back to cancelling. Enforce mode only.
  EOT
  type        = string
  default     = "off"

  validation {
    condition     = contains(["off", "freeze", "mirror_and_freeze"], var.native_limits)
    error_message = "native_limits must be \"off\", \"freeze\" or \"mirror_and_freeze\"."
  }
  validation {
    # Braket keeps one limit per device: a static limit of this module and a limit the guard manages
    # would fight over it (the second create fails, or the guard falls back to cancelling).
    condition = var.native_limits == "off" || alltrue([
      for l in var.spending_limits : !anytrue([
        for c in var.caps : c.on_breach != "alert_only" && contains(["account", "region", "device"], c.group_by)
        && (c.devices == null || contains(coalesce(c.devices, []), "qpu") || contains(coalesce(c.devices, []), l.device_arn))
      ])
    ])
    error_message = "native_limits is on and a spending_limits device is also in the scope of an enforcing account, region or device cap: the guard would manage a native limit on that device too, and Braket keeps one limit per device. Remove the device from spending_limits (the guard mirrors and freezes it) or narrow the caps' devices."
  }
}

variable "cancels_per_second" {
  description = "CancelQuantumTask calls per second that all guard invocations together keep to (BRAKET_GUARD_CANCELS_PER_SECOND), shared through a token bucket in the ledger table. Braket's default quota is 2 per second (burst 20); \"0\" turns pacing off. A decimal string from 0 to 100."
  type        = string
  default     = "2"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?$", var.cancels_per_second)) && try(tonumber(var.cancels_per_second) <= 100, false)
    error_message = "cancels_per_second must be a decimal number from 0 to 100 written as a string, e.g. \"2\" or \"0.5\" (\"0\" turns pacing off)."
  }
}

variable "reconcile_schedule" {
  description = "EventBridge Scheduler expression (in timezone) that invokes the Lambda with {\"braket_guard\": \"reconcile\"}: it searches the guarded regions for tasks whose events were missed and charges running hybrid jobs. A rate(...) period is rendered to BRAKET_GUARD_RECONCILE_SECONDS (the horizon over which a running job's cost is projected; not rendered for the default 900 s, \"0\" for null or cron(...)). Caps that count jobs (kinds contains \"job\") need a rate. Null disables it."
  type        = string
  default     = "rate(15 minutes)"

  validation {
    condition     = var.reconcile_schedule == null || can(regex("^(rate|cron)\\(.+\\)$", var.reconcile_schedule))
    error_message = "reconcile_schedule must be a schedule expression such as \"rate(15 minutes)\" or \"cron(0/15 * * * ? *)\", or null."
  }
  validation {
    # Scheduler's rate syntax: a positive whole number and minute(s), hour(s) or day(s). The period
    # is rendered in seconds (schedules.tf), so it must be read exactly.
    condition     = !startswith(coalesce(var.reconcile_schedule, "-"), "rate(") || can(regex("^rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)$", coalesce(var.reconcile_schedule, "-")))
    error_message = "A rate reconcile_schedule must be rate(<positive whole number> <minute|minutes|hour|hours|day|days>), e.g. \"rate(15 minutes)\" or \"rate(1 hour)\"."
  }
  validation {
    condition     = !anytrue([for c in var.caps : try(contains(c.kinds, "job"), false)]) || startswith(coalesce(var.reconcile_schedule, "-"), "rate(")
    error_message = "A cap counts hybrid jobs (kinds contains \"job\"): that needs reconciliation at a fixed period. Braket sends job events only on state changes, so a running job is charged only by reconciliation, and the guard projects its cost over one period to stop it in time (BRAKET_GUARD_RECONCILE_SECONDS). Set reconcile_schedule to a rate expression such as \"rate(15 minutes)\" (not null, not cron(...)), or remove \"job\" from the caps' kinds."
  }
}

variable "digest_schedule" {
  description = "EventBridge Scheduler expression (in timezone) that sends the daily digest ({\"braket_guard\": \"digest\"}); before noon it covers the previous day. Null disables it."
  type        = string
  default     = "cron(0 8 * * ? *)"

  validation {
    condition     = var.digest_schedule == null || can(regex("^(rate|cron|at)\\(.+\\)$", var.digest_schedule))
    error_message = "digest_schedule must be a schedule expression such as \"cron(0 8 * * ? *)\", or null."
  }
}

variable "digest_always" {
  description = "Send the daily digest even for a day where nothing happened (BRAKET_GUARD_DIGEST_ALWAYS)."
  type        = bool
  default     = false
}

variable "reconcile_alert_usd" {
  description = "Alert (once a day) when a reconciliation corrects more than this many USD (BRAKET_GUARD_RECONCILE_ALERT_USD, decimal string). Null keeps the package default (10)."
  type        = string
  default     = null

  validation {
    condition     = var.reconcile_alert_usd == null || (can(regex("^[0-9]+(\\.[0-9]+)?$", var.reconcile_alert_usd)) && length(coalesce(var.reconcile_alert_usd, "0")) <= 40 && try(tonumber(var.reconcile_alert_usd) <= 1000000000, false))
    error_message = "reconcile_alert_usd must be a decimal string such as \"10\" or \"2.50\" from 0 to 1000000000 US dollars (at most 40 characters), or null."
  }
}

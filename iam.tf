# IAM: the Lambda's role (exactly the calls the package makes) and the one forwarder role that
# every region's forwarding rule uses to put events on the central bus.

locals {
  quantum_task_arns = [for r in local.regions : "${local.arn_prefix}:braket:${r}:${local.account_id}:quantum-task/*"]
  job_arns          = [for r in local.regions : "${local.arn_prefix}:braket:${r}:${local.account_id}:job/*"]
  # Devices are AWS's, not the account's: QPU ARNs carry their region and no account
  # (arn:aws:braket:us-east-1::device/qpu/...), simulators neither (arn:aws:braket:::device/...).
  # One pattern covers every form, including any a new device kind may use.
  device_arns       = ["${local.arn_prefix}:braket:*:*:device/*"]
  forward_rule_arns = [for r in local.regions : "${local.arn_prefix}:events:${r}:${local.account_id}:rule/${local.names.forward_rule}"]
  alarm_rule_arns   = [for r in local.regions : "${local.arn_prefix}:events:${r}:${local.account_id}:rule/${local.names.forward_rule}-alarms"]

  # Every KMS statement is limited to the services that use the key on the principal's behalf.
  kms_via = {
    lambda    = [for s in ["dynamodb", "sns", "sqs", "ssm"] : "${s}.${local.home_region}.amazonaws.com"]
    scheduler = [for s in ["scheduler", "sqs"] : "${s}.${local.home_region}.amazonaws.com"]
  }

  # Native spending limits (var.native_limits): the guard creates limits tagged with its owner tag
  # and changes or deletes only limits carrying it. Per the Service Authorization Reference for
  # Braket: CreateSpendingLimit authorizes on the device and the new spending-limit (aws:RequestTag,
  # aws:TagKeys) and, with tags, also needs braket:TagResource; DeleteSpendingLimit and
  # TagResource support aws:ResourceTag on the spending-limit; SearchSpendingLimits has no resource
  # type ("*" only).
  #
  # Search, ListTagsForResource and Delete are granted in every setting, off included: the guard can always find and
  # remove the limits it created (after a switch to off, and at uninstall, when destroy invokes the
  # native_cleanup action before the role loses them: native_cleanup.tf). Create and TagResource
  # only while native limits are on. No UpdateSpendingLimit: the guard never changes a limit (a
  # freeze or a new window is a new limit, since updating below the current spend may be refused),
  # so the role cannot either (issue 19; the Lambda side at the native branch, dcc135e).
  #
  # TagResource: the package never calls it directly; it is the dependent action of
  # CreateSpendingLimit with tags. It is conditioned on the owner tag of the resource too, so the
  # role cannot stamp its owner tag on a limit someone else made and take it over. UNCERTAIN (not
  # documented): whether Braket evaluates aws:ResourceTag of a tag-on-create against the tags of
  # the request. If it does not, real AWS denies CreateSpendingLimit: no limit is created (the
  # guard records the device's AccessDenied, alerts and keeps cancelling), which never locks a
  # QPU; the guard never gains a limit it does not own.
  native_owner_tag    = "braket-guard:owner"
  native_tag_keys     = ["braket-guard:owner", "braket-guard:window", "braket-guard:mirror-usd", "braket-guard:baseline-usd", "braket-guard:caps"]
  spending_limit_arns = [for r in local.regions : "${local.arn_prefix}:braket:${r}:${local.account_id}:spending-limit/*"]
  qpu_device_arns     = ["${local.arn_prefix}:braket:*:*:device/qpu/*"]
  native_limits_on    = var.native_limits != "off"
  native_owned        = { StringEquals = { "aws:ResourceTag/${local.native_owner_tag}" = local.names.table } }
  native_request_tags = {
    StringEquals                = { "aws:RequestTag/${local.native_owner_tag}" = local.names.table }
    "ForAllValues:StringEquals" = { "aws:TagKeys" = local.native_tag_keys }
  }
  native_statements = concat(
    [
      {
        # Read-only; the action supports no resource type in IAM.
        Sid      = "NativeLimitsSearch"
        Effect   = "Allow"
        Action   = ["braket:SearchSpendingLimits"]
        Resource = ["*"]
      },
      {
        # Read-only: the owner tag of a limit when SearchSpendingLimits returns no tags (they are
        # optional in its model), so the guard can still tell its own limits from others'.
        Sid      = "NativeLimitsTags"
        Effect   = "Allow"
        Action   = ["braket:ListTagsForResource"]
        Resource = local.spending_limit_arns
      },
      {
        Sid       = "NativeLimitsDelete"
        Effect    = "Allow"
        Action    = ["braket:DeleteSpendingLimit"]
        Resource  = local.spending_limit_arns
        Condition = local.native_owned
      },
    ],
    [for statement in [
      {
        Sid       = "NativeLimitsCreate"
        Effect    = "Allow"
        Action    = ["braket:CreateSpendingLimit"]
        Resource  = concat(local.qpu_device_arns, local.spending_limit_arns)
        Condition = local.native_request_tags
      },
      {
        Sid       = "NativeLimitsTagOnCreate"
        Effect    = "Allow"
        Action    = ["braket:TagResource"]
        Resource  = local.spending_limit_arns
        Condition = merge(local.native_request_tags, { StringEquals = merge(local.native_request_tags.StringEquals, local.native_owned.StringEquals) })
      },
    ] : statement if local.native_limits_on],
  )

  lambda_statements = concat(
    local.native_statements,
    [
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.arns.log_group}:*"]
      },
      {
        # Exactly the calls of lambda/braket_guard (checked by tests/terraform/test_iam_contract.py).
        # TransactWriteItems has no IAM action of its own: its Put, Update and Delete items are
        # authorised as PutItem, UpdateItem and DeleteItem (the open-work entries are deleted in
        # the transaction that finishes the work; ConditionCheck items would need
        # dynamodb:ConditionCheckItem, which the package does not use).
        Sid      = "Ledger"
        Effect   = "Allow"
        Action   = ["dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
        Resource = [local.arns.table]
      },
      {
        Sid      = "BraketTasks"
        Effect   = "Allow"
        Action   = ["braket:CancelQuantumTask", "braket:GetQuantumTask"]
        Resource = local.quantum_task_arns
      },
      {
        # SearchQuantumTasks and SearchJobs support no resource type or condition key in IAM: "*" is the
        # only resource it can be granted on. It is read-only.
        Sid      = "BraketSearch"
        Effect   = "Allow"
        Action   = ["braket:SearchJobs", "braket:SearchQuantumTasks"]
        Resource = ["*"]
      },
      {
        # Hybrid jobs: their instance configuration and billed time, and CancelJob at a cap.
        Sid      = "BraketJobs"
        Effect   = "Allow"
        Action   = ["braket:CancelJob", "braket:GetJob"]
        Resource = local.job_arns
      },
      {
        Sid      = "BraketDevices"
        Effect   = "Allow"
        Action   = ["braket:GetDevice"]
        Resource = local.device_arns
      },
      {
        Sid      = "Alerts"
        Effect   = "Allow"
        Action   = ["sns:Publish"]
        Resource = [local.arns.topic]
      },
      {
        Sid      = "DeadLetters"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [local.arns.dlq]
      },
    ],
    local.slack_parameter_name == null ? [] : [{
      Sid      = "SlackWebhook"
      Effect   = "Allow"
      Action   = ["ssm:GetParameter"]
      Resource = [local.arns.slack_parameter]
    }],
    var.kms_key_arn == null ? [] : [{
      # Decrypt: the SecureString and the ledger; GenerateDataKey: publishing to the encrypted
      # topic, sending to the encrypted queue and writing the ledger. Only through those services.
      Sid       = "Kms"
      Effect    = "Allow"
      Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource  = [var.kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = local.kms_via.lambda } }
    }],
    var.slack_webhook_kms_key_arn == null ? [] : [{
      # An existing Slack parameter encrypted with a key of its own: decrypt it through SSM only.
      Sid       = "SlackWebhookKms"
      Effect    = "Allow"
      Action    = ["kms:Decrypt"]
      Resource  = [var.slack_webhook_kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = "ssm.${local.home_region}.amazonaws.com" } }
    }],
  )
}

resource "aws_iam_role" "lambda" {
  name        = local.names.lambda_role
  description = "braket-guard Lambda"
  tags        = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "lambda" {
  name = "braket-guard"
  role = aws_iam_role.lambda.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.lambda_statements
  })
}

resource "aws_iam_role" "forwarder" {
  name        = local.names.forwarder_role
  description = "Lets the braket-guard forwarding rules put Braket events on the central bus"
  tags        = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnEquals    = { "aws:SourceArn" = local.forward_rule_arns }
      }
    }]
  })
}

resource "aws_iam_role_policy" "forwarder" {
  name = "put-events-on-central-bus"
  role = aws_iam_role.forwarder.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "CentralBusOnly"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = [local.arns.bus]
    }]
  })
}

# A role of its own for the alarm state changes of the forwarding alarms, so that a problem with
# the task forwarder role (the very thing those alarms report) does not also stop the alarm.
resource "aws_iam_role" "alarm_forwarder" {
  count       = var.create_alarms ? 1 : 0
  name        = local.names.alarm_forwarder_role
  description = "Lets the braket-guard alarm rules of the guarded regions put alarm state changes on the central bus"
  tags        = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnEquals    = { "aws:SourceArn" = local.alarm_rule_arns }
      }
    }]
  })
}

resource "aws_iam_role_policy" "alarm_forwarder" {
  count = var.create_alarms ? 1 : 0
  name  = "put-events-on-central-bus"
  role  = aws_iam_role.alarm_forwarder[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "CentralBusOnly"
      Effect   = "Allow"
      Action   = ["events:PutEvents"]
      Resource = [local.arns.bus]
    }]
  })
}

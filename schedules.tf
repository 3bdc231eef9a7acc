# Scheduled work of the Lambda (EventBridge Scheduler, in var.timezone): reconciliation of missed
# events and the daily digest. Each schedule invokes the function with a constant input.

locals {
  # The reconcile period in seconds (BRAKET_GUARD_RECONCILE_SECONDS: how far ahead the job guard
  # projects a running job's cost). 0 when there is no fixed period: no schedule, or cron(...)
  # (variables.tf then refuses caps that count jobs). Not rendered for the default 900.
  reconcile_rate    = try(regex("^rate\\(([0-9]+) (minute|hour|day)s?\\)$", var.reconcile_schedule), null)
  reconcile_seconds = local.reconcile_rate == null ? 0 : tonumber(local.reconcile_rate[0]) * { minute = 60, hour = 3600, day = 86400 }[local.reconcile_rate[1]]

  schedules = {
    for name, s in {
      reconcile = { expression = var.reconcile_schedule, input = { braket_guard = "reconcile" }, description = "braket-guard: book Braket tasks whose events were missed" }
      digest    = { expression = var.digest_schedule, input = { braket_guard = "digest" }, description = "braket-guard: daily digest" }
      # At every local midnight (every day and month boundary in var.timezone): roll the mirrored
      # native limits into the new window and lift the freezes whose window ended.
      native-limits = { expression = var.native_limits == "off" ? null : "cron(0 0 * * ? *)", input = { braket_guard = "native_limits" }, description = "braket-guard: roll native spending limits at the window boundary" }
    } : name => s if s.expression != null
  }
}

resource "aws_iam_role" "scheduler" {
  count       = length(local.schedules) > 0 ? 1 : 0
  name        = local.names.scheduler_role
  description = "Lets the braket-guard schedules invoke the Lambda"
  tags        = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  count = length(local.schedules) > 0 ? 1 : 0
  name  = "invoke-braket-guard"
  role  = aws_iam_role.scheduler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "InvokeGuard"
          Effect   = "Allow"
          Action   = ["lambda:InvokeFunction"]
          Resource = [local.arns.function]
        },
        {
          Sid      = "DeadLetters"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [local.arns.dlq]
        },
      ],
      var.kms_key_arn == null ? [] : [{
        # The encrypted schedules and dead letters to the encrypted queue, through those services.
        Sid       = "Kms"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.kms_via.scheduler } }
      }],
    )
  })
}

resource "aws_scheduler_schedule" "guard" {
  #checkov:skip=CKV_AWS_297:The schedule's input is a constant action name, no data to protect; it is encrypted with var.kms_key_arn when one is given.
  for_each                     = local.schedules
  name                         = "${var.name_prefix}-${each.key}"
  description                  = each.value.description
  schedule_expression          = each.value.expression
  schedule_expression_timezone = var.timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.guard.arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode(each.value.input)

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 900
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq.arn
    }
  }

  # The scheduler's policy, and the destroy-time native_cleanup (native_cleanup.tf): a schedule is
  # removed before the cleanup runs, so no reconciliation or boundary run follows it.
  depends_on = [aws_iam_role_policy.scheduler, aws_lambda_invocation.native_cleanup]
}

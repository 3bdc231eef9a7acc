# Optional CloudWatch dashboard (var.create_dashboard, on by default): usage per cap, rejections
# and cancellations, spend prevented, guard errors, dead letters, EventBridge delivery and
# reconciliation.
#
# The Lambda prints its metrics in embedded metric format (lambda/braket_guard/aws/metrics.py), so
# they land in the Lambda's region, namespace "BraketGuard": per cap (dimension Cap) for every
# decision, per operation (dimension Operation = "event" or "reconcile") for the rest. Money is
# integer micro-dollars; the widgets divide by 1e6 with metric math to show USD. Every widget
# names the home region, so the dashboard (a global resource) shows the same data from any
# console region. Names are built from var.name_prefix, so the body is known at plan time.

locals {
  dashboard = {
    namespace    = "BraketGuard"
    usage_period = 3600 # decisions and money: sums per hour
    ops_period   = 300  # errors, dead letters, delivery: sums/maxima per 5 minutes
  }

  # One time series per cap: SEARCH over the Cap dimension (exactly that dimension set), so a cap
  # added later shows up without a change here. A task counts once under every cap it falls in.
  dashboard_per_cap = {
    for m in [
      "TasksAdmitted", "TasksRejected", "TasksCancelled", "TasksRefunded", "CancelFailures",
      "ShotsAdmitted", "CostAdmittedMicroUSD", "CostPreventedMicroUSD", "CostRefundedMicroUSD",
      "SimulatorTrueUpMicroUSD",
    ] : m => "SEARCH('{${local.dashboard.namespace},Cap} MetricName=\"${m}\"', 'Sum', ${m == "CancelFailures" ? local.dashboard.ops_period : local.dashboard.usage_period})"
  }

  # Properties shared by every metric widget.
  dashboard_graph = {
    view    = "timeSeries"
    region  = local.home_region
    stacked = false
  }

  dashboard_widgets = [
    {
      type = "text", x = 0, y = 0, width = 24, height = 2
      properties = {
        markdown = join("\n", [
          "## braket-guard `${var.name_prefix}`",
          "Decisions of the Lambda `${local.names.function}` in ${local.home_region} (namespace `${local.dashboard.namespace}`), money in USD. A task counts once under every cap it falls in, so per-cap lines do not add up to a total. Logs: `${local.names.log_group}`; failed events: queue `${local.names.dlq}`.",
        ])
      }
    },
    {
      type = "metric", x = 0, y = 2, width = 12, height = 6
      properties = merge(local.dashboard_graph, {
        title = "Cost admitted per cap (USD per hour)"
        metrics = [
          [{ id = "cost", expression = local.dashboard_per_cap["CostAdmittedMicroUSD"], visible = false }],
          [{ id = "cost_usd", expression = "cost / 1000000", label = "USD" }],
        ]
        yAxis = { left = { label = "USD", showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 12, y = 2, width = 12, height = 6
      properties = merge(local.dashboard_graph, {
        title = "Shots admitted per cap (per hour)"
        metrics = [
          [{ id = "shots", expression = local.dashboard_per_cap["ShotsAdmitted"], label = "shots" }],
        ]
        yAxis = { left = { label = "shots", showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 0, y = 8, width = 12, height = 6
      properties = merge(local.dashboard_graph, {
        title = "Tasks per cap: admitted, rejected, cancelled, refunded (per hour)"
        metrics = [
          [{ id = "admitted", expression = local.dashboard_per_cap["TasksAdmitted"], label = "admitted" }],
          [{ id = "rejected", expression = local.dashboard_per_cap["TasksRejected"], label = "rejected" }],
          [{ id = "cancelled", expression = local.dashboard_per_cap["TasksCancelled"], label = "cancelled" }],
          [{ id = "refunded", expression = local.dashboard_per_cap["TasksRefunded"], label = "refunded" }],
        ]
        yAxis = { left = { label = "tasks", showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 12, y = 8, width = 12, height = 6
      properties = merge(local.dashboard_graph, {
        title = "Spend prevented per cap (USD per hour, cost of the cancelled tasks)"
        metrics = [
          [{ id = "prevented", expression = local.dashboard_per_cap["CostPreventedMicroUSD"], visible = false }],
          [{ id = "prevented_usd", expression = "prevented / 1000000", label = "prevented USD" }],
        ]
        yAxis = { left = { label = "USD", showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 0, y = 14, width = 12, height = 6
      properties = merge(local.dashboard_graph, {
        title  = "Failures (per 5 minutes): cancels, guard errors, dropped events, Lambda"
        stat   = "Sum"
        period = local.dashboard.ops_period
        metrics = [
          [{ id = "cancel_failures", expression = local.dashboard_per_cap["CancelFailures"], label = "cancel failures" }],
          [local.dashboard.namespace, "GuardErrors", "Operation", "event", { id = "guard_errors", label = "guard errors" }],
          [local.dashboard.namespace, "EventsDropped", "Operation", "event", { id = "dropped", label = "events dropped" }],
          ["AWS/Lambda", "Errors", "FunctionName", local.names.function, { id = "lambda_errors", label = "Lambda errors" }],
          ["AWS/Lambda", "Throttles", "FunctionName", local.names.function, { id = "lambda_throttles", label = "Lambda throttles" }],
        ]
        yAxis = { left = { showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 12, y = 14, width = 6, height = 6
      properties = merge(local.dashboard_graph, {
        title  = "Dead-letter queue ${local.names.dlq}"
        stat   = "Maximum"
        period = local.dashboard.ops_period
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.names.dlq, { id = "dlq_depth", label = "messages" }],
          ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.names.dlq, { id = "dlq_age", label = "oldest (s)", yAxis = "right" }],
        ]
        yAxis = { left = { label = "messages", showUnits = false, min = 0 }, right = { label = "seconds", showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 18, y = 14, width = 6, height = 6
      properties = merge(local.dashboard_graph, {
        title  = "EventBridge rule ${local.names.central_rule}"
        stat   = "Sum"
        period = local.dashboard.ops_period
        metrics = [
          ["AWS/Events", "FailedInvocations", "EventBusName", local.names.bus, "RuleName", local.names.central_rule, { id = "failed_invocations", label = "failed invocations" }],
          ["AWS/Events", "Invocations", "EventBusName", local.names.bus, "RuleName", local.names.central_rule, { id = "invocations", label = "invocations", yAxis = "right" }],
        ]
        yAxis = { left = { label = "failed", showUnits = false, min = 0 }, right = { label = "invocations", showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 0, y = 20, width = 12, height = 6
      properties = merge(local.dashboard_graph, {
        title  = "Reconciliation (per hour): tasks seen, corrections, USD corrected"
        stat   = "Sum"
        period = local.dashboard.usage_period
        metrics = [
          [local.dashboard.namespace, "ReconcileTasksSeen", "Operation", "reconcile", { id = "seen", label = "tasks seen" }],
          [local.dashboard.namespace, "ReconcileCorrections", "Operation", "reconcile", { id = "corrections", label = "corrections" }],
          [local.dashboard.namespace, "ReconcileCorrectionMicroUSD", "Operation", "reconcile", { id = "correction_micros", visible = false }],
          [{ id = "correction_usd", expression = "correction_micros / 1000000", label = "corrected USD", yAxis = "right" }],
        ]
        yAxis = { left = { label = "tasks", showUnits = false, min = 0 }, right = { label = "USD", showUnits = false, min = 0 } }
      })
    },
    {
      type = "metric", x = 12, y = 20, width = 12, height = 6
      properties = merge(local.dashboard_graph, {
        title = "Refunds and simulator true-ups per cap (USD per hour)"
        metrics = [
          [{ id = "refunded_micros", expression = local.dashboard_per_cap["CostRefundedMicroUSD"], visible = false }],
          [{ id = "refunded_usd", expression = "refunded_micros / 1000000", label = "refunded USD" }],
          [{ id = "trueup_micros", expression = local.dashboard_per_cap["SimulatorTrueUpMicroUSD"], visible = false }],
          [{ id = "trueup_usd", expression = "trueup_micros / 1000000", label = "simulator true-up USD" }],
        ]
        yAxis = { left = { label = "USD", showUnits = false } }
      })
    },
  ]
}

resource "aws_cloudwatch_dashboard" "guard" {
  count          = var.create_dashboard ? 1 : 0
  dashboard_name = local.names.dashboard
  dashboard_body = jsonencode({
    start          = "-PT24H"
    periodOverride = "inherit"
    widgets        = local.dashboard_widgets
  })
}

# One expect_failures run for every validation rule of variables.tf (a run per rule: a value
# that breaks that rule and no other). tests/terraform/test_validation_coverage.py checks that
# the count per variable matches the number of validation blocks.

mock_provider "aws" {
  source          = "./tests/terraform/mocks"
  override_during = plan
}

variables {
  caps = [{ name = "daily-qpu", window = "day", max_shots = 1000 }]
}

run "invalid_name_prefix_pattern" {
  command = plan

  variables {
    name_prefix = "9-starts-with-digit"
  }
  expect_failures = [var.name_prefix]
}

run "invalid_tags" {
  command = plan

  variables {
    tags = { "aws:owner" = "me" }
  }
  expect_failures = [var.tags]
}

run "invalid_slack_webhook_version" {
  command = plan

  variables {
    slack_webhook_version = 0
  }
  expect_failures = [var.slack_webhook_version]
}

run "invalid_caps_empty" {
  command = plan

  variables {
    caps = []
  }
  expect_failures = [var.caps]
}

run "invalid_caps_too_many" {
  command = plan

  variables {
    caps = [for i in range(99) : { name = "c${i}", window = "day", max_shots = 1 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_name_pattern" {
  command = plan

  variables {
    caps = [{ name = "has space", window = "day", max_shots = 1 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_names_unique" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", max_shots = 1 }, { name = "a", window = "month", max_shots = 2 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_window" {
  command = plan

  variables {
    caps = [{ name = "a", window = "week", max_shots = 1 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_group_by" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", group_by = "user", max_shots = 1 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_devices" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", devices = ["ionq"], max_shots = 1 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_needs_a_limit" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day" }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_max_shots_whole" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", max_shots = 10.5 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_max_cost_not_negative" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", max_cost_usd = -0.01 }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_warn_at_fraction" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", max_shots = 10, warn_at = [0.5, 1] }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_on_breach" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", max_shots = 10, on_breach = "cancel_all" }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_kinds" {
  command = plan

  variables {
    caps = [{ name = "a", window = "day", max_cost_usd = 10, kinds = ["jobs"] }]
  }
  expect_failures = [var.caps]
}

run "invalid_caps_job_shots_only" {
  command = plan

  variables {
    caps = [{ name = "jobs", window = "month", max_shots = 1000, kinds = ["job"] }]
  }
  expect_failures = [var.caps]
}

run "invalid_reservations_device" {
  command = plan

  variables {
    reservations = [{ device_arn = "arn:aws:braket:::device/quantum-simulator/amazon/sv1" }]
  }
  expect_failures = [var.reservations]
}

run "invalid_reservations_ends_at" {
  command = plan

  variables {
    reservations = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", ends_at = "2026-12-24" }]
  }
  expect_failures = [var.reservations]
}

run "invalid_mode" {
  command = plan

  variables {
    mode = "dry-run"
  }
  expect_failures = [var.mode]
}

run "invalid_timezone" {
  command = plan

  variables {
    timezone = "Mars Standard Time"
  }
  expect_failures = [var.timezone]
}

run "invalid_alert_emails_format" {
  command = plan

  variables {
    alert_emails = ["not-an-address"]
  }
  expect_failures = [var.alert_emails]
}

run "invalid_alert_emails_unique" {
  command = plan

  variables {
    alert_emails = ["a@example.com", "a@example.com"]
  }
  expect_failures = [var.alert_emails]
}

run "invalid_sns_topic_arn" {
  command = plan

  variables {
    sns_topic_arn = "alerts"
  }
  expect_failures = [var.sns_topic_arn]
}

run "invalid_slack_webhook_url_https" {
  command = plan

  variables {
    slack_webhook_url              = "http://hooks.slack.com/services/T/B/X"
    create_slack_webhook_parameter = true
  }
  expect_failures = [var.slack_webhook_url]
}

run "invalid_slack_webhook_url_without_flag" {
  command = plan

  variables {
    slack_webhook_url = "https://hooks.slack.com/services/T/B/X"
  }
  expect_failures = [var.slack_webhook_url]
}

run "invalid_create_slack_webhook_parameter_exclusive" {
  command = plan

  variables {
    slack_webhook_url              = "https://hooks.slack.com/services/T/B/X"
    create_slack_webhook_parameter = true
    slack_webhook_parameter_name   = "/ops/slack"
  }
  expect_failures = [var.create_slack_webhook_parameter]
}

run "invalid_slack_webhook_kms_key_arn" {
  command = plan

  variables {
    slack_webhook_parameter_name = "/ops/slack"
    slack_webhook_kms_key_arn    = "alias/slack"
  }
  expect_failures = [var.slack_webhook_kms_key_arn]
}

run "invalid_slack_webhook_kms_key_arn_needs_parameter" {
  command = plan

  variables {
    slack_webhook_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }
  expect_failures = [var.slack_webhook_kms_key_arn]
}

run "invalid_slack_webhook_parameter_name" {
  command = plan

  variables {
    slack_webhook_parameter_name = "bad name!"
  }
  expect_failures = [var.slack_webhook_parameter_name]
}

run "invalid_prices_key_arn" {
  command = plan

  variables {
    prices = { "Forte-1" = { per_shot_usd = "0.08" } }
  }
  expect_failures = [var.prices]
}

run "invalid_prices_decimal_strings" {
  command = plan

  variables {
    prices = { "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1" = { per_shot_usd = "8e-2" } }
  }
  expect_failures = [var.prices]
}

run "invalid_prices_one_kind" {
  command = plan

  variables {
    prices = { "arn:aws:braket:::device/quantum-simulator/amazon/sv1" = { per_minute_usd = "0.075", per_shot_usd = "0.01" } }
  }
  expect_failures = [var.prices]
}

run "invalid_prices_instance_type_per_hour_only" {
  command = plan

  variables {
    prices = { "ml.m5.large" = { per_hour_usd = "0.115", per_shot_usd = "0.01" } }
  }
  expect_failures = [var.prices]
}

run "invalid_regions_empty" {
  command = plan

  variables {
    regions = []
  }
  expect_failures = [var.regions]
}

run "invalid_regions_not_braket" {
  command = plan

  variables {
    regions = ["us-east-1", "ap-northeast-1"]
  }
  expect_failures = [var.regions]
}

run "invalid_braket_regions" {
  command = plan

  variables {
    braket_regions = ["Tokyo"]
  }
  expect_failures = [var.braket_regions]
}

run "invalid_regions_format" {
  command = plan

  variables {
    regions = ["US East"]
  }
  expect_failures = [var.regions]
}

run "invalid_regions_unique" {
  command = plan

  variables {
    regions = ["us-east-1", "us-west-1", "us-west-1"]
  }
  expect_failures = [var.regions]
}

run "invalid_kms_key_arn" {
  command = plan

  variables {
    kms_key_arn = "alias/braket-guard"
  }
  expect_failures = [var.kms_key_arn]
}

run "invalid_log_retention_days" {
  command = plan

  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "invalid_log_level" {
  command = plan

  variables {
    log_level = "TRACE"
  }
  expect_failures = [var.log_level]
}

run "invalid_lambda_runtime" {
  command = plan

  variables {
    lambda_runtime = "python3.9"
  }
  expect_failures = [var.lambda_runtime]
}

run "invalid_lambda_architecture" {
  command = plan

  variables {
    lambda_architecture = "arm"
  }
  expect_failures = [var.lambda_architecture]
}

run "invalid_lambda_memory_mb" {
  command = plan

  variables {
    lambda_memory_mb = 64
  }
  expect_failures = [var.lambda_memory_mb]
}

run "invalid_lambda_timeout_seconds" {
  command = plan

  variables {
    lambda_timeout_seconds = 901
  }
  expect_failures = [var.lambda_timeout_seconds]
}

run "invalid_lambda_reserved_concurrency" {
  command = plan

  variables {
    lambda_reserved_concurrency = 0
  }
  expect_failures = [var.lambda_reserved_concurrency]
}

run "invalid_lambda_environment_variables_reserved" {
  command = plan

  variables {
    lambda_environment_variables = { BRAKET_GUARD_MODE = "monitor" }
  }
  expect_failures = [var.lambda_environment_variables]
}

run "invalid_lambda_environment_variables_keys" {
  command = plan

  variables {
    lambda_environment_variables = { AWS_REGION = "x" }
  }
  expect_failures = [var.lambda_environment_variables]
}

run "invalid_lambda_package_path" {
  command = plan

  variables {
    lambda_package_path = "./package.tar.gz"
  }
  expect_failures = [var.lambda_package_path]
}

run "invalid_event_max_retry_attempts" {
  command = plan

  variables {
    event_max_retry_attempts = 200
  }
  expect_failures = [var.event_max_retry_attempts]
}

run "invalid_event_max_age_seconds" {
  command = plan

  variables {
    event_max_age_seconds = 30
  }
  expect_failures = [var.event_max_age_seconds]
}

run "invalid_lambda_async_retry_attempts" {
  command = plan

  variables {
    lambda_async_retry_attempts = 3
  }
  expect_failures = [var.lambda_async_retry_attempts]
}

run "invalid_dlq_retention_seconds" {
  command = plan

  variables {
    dlq_retention_seconds = 1209601
  }
  expect_failures = [var.dlq_retention_seconds]
}

run "invalid_spending_limits_qpu_arn" {
  command = plan

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:::device/quantum-simulator/amazon/sv1", limit_usd = "10.00" }]
  }
  expect_failures = [var.spending_limits]
}

run "invalid_spending_limits_amount_format" {
  command = plan

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "10.001" }]
  }
  expect_failures = [var.spending_limits]
}

run "invalid_spending_limits_one_per_device" {
  command = plan

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "10" }, { device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "20" }]
  }
  expect_failures = [var.spending_limits]
}

run "invalid_spending_limits_time_format" {
  command = plan

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "10", start_at = "yesterday", end_at = "tomorrow" }]
  }
  expect_failures = [var.spending_limits]
}

run "invalid_spending_limits_both_times" {
  command = plan

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "10", start_at = "2026-01-01T00:00:00Z" }]
  }
  expect_failures = [var.spending_limits]
}

run "invalid_reconcile_schedule" {
  command = plan

  variables {
    reconcile_schedule = "every 15 minutes"
  }
  expect_failures = [var.reconcile_schedule]
}

run "reconcile_rate_without_a_whole_period" {
  command = plan

  variables {
    reconcile_schedule = "rate(0.5 hours)"
  }
  expect_failures = [var.reconcile_schedule]
}

run "job_cap_without_a_reconcile_rate" {
  command = plan

  variables {
    caps               = [{ name = "jobs", window = "month", max_cost_usd = 100, kinds = ["task", "job"] }]
    reconcile_schedule = "cron(0/15 * * * ? *)"
  }
  expect_failures = [var.reconcile_schedule]
}

run "invalid_digest_schedule" {
  command = plan

  variables {
    digest_schedule = "08:00"
  }
  expect_failures = [var.digest_schedule]
}

run "invalid_reconcile_alert_usd" {
  command = plan

  variables {
    reconcile_alert_usd = "-1"
  }
  expect_failures = [var.reconcile_alert_usd]
}

run "invalid_native_limits_value" {
  command = plan

  variables {
    native_limits = "mirror"
  }
  expect_failures = [var.native_limits]
}

run "invalid_native_limits_with_a_static_limit_in_a_caps_scope" {
  command = plan

  variables {
    native_limits   = "freeze"
    caps            = [{ name = "daily-device", window = "day", group_by = "device", devices = ["qpu"], max_cost_usd = 100 }]
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "100.00" }]
  }
  expect_failures = [var.native_limits]
}

run "native_limits_with_a_static_limit_outside_every_caps_scope" {
  command = plan

  variables {
    native_limits   = "mirror_and_freeze"
    caps            = [{ name = "forte-day", window = "day", group_by = "device", devices = ["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"], max_cost_usd = 100 }, { name = "team", window = "month", group_by = "tag:team", max_cost_usd = 500 }]
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila", limit_usd = "100.00" }]
  }

  assert {
    condition     = aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_NATIVE_LIMITS"] == "mirror_and_freeze"
    error_message = "native_limits must reach the Lambda as BRAKET_GUARD_NATIVE_LIMITS"
  }
}

run "invalid_cancels_per_second" {
  command = plan

  variables {
    cancels_per_second = "2/s"
  }
  expect_failures = [var.cancels_per_second]
}

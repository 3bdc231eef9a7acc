# Adversarial review of issue 18: variables.tf accepts lambda_timeout_seconds from 3 to 900, but
# the handler's time budget (remaining time - 10 s reserve) must exceed the worst call (21 s) +
# 2 s before its first AWS call: with a timeout of 33 s or less every event raises
# DeadlineExceeded (tests/integration/test_review18.py shows it). Fails today: Terraform accepts 30.

mock_provider "aws" {
  source          = "./tests/terraform/mocks"
  override_during = plan
}

variables {
  caps = [{ name = "daily-qpu", window = "day", max_shots = 1000 }]
}

run "review18_lambda_timeout_too_short_for_the_time_budget_is_refused" {
  command = plan

  variables {
    lambda_timeout_seconds = 30
  }
  expect_failures = [var.lambda_timeout_seconds]
}

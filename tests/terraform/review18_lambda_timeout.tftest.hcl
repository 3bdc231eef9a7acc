# Adversarial review of issue 18: the handler's time budget is Lambda's remaining time less a 2 s
# reserve, and an AWS call may take up to 14 s at its timeouts (clients.LAMBDA): a Lambda timeout
# under clients.MIN_LAMBDA_TIMEOUT_SECONDS (20) could not hold one such call, so Terraform
# refuses it; 20 s guards a healthy event (tests/integration/test_review18.py).

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
    lambda_timeout_seconds = 19
  }
  expect_failures = [var.lambda_timeout_seconds]
}

run "review18_lambda_timeout_of_twenty_seconds_is_accepted" {
  command = plan

  variables {
    lambda_timeout_seconds = 20
  }

  assert {
    condition     = aws_lambda_function.guard.timeout == 20
    error_message = "a 20 s timeout must plan"
  }
}

# Adversarial review of issue 18: a cap number Terraform computes (100 / 3, 2 / 3) is rendered by
# jsonencode with about 155 digits. The Lambda accepts such a JSON number (strict.loads_json
# bounds a literal at 400 characters, its magnitude by the money range), so Terraform and the
# Lambda agree: both accept it (tests/unit/test_review18.py checks the Lambda with that text).

mock_provider "aws" {
  source          = "./tests/terraform/mocks"
  override_during = plan
}

variables {
  caps = [{ name = "daily-qpu", window = "day", max_shots = 1000 }]
}

run "review18_max_cost_usd_computed_by_division_is_accepted" {
  command = plan

  variables {
    caps = [{ name = "daily", window = "day", group_by = "account", max_cost_usd = 100 / 3, warn_at = [2 / 3] }]
  }

  assert {
    condition     = length(jsondecode(aws_lambda_function.guard.environment[0].variables["BRAKET_GUARD_CAPS"])) == 1
    error_message = "a computed max_cost_usd and warn_at must plan and be rendered"
  }
}

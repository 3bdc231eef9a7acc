# Adversarial review of issue 18: values variables.tf accepts that the Lambda's parsers refuse
# (each is a ConfigError on every invocation: the guard is down). Each run fails today because
# Terraform plans without the validation failure the run expects. One rule on both sides: either
# Terraform refuses these, or the Lambda accepts them (tests/unit/test_review18.py shows the
# Lambda side with what Terraform renders).

mock_provider "aws" {
  source          = "./tests/terraform/mocks"
  override_during = plan
}

variables {
  caps = [{ name = "daily-qpu", window = "day", max_shots = 1000 }]
}

# jsonencode renders 100/3 with 155 characters; strict.loads_json refuses numbers over 40.
run "review18_max_cost_usd_computed_by_division_is_refused" {
  command = plan

  variables {
    caps = [{ name = "daily", window = "day", group_by = "account", max_cost_usd = 100 / 3 }]
  }
  expect_failures = [var.caps]
}

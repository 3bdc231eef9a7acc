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

# config.SNS_ARN allows no '.' in a topic name, and load_config refuses FIFO topics (the
# second run is skipped while the first fails; it fails alone too).
run "review18_sns_topic_with_a_dot_is_refused" {
  command = plan

  variables {
    sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:team.alerts"
  }
  expect_failures = [var.sns_topic_arn]
}

run "review18_fifo_sns_topic_is_refused" {
  command = plan

  variables {
    sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:alerts.fifo"
  }
  expect_failures = [var.sns_topic_arn]
}

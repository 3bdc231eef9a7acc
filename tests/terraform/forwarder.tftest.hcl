# Validation rules of modules/region-forwarder, one expect_failures run each.

mock_provider "aws" {
  source          = "./tests/terraform/mocks"
  override_during = plan
}

variables {
  central_event_bus_arn = "arn:aws:events:us-east-1:123456789012:event-bus/braket-guard-events"
  forwarder_role_arn    = "arn:aws:iam::123456789012:role/braket-guard-forwarder"
}

run "forwarder_plan" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", limit_usd = "100.00", start_at = "2026-01-01T00:00:00Z", end_at = "2026-02-01T00:00:00Z" }]
  }

  assert {
    condition     = aws_cloudwatch_event_rule.forward.event_bus_name == "default" && aws_cloudwatch_event_rule.forward.name == "braket-guard-forward-braket-tasks"
    error_message = "The forwarding rule lives on the default bus with the name the forwarder role trusts."
  }
  assert {
    condition     = aws_cloudwatch_event_target.central_bus.arn == var.central_event_bus_arn && aws_cloudwatch_event_target.central_bus.role_arn == var.forwarder_role_arn
    error_message = "The target is the central bus, put with the forwarder role."
  }
  assert {
    condition     = jsondecode(aws_cloudcontrolapi_resource.spending_limit["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"].desired_state).TimePeriod == { StartAt = "2026-01-01T00:00:00Z", EndAt = "2026-02-01T00:00:00Z" } && aws_cloudcontrolapi_resource.spending_limit["arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"].type_name == "AWS::Braket::SpendingLimit"
    error_message = "Spending limits become AWS::Braket::SpendingLimit resources with their time period."
  }
}

run "forwarder_limit_of_other_region" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    spending_limits = [{ device_arn = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet", limit_usd = "100.00" }]
  }
  expect_failures = [aws_cloudcontrolapi_resource.spending_limit]
}

run "invalid_forwarder_name_prefix" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    name_prefix = "-bad"
  }
  expect_failures = [var.name_prefix]
}

run "invalid_forwarder_central_event_bus_arn" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    central_event_bus_arn = "braket-guard-events"
  }
  expect_failures = [var.central_event_bus_arn]
}

run "invalid_forwarder_forwarder_role_arn" {
  command = plan
  module {
    source = "./modules/region-forwarder"
  }

  variables {
    forwarder_role_arn = "braket-guard-forwarder"
  }
  expect_failures = [var.forwarder_role_arn]
}

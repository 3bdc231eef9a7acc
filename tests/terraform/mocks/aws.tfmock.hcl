# Shared mock defaults for `terraform test`: realistic ARNs and IDs so that the plans of the
# module's IAM policies, targets and alarms look like real ones.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/terraform-test"
    user_id    = "AIDATERRAFORMTEST"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_region" {
  defaults = {
    id          = "us-east-1"
    name        = "us-east-1"
    description = "US East (N. Virginia)"
    endpoint    = "ec2.us-east-1.amazonaws.com"
  }
}

mock_resource "aws_cloudwatch_event_bus" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:event-bus/braket-guard-events"
  }
}

mock_resource "aws_cloudwatch_event_rule" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:rule/braket-guard-events/braket-guard-tasks-to-lambda"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn       = "arn:aws:iam::123456789012:role/braket-guard-mock"
    unique_id = "AROAMOCKROLE"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn                         = "arn:aws:lambda:us-east-1:123456789012:function:braket-guard"
    invoke_arn                  = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:braket-guard/invocations"
    qualified_arn               = "arn:aws:lambda:us-east-1:123456789012:function:braket-guard:$LATEST"
    version                     = "$LATEST"
    last_modified               = "2026-01-01T00:00:00.000+0000"
    signing_job_arn             = ""
    signing_profile_version_arn = ""
  }
}

mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:us-east-1:123456789012:braket-guard-dlq"
    id  = "https://sqs.us-east-1.amazonaws.com/123456789012/braket-guard-dlq"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/braket-guard-dlq"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:us-east-1:123456789012:braket-guard-alerts"
  }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    arn        = "arn:aws:dynamodb:us-east-1:123456789012:table/braket-guard-ledger"
    stream_arn = ""
  }
}

mock_resource "aws_ssm_parameter" {
  defaults = {
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/braket-guard/slack-webhook-url"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/braket-guard"
  }
}

mock_resource "aws_scheduler_schedule" {
  defaults = {
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/braket-guard-reconcile"
  }
}

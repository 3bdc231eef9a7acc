# Uninstall removes the native spending limits the guard created (issue 19): `terraform destroy`
# and `make clean` invoke the Lambda with {"braket_guard": "native_cleanup"} BEFORE the function,
# its role and policy (SearchSpendingLimits, and DeleteSpendingLimit on limits with its owner tag,
# granted in every native_limits setting: iam.tf), the ledger, the log group and the alert
# channels are removed. The Lambda deletes every limit the guard owns in every guarded region and
# fails the invocation while any remains, which stops the destroy with everything still in place
# (fix the cause, e.g. a denied call, and destroy again): no QPU keeps refusing tasks after the
# module is gone. It exists in every native_limits setting, off included: limits left by an
# earlier "freeze" or "mirror_and_freeze" are removed too.
#
# lifecycle_scope = "CRUD" (hashicorp/aws >= 5.1; read in the provider's source, and checked on
# 5.100 by the apply/destroy tests against moto): the function is also invoked on create and
# update, with the input augmented by {"tf": {"action": "create" | "update" | "delete",
# "prev_input": ...}} under terraform_key; the Lambda does nothing for create and update and
# answers {"action": "native_cleanup", "skipped": "<action>"}. A failed invocation (function
# error) fails the create, update or delete of this resource.
resource "aws_lambda_invocation" "native_cleanup" {
  function_name   = aws_lambda_function.guard.function_name
  input           = jsonencode({ braket_guard = "native_cleanup" })
  lifecycle_scope = "CRUD"
  terraform_key   = "tf"

  # Destroyed first: everything the cleanup uses is destroyed after it.
  depends_on = [
    aws_lambda_function.guard,
    aws_iam_role.lambda,
    aws_iam_role_policy.lambda,
    aws_dynamodb_table.ledger,
    aws_cloudwatch_log_group.guard,
    aws_sns_topic.alerts,
    aws_sns_topic_policy.alerts,
    aws_ssm_parameter.slack_webhook,
  ]
}

"""Adversarial review of issue 18, the pure parts: values Terraform's validation accepts that the
Lambda's parsers refuse (every one of them a ConfigError on every event: the guard is down).

Each test fails today."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from braket_guard.core.caps import parse_caps
from braket_guard.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

# What Terraform 1.x renders for `max_cost_usd = 100 / 3` and `warn_at = [2 / 3]` through
# lambda.tf's jsonencode (checked with `terraform apply` of `output "a" { value =
# jsonencode({x = 100/3}) }`: cty numbers are 512-bit floats and jsonencode prints every digit).
THIRD_OF_100 = "33." + "3" * 152
TWO_THIRDS = "0." + "6" * 153 + "7"


@pytest.mark.parametrize("field,rendered", [("max_cost_usd", THIRD_OF_100), ("warn_at", f"[{TWO_THIRDS}]")])
def test_a_computed_cap_number_terraform_accepts_is_accepted_by_the_lambda(field, rendered):
    """variables.tf checks max_cost_usd only as 0 <= x <= 1e9 and warn_at as 0 < w < 1, so a cap
    written as `max_cost_usd = var.monthly_budget / 30` (or warn_at = [2/3]) passes validation;
    jsonencode then renders it with about 155 digits, and strict.loads_json refuses any number of
    more than 40 characters: BRAKET_GUARD_CAPS is a ConfigError on every invocation (no cap is
    enforced at all). Expected: one rule on both sides: either Terraform refuses such a number
    (or rounds it), or the Lambda accepts what Terraform renders (the limit floored to micros)."""
    extra = f'"max_cost_usd": {THIRD_OF_100}' if field == "max_cost_usd" else f'"max_shots": 100, "warn_at": {rendered}'
    text = '[{"name":"daily","window":"day","group_by":"account",%s}]' % extra
    (cap,) = parse_caps(text)  # CapError today: "a number of 155 characters is out of range"
    assert cap.name == "daily"


def _terraform_sns_pattern() -> re.Pattern:
    text = (ROOT / "variables.tf").read_text("utf-8")
    block = text[text.index('variable "sns_topic_arn"'):]
    pattern = re.search(r'can\(regex\("(.+?)", var\.sns_topic_arn\)\)', block).group(1)
    return re.compile(pattern.replace("\\\\", "\\"))


@pytest.mark.parametrize("topic", ["arn:aws:sns:us-east-1:123456789012:team.alerts",
                                   "arn:aws:sns:us-east-1:123456789012:alerts.fifo"])
def test_an_sns_topic_arn_the_lambda_refuses_is_refused_by_terraform_too(topic):
    """var.sns_topic_arn was validated with [A-Za-z0-9_.-]{1,256} (a '.' anywhere, a .fifo topic
    too), config.SNS_ARN with [A-Za-z0-9_-]{1,256}(\\.fifo)? and a separate refusal of FIFO
    topics: `terraform apply` succeeded with either ARN and every invocation then failed with
    BRAKET_GUARD_SNS_TOPIC_ARN: ConfigError. Now Terraform refuses what the Lambda refuses (a
    dotted name, which SNS does not allow either, and a FIFO topic, which cannot email)."""
    assert not _terraform_sns_pattern().fullmatch(topic), "Terraform must refuse what the Lambda refuses"
    with pytest.raises(ConfigError, match="BRAKET_GUARD_SNS_TOPIC_ARN"):
        load_config({"BRAKET_GUARD_TABLE": "guard-table", "AWS_REGION": "us-east-1",
                     "BRAKET_GUARD_CAPS": '[{"name":"a","window":"day","max_shots":1}]',
                     "BRAKET_GUARD_SNS_TOPIC_ARN": topic})


BASE = {"BRAKET_GUARD_TABLE": "guard-table", "AWS_REGION": "us-east-1",
        "BRAKET_GUARD_CAPS": '[{"name":"a","window":"day","max_shots":1}]'}


@pytest.mark.parametrize("variable,value", [
    ("BRAKET_GUARD_MODE", "Monitor"),          # variables.tf: contains(["enforce", "monitor"], var.mode)
    ("BRAKET_GUARD_MODE", "monitor\n"),
    ("BRAKET_GUARD_TABLE", "guard-table\n"),
    ("BRAKET_GUARD_TIMEZONE", " Asia/Tokyo"),  # variables.tf: ^(UTC|GMT|[A-Z][A-Za-z_]+(/...){1,2})$
    ("BRAKET_GUARD_DIGEST_ALWAYS", "TRUE "),
])
def test_a_config_value_with_whitespace_or_capitals_is_refused_as_terraform_refuses_it(variable, value):
    """load_config's get() strips every value and MODE/DIGEST_ALWAYS are lower-cased, so
    "monitor\\n", "Monitor", "guard-table\\n" and " Asia/Tokyo" are accepted, while Terraform's
    validation refuses each, and BRAKET_GUARD_NATIVE_LIMITS in the same loader is read "exactly
    as given (no trimming): Terraform's validation sees the same text". Issue 18: every identifier
    matched whole, one rule on both sides. Expected: a ConfigError naming the variable."""
    from braket_guard.config import ConfigError
    with pytest.raises(ConfigError) as raised:
        load_config({**BASE, variable: value})
    assert str(raised.value).startswith(variable)


FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"


@pytest.mark.parametrize("variable,value", [
    ("BRAKET_GUARD_RESERVATIONS", [{"device_arn": "x" * 3000}]),
    ("BRAKET_GUARD_RESERVATIONS", [{"device_arn": FORTE, "ends_at": "y" * 3000}]),
    ("BRAKET_GUARD_RESERVATIONS", [{"device_arn": FORTE, "ends_at": ["y" * 100] * 30}]),
    ("BRAKET_GUARD_PRICES", {FORTE + "1" * 3000: "0.08"}),
    ("BRAKET_GUARD_PRICES", {FORTE + "1" * 3000: {"per_hour_usd": "1"}}),
])
def test_a_config_error_never_echoes_thousands_of_characters_of_input(variable, value):
    """strict.brief was introduced so that messages never echo unbounded input, and
    test_boundary holds every out-of-range setting to one line under 400 characters; but
    reservations.py still renders device_arn and ends_at with !r, and pricing.py the prices key
    (any length passes events.DEVICE_ARN) with !r: each ConfigError above is over 3,000
    characters (a whole list for ends_at), in the Lambda's error and every log line that carries it.
    All fit Lambda's 4 KB environment. Expected: one line under 400 characters naming the
    variable and field."""
    import json
    from braket_guard.config import ConfigError
    with pytest.raises(ConfigError) as raised:
        load_config({**BASE, variable: json.dumps(value)})
    message = str(raised.value)
    assert message.startswith(variable) and len(message) < 400, (len(message), message[:120])

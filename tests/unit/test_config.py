import pytest

from braket_guard.config import ConfigError, load_config

CAPS = '[{"name": "a", "window": "day", "group_by": "account", "max_shots": 10}]'


def env(**extra):
    base = {"BRAKET_GUARD_TABLE": "guard-ledger", "BRAKET_GUARD_CAPS": CAPS}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def test_defaults():
    config = load_config(env())
    assert (config.mode, str(config.zone), config.sns_topic_arn, config.slack_webhook_parameter) == (
        "enforce", "UTC", None, None)
    assert config.enforcing


def test_all_set():
    config = load_config(env(BRAKET_GUARD_MODE="monitor", BRAKET_GUARD_TIMEZONE="Asia/Tokyo",
                             BRAKET_GUARD_SNS_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:guard",
                             BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER="/braket-guard/slack"))
    assert not config.enforcing and str(config.zone) == "Asia/Tokyo"


@pytest.mark.parametrize("change,message", [
    ({"BRAKET_GUARD_TABLE": None}, "BRAKET_GUARD_TABLE: not set"),
    ({"BRAKET_GUARD_TABLE": "a b"}, "BRAKET_GUARD_TABLE"),
    ({"BRAKET_GUARD_CAPS": None}, "BRAKET_GUARD_CAPS: not set"),
    ({"BRAKET_GUARD_CAPS": "[{}]"}, r"BRAKET_GUARD_CAPS\[0\]\.name"),
    ({"BRAKET_GUARD_MODE": "audit"}, "BRAKET_GUARD_MODE"),
    ({"BRAKET_GUARD_TIMEZONE": "Europe/Atlantis"}, "BRAKET_GUARD_TIMEZONE"),
    ({"BRAKET_GUARD_PRICES": "{"}, "BRAKET_GUARD_PRICES"),
    ({"BRAKET_GUARD_SNS_TOPIC_ARN": "guard-topic"}, "BRAKET_GUARD_SNS_TOPIC_ARN"),
    ({"BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER": "https://hooks.slack.com/services/T/B/secret"},
     "BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"),
])
def test_errors_name_the_variable(change, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(env(**change))
    assert "secret" not in str(info.value)

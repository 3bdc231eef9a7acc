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


def test_operating_settings():
    config = load_config(env(BRAKET_GUARD_REGIONS="us-east-1, eu-north-1,us-east-1",
                             BRAKET_GUARD_RECONCILE_ALERT_USD="2.50", BRAKET_GUARD_DIGEST_ALWAYS="true"))
    assert config.regions == ("us-east-1", "eu-north-1")
    assert config.reconcile_alert_micros == 2_500_000 and config.digest_always
    assert load_config(env(BRAKET_GUARD_REGIONS='["us-west-1"]')).regions == ("us-west-1",)
    assert load_config({**env(), "AWS_REGION": "eu-west-2"}).regions == ("eu-west-2",)


@pytest.mark.parametrize("change,message", [
    ({"BRAKET_GUARD_REGIONS": "mars-1"}, "BRAKET_GUARD_REGIONS"),
    ({"BRAKET_GUARD_REGIONS": "[1]"}, "BRAKET_GUARD_REGIONS"),
    ({"BRAKET_GUARD_REGIONS": "[oops"}, "BRAKET_GUARD_REGIONS"),
    ({"BRAKET_GUARD_RECONCILE_ALERT_USD": "-1"}, "BRAKET_GUARD_RECONCILE_ALERT_USD"),
    ({"BRAKET_GUARD_RECONCILE_ALERT_USD": "lots"}, "BRAKET_GUARD_RECONCILE_ALERT_USD"),
    ({"BRAKET_GUARD_DIGEST_ALWAYS": "yes"}, "BRAKET_GUARD_DIGEST_ALWAYS"),
])
def test_operating_settings_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env(**change))

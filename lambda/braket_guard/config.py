"""Configuration from environment variables (the contract Terraform renders), validated once.

Every problem raises ``ConfigError`` naming the variable and field, so a bad deployment fails
loudly on its first invocation instead of guarding nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Mapping
from zoneinfo import ZoneInfo

from braket_guard.core import strict
from braket_guard.core.caps import Cap, CapError, parse_caps
from braket_guard.core.pricing import PriceBook, PriceError, build_price_book
from braket_guard.core.reservations import Reservation, ReservationError, parse_reservations
from braket_guard.core.strict import brief
from braket_guard.core.windows import load_zone
from braket_guard.native.rules import MODES as NATIVE_MODES
from braket_guard.native.rules import OFF as NATIVE_OFF

ENFORCE, MONITOR = "enforce", "monitor"
MODES = (ENFORCE, MONITOR)
# Whole-string matches with ASCII classes: [0-9], not \d (any Unicode digit), and \Z, not $
# (which also matches before a trailing newline).
SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")
SSM_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,2048}\Z")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]\Z")
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}\Z")
ENV_PREFIX = "BRAKET_GUARD_"
# Where Braket runs at the end of 2026 (devices come and go): only the default of the guarded
# regions when BRAKET_GUARD_REGIONS is unset. The Terraform module always renders that variable.
BRAKET_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1")


class ConfigError(ValueError):
    """The guard's configuration is unusable; the message says which variable to fix."""


@dataclass(frozen=True)
class Config:
    table: str
    caps: tuple[Cap, ...]
    mode: str
    zone: ZoneInfo
    prices: PriceBook
    sns_topic_arn: str | None = None
    slack_webhook_parameter: str | None = None
    regions: tuple[str, ...] = ()  # regions reconciliation and the digest search
    reconcile_alert_micros: int = 10_000_000
    digest_always: bool = False
    reservations: tuple[Reservation, ...] = ()  # QPUs whose tasks may run in a reservation
    native_limits: str = NATIVE_OFF  # off | freeze | mirror_and_freeze (native_limits.py)
    cancels_per_second: Decimal = Decimal(2)  # shared CancelQuantumTask budget; 0: no pacing
    reconcile_seconds: int | None = 900  # the reconcile schedule's period; None: no fixed period

    @property
    def enforcing(self) -> bool:
        return self.mode == ENFORCE


def load_config(environ: Mapping[str, str]) -> Config:
    def get(name: str) -> str | None:
        # Exactly as given, as Terraform's validation sees it: no trimming, no case folding.
        value = environ.get(ENV_PREFIX + name)
        return value if value else None

    table = get("TABLE")
    if not table:
        raise ConfigError("BRAKET_GUARD_TABLE: not set; give the DynamoDB table name")
    if not TABLE_NAME.match(table):
        raise ConfigError(f"BRAKET_GUARD_TABLE: not a valid DynamoDB table name: {brief(table)}")
    try:
        caps = parse_caps(environ.get(ENV_PREFIX + "CAPS"))
    except CapError as exc:
        raise ConfigError(str(exc)) from None
    mode = get("MODE") or ENFORCE
    if mode not in MODES:
        raise ConfigError(f"BRAKET_GUARD_MODE: must be 'enforce' or 'monitor', got {brief(mode)}")
    zone_name = get("TIMEZONE") or "UTC"
    try:
        zone = load_zone(zone_name)
    except ValueError as exc:
        raise ConfigError(f"BRAKET_GUARD_TIMEZONE: {exc}") from None
    try:
        prices = build_price_book(get("PRICES"))
    except PriceError as exc:
        raise ConfigError(str(exc)) from None
    topic = get("SNS_TOPIC_ARN")
    if topic and not SNS_ARN.match(topic):
        raise ConfigError(f"BRAKET_GUARD_SNS_TOPIC_ARN: not an SNS topic ARN: {brief(topic)}")
    if topic and topic.endswith(".fifo"):
        # FIFO topics need a MessageGroupId on every publish and deliver to SQS only, never to
        # email: the alerts would all fail. Refuse it here, naming the topic.
        raise ConfigError(f"BRAKET_GUARD_SNS_TOPIC_ARN: {topic} is a FIFO topic; FIFO topics cannot "
                          "deliver email: use a standard SNS topic")
    parameter = get("SLACK_WEBHOOK_PARAMETER")
    if parameter and (parameter.startswith(("http://", "https://")) or not SSM_NAME.match(parameter)):
        # Never echo a URL back: it would be the secret itself.
        raise ConfigError("BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER: must be the NAME of an SSM "
                          "SecureString parameter (not the webhook URL itself)")
    regions = _regions(get("REGIONS"), environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"))
    threshold_text = get("RECONCILE_ALERT_USD") or "10"
    try:
        threshold = strict.limit_micros(threshold_text, allow_plain_string_only=True)
    except ValueError as exc:
        raise ConfigError(f"BRAKET_GUARD_RECONCILE_ALERT_USD: {exc}") from None
    always = get("DIGEST_ALWAYS") or "false"
    if always not in ("true", "false"):
        raise ConfigError(f"BRAKET_GUARD_DIGEST_ALWAYS: must be true or false, got {brief(always)}")
    try:
        reservations = parse_reservations(environ.get(ENV_PREFIX + "RESERVATIONS"))
    except ReservationError as exc:
        raise ConfigError(str(exc)) from None
    # Read exactly as given (no trimming): Terraform's validation sees the same text.
    native = environ.get(ENV_PREFIX + "NATIVE_LIMITS") or NATIVE_OFF
    if native not in NATIVE_MODES:
        raise ConfigError(f"BRAKET_GUARD_NATIVE_LIMITS: must be one of {', '.join(NATIVE_MODES)}, got {brief(native)}")
    return Config(table=table, caps=caps, mode=mode, zone=zone, prices=prices,
                  sns_topic_arn=topic, slack_webhook_parameter=parameter, regions=regions,
                  reconcile_alert_micros=threshold, digest_always=always == "true",
                  reservations=reservations, native_limits=native,
                  cancels_per_second=_rate(environ.get(ENV_PREFIX + "CANCELS_PER_SECOND") or None),
                  reconcile_seconds=_reconcile_seconds(environ.get(ENV_PREFIX + "RECONCILE_SECONDS"), caps))


MAX_CANCELS_PER_SECOND = Decimal(100)
RATE = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")


def _rate(text: str | None) -> Decimal:
    """``BRAKET_GUARD_CANCELS_PER_SECOND``: the account's CancelQuantumTask rate the guard keeps to
    (Braket's default quota is 2/s); 0 turns pacing off."""
    if text is None:
        return Decimal(2)
    try:
        rate = Decimal(text) if RATE.match(text) else None
    except InvalidOperation:
        rate = None
    if rate is None or rate > MAX_CANCELS_PER_SECOND:
        raise ConfigError(f"BRAKET_GUARD_CANCELS_PER_SECOND: must be a decimal number from 0 to "
                          f"{MAX_CANCELS_PER_SECOND} (0 turns pacing off), got {brief(text)}")
    return rate


def _regions(text: str | None, own_region: str | None) -> tuple[str, ...]:
    """``BRAKET_GUARD_REGIONS``: the regions whose tasks are guarded (comma-separated or a JSON
    list). Unset: the Lambda's own region if Braket runs there, else none."""
    if not text:
        return (own_region,) if own_region in BRAKET_REGIONS else ()
    if text.startswith("["):
        try:
            items = strict.loads_json(text)
        except ValueError as exc:
            raise ConfigError(f"BRAKET_GUARD_REGIONS: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError("BRAKET_GUARD_REGIONS: must be a list of region names")
    else:
        items = [part.strip() for part in text.split(",") if part.strip()]
    for region in items:
        if not REGION.match(region):
            raise ConfigError(f"BRAKET_GUARD_REGIONS: not an AWS region name: {brief(region)}")
    return tuple(dict.fromkeys(items))


SECONDS = re.compile(r"^[0-9]+\Z")


def _reconcile_seconds(text: str | None, caps: tuple[Cap, ...]) -> int | None:
    """``BRAKET_GUARD_RECONCILE_SECONDS``: the period of the reconcile schedule, how far ahead the
    job guard projects a running job's cost (jobs have events only on state changes, so between
    two reconciliations nothing charges them). Unset: 900 (the module's default rate(15 minutes));
    "0": no fixed period (no schedule, or a cron one), refused when a cap counts jobs."""
    if text is None or text == "":
        return 900
    if not SECONDS.match(text):
        raise ConfigError(f"BRAKET_GUARD_RECONCILE_SECONDS: must be a whole number of seconds (0: no "
                          f"reconciliation at a fixed period), got {text!r}")
    seconds = int(text) or None
    job_caps = [cap.name for cap in caps if cap.counts_jobs]
    if seconds is None and job_caps:
        raise ConfigError(f"BRAKET_GUARD_RECONCILE_SECONDS: 0 (no reconciliation at a fixed period), but the caps "
                          f"{', '.join(job_caps)} count hybrid jobs, which only reconciliation charges while they "
                          "run: set reconcile_schedule to a rate such as rate(15 minutes), or remove \"job\" from "
                          "their kinds")
    return seconds

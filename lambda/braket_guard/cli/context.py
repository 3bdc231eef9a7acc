"""The AWS side of a CLI run: the session, budgeted clients, the settings read from the guard's function, and the ledger, caps and gateway built from them."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from braket_guard.aws import clients, retry
from braket_guard.aws.braket_api import BraketGateway
from braket_guard.cli.args import MAX_FILE_BYTES, REGION, TABLE_NAME, _zone_name
from braket_guard.cli.format import CliError
from braket_guard.config import BRAKET_REGIONS, _regions, load_config
from braket_guard.core.caps import Cap, parse_caps
from braket_guard.core.pricing import PriceError, build_price_book
from braket_guard.core.windows import load_zone
from braket_guard.native.guard import NativeLimiter
from braket_guard.native.spending_limits import SpendingLimits
from braket_guard.tasks.ledger import Ledger


# -- settings ------------------------------------------------------------------------------------
@dataclass
class Settings:
    table: str | None
    caps_json: str | None
    timezone: str
    regions: list[str]
    prices_json: str | None = None
    native_limits: str = "off"  # BRAKET_GUARD_NATIVE_LIMITS of the deployment

    @property
    def zone(self):
        return load_zone(_zone_name(self.timezone, "--timezone / BRAKET_GUARD_TIMEZONE"))

    def prices(self):
        try:
            return build_price_book(self.prices_json)
        except PriceError as exc:
            raise CliError(str(exc)) from None


_SESSION: list[boto3.session.Session] = []


# The last AWS call this run started (service, endpoint): what a deadline message names.
_LAST_CALL: dict[str, str] = {}


def session() -> boto3.session.Session:
    """One fresh session per CLI run (credentials are resolved anew each time). Its region is
    AWS_REGION, then boto3's own (AWS_DEFAULT_REGION, the profile), as the AWS CLI does."""
    if not _SESSION:
        made = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        if made.region_name and not REGION.fullmatch(made.region_name):
            source = "AWS_REGION" if os.environ.get("AWS_REGION") else "AWS_DEFAULT_REGION or the profile's region"
            raise CliError(f"{source}: expected an AWS region name such as us-east-1, got {made.region_name[:100]!r}")
        _SESSION.append(made)
    return _SESSION[0]


def home_region() -> str:
    """The region of the ledger table and the Lambda (not a Braket region: --region picks those)."""
    region = session().region_name
    if not region:
        raise CliError("No AWS region for the ledger table and the Lambda: set AWS_REGION or AWS_DEFAULT_REGION "
                       "(--region picks the Braket regions to search, not this one)")
    return region


def client(service: str, budget: clients.ClientBudget, region: str | None = None) -> Any:
    """A client with the CLI's time budget; each call records its endpoint and refuses to start
    when the budget cannot hold it (paginators and single calls have no Backoff).

    The budget (clients.CLI_SECONDS) bounds the wait on an endpoint that does not answer, so
    every answer starts it again: a report paging through 60,000 tasks takes as long as it takes,
    and a run gives up within 25 s of the last answer."""
    made = clients.make_client(session(), service, budget, region=region)
    endpoint = made.meta.endpoint_url

    def before_call(**_kwargs: Any) -> None:
        _LAST_CALL.update(service=service, endpoint=endpoint)
        left = retry.remaining_seconds()
        if left is not None and left < budget.worst_call_seconds:
            raise retry.DeadlineExceeded(f"no time left for another call ({left:.1f} s left)")

    def after_call(**_kwargs: Any) -> None:  # an answer (an AWS error too): the endpoint is alive
        retry.renew(clients.CLI_SECONDS)

    made.meta.events.register("before-call", before_call)  # this client's own emitter
    made.meta.events.register("after-call", after_call)
    return made


def _function_environment(name: str) -> dict[str, str]:
    lam = client("lambda", clients.CLI, region=name.split(":")[3] if name.startswith("arn:") else home_region())
    try:
        response = lam.get_function_configuration(FunctionName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise CliError(f"Lambda function not found: {name} in {lam.meta.region_name}. Check --function "
                           "and AWS_REGION.") from None
        raise
    variables = response.get("Environment", {}).get("Variables", {})
    return {k: v for k, v in variables.items() if isinstance(k, str) and isinstance(v, str)}


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Flags win, then BRAKET_GUARD_* variables, then the deployed function's environment."""
    session()  # the home region (AWS_REGION, AWS_DEFAULT_REGION, the profile) is checked first
    deployed: dict[str, str] = _function_environment(args.function) if args.function else {}

    def pick(flag: str | None, name: str) -> str | None:
        return flag or os.environ.get(name) or deployed.get(name)

    caps_json = None
    if args.caps:
        caps_json = _read(args.caps)
    else:
        caps_json = os.environ.get("BRAKET_GUARD_CAPS") or deployed.get("BRAKET_GUARD_CAPS")
    regions = list(args.region or [])
    if not regions:
        text = pick(None, "BRAKET_GUARD_REGIONS")
        if text:
            regions = list(_regions(text, None))  # ConfigError: one line, exit 2
    if not regions:
        session_region = session().region_name
        if not session_region:
            raise CliError("No Braket region: pass --region, set BRAKET_GUARD_REGIONS, or set AWS_REGION "
                           "(or AWS_DEFAULT_REGION) to the region the guard runs in")
        if session_region not in BRAKET_REGIONS:
            raise CliError(f"No guarded region: {session_region} has no Braket; pass --region (one of "
                           f"{', '.join(BRAKET_REGIONS)}), set BRAKET_GUARD_REGIONS or name the Lambda with --function")
        regions = [session_region]
    table_name = pick(args.table, "BRAKET_GUARD_TABLE")
    if table_name is not None and not TABLE_NAME.fullmatch(table_name):
        raise CliError(f"BRAKET_GUARD_TABLE: expected a DynamoDB table name, got {table_name[:100]!r}")
    zone_name = _zone_name(pick(args.timezone, "BRAKET_GUARD_TIMEZONE") or "UTC", "--timezone / BRAKET_GUARD_TIMEZONE")
    return Settings(table_name, caps_json, zone_name, list(dict.fromkeys(regions)),
                    pick(None, "BRAKET_GUARD_PRICES"), pick(None, "BRAKET_GUARD_NATIVE_LIMITS") or "off")


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CliError(f"File not found: {path}") from None
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise CliError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _ledger(settings: Settings) -> Ledger:
    if not settings.table:
        raise CliError("No ledger table: pass --table, set BRAKET_GUARD_TABLE, or name the Lambda with --function")
    return Ledger(client("dynamodb", clients.CLI, region=home_region()), settings.table)


def _caps(settings: Settings) -> tuple[Cap, ...]:
    if not settings.caps_json:
        raise CliError("No caps: pass --caps FILE, set BRAKET_GUARD_CAPS, or name the Lambda with --function")
    return parse_caps(settings.caps_json)


def _gateway() -> BraketGateway:
    made: dict[str, Any] = {}

    def client_for(region: str) -> Any:
        if region not in made:
            made[region] = client("braket", clients.CLI_BRAKET, region=region)
        return made[region]

    return BraketGateway(client_for)


# A region that cannot be searched leaves the others' results standing (exit 1).
REGION_ERRORS = (ClientError, BotoCoreError, retry.DeadlineExceeded)


UNANSWERED = (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError, ConnectionClosedError,
              retry.DeadlineExceeded)


def _raise_if_account_wide(exc: BaseException) -> None:
    """No credentials: every region would fail the same way; one line says so (exit 2). (Refused
    credentials fail every region too, and the report is then an error naming each.)"""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        raise exc


def _limiter(settings: Settings):
    """The deployment's NativeLimiter, built from the same settings the Lambda reads."""
    env = {"BRAKET_GUARD_TABLE": settings.table or "", "BRAKET_GUARD_CAPS": settings.caps_json or "",
           "BRAKET_GUARD_TIMEZONE": settings.timezone, "BRAKET_GUARD_REGIONS": json.dumps(settings.regions),
           "BRAKET_GUARD_NATIVE_LIMITS": settings.native_limits}
    if settings.prices_json:
        env["BRAKET_GUARD_PRICES"] = settings.prices_json
    _ledger(settings)  # the same "no table" message as the other commands
    _caps(settings)
    config = load_config(env)
    return NativeLimiter(config, _ledger(settings), SpendingLimits(_gateway().client_for_region))


def _aws_error_text(exc: Exception) -> str:
    if isinstance(exc, UNANSWERED):
        return _unanswered(exc)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


def _unanswered(exc: BaseException) -> str:
    """One line for an endpoint that did not answer in time (or could not be reached)."""
    endpoint = clients.endpoint_of(exc) or _LAST_CALL.get("endpoint", "") or "the AWS endpoint"
    service = _LAST_CALL.get("service", "")  # one thread: the last call started is the one that hung
    named = f"{service} at {endpoint}" if service else endpoint
    if isinstance(exc, retry.DeadlineExceeded):
        return (f"Out of time: the CLI waits at most {clients.CLI_SECONDS} s for an answer from AWS and another "
                f"call could not end inside it (the last one went to {named})")
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        kind = "read" if isinstance(exc, ReadTimeoutError) else "connect"
        return f"No answer from {named} ({kind} timeout): check the network, the region or AWS_ENDPOINT_URL"
    return f"Cannot reach {named}: check the network or AWS_ENDPOINT_URL"

"""``braket-guard``: status, report, explain, check-config, prices and unfreeze, for operators
and scripts.

Uses the same package as the Lambda (caps, pricing, ledger) against real AWS with the usual
credentials, or against the sandbox through AWS_ENDPOINT_URL_<SERVICE>. ``--json`` everywhere.

The boundary: every argv value is parsed once, strictly, in ``parse_argv`` (identifiers matched
whole, ASCII classes); every AWS client is built by ``clients.make_client`` with a CLI budget, and
``main`` runs under ``retry.deadline(clients.CLI_SECONDS)``, so an endpoint that never answers ends
the run in well under 30 s with one line naming it. Errors are one line on stderr, never a
traceback: exit 2 for an error, 1 for an incomplete answer, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

from braket_guard.aws import clients, retry
from braket_guard.cli.args import parse_argv
from braket_guard.cli.context import _LAST_CALL, _SESSION, UNANSWERED, _unanswered
from braket_guard.cli.explain import cmd_explain
from braket_guard.cli.format import CliError
from braket_guard.cli.prices import cmd_prices
from braket_guard.cli.report import cmd_report
from braket_guard.cli.status import cmd_check_config, cmd_status
from braket_guard.cli.unfreeze import cmd_unfreeze
from braket_guard.config import ConfigError
from braket_guard.core.caps import CapError
from braket_guard.core.pricing import PriceError

# -- entry point ---------------------------------------------------------------------------------
DESCRIPTION = """\
Operate a braket-guard deployment: see what its caps used, what Braket tasks and hybrid jobs
cost, why the guard admitted or cancelled a task, check a caps file, refresh prices from the AWS
Price List, and lift a native-limit freeze.

Settings come from flags, then BRAKET_GUARD_* variables (TABLE, CAPS, TIMEZONE, REGIONS, PRICES,
NATIVE_LIMITS), then the deployed Lambda named with --function. AWS credentials and the home
region (AWS_REGION or AWS_DEFAULT_REGION) are the usual ones; AWS_ENDPOINT_URL_<SERVICE> points a
service elsewhere (the sandbox)."""
EPILOG = """\
exit status: 0 done; 1 the answer is incomplete (a region could not be searched, a product
could not be priced, the task or job is unknown); 2 an error, printed as one line on stderr
(a JSON object with --json); 130 interrupted. Every AWS call has connect and read timeouts, and
a run gives up %d s after the last answer from AWS, with one line naming the endpoint that did
not answer.""" % clients.CLI_SECONDS


class _ParseExit(Exception):
    def __init__(self, code: int, message: str = ""):
        super().__init__(message)
        self.code, self.message = code, message


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and nothing calls sys.exit."""

    def error(self, message: str):  # type: ignore[override]
        raise _ParseExit(2, f"{message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        if message:
            sys.stderr.write(message)
        raise _ParseExit(status)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written; every command's help on its own line (argparse measures the
    commands' names one indent short, which pushed ``check-config``'s help onto the next line)."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        for choice in getattr(action, "_choices_actions", []):
            self._action_max_length = max(self._action_max_length,
                                          len(choice.metavar or choice.dest) + self._current_indent + 4)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="braket-guard", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=_HelpFormatter)
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--table", help="ledger table (default: BRAKET_GUARD_TABLE)")
    common.add_argument("--caps", help="caps JSON file (default: BRAKET_GUARD_CAPS)")
    common.add_argument("--timezone", help="IANA zone (default: BRAKET_GUARD_TIMEZONE or UTC)")
    common.add_argument("--function", help="read table, caps and zone from this deployed Lambda")
    common.add_argument("--region", action="append",
                        help="Braket region to search (repeatable; default: BRAKET_GUARD_REGIONS or AWS_REGION)")
    common.add_argument("--progress", action="store_true", help="show progress even when not on a terminal")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.add_parser("status", parents=[common], help="every cap's usage, limit and percentage per group")
    report = sub.add_parser("report", parents=[common], help="per device: tasks and shots by status, cost")
    when = report.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", help="YYYY-MM-DD")
    when.add_argument("--month", help="YYYY-MM")
    report.add_argument("--device", help="only this device ARN")
    explain = sub.add_parser("explain", parents=[common],
                             help="why the guard admitted, rejected or refunded a task, or what it did with a hybrid job")
    explain.add_argument("task_arn", metavar="TASK_OR_JOB_ARN")
    check = sub.add_parser("check-config", parents=[common], help="validate a caps file offline")
    check.add_argument("file")
    prices = sub.add_parser("prices", help="price overrides from the AWS Price List, and what differs "
                                           "from the built-in table")
    prices.add_argument("--json", action="store_true", help="print only the overrides JSON object")
    prices.add_argument("--region", default="us-east-1",
                        help="Price List endpoint region (default us-east-1; it lists every region)")
    prices.add_argument("--from-file", metavar="PATH", help="a saved GetProducts response instead of AWS")
    prices.add_argument("--price-region", metavar="REGION",
                        help="price simulators and job instance types from this region's products only "
                             "(default: the dearest region)")
    prices.add_argument("--device-arn", action="append", metavar="ARN",
                        help="a device ARN the built-in table lacks, to tie its Price List name to (repeatable)")
    unfreeze = sub.add_parser("unfreeze", parents=[common],
                              help="lift a cap's native freeze early (the guard keeps cancelling)")
    unfreeze.add_argument("cap")
    unfreeze.add_argument("group", nargs="?", help="only this group (account id, region or device ARN)")
    return parser


COMMANDS = {"status": cmd_status, "report": cmd_report, "explain": cmd_explain, "check-config": cmd_check_config,
            "prices": cmd_prices, "unfreeze": cmd_unfreeze}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    for stream in {id(s): s for s in (out, err, sys.stdout, sys.stderr)}.values():
        # a terminal or pipe that cannot encode an echoed argument (LANG=C, latin-1) gets an
        # escape, not a UnicodeEncodeError
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return _main(argv, out, err)
    except KeyboardInterrupt:
        err.write("braket-guard: interrupted\n")
        return 130
    except BrokenPipeError:  # `braket-guard report ... | head`: the reader left; say nothing more
        if out is sys.stdout:  # Python flushes stdout at exit: point it at /dev/null (Python's docs)
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
        return 1


def _main(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise _ParseExit(2, f"a command is required: one of {', '.join(COMMANDS)} (see braket-guard --help)")
    except _ParseExit as exc:
        if exc.message:  # --json asked for (it may be the very flag argparse refused): JSON
            wants_json = "--json" in (sys.argv[1:] if argv is None else list(argv))
            _fail(err, argparse.Namespace(json=wants_json), exc.message, exc.code)
        return exc.code
    _SESSION.clear()
    _LAST_CALL.clear()
    args.warning = None
    try:
        with retry.deadline(clients.CLI_SECONDS, clients.CLI.worst_call_seconds):
            code, (data, text) = COMMANDS[args.command](parse_argv(args), out)
    except (CliError, CapError, ConfigError, PriceError) as exc:
        return _fail(err, args, str(exc), 2)
    except (NoCredentialsError, PartialCredentialsError):
        return _fail(err, args, "No AWS credentials found: run `aws configure`, set AWS_PROFILE, or export "
                                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.", 2)
    except NoRegionError:
        return _fail(err, args, "No AWS region: set AWS_REGION or AWS_DEFAULT_REGION.", 2)
    except UNANSWERED as exc:
        return _fail(err, args, _unanswered(exc), 2)
    except ClientError as exc:
        code_name = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code_name == "ResourceNotFoundException" and _LAST_CALL.get("service") == "dynamodb":
            return _fail(err, args, f"Ledger table not found: {message or code_name}. Check --table or "
                                    "BRAKET_GUARD_TABLE and AWS_REGION.", 2)
        return _fail(err, args, f"AWS said {code_name}: {message}", 2)
    except BotoCoreError as exc:
        return _fail(err, args, f"AWS client error: {exc}", 2)
    except ValueError as exc:  # bad input anywhere else: one line, never a traceback
        return _fail(err, args, str(exc), 2)
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, and it says so
        return _fail(err, args, f"internal error: {type(exc).__name__}: {exc} (please report)", 1)
    if args.json:
        out.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        out.write(text + "\n")
    if args.warning:
        err.write(f"braket-guard: warning: {_one_line(args.warning)}\n")
    return code


def _one_line(message: str) -> str:
    """The message on one line: a newline, tab or other unprintable character (an echoed
    argument may hold any) is shown escaped, as repr shows it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message.strip())[:1000]


def _fail(err: TextIO, args: argparse.Namespace, message: str, code: int) -> int:
    message = _one_line(message)
    if getattr(args, "json", False):
        err.write(json.dumps({"error": message}) + "\n")
    else:
        err.write(f"braket-guard: error: {message}\n")
    return code


"""``make sandbox``: the demo's stack, left running for your own Braket SDK scripts.

    python -m braket_sandbox.sandbox [--caps demo/caps.json] [--timezone UTC]
                                     [--native-limits off|freeze|mirror_and_freeze]
                                     [--terraform auto|always|never] [--env-file FILE]

Starts, on 127.0.0.1 and free ports: moto (a child process), the Braket API emulator with its
devices running (each task queues, waits its start delay, runs, and becomes COMPLETED with its
results in moto's S3), the Slack webhook sink, and the guard deployed into moto as the demo deploys
it (Terraform applying ``examples/sandbox`` when installed, boto3 otherwise). Every "Braket Task
State Change" event goes, as EventBridge would deliver it (at least once, not always in order), to
the guard's handler, run in this process with the deployed environment (moto runs no Lambda code
without Docker).

Then it prints the shell lines that point an SDK script and the ``braket-guard`` CLI at it
(``export NAME=value``, quoted for a POSIX shell; the same lines go to ``--env-file``), the Slack
sink's page, and the line ``SANDBOX READY``; and it runs until Ctrl-C or SIGTERM, then stops
everything it started. Exit code 0 after a clean stop, 2 when it could not start.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from braket_sandbox.eventbus import EventBus
from braket_sandbox.lambda_runtime import LambdaInvoker
from braket_sandbox.services import (ROOT, SetupError, function_logs_to, guard_environment, lambda_environment,
                                     load_caps, load_handler, rule_matches)
from braket_sandbox.stack import Stack

__all__ = ["SandboxOptions", "exports", "main"]

DEFAULT_CAPS = ROOT / "demo" / "caps.json"
DEFAULT_LOGS = ROOT / ".sandbox"
EXIT_OK, EXIT_SETUP = 0, 2
# What a user's process needs from the environment the guard runs with (guard_environment): the
# endpoints, the dummy credentials and region, and what the CLI reads (table, caps, zone, regions).
EXPORTED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION",
            "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL_BRAKET", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SSM",
            "BRAKET_GUARD_TABLE", "BRAKET_GUARD_CAPS", "BRAKET_GUARD_TIMEZONE", "BRAKET_GUARD_REGIONS")


@dataclass
class SandboxOptions:
    caps: Path = DEFAULT_CAPS
    timezone: str = "UTC"
    native_limits: str = "off"
    terraform: str = "auto"
    logs: Path = DEFAULT_LOGS
    queue_seconds: float = 2.0  # each device is busy with others' work this long before its first task
    start_delay: float = 2.0  # and no task starts sooner than this after it was QUEUED
    concurrency: int = 8
    seed: int = 2026
    env_file: Path | None = None


def exports(environment: dict[str, str], moto_url: str) -> list[str]:
    """The shell lines for a user's terminal: ``unset`` what would send boto3 elsewhere, then one
    ``export NAME=value`` per variable (values quoted with shlex)."""
    lines = ["unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL"]
    values = dict(environment, AWS_ENDPOINT_URL_LAMBDA=moto_url)
    for name in (*EXPORTED, "AWS_ENDPOINT_URL_LAMBDA"):
        if values.get(name):
            lines.append(f"export {name}={shlex.quote(values[name])}")
    return lines


class Sandbox(Stack):
    def __init__(self, options: SandboxOptions, out: TextIO) -> None:
        super().__init__(options, out, steps=3)

    def start(self) -> tuple[list[str], dict[str, str]]:
        """Start and deploy everything, wire the events to the guard; returns the export lines and
        the guard's environment."""
        options = self.options
        try:
            ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SetupError(f"unknown time zone {options.timezone!r} (TIMEZONE=..., e.g. UTC or Asia/Tokyo)")
        caps = load_caps(options.caps)
        options.logs.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="braket-guard-sandbox-"))
        self.start_services()
        deployment = self.deploy(caps)
        problem = self.finish_deploy(deployment)  # Terraform done: the CLI finds all it created
        if problem:
            raise SetupError(problem)
        assert self.moto and self.emulator and self.sink
        self.say.step(3, "Events to the guard, devices running")
        environment = guard_environment(self.moto.url, self.emulator.url, self.workdir, deployment)
        self.invoker = LambdaInvoker(load_handler(deployment.handler), deployment.function_name,
                                     concurrency=options.concurrency, timeout_s=deployment.timeout_s,
                                     memory_mb=deployment.memory_mb)
        self.bus = EventBus(self.invoker.submit, seed=options.seed)
        bus, invoker = self.bus, self.invoker
        self.devices = self.emulator.run_devices(
            queue_ahead_seconds=options.queue_seconds, start_delay_seconds=options.start_delay, seed=options.seed,
            hold=lambda: bus.pending() > 0 or not invoker.idle())
        self.emulator.on_event = lambda event: bus.publish(event) if rule_matches(event) else None
        self.say(f"  EventBridge -> Lambda {deployment.function_name}: {deployment.handler} in this process, "
                 "one invocation per delivery (at least once, some out of order)")
        self.say(f"  devices: each busy {options.queue_seconds:g}s with other users' work, then first in first out, "
                 f"no task starting sooner than {options.start_delay:g}s after QUEUED; QPUs one task at a time")
        self.say(f"  the guard's log: {self._rel(options.logs / 'lambda.log')}")
        return exports(environment, self.moto.url), environment

    def serve(self, stop: threading.Event) -> int:
        lines, environment = self.start()
        assert self.sink is not None
        text = "\n".join(lines) + "\n"
        if self.options.env_file:
            Path(self.options.env_file).write_text(text, encoding="utf-8")
        self.say("\nPaste these lines into the shell that runs your SDK script or braket-guard:\n")
        self.out.write(text)
        self.say(f"\nSlack sink: {self.sink.url}/  (every alert the guard posted)")
        self.say("braket-guard status | braket-guard report | braket-guard explain TASK_ARN  (with the exports)")
        self.say("SANDBOX READY (Ctrl-C stops everything)")
        with lambda_environment(environment), function_logs_to(self.options.logs / "lambda.log"):
            self._clear_guard_caches()
            while not stop.wait(0.5):
                pass
        return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braket_sandbox.sandbox",
                                     description="The guard, moto, the Braket emulator with running devices and a "
                                                 "Slack sink on this machine, until Ctrl-C.")
    parser.add_argument("--caps", type=Path, default=DEFAULT_CAPS, help="caps file (default demo/caps.json)")
    parser.add_argument("--timezone", default="UTC", help="IANA zone of the day/month windows (default UTC)")
    parser.add_argument("--native-limits", nargs="?", const="freeze", default="off",
                        choices=("off", "freeze", "mirror_and_freeze"), help="the deployment's native_limits")
    parser.add_argument("--terraform", choices=("auto", "always", "never"), default="auto",
                        help="apply examples/sandbox with Terraform: auto (when installed), always, never")
    parser.add_argument("--queue-seconds", type=float, default=2.0, help="devices busy before their first task")
    parser.add_argument("--start-delay", type=float, default=2.0, help="least seconds from QUEUED to RUNNING")
    parser.add_argument("--logs", type=Path, default=DEFAULT_LOGS, help="where logs go (default .sandbox/)")
    parser.add_argument("--env-file", type=Path, help="also write the export lines to this file")
    args = parser.parse_args(argv)
    options = SandboxOptions(caps=args.caps, timezone=args.timezone, native_limits=args.native_limits,
                             terraform=args.terraform, logs=args.logs, queue_seconds=args.queue_seconds,
                             start_delay=args.start_delay, env_file=args.env_file)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        raise KeyboardInterrupt  # also ends a start-up still under way

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sandbox = Sandbox(options, sys.stdout)
    code = EXIT_OK
    try:
        code = sandbox.serve(stop)
    except SetupError as exc:
        sandbox.say(f"\nSETUP FAILED: {exc}")
        code = EXIT_SETUP
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopped = sandbox.close()
        sandbox.say(f"\nStopped {', '.join(stopped) or 'nothing'}.")
    return code


if __name__ == "__main__":
    raise SystemExit(main())

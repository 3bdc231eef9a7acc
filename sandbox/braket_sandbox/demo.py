"""``make demo``: watch braket-guard stop a runaway burst of Braket tasks, locally, no AWS account.

    python -m braket_sandbox.demo [--tasks 200] [--caps demo/caps.json] [--timezone UTC]
                                  [--terraform auto|always|never] [--json-summary FILE]

What happens (each step prints what it did):

1. moto in server mode (DynamoDB, SNS, SQS, SSM, IAM, EventBridge, Lambda, Logs), the Braket API
   emulator and a Slack webhook sink start on 127.0.0.1, on free ports.
2. ``examples/sandbox`` is applied with Terraform against moto (or, without Terraform, the same
   table, topic and Slack parameter are created with boto3). The table, topic, parameter and the
   Lambda's environment are read back from the Terraform outputs and from moto.
3. A runaway notebook written with the Amazon Braket SDK (``AwsDevice(arn).run(program, shots=...)``
   in a loop on several threads) submits many tasks to an expensive QPU (a circuit on IonQ Forte-1),
   a cheap QPU (an AHS program on QuEra Aquila) and a simulator (a circuit on SV1). The SDK's
   Braket calls reach the emulator, its S3 and STS calls moto (its default bucket, results). The
   emulator emits each task's EventBridge events; they are delivered at least once (some twice),
   some out of order, each to one in-process invocation of the deployed handler, concurrently,
   with the deployed environment. Afterwards the notebook asks the SDK what became of its tasks
   (``task.state()``, ``task.result()``) and the demo prints what it saw.
4. The summary: per cap the limit, what ran and what was cancelled, the spend prevented, every
   alert (Slack as text, email), and whether each cap held -- judged from the emulator's ground
   truth, not from the guard's own ledger. Exit code 0 only if every cap held and every check passed.

Everything stops on exit, Ctrl-C and SIGTERM included; nothing needs destroying (moto's state goes
with it). Logs of the run (the Lambda's JSON lines, Terraform's output) are kept in ``.demo/``.
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from braket_sandbox import deploy as deploy_mod
from braket_sandbox.braket.common import TERMINAL_STATUSES
from braket_sandbox.demo_summary import SummaryMixin
from braket_sandbox.progress import ProgressBar
from braket_sandbox.runaway import DEFAULT_DEVICES, DeviceSimulator, EventBus, LambdaInvoker, Notebook, import_sdk, median_and_max
from braket_sandbox.services import (ROOT, SetupError, function_logs_to, guard_environment, lambda_environment,  # noqa: F401 - names the tests import from here
                                     load_caps, load_handler, rule_matches)
from braket_sandbox.stack import Stack
from braket_sandbox.verdict import Verdict

__all__ = ["DemoOptions", "DemoResult", "run_demo", "main"]

DEFAULT_CAPS = ROOT / "demo" / "caps.json"
DEFAULT_LOGS = ROOT / ".demo"
EXIT_OK, EXIT_CAPS_FAILED, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 130
# With native limits on, the notebook's loop is paced like one talking to AWS: the sandbox's single
# process Lambda reacts in seconds, and a loop that had already submitted everything could not show
# Braket refusing it.
NATIVE_PAUSE = (0.3, 0.6)


@dataclass
class DemoOptions:
    tasks: int = 200
    caps: Path = DEFAULT_CAPS
    timezone: str = "UTC"
    terraform: str = "auto"  # auto | always | never
    threads: int = 4
    concurrency: int = 8
    seed: int = 2026
    duplicate_rate: float = 0.25
    logs: Path = DEFAULT_LOGS
    json_summary: Path | None = None
    run_timeout: float | None = None
    queue_ahead: float | None = None  # seconds the devices are busy before our tasks; default scales with tasks
    native_limits: str = "off"  # off | freeze | mirror_and_freeze: the deployment's native_limits
    pause: tuple[float, float] | None = None  # seconds between a thread's tasks; default: see NATIVE_PAUSE


@dataclass
class DemoResult:
    exit_code: int
    verdict: Verdict | None = None
    summary: dict = field(default_factory=dict)


class Demo(Stack, SummaryMixin):
    def run_notebook(self, deployment: deploy_mod.Deployment) -> dict[str, Any]:
        options = self.options
        assert self.emulator and self.moto
        self.say.step(3, f"Runaway notebook: {options.tasks} tasks from {options.threads} threads on "
                         + ", ".join(d.name for d in DEFAULT_DEVICES))
        handler = load_handler(deployment.handler)
        self.say(f"  EventBridge -> Lambda {deployment.function_name}: {deployment.handler} runs in-process "
                 f"(moto runs no Lambda code without Docker), one invocation per delivered event, "
                 f"up to {options.concurrency} at once, with the deployed environment")
        self.say(f"  deliveries: at least once ({int(options.duplicate_rate * 100)}% twice or more), "
                 "random delays so events of a task arrive out of order")
        self.invoker = LambdaInvoker(handler, deployment.function_name, concurrency=options.concurrency,
                                     timeout_s=deployment.timeout_s, memory_mb=deployment.memory_mb)
        self.bus = EventBus(self.invoker.submit, seed=options.seed, duplicate_rate=options.duplicate_rate)
        queue_ahead = options.queue_ahead if options.queue_ahead is not None else 3.0
        self.devices = DeviceSimulator(self.emulator, queue_ahead_seconds=queue_ahead, seed=options.seed + 1,
                                       hold=lambda: self.bus.pending() > 0 or not self.invoker.idle())
        self.say(f"  devices: first in, first out; busy with other users' work for {queue_ahead:.0f}s and until the "
                 "sandbox's single-process Lambda has caught up with the burst (real QPU queues hold minutes "
                 "to hours of work; real Lambda scales out), then QPUs run one task at a time, SV1 two")
        bus, devices = self.bus, self.devices

        def on_event(event: dict) -> None:
            devices.on_event(event)
            if rule_matches(event):  # other Braket events (spending limits, jobs) reach no rule of the guard
                bus.publish(event)

        pause = options.pause or (NATIVE_PAUSE if options.native_limits != "off" else None)
        self.notebook = Notebook(self.emulator.url, options.tasks, threads=options.threads, seed=options.seed + 2,
                                 **({"pause": pause} if pause else {}))
        if pause and options.native_limits != "off":
            self.say(f"  the notebook's threads pause {pause[0]:g}-{pause[1]:g}s between tasks (about what a device.run "
                     "round trip to AWS takes), so the loop is still running when the sandbox's guard freezes a QPU")
        self._sdk_ready()
        self.notebook.setup()
        session = self.notebook.session("us-east-1")
        self.say("  notebook (Amazon Braket SDK): AwsDevice(arn).run(program, shots=..., tags={'project': ...}) "
                 f"in a loop on {options.threads} threads; circuits on Forte-1 and SV1, an AHS program on Aquila; "
                 f"results in the SDK's default bucket {session.default_bucket()} (moto S3)")
        self.emulator.on_event = on_event
        decided: dict[str, tuple[str, float, str]] = {}
        decided_lock = threading.Lock()

        def on_invocation(invocation: Any) -> None:
            result = invocation.result or {}
            if result.get("decision") in ("admitted", "rejected"):
                with decided_lock:
                    decided.setdefault(result["task"], (result["decision"], invocation.finished,
                                                        result.get("status", "")))

        self.invoker.listeners.append(on_invocation)
        bar = ProgressBar(options.tasks, "tasks", self.out)
        started = time.monotonic()
        notebook_thread = threading.Thread(target=self.notebook.run, name="notebook", daemon=True)
        notebook_thread.start()
        timeout = options.run_timeout or max(90.0, options.tasks * 0.5)
        stable, timed_out = 0, False
        while True:
            time.sleep(0.1)
            statuses = devices.counts()
            settled = sum(n for s, n in statuses.items() if s in TERMINAL_STATUSES)
            with decided_lock:
                verdicts = collections.Counter(d[0] for d in decided.values())
            cancelled = statuses["CANCELLED"]
            bar.update(settled, f"submitted {len(self.notebook.submissions)} | admitted {verdicts['admitted']} "
                                f"| cancelled {cancelled} | completed {statuses['COMPLETED']} "
                                f"| deliveries {bus.deliveries}")
            quiet = (not notebook_thread.is_alive() and settled == sum(statuses.values())
                     and bus.pending() == 0 and self.invoker.idle())
            stable = stable + 1 if quiet else 0
            if stable >= 3:
                break
            if time.monotonic() - started > timeout:
                timed_out = True
                break
        bar.close(f"admitted {verdicts['admitted']} | cancelled {cancelled} | {bus.deliveries} deliveries"
                  + (" | TIMED OUT" if timed_out else ""), done=settled)
        self.timings["notebook"] = time.monotonic() - started
        reaction = []
        first_seen: collections.Counter = collections.Counter()
        for arn, (_, finished, status) in decided.items():
            emitted = bus.first_emitted(arn)
            if emitted is not None:
                reaction.append(finished - emitted)
            first_seen[status] += 1
        median, worst = median_and_max(reaction)
        seen = self.observe_notebook()
        return {"timed_out": timed_out, "reaction_median_ms": round(median * 1000),
                "reaction_max_ms": round(worst * 1000), "first_seen": dict(first_seen), "notebook": seen}

    def observe_notebook(self) -> dict[str, Any]:
        """What the notebook saw through the SDK, printed, and compared with the emulator's truth."""
        assert self.notebook and self.emulator
        try:
            seen = self.notebook.observe()
        except Exception as exc:  # noqa: BLE001 - shown as a failed check, not a crash
            self.say(f"  the notebook could not read its tasks through the SDK: {type(exc).__name__}: {exc}")
            return {"error": f"{type(exc).__name__}: {exc}"[:500], "agrees": False}
        truth = {t["quantumTaskArn"]: t["status"] for t in self.emulator.tasks()}
        disagree = sorted(arn for arn, state in seen["states"].items() if truth.get(arn) != state)
        seen["agrees"] = not disagree and len(seen["states"]) == len(truth)
        seen["disagreements"] = disagree[:10]
        for submission in self.notebook.submissions:
            if submission.error:
                self.say(f"  notebook thread {submission.thread} stopped on the SDK's error: {submission.error}")
        self.say("  What the notebook saw (task.state() of each task, as the SDK reports it):")
        for device in DEFAULT_DEVICES:
            counts = seen["by_device"].get(device.name, {})
            if counts:
                self.say(f"    {device.name:<32} " + ", ".join(f"{state} {n}" for state, n in sorted(counts.items())))
        for message, count in sorted(seen.get("sdk_warnings", {}).items()):
            self.say(f"    the SDK warned {count}x: {message!r}")
        for item in seen["results"]:
            self.say(f"    task.result() of a {item['state']} {item['device'].split(' (')[0]} task "
                     f"({item['shots']} shots): {item['result']}")
        return seen

    # -- the whole run ---------------------------------------------------------------------------------
    def run(self) -> DemoResult:
        options = self.options
        options.logs.mkdir(parents=True, exist_ok=True)
        self.say("braket-guard demo: a runaway notebook meets the guard, entirely on this machine")
        try:
            ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SetupError(f"unknown time zone {options.timezone!r} (TIMEZONE=..., e.g. UTC or Asia/Tokyo)")
        if options.tasks < 1:
            raise SetupError("the number of tasks must be at least 1 (TASKS=...)")
        caps = load_caps(options.caps)
        self.workdir = Path(tempfile.mkdtemp(prefix="braket-guard-demo-"))
        self._start_sdk_import()
        self.start_services()
        started = time.monotonic()
        deployment = self.deploy(caps)
        self.timings["deploy"] = time.monotonic() - started
        assert self.moto and self.emulator and self.sink
        sqs = deploy_mod.aws_client("sqs", self.moto.url)
        sns = deploy_mod.aws_client("sns", self.moto.url)
        inbox = sqs.create_queue(QueueName=f"{deployment.function_name}-demo-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=deployment.topic_arn, Protocol="sqs", Endpoint=inbox_arn)

        environment = guard_environment(self.moto.url, self.emulator.url, self.workdir, deployment)
        lambda_log = options.logs / "lambda.log"
        with lambda_environment(environment), function_logs_to(lambda_log) as function_log:
            self._clear_guard_caches()
            stats = self.run_notebook(deployment)
        stats["lambda_log_lines"] = function_log.lines

        deploy_problem = self.finish_deploy(deployment)
        if self.terraform is not None and deploy_problem is None:
            self.timings["terraform"] = deployment.seconds
        pattern_ok = None
        if deployment.event_pattern:
            statuses = {}
            for event in self.emulator.events():
                if rule_matches(event):
                    statuses.setdefault(event["detail"]["status"], event)
            pattern_ok = all(deploy_mod.check_event_pattern(deployment.event_pattern, e) for e in statuses.values())
            if statuses:  # and the matcher is not vacuous: another service's event must not match
                other = dict(next(iter(statuses.values())), source="aws.ec2",
                             **{"detail-type": "EC2 Instance State-change Notification"})
                pattern_ok = pattern_ok and not deploy_mod.check_event_pattern(deployment.event_pattern, other)
            stats["rule_statuses"] = sorted(statuses)
        stats["deploy_problem"] = deploy_problem
        verdict, summary = self.summarize(deployment, stats, sqs, inbox, pattern_ok)
        exit_code = EXIT_OK if self._all_ok(verdict, stats, pattern_ok) else EXIT_CAPS_FAILED
        summary["exit_code"] = exit_code
        (options.logs / "summary.json").write_text(json.dumps(summary, indent=2))
        if options.json_summary:
            Path(options.json_summary).write_text(json.dumps(summary, indent=2))
        return DemoResult(exit_code, verdict, summary)

    def _start_sdk_import(self) -> None:
        """Import the Braket SDK and build the notebook devices' capabilities while Terraform
        works (seconds of imports that would otherwise delay the notebook)."""
        self._sdk_error: BaseException | None = None

        def warm() -> None:
            try:
                import_sdk()
                from braket_sandbox.braket.devices import default_devices

                wanted = {d.arn for d in DEFAULT_DEVICES}
                for device in default_devices():
                    if device.arn in wanted:
                        device.capabilities_json()
            except BaseException as exc:  # noqa: BLE001 - reported when the notebook needs the SDK
                self._sdk_error = exc

        self._sdk_thread = threading.Thread(target=warm, name="sdk-import", daemon=True)
        self._sdk_thread.start()

    def _sdk_ready(self) -> None:
        thread = getattr(self, "_sdk_thread", None)
        if thread is not None:
            thread.join()
        error = getattr(self, "_sdk_error", None)
        if isinstance(error, ImportError):
            raise SetupError(f"the notebook needs the Amazon Braket SDK ({error}); run `make venv`")
        if error is not None:
            raise error

    @staticmethod
    def _all_ok(verdict: Verdict, stats: dict, pattern_ok: bool | None) -> bool:
        return (verdict.ok and not stats["timed_out"] and pattern_ok is not False
                and not stats.get("deploy_problem") and bool(stats.get("notebook", {}).get("agrees")))

def run_demo(options: DemoOptions, out: TextIO | None = None) -> DemoResult:
    """Run the whole demo; always stops what it started. Raises KeyboardInterrupt through."""
    demo = Demo(options, out or sys.stdout)
    try:
        return demo.run()
    except SetupError as exc:
        demo.say(f"\nSETUP FAILED: {exc}")
        return DemoResult(EXIT_SETUP)
    finally:
        demo.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braket_sandbox.demo",
                                     description="Watch braket-guard stop a runaway burst of Braket tasks, locally.")
    parser.add_argument("--tasks", type=int, default=200, help="tasks the notebook submits (default 200)")
    parser.add_argument("--caps", type=Path, default=DEFAULT_CAPS, help="caps file (default demo/caps.json)")
    parser.add_argument("--timezone", default="UTC", help="IANA zone of the day/month windows (default UTC)")
    parser.add_argument("--terraform", choices=("auto", "always", "never"), default="auto",
                        help="apply examples/sandbox with Terraform: auto (when installed), always, never")
    parser.add_argument("--threads", type=int, default=4, help="notebook threads (default 4)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent Lambda invocations (default 8)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the task mix and deliveries")
    parser.add_argument("--logs", type=Path, default=DEFAULT_LOGS, help="where logs and summary.json go (.demo/)")
    parser.add_argument("--json-summary", type=Path, help="also write the summary as JSON here")
    parser.add_argument("--native-limits", nargs="?", const="freeze", default="off",
                        choices=("off", "freeze", "mirror_and_freeze"),
                        help="deploy with native_limits on (alone: freeze): the guard freezes a breached QPU "
                             "with a Braket spending limit, and Braket refuses the notebook's next task")
    args = parser.parse_args(argv)
    options = DemoOptions(tasks=args.tasks, caps=args.caps, timezone=args.timezone, terraform=args.terraform,
                          threads=args.threads, concurrency=args.concurrency, seed=args.seed, logs=args.logs,
                          json_summary=args.json_summary, native_limits=args.native_limits)

    def on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    demo = Demo(options, sys.stdout)
    try:
        result = demo.run()
        return result.exit_code
    except SetupError as exc:
        demo.say(f"\nSETUP FAILED: {exc}")
        return EXIT_SETUP
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        demo.say("\nInterrupted: stopping everything the demo started ...")
        stopped = demo.close()
        demo.say(f"Stopped {', '.join(stopped) or 'nothing (nothing was running yet)'}; nothing to destroy "
                 "(moto's state is discarded with it).")
        return EXIT_INTERRUPTED
    finally:
        demo.close()


if __name__ == "__main__":
    raise SystemExit(main())

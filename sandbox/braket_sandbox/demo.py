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
import contextlib
import importlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lambda") not in sys.path:  # the guard's package, as `make demo` sets PYTHONPATH
    sys.path.append(str(ROOT / "lambda"))

from braket_sandbox import deploy as deploy_mod  # noqa: E402
from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.braket.common import TERMINAL_STATUSES  # noqa: E402
from braket_sandbox.progress import ProgressBar, format_duration  # noqa: E402
from braket_sandbox.runaway import (DEFAULT_DEVICES, DeviceSimulator, EventBus, LambdaInvoker,  # noqa: E402
                                    Notebook, import_sdk, median_and_max)
from braket_sandbox.slack_sink import SlackSink, render_text  # noqa: E402
from braket_sandbox.verdict import Verdict, judge, parse_cap_specs, short_device, usd  # noqa: E402

__all__ = ["DemoOptions", "DemoResult", "run_demo", "main"]

DEFAULT_CAPS = ROOT / "demo" / "caps.json"
DEFAULT_LOGS = ROOT / ".demo"
SLACK_PATH = "/services/T0SANDBOX/B0GUARD/demo"
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


def _refused_at_door(error: str | None) -> bool:
    """A notebook error that is Braket refusing the task for a native spending limit."""
    return bool(error) and "ValidationException" in error and "spending limit" in error


def _rule_matches(event: dict) -> bool:
    """The pattern of the guard's EventBridge rules (main.tf: source aws.braket, detail-type
    "Braket Task State Change"); the deployed pattern itself is checked against these events."""
    return event.get("source") == "aws.braket" and event.get("detail-type") == "Braket Task State Change"


class SetupError(RuntimeError):
    """The demo could not be set up; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# small helpers


class Printer:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def step(self, number: int, title: str) -> None:
        self(f"\n[{number}/4] {title}")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGTERM if the demo dies without cleaning up (e.g. SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on every platform
        pass


class MotoProcess:
    """moto in server mode as a child process: the repo's locking launcher, with DynamoDB
    transactions that do not copy whole tables (``braket_sandbox.moto_speedups``)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "sandbox"), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "braket_sandbox.moto_speedups", "--port", "0"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        if not line or not line[0].startswith("READY "):
            self.stop()
            raise SetupError("moto did not start (is moto[server] installed? run `make venv`)")
        self.url = line[0].split()[1].strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def lambda_environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ as the Lambda runtime would set it, restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                     "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
            os.environ.pop(name, None)
        for name in [n for n in os.environ if n.startswith(("BRAKET_GUARD_", "AWS_ENDPOINT_URL_"))]:
            os.environ.pop(name)
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class LineWriter:
    """A file that whole lines from many threads reach intact (print() writes a line in parts)."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "w", encoding="utf-8")
        self.lock = threading.Lock()
        self.local = threading.local()
        self.lines = 0

    def write(self, text: str) -> int:
        buffer = getattr(self.local, "buffer", "") + text
        *complete, rest = buffer.split("\n")
        self.local.buffer = rest
        if complete:
            with self.lock:
                for line in complete:
                    self.handle.write(line + "\n")
                self.lines += len(complete)
        return len(text)

    def flush(self) -> None:
        with self.lock:
            self.handle.flush()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        with self.lock:
            self.handle.close()


@contextlib.contextmanager
def function_logs_to(path: Path) -> Iterator[LineWriter]:
    """What the function logs goes to ``path``, as Lambda ships it to CloudWatch Logs: the guard's
    JSON log lines (logger ``braket_guard``) and whatever it prints (EMF metric lines)."""
    writer = LineWriter(path)
    logger = logging.getLogger("braket_guard")
    saved = (list(logger.handlers), logger.propagate, sys.stdout)
    handler = logging.StreamHandler(writer)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers = [handler]
    logger.propagate = False
    sys.stdout = writer  # the demo's own output keeps the stream it was given
    try:
        yield writer
    finally:
        sys.stdout = saved[2]
        logger.handlers, logger.propagate = saved[0], saved[1]
        writer.close()


def load_caps(path: Path) -> list[dict]:
    if not path.is_file():
        raise SetupError(f"caps file {path} not found (CAPS=...)")
    text = path.read_text(encoding="utf-8")
    try:
        caps = json.loads(text)
    except ValueError as exc:
        raise SetupError(f"caps file {path} is not valid JSON: {exc}") from None
    from braket_guard.core.caps import CapError, parse_caps

    try:
        parse_caps(text)
    except CapError as exc:
        raise SetupError(f"caps file {path}: {exc}") from None
    return caps


def load_handler(spec: str) -> Any:
    module_name, _, function = spec.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function)


def _table_counters(ddb: Any, table: str) -> dict[tuple[str, str, str], dict[str, int]]:
    """Every cap counter of the ledger by (cap, window, group): the items the guard writes with
    ``cap_name``, ``win`` and ``grp`` attributes (whatever their key layout)."""
    counters: dict[tuple[str, str, str], dict[str, int]] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            if all(name in item for name in ("cap_name", "win", "grp")):
                key = (item["cap_name"]["S"], item["win"]["S"], item["grp"]["S"])
                counters[key] = {k: int(v["N"]) for k, v in item.items() if "N" in v}
        if not page.get("LastEvaluatedKey"):
            return counters
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _read_inbox(sqs: Any, queue_url: str) -> list[dict]:
    mails = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return mails
        for message in messages:
            body = json.loads(message["Body"])
            mails.append({"subject": body.get("Subject", ""), "text": body.get("Message", "")})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# the demo


class Demo:
    def __init__(self, options: DemoOptions, out: TextIO) -> None:
        self.options = options
        self.say = Printer(out)
        self.out = out
        self.moto: MotoProcess | None = None
        self.emulator: BraketEmulator | None = None
        self.sink: SlackSink | None = None
        self.terraform: deploy_mod.TerraformDeployer | None = None
        self.bus: EventBus | None = None
        self.devices: DeviceSimulator | None = None
        self.invoker: LambdaInvoker | None = None
        self.notebook: Notebook | None = None
        self.workdir: Path | None = None
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Stop everything that was started, in reverse order (idempotent); returns what was stopped."""
        stopped = []
        if self.notebook is not None:
            self.notebook.stop()
        if self.terraform is not None:
            if self.terraform.process is not None:
                self.terraform.stop()
                stopped.append("terraform")
            self.terraform = None
        if self.bus is not None:
            self.bus.stop()
        if self.devices is not None:
            self.devices.stop()
        if self.invoker is not None:
            self.invoker.shutdown(wait=False)
        if self.emulator is not None:
            self.emulator.on_event = None
            self.emulator.stop()
            self.emulator = None
            stopped.append("Braket emulator")
        if self.sink is not None:
            self.sink.stop()
            self.sink = None
            stopped.append("Slack sink")
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
            stopped.append("moto")
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return stopped

    # -- steps ---------------------------------------------------------------------------------------
    def start_services(self) -> None:
        self.say.step(1, "Local services on 127.0.0.1 (no AWS account, no Docker)")
        started = time.monotonic()
        self.moto = MotoProcess()
        self.emulator = BraketEmulator(results_s3=self.moto.url).start()
        self.sink = SlackSink().start()
        self.say(f"  moto server (DynamoDB, SNS, SQS, SSM, IAM, EventBridge, Lambda, Logs)  {self.moto.url}")
        self.say(f"  Braket API emulator (CreateQuantumTask, CancelQuantumTask, ...)           {self.emulator.url}")
        self.say("  (results of completed tasks go to moto's S3, where the Braket SDK reads them)")
        self.say(f"  Slack incoming-webhook sink                                               {self.sink.url}")
        self.timings["services"] = time.monotonic() - started

    def deploy(self, caps: list[dict]) -> deploy_mod.Deployment:
        """Terraform (when installed) or boto3. With Terraform, this returns as soon as the guard is
        live -- its function, the EventBridge rule and target invoking it, its table, topic and
        Slack parameter exist -- while Terraform finishes the rest (the dead-letter queue's
        policies wait out SQS attribute propagation); :meth:`finish_deploy` then checks the outputs."""
        options = self.options
        assert self.moto and self.sink
        terraform = deploy_mod.terraform_path()
        slack_url = self.sink.url_for(SLACK_PATH)
        log_path = options.logs / "terraform.log"
        log_path.write_text("")
        if options.terraform == "always" and terraform is None:
            raise SetupError("--terraform always, but terraform is not on PATH")
        if options.terraform == "never" or terraform is None:
            self.say.step(2, "Deploy the guard's table, topic and Slack parameter into moto with boto3")
            why = "--terraform never" if options.terraform == "never" else "Terraform is not installed"
            self.say(f"  {why}: creating the same table, topic and parameter as examples/sandbox with boto3")
            deployment = self._deploy_boto3(caps, slack_url)
            self._print_deployment(deployment)
            return deployment

        self.say.step(2, f"Deploy examples/sandbox with Terraform into moto "
                         f"(caps {self._rel(options.caps)}, timezone {options.timezone})")
        bar = ProgressBar(1, "terraform apply", self.out)
        shown = threading.Event()

        def progress(done: int, total: int, text: str) -> None:
            if not shown.is_set():
                bar.total = max(1, total)
                bar.update(done, text)

        assert self.workdir is not None
        self.terraform = deploy_mod.TerraformDeployer(self.workdir, self.moto.url, slack_url, caps,
                                                      options.timezone, log_path, progress,
                                                      native_limits=options.native_limits)
        thread = threading.Thread(target=self.terraform.run, name="terraform", daemon=True)
        thread.start()
        self.say("  building the Lambda package, terraform init, terraform apply (plan first) ...")
        while not self.terraform.ready.wait(0.5):
            bar.update(len(self.terraform.created), "planning" if not self.terraform.created else "")
        shown.set()
        error = self.terraform.error
        if error is not None:
            bar.close("failed")
            if options.terraform == "auto" and "terraform init failed" in str(error):
                self.say(f"  {str(error).splitlines()[0]}")
                self.say("  -> Terraform cannot install its AWS provider here; using boto3 instead.")
                deployment = self._deploy_boto3(caps, slack_url)
                self._print_deployment(deployment)
                return deployment
            if isinstance(error, deploy_mod.DeployError):
                raise SetupError(str(error)) from None
            raise error
        try:
            deployment = self.terraform.live_deployment()
        except deploy_mod.DeployError as exc:
            raise SetupError(str(exc)) from None
        done = len(self.terraform.created)
        bar.close(f"guard live after {format_duration(self.terraform.ready_after)}", done=done)
        if not self.terraform.finished.is_set():
            self.say(f"  the guard is live ({done} resources): its Lambda, the EventBridge rule and target "
                     "invoking it, its table, topic and Slack parameter; Terraform finishes the rest "
                     "(dead-letter queue policies) in the background")
        self._print_deployment(deployment)
        return deployment

    def finish_deploy(self, deployment: deploy_mod.Deployment) -> str | None:
        """Wait for Terraform to finish and check its outputs; returns a problem or None."""
        if self.terraform is None:
            return None
        if not self.terraform.finished.wait(timeout=600):
            return "terraform apply did not finish within 10 minutes"
        if self.terraform.error is not None:
            return f"terraform apply failed after the guard was live: {str(self.terraform.error)[:500]}"
        try:
            self.terraform.confirm(deployment)
        except deploy_mod.DeployError as exc:
            return str(exc)
        return None

    def _print_deployment(self, deployment: deploy_mod.Deployment) -> None:
        for fact in deployment.facts:
            self.say(f"  {fact}")
        self.say(f"  table {deployment.table} | topic {deployment.topic_arn} | "
                 f"Slack URL in SSM {deployment.slack_parameter}")

    def _deploy_boto3(self, caps: list[dict], slack_url: str) -> deploy_mod.Deployment:
        assert self.moto is not None
        return deploy_mod.deploy_with_boto3(self.moto.url, slack_url, caps, self.options.timezone,
                                            native_limits=self.options.native_limits)

    @staticmethod
    def _rel(path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(ROOT))
        except ValueError:
            return str(path)

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
            if _rule_matches(event):  # other Braket events (spending limits, jobs) reach no rule of the guard
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

        environment = {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": deploy_mod.REGION, "AWS_DEFAULT_REGION": deploy_mod.REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "no-aws-credentials"),
            "AWS_LAMBDA_FUNCTION_NAME": deployment.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(deployment.memory_mb),
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto.url, "AWS_ENDPOINT_URL_SNS": self.moto.url,
            "AWS_ENDPOINT_URL_SSM": self.moto.url, "AWS_ENDPOINT_URL_SQS": self.moto.url,
            "AWS_ENDPOINT_URL_BRAKET": self.emulator.url,
            # The notebook's SDK: its default bucket and results in moto's S3, its account from
            # moto's STS. The notebook and the in-process Lambda share this process environment;
            # the guard calls neither S3 nor STS.
            "AWS_ENDPOINT_URL_S3": self.moto.url, "AWS_ENDPOINT_URL_STS": self.moto.url,
            **deployment.environment,
        }
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
                if _rule_matches(event):
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

    def _clear_guard_caches(self) -> None:
        """A fresh 'container': the guard caches the Slack URL and device prices per process."""
        for module, function in (("braket_guard.alerts.notify", "clear_webhook_cache"),
                                 ("braket_guard.aws.braket_api", "clear_price_cache")):
            with contextlib.suppress(ImportError, AttributeError):
                getattr(importlib.import_module(module), function)()

    # -- the summary -----------------------------------------------------------------------------------
    def summarize(self, deployment: deploy_mod.Deployment, stats: dict, sqs: Any, inbox: str,
                  pattern_ok: bool | None) -> tuple[Verdict, dict]:
        assert self.emulator and self.sink and self.invoker and self.bus and self.notebook and self.moto
        say = self.say
        from braket_guard.core.pricing import build_price_book

        env = deployment.environment
        specs = parse_cap_specs(env["BRAKET_GUARD_CAPS"], env.get("BRAKET_GUARD_MODE", "enforce"))
        book = build_price_book(env.get("BRAKET_GUARD_PRICES"))
        zone = ZoneInfo(env.get("BRAKET_GUARD_TIMEZONE", "UTC"))
        tasks = self.emulator.tasks()
        admitted: set[str] = set()
        rejected: dict[str, list[str]] = {}
        decisions: collections.Counter = collections.Counter()
        for invocation in self.invoker.invocations:
            result = invocation.result or {}
            decisions[result.get("decision", "error")] += 1
            if result.get("decision") == "admitted":
                admitted.add(result["task"])
            elif result.get("decision") == "rejected":
                rejected.setdefault(result["task"], [])
                for cap in result.get("breached", []):
                    if cap not in rejected[result["task"]]:
                        rejected[result["task"]].append(cap)
        slack = [render_text(p) for p in self.sink.payloads()]
        mails = _read_inbox(sqs, inbox)
        counters = _table_counters(deploy_mod.aws_client("dynamodb", self.moto.url), deployment.table)
        submit_errors = [s for s in self.notebook.submissions if s.error]
        refused = [s for s in submit_errors if self.options.native_limits != "off" and _refused_at_door(s.error)]
        verdict = judge(tasks=tasks, specs=specs, price_of=book.lookup, zone=zone, admitted=admitted,
                        rejected=rejected, counters=counters, slack_texts=slack,
                        email_texts=[m["subject"] + "\n" + m["text"] for m in mails],
                        dead_letters=len(self.invoker.dead_letters),
                        submitted=len(self.notebook.submissions), submit_errors=len(submit_errors),
                        refused_at_door=len(refused))

        say.step(4, "Summary")
        say(f"  Slack: {len(slack)} message(s) posted to the webhook stored in SSM {deployment.slack_parameter}")
        for number, text in enumerate(slack, 1):
            say(f"  --- Slack message {number} ---")
            say(_indent(text, "    "))
        recipients = ", ".join(deployment.email_endpoints) or "(no email subscription in this deployment)"
        say(f"  Email: {len(mails)} message(s) on SNS topic {deployment.topic_arn.rsplit(':', 1)[-1]} "
            f"for {recipients} (moto sends no mail: read through an SQS subscription)")
        for number, mail in enumerate(mails, 1):
            say(f"    {number:>2}. {mail['subject']}")

        say("")
        say(f"  Deliveries: {self.bus.published} events emitted, {self.bus.deliveries} delivered "
            f"({self.bus.deliveries - self.bus.published} duplicates, {self.bus.out_of_order} out of order), "
            f"{len(self.invoker.invocations)} invocations, {self.invoker.errors} errors, "
            f"{len(self.invoker.dead_letters)} failed after retries")
        say(f"  Guard: " + ", ".join(f"{k} {v}" for k, v in sorted(decisions.items()))
            + f"; first saw tasks as " + ", ".join(f"{k} {v}" for k, v in sorted(stats["first_seen"].items()))
            + f"; reaction time median {stats['reaction_median_ms']} ms, max {stats['reaction_max_ms']} ms")
        if pattern_ok is not None:
            say(f"  EventBridge: the deployed rule {deployment.rule_name} "
                f"{'matches' if pattern_ok else 'does NOT match'} the emulator's events "
                f"({', '.join(stats.get('rule_statuses', []))})")
        if deployment.method == "terraform" and not stats.get("deploy_problem"):
            say(f"  Terraform: {deployment.resources} resources in {format_duration(deployment.seconds)}, "
                f"the guard live after {format_duration(self.terraform.ready_after if self.terraform else 0)}; "
                f"log {self._rel(self.options.logs / 'terraform.log')}")
        say(f"  Lambda log: {stats['lambda_log_lines']} JSON lines (decisions, alerts, EMF metrics) in {self._rel(self.options.logs / 'lambda.log')}")

        native = self._native_limits_summary(refused)
        say("")
        self._print_caps(verdict)
        say("")
        say(f"  Tasks: {verdict.tasks} submitted, {verdict.ran} ran, {verdict.cancelled} cancelled by the guard "
            "before they ran")
        say(f"  Spend prevented: {usd(verdict.prevented_micros)} ({usd(verdict.spent_micros)} spent; the runaway "
            f"would have cost {usd(verdict.spent_micros + verdict.prevented_micros)})")
        say("")
        say("  Checks (against the emulator's ground truth):")
        for check in verdict.checks:
            say(f"    [{'ok' if check.ok else 'FAILED'}] {check.name}" + (f": {check.detail}" if check.detail else ""))
        if stats["timed_out"]:
            say("    [FAILED] the run finished in time: tasks or deliveries were still pending")
        if self.terraform is not None or deployment.method == "terraform":
            problem = stats.get("deploy_problem")
            say(f"    [{'FAILED' if problem else 'ok'}] Terraform finished; its outputs name the table, topic, "
                f"parameter, function and environment the demo used" + (f": {problem}" if problem else ""))
        if pattern_ok is not None:
            say(f"    [{'ok' if pattern_ok else 'FAILED'}] the deployed EventBridge rule matches the emulator's events")
        seen = stats.get("notebook", {})
        say(f"    [{'ok' if seen.get('agrees') else 'FAILED'}] the notebook's SDK reports every task in the state the "
            "emulator holds (cancelled tasks CANCELLED, no result)"
            + ("" if seen.get("agrees") else f": {seen.get('error') or seen.get('disagreements')}"))
        total = time.monotonic() - self.started
        say("")
        if self._all_ok(verdict, stats, pattern_ok):
            say(f"RESULT: every cap held. ({format_duration(total)} in all: services "
                f"{format_duration(self.timings.get('services', 0))}, guard live after "
                f"{format_duration(self.timings.get('deploy', 0))}, notebook {format_duration(self.timings.get('notebook', 0))})")
        else:
            held = ("every cap held" if verdict.caps_held else "a cap did NOT hold" if verdict.rows
                    else "nothing was guarded: no cap covered any task")
            say(f"RESULT: {held}, but not every check passed (see above). ({format_duration(total)})"
                if verdict.caps_held else f"RESULT: {held} (see above). ({format_duration(total)})")

        summary = {
            "deployment": {"method": deployment.method, "table": deployment.table, "topic": deployment.topic_arn,
                           "slack_parameter": deployment.slack_parameter, "function": deployment.function_name,
                           "resources": deployment.resources, "terraform_version": deployment.terraform_version,
                           "rule": deployment.rule_name, "rule_matches_events": pattern_ok,
                           "environment": {k: v for k, v in deployment.environment.items()}},
            "tasks": verdict.tasks, "ran": verdict.ran, "cancelled": verdict.cancelled,
            "spent_usd": str(verdict.spent_micros / 1_000_000), "prevented_micros": verdict.prevented_micros,
            "spent_micros": verdict.spent_micros,
            "admitted": sorted(admitted), "rejected": {k: v for k, v in sorted(rejected.items())},
            "caps": [{"cap": r.cap.name, "window": r.window, "group": r.group, "limit": r.cap.limit_text(),
                      "max_shots": r.cap.max_shots, "max_cost_micros": r.cap.max_cost_micros,
                      "enforced": r.cap.enforced, "ran_tasks": r.ran_tasks, "ran_shots": r.ran_shots,
                      "ran_cost_micros": r.ran_cost, "cancelled_tasks": r.cancelled_tasks,
                      "cancelled_cost_micros": r.cancelled_cost, "rejected_for_this_cap": r.rejected_for_this_cap,
                      "held": r.held, "ledger_matches": r.ledger_matches} for r in verdict.rows],
            "caps_held": verdict.caps_held,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
            "breach_alerts": [{"cap": k[0], "window": k[1], "group": k[2], **v}
                              for k, v in sorted(verdict.breach_alerts.items())],
            "slack": slack, "emails": mails,
            "deliveries": {"published": self.bus.published, "delivered": self.bus.deliveries,
                           "out_of_order": self.bus.out_of_order, "invocations": len(self.invoker.invocations),
                           "errors": self.invoker.errors, "dead_letters": len(self.invoker.dead_letters)},
            "decisions": dict(decisions), "stats": stats, "native_limits": native,
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "seconds": round(total, 2),
        }
        return verdict, summary

    def _native_limits_summary(self, refused: list) -> dict[str, Any]:
        """With native limits on: the limits the guard left on the emulator's QPUs, and the notebook's
        calls Braket refused at CreateQuantumTask (each ended that thread's loop)."""
        if self.options.native_limits == "off":
            return {"mode": "off"}
        assert self.emulator
        limits = [{"device": lim["deviceArn"], "spendingLimit": str(lim["spendingLimit"]),
                   "totalSpend": str(lim["totalSpend"]), "queuedSpend": str(lim["queuedSpend"]),
                   "tags": dict(lim["tags"])} for lim in self.emulator.spending_limits()]
        self.say(f"  Native limits ({self.options.native_limits}): {len(limits)} spending limit(s) on the QPUs")
        for lim in limits:
            self.say(f"    {short_device(lim['device'])}: limit ${lim['spendingLimit']}, total ${lim['totalSpend']}, "
                     f"queued ${lim['queuedSpend']}; tags " + ", ".join(f"{k}={v}" for k, v in sorted(lim["tags"].items())))
        if refused:
            self.say(f"  Braket refused {len(refused)} CreateQuantumTask call(s) at the door; each ended a notebook "
                     f"thread's loop, as a user's loop ends: {refused[0].error}")
        else:
            self.say("  Braket refused no CreateQuantumTask call (no native limit was reached)")
        return {"mode": self.options.native_limits, "limits": limits, "refused": len(refused),
                "first_refusal": refused[0].error if refused else None}

    def _print_caps(self, verdict: Verdict) -> None:
        header = ("cap", "window", "group", "limit", "ran (admitted)", "cancelled", "held")
        rows = []
        for row in verdict.rows:
            group = short_device(row.group) if row.cap.group_by == "device" else row.group
            ran = f"{row.ran_tasks} tasks, {row.ran_shots:,} shots, {usd(row.ran_cost)}"
            cancelled = f"{row.cancelled_tasks} tasks, {usd(row.cancelled_cost)}"
            if row.rejected_for_this_cap:
                cancelled += f" ({row.rejected_for_this_cap} breached this cap)"
            held = ("yes" if row.held else "NO") if row.cap.enforced else ("alert only" + ("" if row.held else ", over"))
            rows.append((row.cap.name, row.window, group, row.cap.limit_text(), ran, cancelled, held))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        self.say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows:
            self.say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))


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

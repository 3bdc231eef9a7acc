"""The local stack the demo and ``make sandbox`` run on: moto, the Braket emulator and the Slack sink
on 127.0.0.1, and the guard deployed into moto (Terraform applying ``examples/sandbox`` when it is
installed, otherwise boto3 creating the same table, topic and parameter). :class:`Stack` starts
them, deploys, and stops everything it started, in reverse order."""

from __future__ import annotations

import contextlib
import importlib
import shutil
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from braket_sandbox import deploy as deploy_mod
from braket_sandbox.emulator import BraketEmulator
from braket_sandbox.progress import ProgressBar, format_duration
from braket_sandbox.services import ROOT, MotoProcess, Printer, SetupError
from braket_sandbox.slack_sink import SlackSink

__all__ = ["SLACK_PATH", "Stack"]

SLACK_PATH = "/services/T0SANDBOX/B0GUARD/demo"


class Stack:
    """``options`` has ``terraform`` (auto|always|never), ``caps``, ``timezone``, ``native_limits`` and
    ``logs``; ``steps``: how many numbered steps the printed story has."""

    def __init__(self, options: Any, out: TextIO, steps: int = 4) -> None:
        self.options = options
        self.say = Printer(out, steps)
        self.out = out
        self.moto: MotoProcess | None = None
        self.emulator: BraketEmulator | None = None
        self.sink: SlackSink | None = None
        self.terraform: deploy_mod.TerraformDeployer | None = None
        self.bus: Any = None
        self.devices: Any = None
        self.invoker: Any = None
        self.notebook: Any = None
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

    def _clear_guard_caches(self) -> None:
        """A fresh 'container': the guard caches the Slack URL and device prices per process."""
        for module, function in (("braket_guard.alerts.notify", "clear_webhook_cache"),
                                 ("braket_guard.aws.braket_api", "clear_price_cache")):
            with contextlib.suppress(ImportError, AttributeError):
                getattr(importlib.import_module(module), function)()

    # -- the summary -----------------------------------------------------------------------------------

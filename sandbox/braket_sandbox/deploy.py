"""Deploying the guard into the local moto server: ``examples/sandbox`` with Terraform, or (when
Terraform is not installed) the same table, topic and parameter with boto3.

Terraform path: the package is built from ``lambda/`` (``scripts/build_package.py``), the files of
``examples/sandbox`` are copied into a scratch directory (module sources made absolute, so the
example itself is never touched and its state never lands in the repository), the demo's inputs
(moto endpoint, Slack sink URL, caps, time zone, package path) are written to a ``.tfvars.json``,
and ``terraform init`` + ``terraform apply`` run there. Inputs the example does not declare as
variables are set on its ``module "braket_guard"`` block through a Terraform override file.
Everything the demo then uses comes from ``terraform output`` and from what moto holds: the
Lambda's environment, handler and code hash as deployed, the EventBridge rule that targets it.

Nothing is destroyed afterwards: moto is discarded with its state when the demo ends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sandbox"
SOURCES = ROOT / "lambda" / "braket_guard"
BUILD_PACKAGE = ROOT / "scripts" / "build_package.py"
MIRROR_LAYOUT = "registry.terraform.io"
DEFAULT_PREFIX = "bg-sandbox"
REGION = "us-east-1"
# The regions examples/sandbox guards: its home region and the forwarder's (``regions`` of its
# module block); the module renders them as BRAKET_GUARD_REGIONS = jsonencode(local.regions).
EXAMPLE_REGIONS = (REGION, "us-west-2")

__all__ = ["Deployment", "DeployError", "TerraformDeployer", "deploy_with_boto3", "terraform_path",
           "aws_client", "example_variables", "render_environment"]


class DeployError(RuntimeError):
    """The deployment failed; the message says what and where the log is."""


@dataclass
class Deployment:
    method: str  # "terraform" | "boto3"
    table: str
    topic_arn: str
    slack_parameter: str | None
    function_name: str
    environment: dict[str, str]
    handler: str = "braket_guard.handler.lambda_handler"
    memory_mb: int = 256
    timeout_s: int = 60
    resources: int = 0
    seconds: float = 0.0
    email_endpoints: list[str] = field(default_factory=list)
    rule_name: str | None = None
    event_pattern: str | None = None
    facts: list[str] = field(default_factory=list)  # what was checked, for the output
    terraform_version: str = ""


def aws_client(service: str, endpoint: str, region: str = REGION) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def terraform_path() -> str | None:
    return shutil.which("terraform")


def example_variables(example: Path = EXAMPLE) -> dict[str, str | None]:
    """Variables declared by the example: name -> default string (when a plain string)."""
    found: dict[str, str | None] = {}
    for path in sorted(example.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r'variable\s+"([^"]+)"\s*\{', text):
            body = text[match.end():match.end() + 2000]
            default = re.search(r'^\s*default\s*=\s*"([^"]*)"', body.split("\nvariable ")[0], re.M)
            found[match.group(1)] = default.group(1) if default else None
    return found


def render_environment(table: str, caps: list[dict], timezone: str, topic_arn: str,
                       slack_parameter: str | None, native_limits: str = "off") -> dict[str, str]:
    """The Lambda environment the module renders (lambda.tf), for the boto3 path."""
    env = {
        "BRAKET_GUARD_TABLE": table,
        "BRAKET_GUARD_CAPS": json.dumps(caps, separators=(",", ":")),
        "BRAKET_GUARD_MODE": "enforce",
        "BRAKET_GUARD_TIMEZONE": timezone,
        "BRAKET_GUARD_SNS_TOPIC_ARN": topic_arn,
        "BRAKET_GUARD_REGIONS": json.dumps(list(EXAMPLE_REGIONS), separators=(",", ":")),
        "LOG_LEVEL": "INFO",
    }
    if slack_parameter:
        env["BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"] = slack_parameter
    if native_limits != "off":  # lambda.tf renders it only when not the default (cancels: always "2" here)
        env["BRAKET_GUARD_NATIVE_LIMITS"] = native_limits
    return env


def deploy_with_boto3(moto_url: str, slack_url: str, caps: list[dict], timezone: str,
                      prefix: str | None = None, native_limits: str = "off") -> Deployment:
    """The table, topic and Slack parameter of the module, created directly (no Terraform)."""
    started = time.monotonic()
    prefix = prefix or example_variables().get("name_prefix") or DEFAULT_PREFIX
    table, topic_name, parameter = f"{prefix}-ledger", f"{prefix}-alerts", f"/{prefix}/slack-webhook-url"
    ddb = aws_client("dynamodb", moto_url)
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True,
                                                                      "AttributeName": "expires_at"})
    topic_arn = aws_client("sns", moto_url).create_topic(Name=topic_name)["TopicArn"]
    aws_client("ssm", moto_url).put_parameter(Name=parameter, Type="SecureString", Value=slack_url)
    env = render_environment(table, caps, timezone, topic_arn, parameter, native_limits)
    return Deployment("boto3", table, topic_arn, parameter, prefix, env, resources=3,
                      seconds=time.monotonic() - started,
                      facts=[f"created table {table}, topic {topic_name} and SecureString {parameter} "
                             "with boto3 (Terraform not used)"])


# ---------------------------------------------------------------------------------------------
# Terraform


def _terraform_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"})
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "TF_WORKSPACE", "TF_DATA_DIR"):
        env.pop(name, None)
    # The AWS provider spends most of its start-up (several per apply) in Go's garbage collector
    # building its schema; collecting less often cuts that CPU time by about a third.
    env.setdefault("GOGC", "400")
    config = env.get("TF_CLI_CONFIG_FILE")
    if not config or not Path(config).is_file():
        mirror = env.get("TF_PROVIDER_MIRROR") or ("/opt/tf-plugins" if Path("/opt/tf-plugins").is_dir() else "")
        path = workdir / "terraformrc"
        if mirror:
            path.write_text(
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{MIRROR_LAYOUT}/*/*"]\n  }}\n'
                f'  direct {{\n    exclude = ["{MIRROR_LAYOUT}/*/*"]\n  }}\n}}\n')
        else:
            path.write_text("")
        env["TF_CLI_CONFIG_FILE"] = str(path)
    return env


class TerraformDeployer:
    """``examples/sandbox`` applied against moto from a scratch copy (see the module doc)."""

    def __init__(self, workdir: Path, moto_url: str, slack_url: str, caps: list[dict], timezone: str,
                 log_path: Path, on_progress: Callable[[int, int, str], None] | None = None,
                 example: Path = EXAMPLE, native_limits: str = "off") -> None:
        self.native_limits = native_limits
        self.workdir = workdir
        self.tfdir = workdir / "terraform"
        self.moto_url, self.slack_url = moto_url, slack_url
        self.caps, self.timezone = caps, timezone
        self.log_path = log_path
        self.on_progress = on_progress or (lambda done, total, text: None)
        self.example = example
        self.env = _terraform_env(workdir)
        self.package = workdir / "braket-guard-lambda.zip"
        self.process: subprocess.Popen | None = None
        self.version = ""
        self.package_sha = ""
        self.overridden: list[str] = []
        self.planned: set[str] = set()
        self.created: dict[str, str] = {}  # address -> id
        self.ready = threading.Event()  # the guard is live (or the apply ended)
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.outputs_value: dict[str, Any] = {}
        self.started = 0.0
        self.ready_after = 0.0
        self.seconds = 0.0

    # -- steps -------------------------------------------------------------------------------------
    def build_package(self) -> str:
        result = subprocess.run([sys.executable, str(BUILD_PACKAGE), "--output", str(self.package)],
                                capture_output=True, text=True, cwd=ROOT)
        self._log(f"$ build_package.py --output {self.package}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise DeployError(f"building the Lambda package failed: {result.stderr.strip()[-500:]}")
        return hashlib.sha256(self.package.read_bytes()).hexdigest()

    def prepare(self) -> list[str]:
        """Copy the example, point its module sources at the repository, write inputs and
        overrides. Returns the inputs set through the override file."""
        if not self.example.is_dir():
            raise DeployError(f"{self.example} is missing")
        self.tfdir.mkdir(parents=True, exist_ok=True)
        module_name = None
        for path in sorted(self.example.iterdir()):
            if not path.is_file() or not (path.name.endswith((".tf", ".tf.json")) or path.name == "terraform.tfvars"):
                continue
            text = path.read_text(encoding="utf-8")

            def absolute(match: re.Match) -> str:
                return f'{match.group(1)}"{(self.example / match.group(2)).resolve().as_posix()}"'

            text = re.sub(r'(source\s*=\s*)"(\.{1,2}/[^"]*|\.\.)"', absolute, text)
            found = re.search(r'module\s+"([^"]+)"\s*\{\s*source\s*=\s*"' + re.escape(ROOT.as_posix()) + '"', text)
            if found:
                module_name = found.group(1)
            (self.tfdir / path.name).write_text(text, encoding="utf-8")

        declared = example_variables(self.example)
        for needed in ("endpoint", "slack_webhook_url"):
            if needed not in declared:
                raise DeployError(f"examples/sandbox declares no variable {needed!r}: the demo cannot "
                                  "point it at the local servers")
        wanted = {"caps": self.caps, "timezone": self.timezone, "lambda_package_path": str(self.package),
                  "native_limits": self.native_limits}
        tfvars: dict[str, Any] = {"endpoint": self.moto_url, "slack_webhook_url": self.slack_url}
        overridden = []
        for name, value in wanted.items():
            if name in declared:
                tfvars[name] = value
            else:
                overridden.append(name)
                tfvars[f"demo_{name}"] = value
        if overridden:
            if module_name is None:
                raise DeployError("examples/sandbox has no module block with source \"../..\": "
                                  f"cannot set {', '.join(overridden)}")
            (self.tfdir / "demo_variables.tf").write_text("".join(
                f'variable "demo_{name}" {{\n  type = any\n}}\n' for name in overridden))
            (self.tfdir / "demo_override.tf").write_text(
                f'module "{module_name}" {{\n' + "".join(f"  {name} = var.demo_{name}\n" for name in overridden)
                + "}\n")
        (self.tfdir / "demo.tfvars.json").write_text(json.dumps(tfvars, indent=2))
        return overridden

    def _log(self, text: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")

    def _run(self, args: list[str], on_line: Callable[[str], None] | None = None) -> tuple[int, str]:
        self._log(f"$ terraform {' '.join(args)}")
        self.process = subprocess.Popen(["terraform", *args], cwd=self.tfdir, env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        lines = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            lines.append(line)
            self._log(line.rstrip("\n"))
            if on_line is not None:
                on_line(line)
        code = self.process.wait()
        self.process = None
        return code, "".join(lines)

    def stop(self) -> None:
        """Stop a running terraform (Ctrl-C): terminate its process group, then kill."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:  # its state is scratch and moto goes away too: no need to let it finish gracefully
            os.killpg(process.pid, 15)
            process.wait(timeout=3)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass

    def init(self) -> None:
        code, out = self._run(["init", "-input=false", "-no-color"])
        if code != 0:
            raise DeployError(f"terraform init failed (exit {code}); see {self.log_path}:\n"
                              + _tail(out))

    # Resources the guard needs to be live: its function and what invokes it, its ledger and alerts.
    READY_TYPES = ("aws_lambda_function", "aws_lambda_permission", "aws_cloudwatch_event_bus",
                   "aws_cloudwatch_event_rule", "aws_cloudwatch_event_target", "aws_dynamodb_table",
                   "aws_sns_topic", "aws_ssm_parameter")

    def _is_ready(self) -> bool:
        needed = [a for a in self.planned if a.split("[")[0].split(".")[-2] in self.READY_TYPES]
        return bool(needed) and all(a in self.created for a in needed)

    def apply(self) -> int:
        total = [0]

        def on_line(line: str) -> None:
            planned = re.match(r"\s*# (\S+) will be created", line)
            if planned:
                self.planned.add(planned.group(1))
                return
            plan = re.search(r"Plan: (\d+) to add", line)
            if plan:
                total[0] = int(plan.group(1))
                self.on_progress(0, total[0], "planned")
                return
            done = re.match(r"(\S+): Creation complete after \S+(?: \[id=(.*)\])?", line.strip())
            if done:
                self.created[done.group(1)] = done.group(2) or ""
                self.on_progress(len(self.created), total[0] or len(self.created),
                                 done.group(1).split(".")[-2])
                if not self.ready.is_set() and self._is_ready():
                    self.ready_after = time.monotonic() - self.started
                    self.ready.set()

        code, out = self._run(["apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20",
                               "-var-file=demo.tfvars.json"], on_line)
        if code != 0:
            raise DeployError(f"terraform apply of examples/sandbox failed (exit {code}); "
                              f"see {self.log_path}:\n" + _tail(out))
        return len(self.created)

    def outputs(self) -> dict[str, Any]:
        result = subprocess.run(["terraform", "output", "-json"], cwd=self.tfdir, env=self.env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise DeployError(f"terraform output failed: {result.stderr.strip()[-500:]}")
        return {name: value.get("value") for name, value in json.loads(result.stdout).items()}

    # -- all of it -----------------------------------------------------------------------------------
    def run(self) -> None:
        """Build, init and apply (a thread's target). ``ready`` is set as soon as the guard is live
        -- its function, the EventBridge rule and target invoking it, its table, topic and Slack
        parameter exist -- or when the apply ends (check ``error``); ``finished`` when it ends."""
        self.started = time.monotonic()
        try:
            version = subprocess.run(["terraform", "version", "-json"], env=self.env, capture_output=True,
                                     text=True)
            try:
                self.version = json.loads(version.stdout).get("terraform_version", "")
            except ValueError:
                self.version = ""
            self.package_sha = self.build_package()
            self.overridden = self.prepare()
            self.init()
            self.apply()
            self.outputs_value = self.outputs()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self.seconds = time.monotonic() - self.started
            self.ready.set()
            self.finished.set()

    def live_deployment(self) -> Deployment:
        """The deployment as moto holds it once ``ready``: the guard's function (its environment
        names the table, topic and parameter), checked against the package built."""
        functions = [fid for address, fid in self.created.items()
                     if address.split("[")[0].split(".")[-2] == "aws_lambda_function" and fid]
        lam = aws_client("lambda", self.moto_url)
        for name in functions:
            function = lam.get_function_configuration(FunctionName=name)
            env = function.get("Environment", {}).get("Variables", {})
            if "BRAKET_GUARD_TABLE" in env:
                break
        else:
            raise DeployError(f"no guard function among the created Lambda functions {functions}")
        deployment = Deployment(
            "terraform", env["BRAKET_GUARD_TABLE"], env.get("BRAKET_GUARD_SNS_TOPIC_ARN", ""),
            env.get("BRAKET_GUARD_SLACK_WEBHOOK_PARAMETER"), function["FunctionName"], dict(env),
            handler=function.get("Handler", "braket_guard.handler.lambda_handler"),
            memory_mb=int(function.get("MemorySize", 256)), timeout_s=int(function.get("Timeout", 60)),
            terraform_version=self.version)
        local_hash = base64.b64encode(hashlib.sha256(self.package.read_bytes()).digest()).decode()
        if function.get("CodeSha256") != local_hash:
            raise DeployError("the deployed function's CodeSha256 is not the package the demo built")
        same, total = _package_matches_sources(self.package)
        if same != total:
            raise DeployError(f"the package differs from lambda/braket_guard ({total - same} of {total} files)")
        deployment.facts.append(f"Lambda package built from lambda/ (sha256 {self.package_sha[:12]}...)")
        if self.overridden:
            deployment.facts.append(
                "examples/sandbox has no variable for " + ", ".join(self.overridden)
                + ": set on its module block through an override file in the scratch copy")
        deployment.facts.append(
            f"Lambda {deployment.function_name}: {function.get('Runtime')}, handler {deployment.handler}, "
            f"{deployment.memory_mb} MB, timeout {deployment.timeout_s}s; CodeSha256 = the package; "
            f"its braket_guard/ = lambda/braket_guard ({total} files)")
        events = aws_client("events", self.moto_url)
        for bus in events.list_event_buses().get("EventBuses", []):
            for rule in events.list_rules(EventBusName=bus["Name"]).get("Rules", []):
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"]).get("Targets", [])
                if any(t.get("Arn", "").endswith(f":function:{deployment.function_name}") for t in targets):
                    if "aws.braket" in (rule.get("EventPattern") or ""):
                        deployment.rule_name, deployment.event_pattern = rule["Name"], rule.get("EventPattern")
        return deployment

    def confirm(self, deployment: Deployment) -> None:
        """After the apply: the outputs must name exactly what the demo used."""
        outputs = self.outputs_value
        missing = [name for name in ("table_name", "sns_topic_arn", "slack_webhook_parameter_name",
                                     "lambda_function_name", "lambda_environment") if outputs.get(name) is None]
        if missing:
            raise DeployError(f"examples/sandbox has no output {', '.join(missing)}: the demo reads the "
                              "deployment from its outputs")
        used = {"table_name": deployment.table, "sns_topic_arn": deployment.topic_arn,
                "slack_webhook_parameter_name": deployment.slack_parameter,
                "lambda_function_name": deployment.function_name, "lambda_environment": deployment.environment}
        differ = [name for name, value in used.items() if outputs.get(name) != value]
        if differ:
            raise DeployError("the Terraform outputs differ from what the demo used: " + ", ".join(differ))
        subscriptions = aws_client("sns", self.moto_url).list_subscriptions_by_topic(
            TopicArn=deployment.topic_arn).get("Subscriptions", [])
        deployment.email_endpoints = sorted(s["Endpoint"] for s in subscriptions if s.get("Protocol") == "email")
        deployment.resources = len(self.created)
        deployment.seconds = self.seconds
        deployment.facts.append("Terraform outputs table_name, sns_topic_arn, slack_webhook_parameter_name, "
                                "lambda_function_name, lambda_environment = what the demo used")


def _package_matches_sources(package: Path) -> tuple[int, int]:
    """(files of lambda/braket_guard identical in the zip, files in lambda/braket_guard)."""
    sources = {p.relative_to(SOURCES.parent).as_posix(): p.read_bytes() for p in SOURCES.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")}
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        same = sum(1 for name, data in sources.items() if name in names and archive.read(name) == data)
    return same, len(sources)


def check_event_pattern(pattern: str, event: dict) -> bool:
    """Does the deployed rule's pattern match this event? moto serves no TestEventPattern, so this
    uses the pattern matcher moto's EventBridge applies to PutEvents."""
    from moto.events.models import EventPattern

    return bool(EventPattern.load(pattern).matches_event(event))


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])

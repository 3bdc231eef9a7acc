"""Helpers for the Terraform tests: run terraform, start a local moto server.

Used by conftest.py (fixtures) and by nothing outside tests/terraform.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SANDBOX_EXAMPLE = EXAMPLES / "sandbox"
EXAMPLE_TFVARS = "terraform.tfvars.example"
MIRROR_LAYOUT = "registry.terraform.io"


def terraform_env(workdir: Path) -> dict[str, str]:
    """Environment for terraform: the CLI config from mk/terraform.mk when exported, else one
    written here (filesystem mirror when TF_PROVIDER_MIRROR or /opt/tf-plugins exists)."""
    env = dict(os.environ)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    config = env.get("TF_CLI_CONFIG_FILE")
    if not config or not Path(config).is_file():
        mirror = env.get("TF_PROVIDER_MIRROR") or ("/opt/tf-plugins" if Path("/opt/tf-plugins").is_dir() else "")
        path = workdir / "terraformrc"
        # A shared plugin cache, as mk/terraform.mk configures: the provider is unpacked once,
        # not once per working directory.
        cache = ROOT / ".terraform" / "plugin-cache"
        cache.mkdir(parents=True, exist_ok=True)
        cache_config = (f'plugin_cache_dir = "{cache}"\n'
                        "plugin_cache_may_break_dependency_lock_file = true\n")
        if mirror:
            path.write_text(
                cache_config +
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{MIRROR_LAYOUT}/*/*"]\n  }}\n'
                f'  direct {{\n    exclude = ["{MIRROR_LAYOUT}/*/*"]\n  }}\n}}\n'
            )
        else:
            path.write_text(cache_config)
        env["TF_CLI_CONFIG_FILE"] = str(path)
    # Dummy credentials: the sandbox provider blocks carry their own, this only keeps the SDK
    # from looking for real ones.
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    env.pop("AWS_PROFILE", None)
    return env


def terraform(args: list[str], cwd: Path, env: dict[str, str], check: bool = True,
              timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = ["terraform", *args]
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}) in {cwd}:\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """moto in server mode on 127.0.0.1: the project's serializing launcher when present
    (sandbox/braket_sandbox), else moto's own moto_server CLI."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60, extra_env: dict[str, str] | None = None) -> "MotoServer":
        env = dict(os.environ)
        env.update(extra_env or {})
        sandbox = ROOT / "sandbox"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(sandbox), env.get("PYTHONPATH")]))
        spec_found = (sandbox / "braket_sandbox" / "moto_server.py").is_file()
        if spec_found:
            cmd = [sys.executable, "-m", "braket_sandbox.moto_server", "--port", "0"]
        elif importlib.util.find_spec("moto") is not None:
            port = _free_port()
            cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
            self.url = f"http://127.0.0.1:{port}"
        else:
            raise RuntimeError("neither sandbox/braket_sandbox nor moto is installed: run `make venv`")
        self.process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True)
        deadline = time.monotonic() + timeout
        if spec_found:
            line = self.process.stdout.readline().strip()
            if not line.startswith("READY "):
                self.stop()
                raise RuntimeError(f"moto launcher did not report READY: {line!r}")
            self.url = line.split(" ", 1)[1]
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1])), timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("moto server exited at start-up")
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("moto server did not start in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def planned_resources(plan: dict) -> dict[str, dict]:
    """address -> planned values of every resource in a `terraform show -json` plan."""
    found: dict[str, dict] = {}

    def walk(module: dict) -> None:
        for resource in module.get("resources", []):
            found[resource["address"]] = resource.get("values", {})
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan.get("planned_values", {}).get("root_module", {}))
    return found


def lambda_policy_from_plan(plan: dict) -> dict:
    for address, values in planned_resources(plan).items():
        if address.endswith("aws_iam_role_policy.lambda"):
            policy = values.get("policy")
            if not policy:
                raise AssertionError(f"{address} has no known policy in the plan")
            return json.loads(policy)
    raise AssertionError("no aws_iam_role_policy.lambda in the plan")


def deployable_examples() -> list[Path]:
    """Every example that deploys to AWS: each directory of examples/ with *.tf files, except
    the local sandbox."""
    return sorted(d for d in EXAMPLES.iterdir()
                  if d.is_dir() and d.name != "sandbox" and any(d.glob("*.tf")))


def example_env(workdir: Path, moto_url: str, name: str) -> dict[str, str]:
    """terraform_env for planning a real example against moto: every AWS endpoint of every
    provider block (the examples have no endpoints of their own) is moto's, through the SDK's
    AWS_ENDPOINT_URL; the .terraform data directory is private to the test."""
    env = terraform_env(workdir)
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        del env[key]
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("TF_DATA_DIR", None)
    env["AWS_ENDPOINT_URL"] = moto_url
    env["TF_DATA_DIR"] = str(workdir / f"tfdata-{name}")
    return env


def plan_example(example: Path, tfvars: Path, workdir: Path, moto_url: str) -> dict:
    """init + plan of an example with a var file against moto; the plan as `terraform show -json`."""
    env = example_env(workdir, moto_url, example.name)
    plan_file = workdir / f"{example.name}.tfplan"
    terraform(["init", "-backend=false", "-input=false", "-no-color"], cwd=example, env=env)
    terraform(["plan", "-input=false", "-no-color", f"-var-file={tfvars}", f"-out={plan_file}"],
              cwd=example, env=env)
    return json.loads(terraform(["show", "-json", str(plan_file)], cwd=example, env=env).stdout)


def configured_resources(plan: dict) -> list[tuple[str, str, str]]:
    """(module path, mode, type) of every resource and data block in the configuration of a plan,
    whether or not its count/for_each creates any instance."""
    found: list[tuple[str, str, str]] = []

    def walk(module: dict, path: str) -> None:
        for resource in module.get("resources", []):
            found.append((path, resource["mode"], resource["type"]))
        for name, call in module.get("module_calls", {}).items():
            walk(call.get("module", {}), f"{path}module.{name}.")

    walk(plan.get("configuration", {}).get("root_module", {}), "")
    return found

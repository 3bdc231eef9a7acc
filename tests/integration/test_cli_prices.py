"""``braket-guard prices`` end to end: a real boto3 ``pricing`` client over HTTP to a local replay
of a recorded GetProducts response (moto has no ``pricing``), and ``--from-file`` on the same
recording. No network."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from braket_guard import cli

from .pricing_replay import PricingReplay

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "pricelist_amazonbraket.json"
NOVEL = "arn:aws:braket:us-east-1::device/qpu/acme/Novel-1"
IBEX = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"
TN1 = "arn:aws:braket:::device/quantum-simulator/amazon/tn1"
OVERRIDES = {
    TN1: {"per_minute_usd": "0.275"},
    IBEX: {"per_shot_usd": "0.025", "per_task_usd": "0.30"},
    "ml.g4dn.xlarge": {"per_hour_usd": "0.78"},
    "ml.m5.xlarge": {"per_hour_usd": "0.24"},
}


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def items() -> list[str]:
    return json.loads(FIXTURE.read_text("utf-8"))


def run_cli_process(*argv, endpoint: str, extra_env: dict | None = None):
    """The installed entry point's module in a fresh interpreter, pointed at the replay."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BRAKET_GUARD_"))}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_ENDPOINT_URL_PRICING": endpoint, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "1",
                "PYTHONPATH": os.pathsep.join([str(ROOT / "lambda"), env.get("PYTHONPATH", "")])})
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "braket_guard.cli", *argv], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_from_file_prints_the_changes_and_the_overrides():
    code, out, err = run("prices", "--from-file", str(FIXTURE))
    assert code == 1, err  # one product could not be tied to a device: the answer is incomplete
    assert err == ""
    assert out.startswith(f"{FIXTURE}: 30 product(s), 26 priced by the guard's rules\n")
    rows = [line.split() for line in out.splitlines() if line.startswith(("added ", "changed "))]
    assert rows == [["added", TN1, "per_minute_usd", "-", "0.275"],
                    ["changed", IBEX, "per_shot_usd", "0.0235", "0.025"],
                    ["changed", "ml.g4dn.xlarge", "per_hour_usd", "0.7364", "0.78"],
                    ["changed", "ml.m5.xlarge", "per_hour_usd", "0.23", "0.24"]]
    assert "Unchanged: 9 entries." in out
    assert "In the built-in table but not in the Price List (17): ml.c5.18xlarge," in out
    assert "pass --device-arn ARN" in out and "deviceName=Novel-1" in out
    assert "Not priced by the guard: Braket Managed Jobs Volume (1), Quantum Widget (1) [unknown family]" in out
    tail = out.split("Overrides for the guard (Terraform `prices`, or BRAKET_GUARD_PRICES):\n", 1)[1]
    assert json.loads(tail) == OVERRIDES


def test_from_file_json_is_only_the_overrides_object():
    code, out, err = run("prices", "--from-file", str(FIXTURE), "--json", "--device-arn", NOVEL)
    assert code == 0, err
    assert json.loads(out) == {**OVERRIDES, NOVEL: {"per_shot_usd": "0.02", "per_task_usd": "0.30"}}


def test_the_real_pricing_client_pages_through_get_products():
    with PricingReplay(items(), page_size=7) as replay:
        proc = run_cli_process("prices", "--json", "--device-arn", NOVEL, endpoint=replay.url)
        requests = list(replay.requests)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {**OVERRIDES, NOVEL: {"per_shot_usd": "0.02", "per_task_usd": "0.30"}}
    assert len(requests) == 5  # 30 products in pages of at most 7
    assert {r["target"] for r in requests} == {"AWSPriceListService.GetProducts"}
    assert all(r["body"]["ServiceCode"] == "AmazonBraket" and r["body"]["FormatVersion"] == "aws_v1"
               for r in requests)
    assert [r["body"].get("NextToken") for r in requests] == [None, "7", "14", "21", "28"]
    assert all("/us-east-1/pricing/aws4_request" in r["authorization"] for r in requests)


def test_the_region_flag_picks_the_price_list_endpoint_region():
    with PricingReplay(items(), page_size=100) as replay:
        proc = run_cli_process("prices", "--region", "eu-central-1", endpoint=replay.url)
        requests = list(replay.requests)
    assert proc.returncode == 1, proc.stderr  # Novel-1 unmapped
    assert proc.stdout.startswith("pricing:GetProducts in eu-central-1: 30 product(s)")
    assert len(requests) == 1 and "/eu-central-1/pricing/aws4_request" in requests[0]["authorization"]


def test_access_denied_is_one_line_and_exit_2():
    denied = ("AccessDeniedException", "User: arn:aws:iam::123456789012:user/op is not authorized to "
                                       "perform: pricing:GetProducts")
    with PricingReplay(items(), fail=denied) as replay:
        proc = run_cli_process("prices", endpoint=replay.url)
        json_proc = run_cli_process("prices", "--json", endpoint=replay.url)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"braket-guard: error: AWS said AccessDeniedException: {denied[1]}\n"
    assert json_proc.returncode == 2 and json.loads(json_proc.stderr) == {
        "error": f"AWS said AccessDeniedException: {denied[1]}"}


def test_no_credentials_is_one_line_and_exit_2():
    proc = run_cli_process("prices", endpoint="http://127.0.0.1:9",
                           extra_env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                                      "AWS_EC2_METADATA_DISABLED": "true"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("braket-guard: error: No AWS credentials found") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("content,message", [
    (None, "File not found"),
    ("{", "not valid JSON"),
    ('{"PriceList": "x"}', "expected a JSON array"),
    ('["{nope"]', r"PriceList[0]: not a JSON document"),
    # issue 18: these printed tracebacks
    ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    (json.dumps([json.dumps({"a": "[" * 100_000})[:-2] + "[" * 50_000 + "]" * 50_000 + "}"]), "PriceList[0]: "),
    (json.dumps([json.dumps({"product": {"productFamily": "Quantum Task-Shot", "sku": "S1", "attributes": {
        "deviceName": "Forte-1", "regionCode": "us-east-1"}}, "terms": {"OnDemand": {"t": {"priceDimensions": {
        "d": {"unit": "Shots", "pricePerUnit": {"USD": "1e400"}}}}}}})]),
     "PriceList[0] (Quantum Task-Shot sku S1 (deviceName=Forte-1, regionCode=us-east-1)): pricePerUnit.USD is "
     "'1e400': out of range: must be from 0 to 1,000,000,000 US dollars"),
    ('[{"product": {"productFamily": "Quantum Task-Shot", "sku": "S2", "attributes": {"deviceName": "Forte-1", '
     '"regionCode": "us-east-1"}}, "terms": {"OnDemand": {"t": {"priceDimensions": {"d": {"unit": "Shots", '
     '"pricePerUnit": {"USD": 1e400}}}}}}}]', "pricePerUnit.USD is Decimal('1E+400'): out of range"),
    ('[{"product": {"productFamily": "Quantum Task-Shot", "sku": "S3", "attributes": {"deviceName": "Forte-1", '
     '"regionCode": "us-east-1"}}, "terms": {"OnDemand": {"t": {"priceDimensions": {"d": {"unit": "Shots", '
     '"pricePerUnit": {"USD": "0.' + "1234567890" * 4 + '"}}}}}}}]', "characters is out of range (at most 40)"),
    ("[" + "1" * 5000 + "]", "PriceList[0]: expected a JSON string, got Decimal"),
])
def test_a_bad_saved_response_is_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "saved.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run("prices", "--from-file", str(path))
    assert code == 2 and out == ""
    assert err.startswith("braket-guard: error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err and "internal error" not in err


def test_malformed_products_are_unusable_rows_not_crashes(tmp_path):
    """terms, OnDemand, priceDimensions or pricePerUnit of the wrong JSON type: that product is
    listed as unusable (exit 1), the others are still read."""
    product = {"product": {"productFamily": "Quantum Task-Shot", "sku": "S9", "attributes": {
        "deviceName": "Forte-1", "regionCode": "us-east-1"}}}
    broken = [{**product, "terms": []}, {**product, "terms": {"OnDemand": "x"}},
              {**product, "terms": {"OnDemand": {"t": {"priceDimensions": [1]}}}},
              {**product, "terms": {"OnDemand": {"t": {"priceDimensions": {"d": {"unit": "Shots",
                                                                                  "pricePerUnit": "0.3"}}}}}},
              {**product, "terms": {"OnDemand": {"t": {"priceDimensions": {"d": {"unit": "Shots",
                                                                                  "pricePerUnit": {"USD": True}}}}}}}]
    path = tmp_path / "saved.json"
    path.write_text(json.dumps([json.dumps(b) for b in broken] + items()))
    code, out, err = run("prices", "--from-file", str(path))
    assert code == 1 and err == "", err
    unusable = out.split("Unusable (price or unit not understood):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(unusable) == 5 and all("sku S9" in line for line in unusable), unusable
    assert "Unchanged: 9 entries." in out  # the recording's products still read


def test_a_device_arn_flag_that_is_not_an_arn_is_refused():
    code, _, err = run("prices", "--from-file", str(FIXTURE), "--device-arn", "Novel-1")
    assert code == 2 and err == "braket-guard: error: --device-arn: not a Braket device ARN: Novel-1\n"


def test_price_region_flag_reaches_the_mapping():
    code, out, err = run("prices", "--from-file", str(FIXTURE), "--price-region", "eu-west-2", "--json",
                         "--device-arn", NOVEL)
    assert code == 0, err
    overrides = json.loads(out)
    # only SV1 is listed in eu-west-2 (same price); TN1 and the instance types are us-east-1 products
    assert TN1 not in overrides and "ml.m5.xlarge" not in overrides
    assert overrides[IBEX] == OVERRIDES[IBEX]

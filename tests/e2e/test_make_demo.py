"""`make demo` as a newcomer runs it (smaller): exit code 0 and a summary that says the caps held.

With Terraform on PATH (as on the project's machines) this applies examples/sandbox against moto;
without it the demo must say that it used boto3 instead, and this test checks that it did.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_make_demo(make_demo_run):
    """`make demo TASKS=40 TIMEZONE=Asia/Tokyo` (started in the background by conftest.py)."""
    code, out = make_demo_run.wait()
    env, logs = make_demo_run.env, make_demo_run.logs
    assert code == 0, out[-4000:]
    assert "RESULT: every cap held." in out, out[-4000:]
    assert "[FAILED]" not in out and "Traceback" not in out, out[-4000:]

    summary = json.loads((logs / "summary.json").read_text())
    assert summary["exit_code"] == 0 and summary["caps_held"] is True
    assert summary["tasks"] == 40 and summary["cancelled"] > 0 and summary["ran"] > 0
    assert all(row["held"] for row in summary["caps"] if row["enforced"])
    assert all(check["ok"] for check in summary["checks"]), summary["checks"]
    assert summary["deployment"]["environment"]["BRAKET_GUARD_TIMEZONE"] == "Asia/Tokyo"  # not the example's own Europe/Berlin
    if shutil.which("terraform", path=env.get("PATH")):
        assert "Deploy examples/sandbox with Terraform" in out, out[:3000]
        assert summary["deployment"]["method"] == "terraform"
        assert summary["deployment"]["rule_matches_events"] is True
        assert summary["deployment"]["resources"] > 0
    else:
        assert "Terraform is not installed: creating the same table, topic and parameter" in out
        assert summary["deployment"]["method"] == "boto3"
    # The servers are gone: nothing the demo started is left listening.
    for url in (line.split()[-1] for line in out.splitlines()
                if line.strip().startswith(("moto server", "Braket API emulator", "Slack incoming-webhook"))):
        port = int(url.rsplit(":", 1)[1])
        import socket

        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"{url} still listening after the demo"

"""Every AWS call the AWS provider made against moto in this session is one that
docs/deployer-policy.json grants: the sandbox's init, plan, apply, re-plan and destroy
(test_sandbox_apply.py, which runs before this file), and the plans of the other examples.

moto records every request it serves when its process starts with MOTO_ENABLE_RECORDING: this
module sets that (and the file) in the environment when pytest imports it, before any fixture
starts a moto server, so every server of the session appends to one recording. Only requests
whose User-Agent is the Terraform provider's count (the tests' own boto3 checks do not). The
sandbox's names use another prefix, so ARNs are checked on the examples' plans instead
(test_deployer_policy.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import awscalls
import test_deployer_policy as contract

RECORDING = Path(tempfile.mkdtemp(prefix="braket-guard-moto-recording-")) / "requests.jsonl"
atexit.register(shutil.rmtree, RECORDING.parent, True)
os.environ["MOTO_ENABLE_RECORDING"] = "true"
os.environ["MOTO_RECORDER_FILEPATH"] = str(RECORDING)


def test_provider_calls_are_granted(sandbox):
    if not sandbox.destroyed:
        pytest.fail("the sandbox was not applied and destroyed (test_sandbox_apply.py runs first and did not "
                    "finish), so the deployer's calls were not all recorded")
    if not RECORDING.is_file():
        pytest.fail(f"moto recorded nothing in {RECORDING}: was the server started after this module set "
                    "MOTO_ENABLE_RECORDING?")
    calls = awscalls.recorded_actions(RECORDING, user_agent="terraform-provider-aws")
    assert {"lambda:CreateFunction", "dynamodb:DeleteTable", "events:PutTargets"} <= set(calls), sorted(calls)
    granted = contract.granted_actions(contract.load_policy()) | contract.NO_PERMISSION_NEEDED
    missing = sorted(set(calls) - granted)
    assert not missing, (f"the provider called actions docs/deployer-policy.json does not grant: "
                         f"{[(a, sorted(calls[a])) for a in missing]}")
    needed = {a for actions in contract.TYPE_ACTIONS.values() for a in actions} | contract.NO_PERMISSION_NEEDED
    unmapped = sorted(set(calls) - needed)
    assert not unmapped, f"calls no TYPE_ACTIONS entry accounts for: {unmapped}"

"""The README's decision table and docs/state-machine.md are generated from states.TABLE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_and_state_machine_doc_match_the_table():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "state_docs.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_state_and_step_appears_in_the_doc():
    from braket_guard.core import states
    doc = (ROOT / "docs" / "state-machine.md").read_text()
    for name in list(states.STATES) + list(states.STEPS):
        assert f"`{name}`" in doc or f"**{name}**" in doc, name

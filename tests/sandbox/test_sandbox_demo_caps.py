"""The demo refuses to call a run green when nothing was guarded (issue 18: `make demo CAPS=[]`
printed "RESULT: every cap held" after $1,040 was spent)."""

from __future__ import annotations

import pytest

from braket_sandbox.demo import SetupError, load_caps
from braket_sandbox.verdict import Verdict


@pytest.mark.parametrize("text,words", [
    ("[]", "is empty"),
    ('[{"name": "a", "window": "day", "max_cost_usd": "1e400"}]', "max_cost_usd"),
])
def test_caps_the_guard_would_refuse_stop_the_demo_at_setup(tmp_path, text, words):
    path = tmp_path / "caps.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SetupError, match=words):
        load_caps(path)


def test_a_cap_missing_group_by_is_accepted_as_terraform_renders_it(tmp_path):
    path = tmp_path / "caps.json"
    path.write_text('[{"name": "a", "window": "day", "max_shots": 10}]', encoding="utf-8")
    assert load_caps(path) == [{"name": "a", "window": "day", "max_shots": 10}]


def test_a_verdict_with_no_cap_row_is_not_held():
    fields = {name: 0 for name in Verdict.__dataclass_fields__ if name not in ("rows", "checks", "breach_alerts")}
    verdict = Verdict(rows=[], checks=[], **fields)
    assert verdict.caps_held is False and verdict.ok is False

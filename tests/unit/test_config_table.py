"""Every BRAKET_GUARD_* variable the package reads is in README's Configuration table, and the
table names none the package does not read (issue 18: REGIONS, RECONCILE_ALERT_USD and
DIGEST_ALWAYS were read but undocumented)."""

from __future__ import annotations

import re
from pathlib import Path

from braket_guard.config import load_config

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda" / "braket_guard"
CAPS = '[{"name": "a", "window": "day", "max_shots": 10}]'


class Recording(dict):
    """An environment that remembers every name the loader asks for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def read_by_loader() -> set[str]:
    environ = Recording({"BRAKET_GUARD_TABLE": "guard-ledger", "BRAKET_GUARD_CAPS": CAPS})
    load_config(environ)
    return {name for name in environ.asked if name.startswith("BRAKET_GUARD_")}


def named_in_code() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        names |= set(re.findall(r"BRAKET_GUARD_[A-Z][A-Z_]*[A-Z]", path.read_text("utf-8")))
    return names


def documented() -> set[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("### Configuration (environment variables", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `(BRAKET_GUARD_[A-Z_]+)` \|", section, flags=re.MULTILINE))


def test_the_loader_asks_for_at_least_the_core_variables():
    # A guard against a loader this test cannot see into (e.g. reading os.environ directly).
    assert {"BRAKET_GUARD_TABLE", "BRAKET_GUARD_CAPS", "BRAKET_GUARD_MODE", "BRAKET_GUARD_REGIONS"} <= read_by_loader()


def test_every_variable_the_package_reads_is_in_the_configuration_table():
    read = read_by_loader() | named_in_code()
    missing = sorted(read - documented())
    assert not missing, f"read by the package but missing from README's Configuration table: {missing}"


def test_the_configuration_table_names_only_variables_the_package_reads():
    extra = sorted(documented() - (read_by_loader() | named_in_code()))
    assert not extra, f"in README's Configuration table but never read by the package: {extra}"

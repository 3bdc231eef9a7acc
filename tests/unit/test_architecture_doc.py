"""docs/architecture.md names every room and module of the Lambda package and of the emulated
Braket service, and names none that does not exist: the page cannot drift from the tree."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text("utf-8")
PACKAGE = ROOT / "lambda" / "braket_guard"
EMULATOR = ROOT / "sandbox" / "braket_sandbox" / "braket"


def modules(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__")}


def rooms() -> dict[str, set[str]]:
    return {d.name: modules(d) for d in sorted(PACKAGE.iterdir()) if (d / "__init__.py").is_file()}


def table_row(room: str) -> str:
    rows = [line for line in DOC.splitlines() if line.startswith(f"| `{room}/` |")]
    assert len(rows) == 1, f"docs/architecture.md: no single table row for the room {room}/"
    return rows[0]


def test_every_room_and_its_modules_are_in_the_page():
    found = rooms()
    assert {"core", "aws", "ledger", "alerts", "tasks", "jobs", "native", "ops", "cli"} <= set(found)
    for room, names in found.items():
        row = table_row(room)
        missing = sorted(n for n in names if not re.search(rf"`{n}`", row))
        assert not missing, f"docs/architecture.md: the row of {room}/ does not name {missing}"


def test_the_page_names_no_room_that_is_not_in_the_tree():
    named = set(re.findall(r"^\| `([a-z_]+)/` \|", DOC, re.M))
    assert named == set(rooms()), f"rooms in the page {sorted(named)} != rooms in the tree {sorted(rooms())}"


def test_every_top_level_module_is_in_the_page():
    for name in modules(PACKAGE):
        assert f"| `{name}.py` |" in DOC, f"docs/architecture.md: no row for {name}.py"


def test_every_module_of_the_emulated_service_is_in_the_page():
    missing = sorted(n for n in modules(EMULATOR) if f"`braket/{n}.py`" not in DOC and f"`{n}.py`" not in DOC)
    assert not missing, f"docs/architecture.md: the sandbox table does not name braket/{missing}"

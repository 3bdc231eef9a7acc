"""Every shell block of the README runs as written, or is marked as needing AWS.

A ```sh or ```bash block is either run here (from the repository root, line by line, with a time
limit), or preceded by ``<!-- not run: needs AWS -->``; a block that is neither fails the test.
Commands of the marked blocks that call ``braket-guard`` must at least parse: ``--help`` of the
subcommand must know every flag they use. ``make ...`` lines are not run here (``make demo`` and
``make test`` are what CI runs already); they must name a target that ``make help`` lists or the
Makefile defines.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent / "braket-guard"
MARK = "<!-- not run: needs AWS -->"
FENCE = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>sh|bash)\n(?P<body>.*?)\n```", re.S)


def blocks() -> list[tuple[int, bool, list[str]]]:
    """(line of the fence, marked not run, the block's commands: continuation lines joined)."""
    text = README.read_text("utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("lang")) + 1
        commands, current = [], ""
        for raw in match.group("body").split("\n"):
            current += raw[:-1] + " " if raw.endswith("\\") else raw
            if not raw.endswith("\\"):
                if current.strip():
                    commands.append(current.strip())
                current = ""
        found.append((line, match.group("before").strip() == MARK, commands))
    return found


def strip_comment(command: str) -> str:
    return command.split("  #", 1)[0].strip()


def make_targets() -> set[str]:
    text = "\n".join(p.read_text() for p in [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))])
    return set(re.findall(r"^([a-zA-Z][\w-]*)\s*:", text, re.M))


def test_the_readme_has_shell_blocks_of_both_kinds():
    kinds = {marked for _, marked, _ in blocks()}
    assert kinds == {True, False}, "the README should show runnable blocks and AWS-only ones"


@pytest.mark.parametrize("line,marked,commands", blocks(), ids=[f"README.md:{b[0]}" for b in blocks()])
def test_every_shell_block_runs_or_is_marked(line, marked, commands):
    targets = make_targets()
    for command in map(strip_comment, commands):
        words = shlex.split(command)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value prefixes
            words.pop(0)
        assert words, f"README.md:{line}: empty command {command!r}"
        if words[0] == "make":
            named = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
            unknown = [w for w in named if w not in targets]
            assert not unknown, f"README.md:{line}: `{command}` names no Makefile target: {unknown}"
            continue
        if words[0].endswith("braket-guard"):
            help_run = subprocess.run([str(BIN), words[1], "--help"], capture_output=True, text=True, timeout=30)
            assert help_run.returncode == 0, f"README.md:{line}: `braket-guard {words[1]}` is no command"
            flags = {w.split("=", 1)[0] for w in words[2:] if w.startswith("--")}
            missing = [f for f in flags if f not in help_run.stdout]
            assert not missing, f"README.md:{line}: `{command}`: {words[1]} does not take {missing}"
            if marked:
                continue
            argv = [str(BIN), *words[1:]]
        elif marked:
            continue
        else:
            pytest.fail(f"README.md:{line}: `{command}` is neither run by this test nor marked {MARK!r}")
        env = {"PATH": str(BIN.parent) + ":/usr/bin:/bin", "HOME": str(ROOT), "TZ": "UTC"}
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"README.md:{line}: `{command}` exited {proc.returncode}: {proc.stderr}"

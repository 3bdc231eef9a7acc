#!/usr/bin/env python3
"""Write the CLI output shown in the docs from real runs, between markers.

Each block is ``<!-- BEGIN_OUTPUT name -->`` ... ``<!-- END_OUTPUT name -->`` in a file of BLOCKS;
the script runs the block's commands as shown (``$ braket-guard ...``, from the repository root,
with the venv's ``braket-guard``) and writes a ```text fence with each command and what it
printed. The commands run offline (no AWS call), so their output is deterministic; nothing is
substituted.

    doc_outputs.py            # rewrite the blocks
    doc_outputs.py --check    # exit 1 naming every block that differs from a fresh run
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "braket-guard"

# block name -> (file, commands); each command is shown as typed, with `braket-guard` first.
BLOCKS: dict[str, tuple[str, list[str]]] = {
    "check-config": ("docs/cli.md", ["braket-guard check-config demo/caps.json"]),
    "prices": ("docs/billing.md",
               ["braket-guard prices --from-file tests/fixtures/pricelist_amazonbraket.json"]),
}


def run(command: str) -> str:
    argv = command.split()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRAKET_GUARD_", "AWS_"))}
    env.update(COLUMNS="100", TZ="UTC")
    proc = subprocess.run([str(BIN), *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode not in (0, 1) or proc.stderr.strip() and proc.returncode:
        raise SystemExit(f"doc_outputs: `{command}` exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout.rstrip("\n")


def render(commands: list[str]) -> str:
    parts = [f"$ {command}\n{run(command)}" for command in commands]
    return "```text\n" + "\n\n".join(parts) + "\n```\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a block is stale")
    args = parser.parse_args()
    stale, texts = [], {}
    for name, (rel, commands) in BLOCKS.items():
        path = ROOT / rel
        text = texts.setdefault(path, path.read_text("utf-8"))
        block = re.compile(rf"(<!-- BEGIN_OUTPUT {re.escape(name)} -->\n)(.*?)(<!-- END_OUTPUT {re.escape(name)} -->)", re.S)
        match = block.search(text)
        if not match:
            raise SystemExit(f"doc_outputs: {rel} has no BEGIN_OUTPUT/END_OUTPUT markers for {name!r}")
        fresh = render(commands)
        if match.group(2) != fresh:
            stale.append(f"{rel}: block {name!r}")
            texts[path] = text[:match.start(2)] + fresh + text[match.end(2):]
    if args.check:
        for item in stale:
            print(f"docs-check: {item} differs from a fresh run: run `make docs` and commit it")
        if not stale:
            print("docs-check: generated output blocks are up to date")
        return 1 if stale else 0
    for path, text in texts.items():
        if path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            print(f"docs: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Build the Lambda package dist/braket-guard-lambda.zip reproducibly (stdlib only).

The zip holds lambda/braket_guard/ and the pure-Python wheels pinned in
scripts/lambda-wheels.lock (requests and its dependencies; boto3 comes from the Lambda
runtime). The same sources give the same bytes: entries are sorted, every entry has the date
1980-01-01 00:00:00 and mode 0644, and no __pycache__ or *.pyc is included. Only
``py3-none-any`` wheels are accepted, so the zip runs on arm64 and x86_64 alike.

    build_package.py [--output PATH] [--wheel-cache DIR]
    build_package.py --check PATH     # rebuild in memory, exit 1 if PATH differs
    build_package.py --update-lock    # re-resolve lambda/requirements.txt into the lock file
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "lambda" / "braket_guard"
REQUIREMENTS = ROOT / "lambda" / "requirements.txt"
LOCK = ROOT / "scripts" / "lambda-wheels.lock"
DEFAULT_OUTPUT = ROOT / "dist" / "braket-guard-lambda.zip"
DEFAULT_CACHE = ROOT / "build" / "wheels"

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")
WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<tags>[^-]+-[^-]+-[^-]+)\.whl$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def check_lock_covers_requirements() -> dict[str, str]:
    wanted = read_pins(REQUIREMENTS)
    locked = read_pins(LOCK)
    problems = [f"{name}=={version}" for name, version in wanted.items() if locked.get(name) != version]
    if problems:
        sys.exit(f"build_package: {', '.join(problems)} (from {REQUIREMENTS.relative_to(ROOT)}) "
                 f"not pinned in {LOCK.relative_to(ROOT)}: run `make package-lock`")
    return locked


def download_wheels(cache: Path, locked: dict[str, str]) -> list[Path]:
    """pip-download the locked wheels (hash-checked, pure Python only) into cache."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = {}
    for wheel in cache.glob("*.whl"):
        match = WHEEL.match(wheel.name)
        if match:
            wheels[(canonical(match.group("name")), match.group("version"))] = wheel
    if not all((name, version) in wheels for name, version in locked.items()):
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--require-hashes", *PIP_PURE, "--dest", str(cache), "-r", str(LOCK)]
        subprocess.run(cmd, check=True)
        return download_wheels(cache, locked)
    selected = [wheels[(name, version)] for name, version in sorted(locked.items())]
    for wheel in selected:
        if not wheel.name.endswith("-py3-none-any.whl") and not wheel.name.endswith("-py2.py3-none-any.whl"):
            sys.exit(f"build_package: {wheel.name} is not a pure-Python (py3-none-any) wheel")
    verify_hashes(selected)
    return selected


def verify_hashes(wheels: list[Path]) -> None:
    expected = {}
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            expected[(canonical(match.group(1)), match.group(2))] = re.findall(r"sha256:([0-9a-f]{64})", line)
    for wheel in wheels:
        match = WHEEL.match(wheel.name)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest not in expected[(canonical(match.group("name")), match.group("version"))]:
            sys.exit(f"build_package: {wheel} does not match its hash in {LOCK.name}; delete it and rebuild")


PIP_PURE = ["--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
            "--python-version", "3.12"]


def update_lock() -> None:
    """Resolve lambda/requirements.txt (with dependencies, pure wheels only) into the lock."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        *PIP_PURE, "--dest", tmp, "-r", str(REQUIREMENTS)], check=True)
        lines = []
        for wheel in sorted(Path(tmp).glob("*.whl"), key=lambda w: canonical(w.name.split("-")[0])):
            match = WHEEL.match(wheel.name)
            if match is None or not match.group("tags").endswith("-none-any"):
                sys.exit(f"build_package: {wheel.name} is not a pure-Python wheel")
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            lines.append(f"{canonical(match.group('name'))}=={match.group('version')} --hash=sha256:{digest}")
    header = [line for line in LOCK.read_text().splitlines() if line.startswith("#")] if LOCK.exists() else []
    LOCK.write_text("\n".join(header + lines) + "\n")
    print(f"package: wrote {LOCK.relative_to(ROOT)} ({len(lines)} wheels)")


def excluded(relative: str) -> bool:
    parts = relative.split("/")
    return "__pycache__" in parts or relative.endswith((".pyc", ".pyo")) or parts[-1] == ".DS_Store"


def collect_entries(wheels: list[Path]) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    if not (SOURCE_DIR / "handler.py").is_file():
        sys.exit(f"build_package: {SOURCE_DIR.relative_to(ROOT)}/handler.py is missing")
    for path in SOURCE_DIR.rglob("*"):
        if path.is_file():
            relative = path.relative_to(SOURCE_DIR.parent).as_posix()
            if not excluded(relative):
                entries[relative] = path.read_bytes()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.is_dir() or excluded(info.filename):
                    continue
                if info.filename.split("/")[0] == "braket_guard":
                    sys.exit(f"build_package: {wheel.name} would overwrite {info.filename}")
                entries[info.filename] = archive.read(info)
    return entries


def write_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, so that the mode is honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def build(cache: Path) -> bytes:
    locked = check_lock_covers_requirements()
    return write_zip(collect_entries(download_wheels(cache, locked)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--wheel-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--check", type=Path, metavar="ZIP",
                        help="rebuild in memory and compare with ZIP instead of writing")
    parser.add_argument("--update-lock", action="store_true",
                        help=f"re-resolve {REQUIREMENTS.name} into {LOCK.name} and exit")
    args = parser.parse_args(argv)

    if args.update_lock:
        update_lock()
        return 0

    data = build(args.wheel_cache)
    if args.check:
        committed = args.check.read_bytes() if args.check.exists() else b""
        if committed != data:
            with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as fresh:
                fresh.write(data)
            print(f"package-check: {args.check} differs from a rebuild of lambda/ "
                  f"(fresh build in {fresh.name}): run `make package` and commit {args.check}",
                  file=sys.stderr)
            return 1
        print(f"package-check: {args.check} matches the sources "
              f"(sha256 {hashlib.sha256(data).hexdigest()}, {len(data)} bytes)")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"package: wrote {args.output} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

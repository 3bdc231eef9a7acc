"""Package size and import ("cold start") cost of the Lambda, measured in fresh interpreters."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_TIMER = ("import time; t0 = time.perf_counter(); import {module}; "
          "print(f'{{time.perf_counter() - t0:.6f}}')")


def import_seconds(module: str, runs: int = 11) -> list[float]:
    """Wall time of ``import module`` in ``runs`` fresh interpreters (bytecode already cached)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lambda"), PYTHONDONTWRITEBYTECODE="")
    command = [sys.executable, "-c", _TIMER.format(module=module)]
    subprocess.run(command, env=env, check=True, capture_output=True)  # warm the bytecode cache
    return [float(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)
            for _ in range(runs)]


def cold_start(runs: int = 11) -> dict[str, float]:
    """Median import time of boto3 alone and of the handler module (which imports boto3 too)."""
    boto, guard = [], []
    for _ in range(runs):  # interleaved, so drift in machine load affects both alike
        boto += import_seconds("boto3", 1)
        guard += import_seconds("braket_guard.handler", 1)
    boto_ms, guard_ms = statistics.median(boto) * 1000, statistics.median(guard) * 1000
    return {"boto3_ms": boto_ms, "handler_ms": guard_ms, "ratio": guard_ms / boto_ms,
            "extra_ms": guard_ms - boto_ms, "runs": runs}


def package_size() -> dict[str, object]:
    """Build the Lambda zip with scripts/build_package.py into a temporary file and measure it."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "braket-guard-lambda.zip"
        built = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_package.py"), "--output", str(target)],
                               capture_output=True, text=True)
        source = "scripts/build_package.py"
        if built.returncode != 0 or not target.exists():
            fallback = ROOT / "dist" / "braket-guard-lambda.zip"
            if not fallback.exists():
                return {"error": (built.stderr or built.stdout).strip()[-300:]}
            target, source = fallback, "dist/braket-guard-lambda.zip (build failed: " + \
                (built.stderr or built.stdout).strip()[-120:] + ")"
        with zipfile.ZipFile(target) as archive:
            infos = archive.infolist()
            own = [i for i in infos if i.filename.startswith("braket_guard/")]
            return {"zip_bytes": target.stat().st_size, "entries": len(infos),
                    "unzipped_bytes": sum(i.file_size for i in infos),
                    "guard_zipped_bytes": sum(i.compress_size for i in own),
                    "guard_unzipped_bytes": sum(i.file_size for i in own), "source": source}

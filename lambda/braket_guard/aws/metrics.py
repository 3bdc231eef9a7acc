"""CloudWatch metrics as embedded-metric-format (EMF) log lines: no extra dependency, no API
call on the hot path. CloudWatch turns each printed JSON line into metrics.

Money is reported in integer micro-dollars (``CostAdmittedMicroUSD``); dashboards divide by 1e6.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Mapping, TextIO

NAMESPACE = "BraketGuard"
COUNT, NONE = "Count", "None"
UNITS = {
    "TasksAdmitted": COUNT, "TasksRejected": COUNT, "TasksRefunded": COUNT, "TasksCancelled": COUNT,
    "CancelFailures": COUNT, "ShotsAdmitted": COUNT, "CostAdmittedMicroUSD": NONE,
    "ShotsRefunded": COUNT, "CostRefundedMicroUSD": NONE, "CostPreventedMicroUSD": NONE,
    "ReconcileCorrections": COUNT, "ReconcileCorrectionMicroUSD": NONE, "ReconcileTasksSeen": COUNT,
    "SimulatorTrueUpMicroUSD": NONE, "EventsDropped": COUNT, "GuardErrors": COUNT,
    "TasksOverrun": COUNT, "ShotsOverrun": COUNT, "CostOverrunMicroUSD": NONE,
    "RegionFailures": COUNT, "OpenWork": COUNT,
    # cancels under the shared budget (pacing.py) and native limits (native_guard.py)
    "CancelCalls": COUNT, "CancelRetries": COUNT, "CancelPaceWaitMs": "Milliseconds", "CancelThrottled": COUNT,
    "NativeLimitDriftMicroUSD": NONE, "DevicesFrozen": COUNT, "NativeLimitChanges": COUNT,
    "NativeLimitForeign": COUNT, "NativeLimitsUnavailable": COUNT, "NativeLimitBroken": COUNT,
    "UnguardedRegionEvents": COUNT,  # events from a region outside BRAKET_GUARD_REGIONS (guarded all the same)
}


def emf_record(values: Mapping[str, int], dimensions: Mapping[str, str],
               timestamp_ms: int | None = None) -> dict[str, Any]:
    """One EMF document: ``values`` (metric name -> integer) under one dimension set."""
    unknown = sorted(set(values) - set(UNITS))
    if unknown:
        raise ValueError(f"unknown metric(s): {', '.join(unknown)}")
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [sorted(dimensions)],
                "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in sorted(values)],
            }],
        },
    }
    record.update(dimensions)
    record.update({name: int(value) for name, value in values.items()})
    return record


def emit(values: Mapping[str, int], dimensions: Mapping[str, str], stream: TextIO | None = None) -> None:
    """Print one EMF line to stdout (Lambda ships stdout lines to CloudWatch Logs unchanged)."""
    if not values:
        return
    print(json.dumps(emf_record(values, dimensions), separators=(",", ":")),
          file=stream or sys.stdout, flush=True)

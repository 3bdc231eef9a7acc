"""``unfreeze``: lift the native limit the guard set on a device."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from braket_guard.alerts.messages import short_device
from braket_guard.cli.context import _limiter, resolve_settings
from braket_guard.cli.format import CliError


def cmd_unfreeze(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    settings = resolve_settings(args)
    if settings.native_limits == "off":
        raise CliError("Native limits are off for this deployment (BRAKET_GUARD_NATIVE_LIMITS): nothing is frozen")
    limiter = _limiter(settings)
    if args.cap not in {c.name for c in limiter.config.caps}:
        raise CliError(f"No cap named {args.cap!r}")
    lifted = limiter.unfreeze(args.cap, args.group)
    devices = sorted(set().union(*(f.devices for f in lifted))) if lifted else []
    if not lifted:
        text = f"No active freeze of {args.cap}" + (f" for {args.group}" if args.group else "") + ": nothing to lift."
    else:
        text = (f"Lifted {len(lifted)} freeze(s) of {args.cap}: Braket accepts tasks again on "
                f"{', '.join(short_device(d) for d in devices)}. The guard keeps cancelling tasks over the cap, "
                "and does not freeze this cap's group again before its window ends.")
    return 0, ({"cap": args.cap, "group": args.group, "lifted": [f.key for f in lifted], "devices": devices}, text)

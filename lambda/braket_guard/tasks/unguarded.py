"""Events from a region outside BRAKET_GUARD_REGIONS are guarded all the same, and told once a region and day (alert, metric, digest)."""

from __future__ import annotations

import time

from botocore.exceptions import BotoCoreError, ClientError

from braket_guard.alerts.messages import render_unguarded_region
from braket_guard.aws.logs import log_event
from braket_guard.ledger.table import MARKER_RETENTION_SECONDS
from braket_guard.tasks.decision import UNGUARDED_PK, UNGUARDED_RECHECK_SECONDS


class UnguardedRegions:
    """Events from a region outside BRAKET_GUARD_REGIONS are guarded all the same, and told once a region and day (alert, metric, digest)."""

    def is_unguarded(self, region: str) -> bool:
        """A region outside BRAKET_GUARD_REGIONS (every region when none is guarded). Its events
        are guarded all the same (an event that reached us proves a forwarder sends it); only
        the scheduled work misses it."""
        return region not in self.config.regions

    def note_unguarded(self, region: str) -> None:
        """Alert once per region and local day that this region is not reconciled. Remembered per
        container once settled, so a runaway there costs no extra call per event."""
        day = self.ledger.clock().astimezone(self.config.zone).date().isoformat()
        if self._unguarded_told.get((region, day), 0.0) > time.monotonic():
            return
        log_event("warning", "unguarded_region_event", region=region, guarded=list(self.config.regions))
        try:
            settled, _sent = self.alerts.send_once(
                (f"{UNGUARDED_PK}#{day}", f"REGION#{region}"), "ALERT",
                self.ledger.now() + MARKER_RETENTION_SECONDS,
                lambda: render_unguarded_region(region, list(self.config.regions), day, self.config.mode),
                detail=region)
        except (ClientError, BotoCoreError) as exc:  # the next event of the region tries again
            log_event("warning", "unguarded_region_alert_failed", region=region, error=str(exc)[:300])
            return
        # Settled: not again today in this container. Claimed by another sender: look again in
        # a minute, so the region's events meanwhile cost no extra ledger call.
        self._unguarded_told[(region, day)] = time.monotonic() + (86_400 if settled else UNGUARDED_RECHECK_SECONDS)

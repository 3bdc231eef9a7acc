"""Alert markers and the outbox: the claim (with a lease), the settle, and the alerts a channel did not take yet."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from botocore.exceptions import ClientError

from braket_guard.aws.logs import log_event
from braket_guard.aws.retry import Backoff, error_code
from braket_guard.core.windows import format_timestamp
from braket_guard.ledger.table import MARKER_RETENTION_SECONDS, WORK_PK, Key, _key, _n, _num, _s

# A claimed alert whose sender died is sent again by whoever finds it after this long: longer
# than any send with its retries and the patient settle (so a slow sender is never doubled), so
# after a crash the alert goes out with Lambda's second retry or the next reconciliation.
ALERT_LEASE_SECONDS = 300


ALERT_RETRY_SECONDS = 120  # a failed channel is tried again after 2, 4, 6 ... minutes


ALERT_MAX_ATTEMPTS = 10  # then the marker is left "failed" (logged, counted in the digest)


@dataclass(frozen=True)
class Marker:
    key: Key
    state: str  # claimed | sent | failed
    channels_sent: frozenset[str]
    attempts: int
    detail: str = ""


def _marker(key: Key, item: dict[str, Any]) -> Marker:
    return Marker(key, item.get("alert_state", {}).get("S", "sent"),
                  frozenset(item.get("channels_sent", {}).get("SS", [])), _num(item, "attempts") or 0,
                  item.get("detail", {}).get("S", ""))


class AlertMarkers:
    """Claim, settle and read alert markers; keep what a channel did not take in the outbox."""

    # -- alert markers: claim with a lease, send, mark sent --------------------------------------
    @staticmethod
    def marker_key(key: Key, marker: str) -> Key:
        return key[0], f"ALERT#{key[1]}#{marker}"

    def get_marker(self, key: Key, marker: str) -> Marker | None:
        return self.get_marker_key(self.marker_key(key, marker))

    def get_marker_key(self, marker_key: Key) -> Marker | None:
        pk, sk = marker_key
        item = self.backoff.call(lambda: self.client.get_item(
            TableName=self.table, Key=_key((pk, sk)), ConsistentRead=True)).get("Item")
        return _marker((pk, sk), item) if item else None

    def claim_alert(self, key: Key, marker: str, expires_at: int | None, detail: str = "") -> Marker | None:
        """Claim one alert for sending: returns the marker when this caller should send it (new,
        or claimed by a sender that died: its lease ran out), None when it is sent, failed for
        good, or another sender holds it."""
        return self.claim_marker(self.marker_key(key, marker), expires_at, detail)

    def claim_marker(self, marker_key: Key, expires_at: int | None, detail: str = "") -> Marker | None:
        return self.claim_or_read(marker_key, expires_at, detail)[0]

    def claim_or_read(self, marker_key: Key, expires_at: int | None,
                      detail: str = "") -> tuple[Marker | None, Marker | None]:
        """(the claim, None) when this caller should send the alert; else (None, the marker as
        the refused claim found it): one call either way, the refusal returns the item."""
        pk, sk = marker_key
        now = self.now()
        token = uuid.uuid4().hex  # tells our own claim from another's when a response is lost
        values: dict[str, Any] = {":claimed": _s("claimed"), ":now": _n(now), ":one": _n(1),
                                  ":until": _n(now + ALERT_LEASE_SECONDS), ":token": _s(token),
                                  ":at": _s(format_timestamp(self.clock()))}
        sets = ["alert_state = :claimed", "lease_until = :until", "claim_token = :token",
                "claimed_at = if_not_exists(claimed_at, :at)"]
        if detail:
            values[":detail"] = _s(detail[:4000])
            sets.append("detail = if_not_exists(detail, :detail)")
        if expires_at:
            values[":exp"] = _n(expires_at)
            sets.append("expires_at = if_not_exists(expires_at, :exp)")
        try:
            response = self.backoff.call(lambda: self.client.update_item(
                TableName=self.table, Key=_key((pk, sk)),
                UpdateExpression=f"SET {', '.join(sets)} ADD attempts :one",
                ConditionExpression="attribute_not_exists(pk) OR (alert_state = :claimed AND lease_until < :now)",
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD"))
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            item = exc.response.get("Item")
            if item is None:  # an endpoint that does not return it: read it
                item = self.backoff.call(lambda: self.client.get_item(
                    TableName=self.table, Key=_key((pk, sk)), ConsistentRead=True)).get("Item") or {}
            if item.get("claim_token", {}).get("S") != token or item.get("alert_state", {}).get("S") != "claimed":
                return None, (_marker((pk, sk), item) if item else None)
            response = {"Attributes": item}  # our own claim: its response was lost, the retry met it
        item = response["Attributes"]
        return Marker((pk, sk), "claimed", frozenset(item.get("channels_sent", {}).get("SS", [])),
                      _num(item, "attempts") or 1), None

    def settle_alert(self, marker: Marker, channels_sent: Iterable[str], done: bool, failed: bool = False) -> bool:
        """After a send: record the channels that took it; ``done`` marks it sent (never again),
        else the claim is kept for a while, then the next delivery or reconciliation retries the rest."""
        sent = sorted(set(marker.channels_sent) | set(channels_sent))
        # A channel that failed is tried again once the claim's lease runs out: later each time,
        # so a Slack outage is not hammered by every event of every task.
        retry_at = 0 if done or failed else self.now() + ALERT_RETRY_SECONDS * max(1, marker.attempts)
        values: dict[str, Any] = {":state": _s("failed" if failed else ("sent" if done else "claimed")),
                                  ":zero": _n(retry_at), ":at": _s(format_timestamp(self.clock()))}
        expression = "SET alert_state = :state, lease_until = :zero, settled_at = :at"
        if sent:
            values[":sent"] = {"SS": sent}
            expression += ", channels_sent = :sent"
        # The alert has gone out: losing this write would send it again, so it is retried for
        # longer than any other (about three minutes, through an outage of DynamoDB), then given
        # up (logged): the one window in which an alert can be sent twice.
        patient = Backoff(attempts=16, base=0.5, cap=15.0, sleep=self.backoff.sleep, rand=lambda: 1.0)
        try:
            patient.call(lambda: self.client.update_item(
                TableName=self.table, Key=_key(marker.key), UpdateExpression=expression,
                ExpressionAttributeValues=values))
            return True
        except ClientError as exc:
            log_event("error", "alert_settle_failed", marker=marker.key[1], error=str(exc)[:300],
                      consequence="the alert may be sent again when its claim expires")
            return False

    def alert_markers(self, pk: str, prefix: str = "ALERT#") -> list[dict[str, Any]]:
        return self._query(pk, prefix)

    # -- the outbox: alerts a channel did not take yet (in the open-work partition) -------------
    @staticmethod
    def _outbox_key(marker_key: Key) -> dict[str, Any]:
        return {"pk": _s(WORK_PK), "sk": _s(f"ALERT#{marker_key[0]}#{marker_key[1]}")}

    def put_outbox(self, marker_key: Key, alert: dict[str, Any]) -> None:
        """Keep an alert that a channel did not take, so that reconciliation sends it whatever
        becomes of the task or day that raised it."""
        self.backoff.call(lambda: self.client.put_item(TableName=self.table, Item={
            **self._outbox_key(marker_key), "marker_pk": _s(marker_key[0]), "marker_sk": _s(marker_key[1]),
            "alert": _s(json.dumps(alert)), "expires_at": _n(self.now() + MARKER_RETENTION_SECONDS)}))

    def delete_outbox(self, marker_key: Key) -> None:
        self.backoff.call(lambda: self.client.delete_item(TableName=self.table, Key=self._outbox_key(marker_key)))

    def outbox(self) -> list[tuple[Key, dict[str, Any]]]:
        return [((item["marker_pk"]["S"], item["marker_sk"]["S"]), json.loads(item["alert"]["S"]))
                for item in self._query(WORK_PK, "ALERT#")]

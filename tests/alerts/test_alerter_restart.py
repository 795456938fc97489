"""A real `citybrain alerter` killed with SIGKILL while detection waits for something,
then started again: nothing it was waiting for is lost, nothing is paged twice.

Real broker, real database, the real escalation loop and webhook notifier, a loopback
HTTP receiver. Before the kill the alerter holds, with its offsets committed:

* a for-duration under way: 3 of the 5 minutes of > 5 % packet loss on link-1;
* a consecutive count: 2 of the 3 failed probes of portal-1;
* a storm hold: dev-0 and dev-1 (behind gw-1) held for their siblings;
* a lone child: dev-a0 (behind gw-2) held for a sibling that never follows.

While it is down, two more failed probes (4 in all) and three more children of gw-1
arrive; after the restart, 3.5 more minutes of loss (6.5 in all), and nothing for gw-2.
The restarted alerter's clock goes on from the latest event time it had stored, so the
holds do not lapse before it has read what arrived while it was down.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from alerts.alerter import consumer_group
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from schemas.registry import Registry
from streams.topics import ensure_topics
from tests.alerts.receiver import receiver
from tests.alerts.test_alerter import incidents, page_group_at_once, running_alerter
from tests.helpers import committed, produce, wait_for

REGISTERED = "2025-01-01T00:00:00+08:00"


def _asset(asset_id: str, kind: str, parent: str | None = None) -> dict[str, Any]:
    return {"asset_id": asset_id, "kind": kind, "department_id": "water", "parent_id": parent,
            "expected_interval_s": 60, "registered_at": REGISTERED}


REGISTRY = Registry.model_validate({
    "departments": [{"department_id": "water", "name": "Water Authority",
                     "first_responsible": {"name": "Chen Jie", "role": "first_responsible"}}],
    "assets": [_asset("link-1", "link"), _asset("portal-1", "portal"), _asset("gw-1", "gateway"),
               _asset("gw-2", "gateway"),
               *[_asset(f"dev-{i}", "iot_device", "gw-1") for i in range(6)],
               *[_asset(f"dev-a{i}", "iot_device", "gw-2") for i in range(2)]],
})


class City:
    def __init__(self, settings: Settings, base: datetime) -> None:
        self.settings = settings
        self.base = base
        self.n = 0
        self.sent: Counter[str] = Counter()

    def _send(self, topic: str, key: str, doc: dict[str, Any]) -> None:
        asyncio.run(produce(self.settings.kafka_bootstrap or "", topic, [(key.encode(), orjson.dumps(doc))]))
        self.sent[topic] += 1

    def probe(self, asset_id: str, seconds: int, *, ok: bool, kind: str, lost: int = 0) -> None:
        self.n += 1
        self._send(self.settings.topic("probe"), asset_id, {
            "event_id": f"p{self.n}", "asset_id": asset_id, "target_kind": kind, "ok": ok,
            "occurred_at": (self.base + timedelta(seconds=seconds)).isoformat(),
            "packets_sent": 100 if kind == "link" else None,
            "packets_lost": lost if kind == "link" else None})

    def offline(self, asset_id: str, seconds: int) -> None:
        self._send(self.settings.state_change_topic, asset_id, {
            "asset_id": asset_id, "feed": "iot", "state": "offline", "previous": "online",
            "at": (self.base + timedelta(seconds=seconds)).isoformat(), "reason": "no heartbeat within 150s"})

    def consumed(self) -> bool:
        """Whether the alerter committed everything produced so far."""
        group, boot = consumer_group(self.settings), self.settings.kafka_bootstrap or ""
        return all(asyncio.run(committed(boot, group, topic)) >= n for topic, n in self.sent.items())


def assets_of(db: psycopg.Connection[Any], fingerprint: str) -> list[str]:
    rows = db.execute("SELECT a.asset_id FROM incident_assets a JOIN incidents i USING (incident_id)"
                      " WHERE i.fingerprint = %s ORDER BY 1", (fingerprint,)).fetchall()
    return [r[0] for r in rows]


@pytest.mark.integration
def test_sigkill_loses_no_pending_duration_count_or_storm_hold(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    import_registry(db, REGISTRY)
    asyncio.run(ensure_topics(settings.kafka_bootstrap or "", settings))
    # Event times in the recent past: the readings themselves carry the durations.
    city = City(settings, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20))
    log = tmp_path / "alerter.log"
    env = {"CITYBRAIN_ALERT_STORM_HOLD_SECONDS": "150", "CITYBRAIN_ALERT_STORM_WINDOW_SECONDS": "60",
           "CITYBRAIN_ALERT_STORM_MIN_CHILDREN": "3"}
    with receiver() as hook:
        env["CITYBRAIN_ESCALATION_POLICY_DIR"] = str(page_group_at_once(tmp_path, hook.url))

        with running_alerter(settings, log, **env) as first:
            for s in range(0, 181, 30):                       # 3 minutes of 10 % loss
                city.probe("link-1", s, ok=True, kind="link", lost=10)
            city.probe("portal-1", 0, ok=False, kind="portal")
            city.probe("portal-1", 20, ok=False, kind="portal")
            city.offline("dev-a0", 100)                      # its hold runs out at 250 s
            city.offline("dev-0", 170)
            city.offline("dev-1", 171)
            wait_for(city.consumed, timeout=60, what="the alerter to consume and commit", alive=first,
                     log=log)
            assert incidents(db) == {}                          # all of it still pending
            first.send_signal(signal.SIGKILL)
            first.wait(10)

        # While it is down: two more failed probes, three more children of gw-1 down.
        city.probe("portal-1", 40, ok=False, kind="portal")
        city.probe("portal-1", 60, ok=False, kind="portal")
        for i in (2, 3, 4):
            city.offline(f"dev-{i}", 198 + i)
        with running_alerter(settings, log, **env) as second:
            # The storm first: the probes below move the clock past dev-0's hold (320 s).
            wait_for(lambda: "device-offline:gw-1" in incidents(db), timeout=60, what="the storm",
                     alive=second, log=log)
            for s in range(210, 391, 30):                     # 3.5 more minutes: 6.5 in all
                city.probe("link-1", s, ok=True, kind="link", lost=10)
            expected = {"link-packet-loss:link-1", "portal-unavailable:portal-1", "device-offline:gw-1",
                        "device-offline:dev-a0"}
            wait_for(lambda: set(incidents(db)) >= expected, timeout=60, what=f"incidents {expected}",
                     alive=second, log=log)
            wait_for(lambda: len(hook.bodies()) >= len(expected), timeout=30, what="their pages",
                     alive=second, log=log)
            wait_for(city.consumed, timeout=60, what="the alerter to commit", alive=second, log=log)
        # The storm lists the children held before the kill with those that followed it.
        assert assets_of(db, "device-offline:gw-1") == ["dev-0", "dev-1", "dev-2", "dev-3", "dev-4", "gw-1"]
        assert set(incidents(db)) == expected                 # nothing else (no child paged alone)
        pages = Counter(p["incident_id"] for p in hook.bodies())
        assert len(pages) == len(expected) and set(pages.values()) == {1}, pages   # once each
    row = db.execute("SELECT source_event_at FROM incidents WHERE fingerprint = 'link-packet-loss:link-1'"
                     ).fetchone()
    assert row == (city.base,)                                # the breach began before the kill

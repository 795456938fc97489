"""The maintenance stage: alerts held in a window's scope (and behind a parent in one),
released when it ends if still true; silences hold no alert. On a frozen clock, and over
a window stored in the real database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from alerts.detection.evaluate import StateChange
from alerts.detection.pipeline import Detection
from alerts.detection.rules import load_rules
from alerts.detection.topology import load_topology
from alerts.maintenance import windows
from alerts.maintenance.calendar import Calendar, Period, load_calendar
from citybrain.kernel import audit
from tests.alerts.detection.support import at, change, detection, fired, security, settings
from tests.alerts.registry import load

ADMIN = audit.Actor(id="token:test", role="admin")
NOW = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_maintenance_holds_alerts_in_scope_and_releases_what_still_holds_after() -> None:
    window = Period(1, "maintenance", "department", "water", at(0), at(600))
    d = detection(calendar=Calendar([window]))
    assert d.state_change(change("lonely-1", "offline", 100), at(100)) == []
    assert d.advance(at(599)) == []
    out = d.advance(at(600))                          # still offline when the window ends
    assert fired(out) == [("device-offline:lonely-1", True)] and out[0].details["after_maintenance"]
    # Back up inside the window: never an incident, and no clear for what was never sent.
    d2 = detection(calendar=Calendar([window]))
    d2.state_change(change("lonely-1", "offline", 100), at(100))
    assert d2.state_change(change("lonely-1", "online", 200, previous="offline"), at(200)) == []
    assert d2.advance(at(700)) == []
    # Assets of another department are not in scope.
    assert fired(d2.reading("security", security("portal-1", 100, "I", "malware"), at(100))) == [
        ("security-critical:portal-1:malware", True)]


def test_a_silence_does_not_stop_alerts_and_children_in_maintenance_make_no_storm() -> None:
    silence = Period(2, "silence", "all", None, at(0), at(3600))
    d = detection(calendar=Calendar([silence]))
    assert fired(d.state_change(change("lonely-1", "offline", 10), at(10))) == [
        ("device-offline:lonely-1", True)]
    works = Period(3, "maintenance", "asset", "dev-0", at(0), at(3600))
    works2 = Period(4, "maintenance", "asset", "dev-1", at(0), at(3600))
    d = detection(calendar=Calendar([works, works2]))
    for i in range(3):
        d.state_change(change(f"dev-{i}", "offline", i), at(i))
    out = d.advance(at(30))
    assert fired(out) == [("device-offline:dev-2", True)]   # two in maintenance: no storm of three


def test_devices_behind_a_gateway_in_maintenance_are_held_with_it() -> None:
    works = Period(5, "maintenance", "asset", "gw-1", at(0), at(600))
    d = detection(calendar=Calendar([works]))
    assert d.state_change(change("gw-1", "offline", 10), at(10)) == []
    for i in range(4):
        assert d.state_change(change(f"dev-{i}", "offline", 20 + i), at(20 + i)) == []
    assert d.advance(at(100)) == []                      # no storm, no child page
    for i in range(4):
        d.state_change(change(f"dev-{i}", "online", 300 + i, previous="offline"), at(300 + i))
    out = d.advance(at(600))                             # the gateway is still down after the works
    assert fired(out) == [("gateway-offline:gw-1", True)]


def test_detection_suppresses_alerts_in_a_stored_window(db: psycopg.Connection[Any]) -> None:
    load(db)
    spec = windows.make_spec(kind="maintenance", scope="district", target="east",
                             starts_at="2026-03-30T02:00", ends_at="2026-03-30T04:00",
                             timezone="Europe/Berlin", reason="district works", recurrence="FREQ=DAILY",
                             until="2026-04-02T02:00")
    windows.create(db, spec, ADMIN, now=NOW, horizon_days=30)
    inside = utc("2026-03-31T00:30")                         # 02:30 Berlin summer time
    d = Detection(load_rules(), load_topology(db), load_calendar(db, inside), settings())

    def offline(asset: str, at: datetime) -> list[str]:
        alerts = d.state_change(StateChange(asset, "offline", at, "online", "no heartbeat"), at)
        return [a.fingerprint for a in alerts]

    assert offline("pump-1", inside) == []                   # east: in maintenance
    assert offline("pump-2", inside) == ["device-offline:pump-2"]   # west: not in scope
    assert d.advance(utc("2026-03-31T01:59")) == []
    released = d.advance(utc("2026-03-31T02:00"))            # 04:00 local: the window ends
    assert [a.fingerprint for a in released] == ["device-offline:pump-1"]

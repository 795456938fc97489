"""Maintenance windows and silences in the real database: expansion (DST), scope,
removal with audit, horizon, validation, and suppression in detection."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from alerts import maintenance
from alerts.evaluate import StateChange
from alerts.maintenance import MaintenanceError, WindowNotFound, in_maintenance, make_spec, silenced
from alerts.maintenance_calendar import load_calendar
from alerts.pipeline import Detection
from alerts.rules import load_rules
from alerts.topology import load_topology
from citybrain import audit
from tests.alerts.detection.registry import load
from tests.alerts.detection.support import settings

ADMIN = audit.Actor(id="token:test", role="admin")
NOW = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def periods(conn: psycopg.Connection[Any], window_id: int) -> list[tuple[datetime, datetime]]:
    return [(s, e) for s, e in conn.execute(
        "SELECT starts_at, ends_at FROM maintenance_periods WHERE window_id = %s ORDER BY starts_at",
        (window_id,)).fetchall()]


def test_daily_window_stays_local_across_dst_in_berlin(db: psycopg.Connection[Any]) -> None:
    load(db)
    spec = make_spec(kind="maintenance", scope="asset", target="pump-1", starts_at="2026-03-27T02:00",
                     ends_at="2026-03-27T04:00", timezone="Europe/Berlin", reason="firmware rollout",
                     recurrence="RRULE:FREQ=DAILY", until="2026-03-31T02:00")
    window = maintenance.create(db, spec, ADMIN, now=NOW, horizon_days=400)
    assert window.recurrence == "FREQ=DAILY"
    assert periods(db, window.window_id) == [
        (utc("2026-03-27T01:00"), utc("2026-03-27T03:00")),   # CET (+01:00)
        (utc("2026-03-28T01:00"), utc("2026-03-28T03:00")),
        # 29 March: clocks jump 02:00 → 03:00, so 02:00–04:00 local is one real hour.
        (utc("2026-03-29T01:00"), utc("2026-03-29T02:00")),
        (utc("2026-03-30T00:00"), utc("2026-03-30T02:00")),   # CEST (+02:00)
        (utc("2026-03-31T00:00"), utc("2026-03-31T02:00")),
    ]
    assert in_maintenance(db, "pump-1", utc("2026-03-30T00:30"))      # 02:30 local
    assert not in_maintenance(db, "pump-1", utc("2026-03-30T02:30"))  # 04:30 local
    assert not in_maintenance(db, "pump-2", utc("2026-03-30T00:30"))  # not in scope
    autumn = make_spec(kind="maintenance", scope="asset", target="pump-2", starts_at="2026-10-24T02:00",
                       ends_at="2026-10-24T04:00", timezone="Europe/Berlin", reason="patching",
                       recurrence="FREQ=DAILY;COUNT=3")
    w2 = maintenance.create(db, autumn, ADMIN, now=NOW, horizon_days=400)
    assert periods(db, w2.window_id) == [
        (utc("2026-10-24T00:00"), utc("2026-10-24T02:00")),
        (utc("2026-10-25T00:00"), utc("2026-10-25T03:00")),   # clocks fall back: three real hours
        (utc("2026-10-26T01:00"), utc("2026-10-26T03:00")),
    ]


def test_scopes_and_the_difference_between_maintenance_and_silence(db: psycopg.Connection[Any]) -> None:
    load(db)
    start, end = NOW + timedelta(hours=1), NOW + timedelta(hours=3)
    inside = NOW + timedelta(hours=2)

    def add(kind: str, scope: str, target: str | None) -> maintenance.Window:
        spec = make_spec(kind=kind, scope=scope, target=target, starts_at=start, ends_at=end,
                         timezone="Asia/Shanghai", reason="test")
        return maintenance.create(db, spec, ADMIN, now=NOW, horizon_days=30)

    add("maintenance", "tag", "riverside")
    assert in_maintenance(db, "pump-1", inside) and not in_maintenance(db, "pump-2", inside)
    assert not in_maintenance(db, "pump-1", end)            # the end is exclusive
    add("maintenance", "district", "west")
    assert in_maintenance(db, "pump-2", inside) and in_maintenance(db, "cam-9", inside)
    assert not in_maintenance(db, "portal-1", inside)
    add("silence", "department", "roads")
    assert not in_maintenance(db, "portal-1", inside)       # a silence is not maintenance
    assert silenced(db, "portal-1", "roads", inside)
    assert silenced(db, None, "roads", inside)              # an incident without an asset
    assert silenced(db, "pump-1", "water", inside)          # maintenance pages nobody either
    assert not silenced(db, "portal-1", "roads", end)
    add("maintenance", "all", None)
    assert in_maintenance(db, "portal-1", inside) and in_maintenance(db, "not-registered", inside)


def test_removal_is_soft_audited_and_keeps_the_past(db: psycopg.Connection[Any]) -> None:
    load(db)
    spec = make_spec(kind="maintenance", scope="department", target="water", starts_at="2026-03-27T02:00",
                     ends_at="2026-03-27T04:00", timezone="Asia/Shanghai", reason="weekly patching",
                     recurrence="FREQ=DAILY")
    window = maintenance.create(db, spec, ADMIN, now=NOW, horizon_days=10)
    assert len(periods(db, window.window_id)) == 10
    removal = utc("2026-03-29T19:00")                       # inside the 30 March period (03:00 local)
    removed = maintenance.remove(db, window.window_id, audit.Actor(id="token:op", role="operator"),
                                 now=removal)
    assert removed.removed_at == removal and removed.removed_by == "token:op"
    assert periods(db, window.window_id) == [
        (utc("2026-03-26T18:00"), utc("2026-03-26T20:00")),
        (utc("2026-03-27T18:00"), utc("2026-03-27T20:00")),
        (utc("2026-03-28T18:00"), utc("2026-03-28T20:00")),
        (utc("2026-03-29T18:00"), removal),                  # cut when removed
    ]
    actions = [(e.action, e.subject, e.actor) for e in audit.entries(db)]
    assert actions[:2] == [("maintenance.remove", str(window.window_id), "token:op"),
                           ("maintenance.add", str(window.window_id), "token:test")]
    with pytest.raises(WindowNotFound, match="was removed at"):
        maintenance.remove(db, window.window_id, ADMIN, now=removal)
    listed = maintenance.listing(db, now=NOW)
    assert listed == [] and len(maintenance.listing(db, now=NOW, include_removed=True)) == 1


def test_open_ended_windows_are_extended_to_the_horizon(db: psycopg.Connection[Any]) -> None:
    load(db)
    spec = make_spec(kind="maintenance", scope="asset", target="pump-1", starts_at="2026-03-29T01:00",
                     ends_at="2026-03-29T03:00", timezone="Asia/Shanghai", reason="weekly",
                     recurrence="FREQ=WEEKLY;BYDAY=SU")
    window = maintenance.create(db, spec, ADMIN, now=NOW, horizon_days=28)
    assert len(periods(db, window.window_id)) == 4
    later = NOW + timedelta(days=56)
    assert maintenance.extend_horizon(db, now=later, horizon_days=28) == 8   # weeks 5–12
    assert maintenance.extend_horizon(db, now=later, horizon_days=28) == 0   # idempotent
    starts = [s for s, _ in periods(db, window.window_id)]
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"recurrence": "FREQ=FORTNIGHTLY"}, "recurrence", "invalid RRULE"),
    ({"recurrence": "FREQ=DAILY;UNTIL=20261231T000000Z"}, "recurrence", "until_at"),
    ({"recurrence": "DTSTART:20260101T000000\nRRULE:FREQ=DAILY"}, "recurrence", "without DTSTART"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown IANA time zone"),
    ({"ends_at": "2026-03-27T01:00"}, "ends_at", "after starts_at"),
    ({"starts_at": "next tuesday"}, "starts_at", "ISO 8601"),
    ({"scope": "city"}, "scope", "must be one of"),
    ({"target": None}, "target", "needs a target"),
    ({"until": "2026-04-01T00:00"}, "until", "only a recurring window"),
])
def test_bad_windows_name_their_field(fields: dict[str, Any], field: str, words: str) -> None:
    args: dict[str, Any] = {"kind": "maintenance", "scope": "asset", "target": "pump-1",
                            "starts_at": "2026-03-27T02:00", "ends_at": "2026-03-27T04:00",
                            "timezone": "Europe/Berlin", "reason": "r", **fields}
    with pytest.raises(MaintenanceError) as caught:
        make_spec(**args)
    assert any(f == field and words in m for f, m in caught.value.problems), caught.value.problems


def test_windows_the_store_refuses(db: psycopg.Connection[Any]) -> None:
    load(db)
    base: dict[str, Any] = {"kind": "maintenance", "scope": "asset", "target": "pump-1",
                            "timezone": "UTC", "reason": "r"}
    cases = [
        ({**base, "target": "pump-99", "starts_at": "2026-03-27T02:00", "ends_at": "2026-03-27T04:00"},
         "unknown asset 'pump-99'"),
        ({**base, "starts_at": "2026-03-01T02:00", "ends_at": "2026-03-01T04:00"}, "no period after now"),
        ({**base, "starts_at": "2026-03-27T02:00", "ends_at": "2026-03-27T04:00",
          "recurrence": "FREQ=HOURLY"}, "occurrences overlap"),
        ({**base, "starts_at": "2026-03-27T02:00", "ends_at": "2026-03-27T02:01",
          "recurrence": "FREQ=SECONDLY;INTERVAL=100"}, "more than 20000 occurrences"),
    ]
    for args, words in cases:
        with pytest.raises(MaintenanceError, match=words):
            maintenance.create(db, make_spec(**args), ADMIN, now=NOW, horizon_days=400)
    assert db.execute("SELECT count(*) FROM maintenance_windows").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)


def test_detection_suppresses_alerts_in_a_stored_window(db: psycopg.Connection[Any]) -> None:
    load(db)
    spec = make_spec(kind="maintenance", scope="district", target="east", starts_at="2026-03-30T02:00",
                     ends_at="2026-03-30T04:00", timezone="Europe/Berlin", reason="district works",
                     recurrence="FREQ=DAILY", until="2026-04-02T02:00")
    maintenance.create(db, spec, ADMIN, now=NOW, horizon_days=30)
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

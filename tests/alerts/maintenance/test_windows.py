"""Maintenance windows and silences in the real database: expansion (DST), removal with
audit, horizon, validation, and counting from creation (retroactive approval). Which
assets a window covers: test_muter.py; how detection holds alerts: detection/test_mute.py."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from dateutil.rrule import rrulestr

from alerts.maintenance import windows as maintenance
from alerts.maintenance.calendar import calendar_version
from alerts.maintenance.muter import HOLDS_ALERTS, SqlMuter
from alerts.maintenance.windows import MaintenanceError, WindowNotFound, make_spec
from citybrain.kernel import audit, store
from citybrain.kernel.i18n import use_language
from tests.alerts.registry import load

ADMIN = audit.Actor(id="token:test", role="admin")
NOW = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The refusals' wording is checked in English (Chinese: test_api.py, test_cli.py)."""
    with use_language("en"):
        yield


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def in_maintenance(conn: psycopg.Connection[Any], asset_id: str, at: datetime) -> bool:
    return SqlMuter(conn, HOLDS_ALERTS).mutes(asset_id, at)


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
          "recurrence": "FREQ=HOURLY"}, "more than 20000 occurrences"),
    ]
    for args, words in cases:
        with pytest.raises(MaintenanceError, match=words):
            maintenance.create(db, make_spec(**args), ADMIN, now=NOW, horizon_days=1000)
    assert db.execute("SELECT count(*) FROM maintenance_windows").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)


# --- maintenance and the past (README, "Rules an evaluator can check") ------------------

OPERATOR = audit.Actor(id="token:op", role="operator")


def shanghai_window(start: str, end: str, **more: Any) -> maintenance.WindowSpec:
    return make_spec(kind="maintenance", scope="asset", target="pump-1", starts_at=start, ends_at=end,
                     timezone="Asia/Shanghai", reason="valve swap", **more)


def test_a_window_added_mid_way_counts_and_holds_from_its_creation(db: psycopg.Connection[Any]) -> None:
    load(db)
    # 10:00–12:00 Shanghai (02:00–04:00 UTC), added at 11:59 (03:59 UTC).
    added = utc("2026-03-26T03:59")
    window = maintenance.create(db, shanghai_window("2026-03-26T10:00", "2026-03-26T12:00"), OPERATOR,
                                now=added, horizon_days=30)
    assert periods(db, window.window_id) == [(added, utc("2026-03-26T04:00"))]
    assert (window.starts_at, window.ends_at) == (utc("2026-03-26T02:00"), utc("2026-03-26T04:00"))
    assert window.counts_from == added and window.as_dict()["counts_from"] == added.isoformat()
    assert window.retroactive_by is None and (window.next_start, window.next_end) == (added, window.ends_at)
    assert not in_maintenance(db, "pump-1", utc("2026-03-26T03:00"))    # before it was added
    assert in_maintenance(db, "pump-1", utc("2026-03-26T03:59:30"))     # the present: held
    [entry] = audit.entries(db)
    assert (entry.action, entry.at, entry.details["counts_from"], entry.details["retroactive"]) == (
        "maintenance.add", added, added.isoformat(), False)
    listed = maintenance.listing(db, now=added)
    assert [(w.window_id, w.counts_from, w.next_start) for w in listed] == [(window.window_id, added, added)]


def test_a_recurring_window_counts_from_its_creation_and_its_horizon_agrees(
        db: psycopg.Connection[Any]) -> None:
    load(db)
    # Daily 10:00–12:00 Shanghai from 25 March, added at 11:00 on 26 March (03:00 UTC).
    added = utc("2026-03-26T03:00")
    window = maintenance.create(db, shanghai_window("2026-03-25T10:00", "2026-03-25T12:00",
                                                    recurrence="FREQ=DAILY"),
                                OPERATOR, now=added, horizon_days=2)
    expected = [(added, utc("2026-03-26T04:00")),                       # cut at its creation
                (utc("2026-03-27T02:00"), utc("2026-03-27T04:00")),
                (utc("2026-03-28T02:00"), utc("2026-03-28T04:00"))]     # 25 March: not at all
    assert periods(db, window.window_id) == expected
    # Extending the horizon derives the same periods: the cut one is not added again whole.
    assert maintenance.extend_horizon(db, now=added + timedelta(days=1), horizon_days=2) == 1
    assert periods(db, window.window_id) == [*expected, (utc("2026-03-29T02:00"), utc("2026-03-29T04:00"))]


def test_retroactive_windows_need_an_admin_and_a_reason_and_are_audited_with_them(
        db: psycopg.Connection[Any]) -> None:
    load(db)
    past = shanghai_window("2026-03-25T10:00", "2026-03-25T12:00")     # ended yesterday
    refusals: list[tuple[audit.Actor, maintenance.WindowSpec, str | None, str]] = [
        (ADMIN, past, None, "no period after now"),                     # not approved: nothing counts
        (OPERATOR, past, "filed late", "only an admin"),
        (ADMIN, past, "  ", "say why"),
        (ADMIN, replace(past, kind="silence"), "filed late", "only a maintenance window"),
        (ADMIN, shanghai_window("2026-03-27T10:00", "2026-03-27T12:00"), "filed late", "no past to approve"),
        (ADMIN, replace(past, target="pump-99"), "filed late", "unknown asset"),   # rolled back whole
    ]
    for actor, spec, reason, words in refusals:
        with pytest.raises(MaintenanceError, match=words):
            maintenance.create(db, spec, actor, now=NOW, horizon_days=30, retroactive_reason=reason)
    assert db.execute("SELECT count(*) FROM maintenance_windows").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
    window = maintenance.create(db, past, ADMIN, now=NOW, horizon_days=30, retroactive_reason="filed late")
    assert periods(db, window.window_id) == [(utc("2026-03-25T02:00"), utc("2026-03-25T04:00"))]
    assert (window.retroactive_by, window.retroactive_at, window.retroactive_reason) == (
        ADMIN.id, NOW, "filed late")
    assert window.counts_from == window.starts_at and window.next_start is None
    entries = [(e.action, e.at, e.actor, e.subject) for e in reversed(audit.entries(db))]
    assert entries == [("maintenance.add", NOW, ADMIN.id, str(window.window_id)),
                       ("maintenance.retroactive", NOW, ADMIN.id, str(window.window_id))]
    details = audit.entries(db, action="maintenance.retroactive")[0].details
    assert details == {"reason": "filed late", "scope": "asset", "target": "pump-1",
                       "declared_from": "2026-03-25T02:00:00+00:00", "created_at": NOW.isoformat(),
                       "seconds_before_creation": 7200.0}
    assert maintenance.retroactive_in(db, utc("2026-03-25T00:00"), utc("2026-03-26T00:00")) == (
        window.window_id,)


def test_an_admin_approves_the_past_of_a_window_added_late(db: psycopg.Connection[Any]) -> None:
    load(db)
    added = utc("2026-03-26T03:00")                                     # 11:00 Shanghai
    window = maintenance.create(db, shanghai_window("2026-03-24T10:00", "2026-03-24T12:00",
                                                    recurrence="FREQ=DAILY", until="2026-03-27T10:00"),
                                OPERATOR, now=added, horizon_days=30)
    assert [s for s, _ in periods(db, window.window_id)] == [added, utc("2026-03-27T02:00")]
    version = calendar_version(db)
    with pytest.raises(MaintenanceError, match="only an admin"):
        maintenance.approve_retroactive(db, window.window_id, OPERATOR, "filed late", now=NOW)
    approved = maintenance.approve_retroactive(db, window.window_id, ADMIN, "crew log shows 10:00", now=NOW)
    assert (approved.retroactive_by, approved.retroactive_at, approved.counts_from) == (
        ADMIN.id, NOW, utc("2026-03-24T02:00"))
    assert periods(db, window.window_id) == [
        (utc(f"2026-03-{d}T02:00"), utc(f"2026-03-{d}T04:00")) for d in (24, 25, 26, 27)]
    assert calendar_version(db) != version                              # the alerter reloads
    assert in_maintenance(db, "pump-1", utc("2026-03-26T02:30"))
    assert maintenance.extend_horizon(db, now=NOW, horizon_days=30) == 0  # the same periods
    entry = audit.entries(db)[0]
    assert (entry.action, entry.actor, entry.at, entry.subject) == (
        "maintenance.retroactive", ADMIN.id, NOW, str(window.window_id))
    assert entry.details["seconds_before_creation"] == 5 * 3600          # 24th, 25th, 10:00–11:00 26th
    assert entry.details["approved_at"] == NOW.isoformat()
    with pytest.raises(MaintenanceError, match="was approved as retroactive by token:test"):
        maintenance.approve_retroactive(db, window.window_id, ADMIN, "again", now=NOW)
    ahead = maintenance.create(db, shanghai_window("2026-03-28T10:00", "2026-03-28T12:00"), OPERATOR,
                               now=NOW, horizon_days=30)
    with pytest.raises(MaintenanceError, match="recorded before it began"):
        maintenance.approve_retroactive(db, ahead.window_id, ADMIN, "nothing to approve", now=NOW)
    with pytest.raises(WindowNotFound):
        maintenance.approve_retroactive(db, 999, ADMIN, "no such window", now=NOW)


def test_migration_019_cuts_windows_stored_before_the_rule(database_url: str, schema: str,
                                                           db: psycopg.Connection[Any]) -> None:
    load(db)
    # As before migration 019: its columns absent, a window added at 03:59 whose period
    # counted from its declared 02:00, and one added before it began.
    db.execute("ALTER TABLE maintenance_windows DROP COLUMN retroactive_by, DROP COLUMN retroactive_at,"
               " DROP COLUMN retroactive_reason")
    db.execute("DELETE FROM schema_migrations WHERE version = 19")
    for created, start in ((utc("2026-03-26T03:59"), utc("2026-03-26T02:00")),
                           (utc("2026-03-26T01:00"), utc("2026-03-26T06:00"))):
        db.execute("INSERT INTO maintenance_windows (kind, scope, target, starts_at, ends_at, timezone,"
                   " reason, created_by, created_at) VALUES ('maintenance', 'asset', 'pump-1', %s, %s, 'UTC',"
                   " 'r', 'cli:old', %s)", (start, start + timedelta(hours=2), created))
        db.execute("INSERT INTO maintenance_periods SELECT max(window_id), %s, %s FROM maintenance_windows",
                   (start, start + timedelta(hours=2)))
    store.migrate(database_url, schema)
    assert periods(db, 1) == [(utc("2026-03-26T03:59"), utc("2026-03-26T04:00"))]
    assert periods(db, 2) == [(utc("2026-03-26T06:00"), utc("2026-03-26T08:00"))]   # untouched
    [entry] = audit.entries(db)
    assert (entry.actor, entry.action, entry.subject) == (
        "migration:019", "maintenance.counts_from_creation", "1")
    d = entry.details
    assert (datetime.fromisoformat(d["declared_from"]), datetime.fromisoformat(d["counts_from"]),
            d["moved"]) == (utc("2026-03-26T02:00"), utc("2026-03-26T03:59"), 1)


# --- bounded expansion (a recurrence must not hold a connection for ever) ---------------

def hourly(start: str, **more: Any) -> maintenance.WindowSpec:
    return make_spec(kind="maintenance", scope="asset", target="pump-1", starts_at=start,
                     ends_at=start[:-2] + "01", timezone="UTC", reason="r", **more)


@pytest.mark.parametrize(("rule", "words"), [
    ("FREQ=SECONDLY", "at most hourly"),
    ("FREQ=MINUTELY;INTERVAL=60", "at most hourly"),
    ("FREQ=HOURLY;INTERVAL=5", "INTERVAL 1, 2, 3, 4, 6, 8, 12 or 24"),
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number"),
    ("FREQ=YEARLY;BYEASTER=0", "BYEASTER"),
    ("FREQ=HOURLY;BYHOUR=25", "BYHOUR takes 0–23"),
])
def test_rules_that_recur_more_than_hourly_or_cannot_be_evaluated_are_refused(rule: str, words: str) -> None:
    with pytest.raises(MaintenanceError, match=words):
        hourly("2000-01-01T00:00", recurrence=rule)


def test_an_old_hourly_window_expands_from_near_now_not_from_its_start() -> None:
    # Declared in 2000: the expansion starts a whole number of periods before now.
    spec = hourly("2000-01-01T00:00", recurrence="FREQ=HOURLY")
    got = maintenance.occurrences(spec, after=NOW, until=NOW + timedelta(days=400))
    assert len(got) == 400 * 24 + 1 and got[0] == (NOW, NOW + timedelta(minutes=1))   # both ends
    # Sub-hourly spacing from BY parts is refused at the second occurrence.
    dense = hourly("2000-01-01T00:00", recurrence="FREQ=DAILY;BYHOUR=1;BYMINUTE=0,1,2")
    with pytest.raises(MaintenanceError, match="at most hourly"):
        maintenance.occurrences(dense, after=NOW, until=NOW + timedelta(days=400))
    # A rule that matches nothing ends (no date has 30 February).
    never = hourly("2000-01-01T00:00", recurrence="FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30")
    assert maintenance.occurrences(never, after=NOW, until=NOW + timedelta(days=400)) == []


@pytest.mark.parametrize(("rule", "start"), [
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "2003-05-07T03:30"),
    ("FREQ=MONTHLY;INTERVAL=7;BYMONTHDAY=31", "1999-01-31T22:00"),
    ("FREQ=MONTHLY;BYDAY=MO,FR;BYSETPOS=-1", "2011-06-15T01:00"),
    ("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "1996-02-29T02:00"),
    ("FREQ=DAILY;INTERVAL=11;BYHOUR=3,15", "2005-09-09T09:09"),
])
def test_expanding_from_near_now_yields_what_expanding_from_the_start_does(rule: str, start: str) -> None:
    spec = make_spec(kind="maintenance", scope="all", target=None, starts_at=start,
                     ends_at=start[:-5] + "23:59" if start.endswith("22:00") else start[:-2] + "59",
                     timezone="Europe/Berlin", reason="r", recurrence=rule)
    after, until = NOW, NOW + timedelta(days=3 * 365)
    tz = ZoneInfo("Europe/Berlin")
    local = spec.starts_at.astimezone(tz).replace(tzinfo=None)
    wall = spec.ends_at.astimezone(tz).replace(tzinfo=None) - local
    expected = []
    for occurrence in rrulestr(rule, dtstart=local):   # every occurrence since the start
        begin = occurrence.replace(tzinfo=tz).astimezone(UTC)
        if begin > until:
            break
        end = (occurrence + wall).replace(tzinfo=tz).astimezone(UTC)
        if end > after:
            expected.append((begin, end))
    assert maintenance.occurrences(spec, after=after, until=until) == expected


def test_the_horizon_of_a_long_lived_hourly_window_keeps_extending(db: psycopg.Connection[Any]) -> None:
    load(db)
    window = maintenance.create(db, hourly("2026-03-27T00:00", recurrence="FREQ=HOURLY"), ADMIN, now=NOW,
                                horizon_days=400)
    # Three years on, the expansion looks back one horizon, not to the window's creation.
    later = NOW + timedelta(days=3 * 365)
    assert maintenance.extend_horizon(db, now=later, horizon_days=400) > 0
    last = db.execute("SELECT max(starts_at) FROM maintenance_periods WHERE window_id = %s",
                      (window.window_id,)).fetchone()
    assert last is not None and last[0] >= later + timedelta(days=399)

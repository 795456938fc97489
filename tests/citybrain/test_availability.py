"""The daily availability facts (migration 012, citybrain/availability.py) change no figure.

A report reads whole local days of the rollup zone from availability_daily and the rest
from state_intervals; both are sums of whole microseconds, so every figure must be
*equal* (==, not approx) with and without facts. The triggers must forget exactly the
days a change touches: too few and a report silently reads stale facts (caught here by
comparing with the live path and with freshly computed facts), too many and the facts
stop paying (caught by asserting the exact set of days left).

Hours are counted as in test_availability.py: H0 = 2026-03-10 00:00 Asia/Shanghai. The
facts cover the four Shanghai days 03-09 … 03-12, i.e. H-24 … H72.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from citybrain import availability
from citybrain.indicators.families import KNOWN_STATES
from citybrain.indicators.model import Breakdown, Figure, ReportWindow
from citybrain.kernel import locks, store
from citybrain.kernel.settings import Settings
from streams import rollups
from tests.citybrain.indicators.city import (
    BERLIN,
    Conn,
    asset,
    department,
    district,
    local,
    maintenance,
    run,
    states,
    window,
)
from tests.citybrain.indicators.test_availability import H, build_city

DAYS = (date(2026, 3, 12), date(2026, 3, 11), date(2026, 3, 10), date(2026, 3, 9))  # newest first
D09, D10, D11, D12 = sorted(DAYS)
START, END = H(-24), H(72)
ALIGNED = window(START, END)
CUT = window(START + timedelta(hours=5, minutes=17), H(48) + timedelta(hours=13, minutes=45))
BERLIN_W = window(local(BERLIN, 2026, 3, 9), local(BERLIN, 2026, 3, 12), BERLIN)
# Every window kind the brief names, with and without a department filter.
CASES: list[tuple[ReportWindow, str | None]] = [
    (ALIGNED, None), (CUT, None), (BERLIN_W, None), (ALIGNED, "water"), (CUT, "traffic"), (BERLIN_W, "water")]
INDICATORS = [("infra.device_online_rate", "iot_device"), ("infra.camera_intact_rate", "camera")]
DEVICE = "infra.device_online_rate"

Figures = tuple[Figure, tuple[Breakdown, ...]]


def figures(db: Conn, indicator: str, win: ReportWindow, dept: str | None = None) -> Figures:
    result = run(db, indicator, win, department=dept)
    return result.figure, result.breakdowns


def live(db: Conn, indicator: str, win: ReportWindow, dept: str | None = None) -> Figures:
    """The figures with every fact ignored (rolled back afterwards): the reference."""
    with db.transaction(force_rollback=True):
        db.execute("DELETE FROM availability_days")
        return figures(db, indicator, win, dept)


def fact_days(db: Conn) -> set[date]:
    return {r[0] for r in db.execute("SELECT day FROM availability_days")}


def current_facts(db: Conn) -> list[tuple[Any, ...]]:
    """The facts a report may read (those of the days listed as current)."""
    return db.execute("SELECT f.* FROM availability_daily f JOIN availability_days USING (day)"
                      " ORDER BY 1, 2, 3, 4 NULLS FIRST").fetchall()


def fresh_facts(db: Conn, days: set[date]) -> list[tuple[Any, ...]]:
    """The facts of ``days`` as a forced recomputation from the current rows gives them."""
    with db.transaction(force_rollback=True):
        availability.refresh(db, START, END, force=True)
        return [r for r in current_facts(db) if r[0] in days]


def rich_city(db: Conn) -> None:
    """The golden city of test_availability.py (iot_device A, B, C, gateway G; maintenance
    of scopes asset, department, tag, district; a silence; a removed window; a mid-window
    registration and a retirement; an unknown gap and an unrecorded one) plus cameras and
    what it lacks: degraded intervals, offline and unknown ones under maintenance, city-wide
    maintenance, an asset without a district, a window removed in mid-period, odd
    microseconds."""
    build_city(db, "iot_device", "gateway")
    asset(db, "K1", "camera", "water", district="d1", tags=["solar"])
    asset(db, "K2", "camera", "traffic", registered=H(-20), retired=H(60))
    asset(db, "K3", "camera", "water", district="d2")
    asset(db, "D", "iot_device", "traffic")
    odd = H(9.5) + timedelta(microseconds=123_457)
    states(db, "K1", ("online", H(-100), H(3)), ("degraded", H(3), odd), ("offline", odd, H(11)),
           ("online", H(11), None))
    states(db, "K2", ("online", H(-20), H(-2)), ("offline", H(-2), H(7)), ("unknown", H(7), H(8)),
           ("online", H(8), H(50)), ("degraded", H(50), None))
    states(db, "K3", ("degraded", H(-30), H(26.25)), ("offline", H(26.25), H(41)), ("online", H(41), H(60)))
    states(db, "D", ("online", H(-40), H(-12)), ("degraded", H(-12), H(-3)), ("unknown", H(-3), H(2)),
           ("offline", H(2), odd), ("online", odd, None))
    maintenance(db, "all", None, (H(-4), H(1)), (H(60), H(61)))
    maintenance(db, "department", "water", (H(9), H(27)), removed_at=H(20))
    maintenance(db, "asset", "K3", (H(25), H(30)))
    maintenance(db, "district", "d1", (H(-15), H(-13.5)))


@pytest.mark.parametrize(("indicator", "kind"), INDICATORS)
def test_facts_path_equals_live_path_figure_for_figure(db: Conn, indicator: str, kind: str) -> None:
    rich_city(db)
    before = [figures(db, indicator, w, d) for w, d in CASES]
    total, breakdowns = before[0]
    # Guard against a vacuous comparison: the scenario really has figures of every kind.
    assert total.value is not None and total.adjusted_value != total.value and total.unknown_share
    assert {b.dimension for b in breakdowns} >= {"department", "district", "day"}
    done = availability.refresh(db, START, END)
    assert (done.days, done.skipped) == (DAYS, False)
    assert done.rows > 0 and fact_days(db) == set(DAYS)
    for (win, dept), expected in zip(CASES, before, strict=True):
        assert figures(db, indicator, win, dept) == expected, (win, dept)


@pytest.mark.parametrize(("indicator", "kind"), INDICATORS)
def test_whole_days_in_the_facts_zone_are_read_from_the_facts(db: Conn, indicator: str, kind: str) -> None:
    rich_city(db)
    availability.refresh(db, START, END)
    base = {w: run(db, indicator, w).figure for w in (ALIGNED, CUT, BERLIN_W)}

    def corrupt(day: date) -> int:
        # One more online second per fact row: only a report reading that day's facts sees it.
        return db.execute("UPDATE availability_daily SET online_us = online_us + 1000000"
                          " WHERE day = %s AND kind = %s", (day, kind)).rowcount

    def numerator(win: ReportWindow) -> float:
        value = run(db, indicator, win).figure.numerator
        assert value is not None
        return value

    def plus(win: ReportWindow, seconds: int) -> Any:
        value = base[win].numerator
        assert value is not None
        return pytest.approx(value + seconds, abs=1e-3, rel=0)

    n = corrupt(D10)  # a whole day of all three windows, but not a day of Berlin
    assert n > 0
    assert numerator(ALIGNED) == plus(ALIGNED, n)
    assert numerator(CUT) == plus(CUT, n)
    assert run(db, indicator, BERLIN_W).figure == base[BERLIN_W]  # another zone: no facts
    m = corrupt(D09)  # cut at 05:17 in CUT: read from the intervals there
    assert numerator(ALIGNED) == plus(ALIGNED, n + m)
    assert numerator(CUT) == plus(CUT, n)
    # A day no longer listed is read live again, corrupt facts or not.
    db.execute("DELETE FROM availability_days WHERE day IN (%s, %s)", (D09, D10))
    assert run(db, indicator, ALIGNED).figure == base[ALIGNED]


# --- invalidation: each change forgets exactly the days it touches ------------------

def small_city(db: Conn) -> None:
    department(db, "water", "traffic")
    district(db, "d1", "d2")
    asset(db, "A", "iot_device", "water", district="d1")
    asset(db, "B", "gateway", "traffic", district="d2", tags=["pole"])
    asset(db, "C", "iot_device", "water", registered=H(30))
    states(db, "A", ("online", H(-100), H(-10)), ("offline", H(-10), H(5)), ("online", H(5), None))
    states(db, "B", ("online", H(-100), H(20)), ("offline", H(30), H(31)), ("online", H(31), None))
    states(db, "C", ("online", H(30), None))
    maintenance(db, "tag", "pole", (H(-16), H(-14)), (H(2), H(3)))
    maintenance(db, "department", "water", (H(40), H(45)))
    done = availability.refresh(db, START, END)
    assert done.days == DAYS


def expect_forgotten(db: Conn, forgotten: set[date]) -> None:
    """Exactly ``forgotten`` was dropped; the kept facts are still right; reports equal
    the live path before and after a refresh, which recomputes just the forgotten days."""
    kept = set(DAYS) - forgotten
    assert fact_days(db) == kept
    assert current_facts(db) == fresh_facts(db, kept)  # nothing stale kept
    for win, dept in CASES:
        assert figures(db, DEVICE, win, dept) == live(db, DEVICE, win, dept), (win, dept)
    done = availability.refresh(db, START, END)
    assert set(done.days) == forgotten and len(done.days) == len(forgotten)
    assert fact_days(db) == set(DAYS)
    for win, dept in CASES:
        assert figures(db, DEVICE, win, dept) == live(db, DEVICE, win, dept), (win, dept)


def test_a_late_interval_forgets_the_days_it_spans(db: Conn) -> None:
    small_city(db)
    states(db, "B", ("offline", H(21), H(26)))  # fills part of B's gap H20–H30, arriving late
    expect_forgotten(db, {D10, D11})


def test_closing_an_open_interval_forgets_only_from_its_end(db: Conn) -> None:
    small_city(db)
    # The liveness tracker closes A's current interval (open since H5, day 03-10) at H50 …
    db.execute("UPDATE state_intervals SET ended_at = %s WHERE asset_id = 'A' AND ended_at IS NULL", (H(50),))
    assert fact_days(db) == {D09, D10, D11}  # the UPDATE itself, before the next insert
    # … and opens the next one: the days 03-10 and 03-11 the old interval spans keep their facts.
    states(db, "A", ("offline", H(50), None))
    expect_forgotten(db, {D12})


def test_changing_an_intervals_state_forgets_its_whole_span(db: Conn) -> None:
    small_city(db)
    db.execute("UPDATE state_intervals SET state = 'degraded' WHERE asset_id = 'A' AND started_at = %s",
               (H(-10),))  # offline H-10–H5: days 03-09 and 03-10
    expect_forgotten(db, {D09, D10})


def test_moving_an_asset_forgets_its_life_and_retiring_it_from_then_on(db: Conn) -> None:
    small_city(db)
    db.execute("UPDATE assets SET department_id = 'traffic' WHERE asset_id = 'C'")  # alive from H30
    expect_forgotten(db, {D11, D12})
    db.execute("UPDATE assets SET retired_at = %s WHERE asset_id = 'A'", (H(60),))
    expect_forgotten(db, {D12})
    db.execute("UPDATE assets SET tags = '{pole}' WHERE asset_id = 'A'")  # now under B's tag window
    expect_forgotten(db, set(DAYS))  # A's life began long ago


def test_maintenance_forgets_the_days_of_its_periods(db: Conn) -> None:
    small_city(db)
    maintenance(db, "asset", "A", (H(1), H(3)))
    expect_forgotten(db, {D10})
    # Removing the pole window (periods on 03-09 and 03-10) mid-way through its first period.
    # (Periods further apart would forget every day between them: the trigger forgets the
    # hull min(start) … max(end) of a statement's rows, not each row's days.)
    db.execute("UPDATE maintenance_windows SET removed_at = %s WHERE scope = 'tag'", (H(-15),))
    expect_forgotten(db, {D09, D10})
    db.execute("UPDATE maintenance_periods SET ends_at = %s WHERE starts_at = %s", (H(47), H(40)))
    expect_forgotten(db, {D11})


def test_a_new_rollup_zone_forgets_every_day(db: Conn) -> None:
    small_city(db)
    rollups.set_zone(db, "Europe/Berlin")
    assert fact_days(db) == set()
    for win, dept in CASES:
        assert figures(db, DEVICE, win, dept) == live(db, DEVICE, win, dept), (win, dept)
    # H-24 … H72 is 03-08 17:00 … 03-12 17:00 in Berlin: three whole Berlin days.
    done = availability.refresh(db, START, END)
    assert done.days == (D11, D10, D09)
    assert current_facts(db) == fresh_facts(db, {D09, D10, D11})
    for win, dept in CASES:
        assert figures(db, DEVICE, win, dept) == live(db, DEVICE, win, dept), (win, dept)


# --- refresh bookkeeping ------------------------------------------------------------

def test_refresh_computes_missing_days_once_newest_first(db: Conn) -> None:
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    states(db, "A", ("online", H(-100), H(10)), ("offline", H(10), None))
    # Only days wholly inside [start, end): 03-09 and 03-12 are cut by a minute.
    inner = availability.refresh(db, START + timedelta(minutes=1), END - timedelta(minutes=1))
    assert inner.days == (D11, D10)
    assert availability.refresh(db, START, END, max_days=1).days == (D12,)
    assert availability.refresh(db, START, END).days == (D09,)
    again = availability.refresh(db, START, END)
    assert again == availability.RefreshResult((), 0)
    facts = current_facts(db)
    assert len(facts) == 4  # one group (iot_device, water, no district) per day
    forced = availability.refresh(db, START, END, force=True)
    assert forced.days == DAYS and forced.rows == 4
    assert current_facts(db) == facts and fact_days(db) == set(DAYS)


def connect_other(database_url: str, schema: str) -> psycopg.Connection[Any]:
    other = psycopg.connect(database_url)
    other.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    other.commit()
    return other


def test_refresh_skips_while_another_session_refreshes_or_writes(db: Conn, database_url: str,
                                                                 schema: str) -> None:
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    states(db, "A", ("online", H(-100), None))
    with connect_other(database_url, schema) as other:
        # A refresher of another schema does not hold this one up; one of this schema does.
        lock = locks.AVAILABILITY_REFRESH
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext('another_schema'))", (lock,))
        assert availability.refresh(db, START, END, max_days=1).days == (DAYS[0],)
        db.execute("DELETE FROM availability_days")
        db.execute("DELETE FROM availability_daily")
        db.execute("SET lock_timeout = '7s'")
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (lock,))
        assert availability.refresh(db, START, END) == availability.RefreshResult((), 0, skipped=True)
        with db.transaction():
            availability.refresh(db, START, END, max_days=1)
            # The caller's lock_timeout is back for the rest of its transaction.
            assert db.execute("SHOW lock_timeout").fetchone() == ("7s",)
        db.execute("RESET lock_timeout")
        assert fact_days(db) == set()
        assert db.execute("SELECT count(*) FROM availability_daily").fetchone() == (0,)
        other.rollback()
        # A writer in an open transaction holds its table: the refresher waits LOCK_TIMEOUT
        # per attempt rather than block the writer, then gives up.
        other.execute("INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
                      " VALUES ('A', 'offline', %s, %s, 'late')", (H(-90), H(-89)))
        assert availability.refresh(db, START, END, attempts=1).skipped
        assert fact_days(db) == set()
        other.rollback()
    done = availability.refresh(db, START, END)
    assert done.days == DAYS and not done.skipped


# A window removed before the report (or refresh) starts, in the middle of a period still
# running then, no longer applies at all: `planned` used to build tstzrange(W.start,
# removed_at) with W.start > removed_at, and the query failed.

@pytest.mark.parametrize("indicator_id", [DEVICE, "infra.camera_intact_rate", "infra.link_stability",
                                          "system.availability", "portal.availability_7x24"])
def test_a_report_starting_after_a_removal_inside_a_period(db: Conn, indicator_id: str) -> None:
    department(db, "water")
    for kind, asset_id in (("iot_device", "A"), ("camera", "C"), ("link", "L"), ("system", "S"),
                           ("portal", "P")):
        asset(db, asset_id, kind, "water")
        states(db, asset_id, ("online", H(-100), H(6)), ("offline", H(6), None))
    maintenance(db, "all", None, (H(-2), H(2)), removed_at=H(-1))
    figure = run(db, indicator_id, window(H(0), H(24))).figure
    assert figure.value is not None and figure.adjusted_value == figure.value


def test_a_refresh_starting_after_a_removal_inside_a_period(db: Conn) -> None:
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    states(db, "A", ("online", H(-100), None))
    maintenance(db, "all", None, (H(-2), H(2)), removed_at=H(-1))
    assert availability.refresh(db, H(0), H(24)).days == (D10,)


def test_the_workers_periodic_refresh_takes_the_newest_settled_days(db: Conn, database_url: str,
                                                                    schema: str) -> None:
    """refresh_recent (the worker's timer): days that ended at least the settle time
    before now, within availability_days, at most availability_batch_days per run."""
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    states(db, "A", ("online", H(-100), None))
    db.commit()  # refresh_recent works on a connection of its own
    settings = Settings(availability_settle_seconds=900, availability_days=3, availability_batch_days=2)
    # H(72) is 03-13 00:00 Shanghai: 03-12 ended 10 minutes before now, within the settle time.
    now = H(72) + timedelta(minutes=10)
    first = availability.refresh_recent(database_url, schema, settings, now)
    assert first.days == (date(2026, 3, 11), date(2026, 3, 10))
    # A second run finds nothing left to do; once 03-12 has settled, it is taken.
    assert availability.refresh_recent(database_url, schema, settings, now).days == ()
    later = availability.refresh_recent(database_url, schema, settings, now + timedelta(minutes=10))
    assert later.days == (date(2026, 3, 12),)


# --- migration 022: no liveness state 'maintenance' ------------------------------------

def state_checks(db: Conn) -> dict[str, str]:
    return dict(db.execute(
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conname IN ('asset_state_state_check', 'state_intervals_state_check')"
        " AND connamespace = current_schema()::regnamespace").fetchall())


def test_the_state_columns_admit_the_known_states_and_unknown_only(db: Conn) -> None:
    """The facts keep a column per known state (families.KNOWN_STATES): a state the columns
    admitted beyond those and 'unknown' would be time no figure counts."""
    checks = state_checks(db)
    assert set(checks) == {"asset_state", "state_intervals"}
    for definition in checks.values():
        admitted = set(re.findall(r"'(\w+)'::text", definition))
        assert admitted == {*KNOWN_STATES, "unknown"}, definition
    columns = {r[0] for r in db.execute("SELECT column_name FROM information_schema.columns"
                                        " WHERE table_schema = current_schema()"
                                        " AND table_name = 'availability_daily'")}
    assert {f"{s}{m}_us" for s in KNOWN_STATES for m in ("", "_m")} <= columns and "held_us" not in columns
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    with pytest.raises(psycopg.errors.CheckViolation):
        states(db, "A", ("maintenance", H(0), H(1)))


def test_migration_022_names_a_leftover_maintenance_interval_and_what_to_do(db: Conn) -> None:
    """Run against a schema as 021 left it (the old constraint, held_us): a stored
    'maintenance' interval stops it with the rows named and a hint; without one it applies."""
    (text,) = [m.sql for m in store.migrations() if m.version == 22]
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    with db.transaction(force_rollback=True):
        db.execute("ALTER TABLE state_intervals DROP CONSTRAINT state_intervals_state_check,"
                   " ADD CONSTRAINT state_intervals_state_check CHECK (state IN"
                   " ('online', 'degraded', 'offline', 'unknown', 'maintenance'))")
        db.execute("ALTER TABLE availability_daily ADD COLUMN held_us bigint NOT NULL DEFAULT 0")
        states(db, "A", ("maintenance", H(0), H(1)))
        with pytest.raises(psycopg.errors.RaiseException) as caught, db.transaction():
            db.execute(text.encode())
        assert "liveness state 'maintenance' is gone" in str(caught.value)
        assert "citybrain maintenance add" in (caught.value.diag.message_hint or "")
        db.execute("UPDATE state_intervals SET state = 'offline' WHERE state = 'maintenance'")
        db.execute(text.encode())
        assert all("maintenance" not in d for d in state_checks(db).values())
        described = db.execute("SELECT * FROM availability_daily").description or ()
        assert "held_us" not in {c.name for c in described}

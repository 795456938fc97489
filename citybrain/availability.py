"""Availability facts per local day (tables and triggers of migration 012).

``refresh`` derives, for whole local days of the rollup zone, the seconds each group of
assets (kind × department × district) spent in scope and in each state, in all and
inside its maintenance, from state_intervals, assets, the maintenance windows and the
liveness feeds' watermarks (a scope ends at its feed's watermark: the as-of rule), by the
same accounting as the availability SQL (``infra.device_online_rate.sql``'s header; both
are rendered from ``citybrain/indicators/templates/_availability.sql.j2``).
The indicator SQL adds these facts for the whole days a report covers and reads only the
rest from the intervals. A day's facts count only while it is listed in
availability_days; any later change to what they were derived from removes it (the
migration's triggers), so a report is exact whether or not the facts are current.

The worker refreshes the days that have ended (``streams/app.py``); ``citybrain db
rollup`` recomputes a range after a back-fill.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from citybrain.indicators import render
from citybrain.kernel import locks, store
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings
from schemas.registry import LIVENESS_FEED

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

# Which days still lack facts, in the rollup zone: the local days wholly inside
# [start, end), newest first (a report's recent days matter first), as the report SQL
# cuts them (local midnights `local_midnight(day, tz)`, migration 015).
MISSING_DAYS = """
SELECT g::date
FROM rollup_zone z,
     generate_series((%(start)s::timestamptz AT TIME ZONE z.tz)::date::timestamp,
                     (%(end)s::timestamptz AT TIME ZONE z.tz)::date::timestamp,
                     interval '1 day') g
WHERE local_midnight(g::date, z.tz) >= %(start)s::timestamptz
  AND local_midnight(g::date + 1, z.tz) <= %(end)s::timestamptz
  AND (%(force)s OR NOT EXISTS (SELECT 1 FROM availability_days d WHERE d.day = g::date))
ORDER BY g DESC
"""

# The facts of the local days %(days)s (dates in the rollup zone), rendered from the
# indicator templates (templates/availability_facts.sql.j2): the per-state accounting —
# the states known and their columns, the maintenance union of each asset's class (the
# windows narrower than 'all' that apply to it) kept as sorted boundaries with M's
# microseconds before each, how intervals are read and clipped — comes from the fragment
# the availability indicators take theirs from, so an interval [a, b) has G(b) − G(a)
# microseconds under maintenance here exactly as in the report SQL.
FACTS = render.availability_facts({kind: feed for kind, feed in LIVENESS_FEED.items() if feed})

# The tables the facts are derived from. SHARE mode lets reports read on but makes their
# writers wait until the facts are recorded: no change can fall between the reading and
# the recording, and every later one meets the recorded day in its trigger.
SOURCES = "state_intervals, assets, maintenance_windows, maintenance_periods, rollup_zone, feed_watermarks"
# Shorter than PostgreSQL's deadlock_timeout (1 s): a writer that holds one of the
# tables and waits for another the refresher holds makes the refresher give up and try
# again, instead of the deadlock detector cancelling the writer's transaction.
LOCK_TIMEOUT = "500ms"


@dataclass(frozen=True)
class RefreshResult:
    days: tuple[date, ...]  # the local days whose facts were (re)computed, newest first
    rows: int  # availability_daily rows written
    skipped: bool = False  # another refresher held the lock, or the tables stayed busy


def refresh(conn: psycopg.Connection[Any], start: datetime, end: datetime, *, force: bool = False,
            max_days: int | None = None, attempts: int = 20) -> RefreshResult:
    """Compute the facts of the local days (rollup zone) wholly inside [start, end) that
    have none (with ``force``: all of them), newest first, at most ``max_days``.

    One transaction (a savepoint inside the caller's, so call it outside one to release
    the locks at once): the days' facts appear together with their entries in
    availability_days. Writers of the source tables wait meanwhile. When the locks are
    not granted within LOCK_TIMEOUT it rolls back and tries again, ``attempts`` times in
    all, then returns ``skipped``.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("refresh bounds must be timezone-aware")
    for attempt in range(attempts):
        try:
            with conn.transaction():
                # One refresher per schema (a second one skips); refreshes of other schemas
                # in the database do not wait. The key is the refresher's own (citybrain.kernel.locks).
                got = conn.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(current_schema())),"
                                   " current_setting('lock_timeout')",
                                   (locks.AVAILABILITY_REFRESH,)).fetchone()
                if not (got and got[0]):
                    return RefreshResult((), 0, skipped=True)
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (LOCK_TIMEOUT,))
                conn.execute(f"LOCK TABLE {SOURCES} IN SHARE MODE")
                # The caller's own setting again, for the rest of its transaction.
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (got[1],))
                days = [r[0] for r in conn.execute(MISSING_DAYS, {"start": start, "end": end,
                                                                  "force": force})]
                if max_days is not None:
                    days = days[:max_days]
                if not days:
                    return RefreshResult((), 0)
                conn.execute("DELETE FROM availability_daily WHERE day = ANY(%s)", (days,))
                conn.execute("DELETE FROM availability_days WHERE day = ANY(%s)", (days,))
                rows = conn.execute(FACTS, {"days": days}).rowcount
                conn.execute("INSERT INTO availability_days (day) SELECT unnest(%s::date[])", (days,))
            return RefreshResult(tuple(days), max(rows, 0))
        except psycopg.errors.LockNotAvailable:
            clock.sleep(min(0.05 * 2 ** attempt, 2.0))
        except psycopg.Error as exc:
            raise StoreError(_("refreshing the availability facts failed: {error}; check that the "
                               "schema is migrated (`citybrain db migrate`, migration 012)").format(
                error=exc)) from exc
    return RefreshResult((), 0, skipped=True)


def refresh_recent(url: str, schema: str, settings: Settings, now: datetime) -> RefreshResult:
    """The worker's periodic run: the missing days among the last ``availability_days``
    that ended ``availability_settle_seconds`` before ``now`` (late intervals of a day's
    last minutes are in by then; later ones forget the day again), newest first, at most
    ``availability_batch_days``, on a connection of its own.

    One day per transaction: ingest waits on the table locks for one day's computation
    (about a second for 100,000 devices), not for the whole batch."""
    end = now - timedelta(seconds=settings.availability_settle_seconds)
    start = end - timedelta(days=settings.availability_days)
    done: list[date] = []
    rows = 0
    with store.connect(url, schema, autocommit=True) as conn:
        for _batch in range(settings.availability_batch_days):
            step = refresh(conn, start, end, max_days=1, attempts=3)
            done += step.days
            rows += step.rows
            if not step.days:
                return RefreshResult(tuple(done), rows, skipped=step.skipped)
    return RefreshResult(tuple(done), rows)

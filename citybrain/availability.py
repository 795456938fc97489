"""Availability facts per local day (tables and triggers of migration 012).

``refresh`` derives, for whole local days of the rollup zone, the seconds each group of
assets (kind × department × district) spent in scope and in each state, in all and
inside its maintenance, from state_intervals, assets, the maintenance windows and the
liveness feeds' watermarks (a scope ends at its feed's watermark: the as-of rule), by the
same accounting as the availability SQL (``infra.device_online_rate.sql``'s header).
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

from citybrain.kernel import locks, store
from citybrain.kernel.errors import StoreError
from citybrain.kernel.settings import Settings
from schemas.registry import LIVENESS_FEED

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

# The facts of the local days %(days)s (dates in the rollup zone). The maintenance union
# of each asset (its class: the windows narrower than 'all' that apply to it) is kept as
# sorted boundaries with M's microseconds before each, so an interval [a, b) has
# G(b) − G(a) microseconds under maintenance, exactly as in the report SQL.
FACTS = """
WITH days AS MATERIALIZED (
    SELECT u.day, local_midnight(u.day, z.tz) AS lo,
           local_midnight(u.day + 1, z.tz) AS hi
    FROM rollup_zone z, unnest(%(days)s::date[]) AS u(day)
),
span AS MATERIALIZED (SELECT min(lo) AS lo, max(hi) AS hi FROM days),
planned AS MATERIALIZED (
    SELECT mw.window_id, mw.scope, mw.target,
           greatest(mp.starts_at, s.lo) AS lo, least(mp.ends_at, mw.removed_at, s.hi) AS hi
    FROM span s, maintenance_periods mp
    JOIN maintenance_windows mw ON mw.window_id = mp.window_id
    WHERE mw.kind = 'maintenance'
      AND mp.starts_at < s.hi AND mp.ends_at > s.lo
      AND greatest(mp.starts_at, s.lo) < coalesce(mw.removed_at, 'infinity')
),
assets_in AS MATERIALIZED (
    -- As of: an asset's scope ends at its liveness feed's watermark as it does at its
    -- retirement (the report SQL's `evidence`), so `ret` is the earlier of the two; time
    -- after the watermark has no evidence and is outside the scope.
    SELECT a.asset_id, a.kind, a.department_id, a.district_id, a.tags,
           a.registered_at AS reg, least(a.retired_at, w.watermark) AS ret
    FROM span s, assets a
    LEFT JOIN (VALUES /*feed of each kind*/) AS lf(kind, feed) ON lf.kind = a.kind
    LEFT JOIN feed_watermarks w ON w.feed = lf.feed
    WHERE a.registered_at < s.hi
      AND coalesce(least(a.retired_at, w.watermark), 'infinity') > greatest(a.registered_at, s.lo)
),
member_of AS MATERIALIZED (
    SELECT asset_id, array_agg(DISTINCT window_id ORDER BY window_id) AS class
    FROM (SELECT a.asset_id, p.window_id
          FROM planned p JOIN assets_in a ON p.scope = 'asset' AND a.asset_id = p.target
          UNION ALL
          SELECT a.asset_id, p.window_id
          FROM planned p JOIN assets_in a ON p.scope = 'department' AND a.department_id = p.target
          UNION ALL
          SELECT a.asset_id, p.window_id
          FROM planned p JOIN assets_in a ON p.scope = 'district' AND a.district_id = p.target
          UNION ALL
          SELECT a.asset_id, p.window_id
          FROM planned p JOIN assets_in a ON p.scope = 'tag' AND a.tags @> ARRAY[p.target]) x
    GROUP BY asset_id
),
class_pieces AS (
    SELECT cl.class, lower(r) AS lo, upper(r) AS hi, epoch_us(upper(r) - lower(r)) AS len,
           (sum(epoch_us(upper(r) - lower(r))) OVER (PARTITION BY cl.class ORDER BY lower(r)))::bigint AS cum
    FROM (SELECT DISTINCT class FROM member_of UNION SELECT '{}'::bigint[]) cl,
         unnest((SELECT range_agg(tstzrange(p.lo, p.hi)) FROM planned p
                 WHERE p.scope = 'all' OR p.window_id = ANY (cl.class))) AS r
),
classes AS MATERIALIZED (
    SELECT cl.class, m.bounds, m.before
    FROM (SELECT DISTINCT class FROM member_of UNION SELECT '{}'::bigint[]) cl
    LEFT JOIN (
        SELECT class, array_agg(at ORDER BY at) AS bounds, array_agg(before ORDER BY at) AS before
        FROM (SELECT class, lo AS at, cum - len AS before FROM class_pieces
              UNION ALL
              SELECT class, hi, cum FROM class_pieces) b
        GROUP BY class
    ) m ON m.class = cl.class
),
pieces AS (
    -- Each interval cut at the local midnights and clipped to its asset's scope.
    SELECT p.day, p.kind, p.department_id, p.district_id, p.state,
           epoch_us(p.hi - p.lo) AS len,
           coalesce(p.before[p.ib] + mod(p.ib, 2) * epoch_us(p.hi - p.bounds[p.ib]), 0)
         - coalesce(p.before[p.ia] + mod(p.ia, 2) * epoch_us(p.lo - p.bounds[p.ia]), 0) AS mlen
    FROM (SELECT x.*, width_bucket(x.lo, x.bounds) AS ia, width_bucket(x.hi, x.bounds) AS ib
          FROM (SELECT d.day, a.kind, a.department_id, a.district_id, si.state, cl.bounds, cl.before,
                       greatest(si.started_at, a.reg, d.lo) AS lo,
                       least(si.ended_at, a.ret, d.hi) AS hi
                FROM span s
                -- closed intervals by their end, open ones by the open-interval index
                -- (migration 016): the days' intervals, not the history before them
                -- (`<= 'infinity'`: a bounded range, estimated narrow, read by the index)
                CROSS JOIN LATERAL (SELECT i.asset_id, i.state, i.started_at, i.ended_at
                                    FROM state_intervals i
                                    WHERE i.ended_at > s.lo AND i.ended_at <= 'infinity'
                                      AND i.started_at < s.hi
                                    UNION ALL
                                    SELECT o.asset_id, o.state, o.started_at, o.ended_at
                                    FROM (SELECT i.asset_id, i.state, i.started_at, i.ended_at
                                          FROM state_intervals i WHERE i.ended_at IS NULL OFFSET 0) o
                                    WHERE o.started_at < s.hi) si
                JOIN assets_in a ON a.asset_id = si.asset_id
                LEFT JOIN member_of mo ON mo.asset_id = a.asset_id
                JOIN classes cl ON cl.class = coalesce(mo.class, '{}')
                JOIN days d ON si.started_at < d.hi AND (si.ended_at IS NULL OR si.ended_at > d.lo)) x
          WHERE x.lo < x.hi) p
),
sums AS (
    SELECT day, kind, department_id, district_id, 0::bigint AS scope_us,
           coalesce(sum(len) FILTER (WHERE state = 'online'), 0) AS online_us,
           coalesce(sum(len) FILTER (WHERE state = 'degraded'), 0) AS degraded_us,
           coalesce(sum(len) FILTER (WHERE state = 'offline'), 0) AS offline_us,
           coalesce(sum(len) FILTER (WHERE state = 'maintenance'), 0) AS held_us,
           coalesce(sum(mlen) FILTER (WHERE state = 'online'), 0) AS online_m_us,
           coalesce(sum(mlen) FILTER (WHERE state = 'degraded'), 0) AS degraded_m_us,
           coalesce(sum(mlen) FILTER (WHERE state = 'offline'), 0) AS offline_m_us
    FROM pieces
    GROUP BY day, kind, department_id, district_id
    UNION ALL
    SELECT d.day, a.kind, a.department_id, a.district_id,
           sum(epoch_us(least(a.ret, d.hi) - greatest(a.reg, d.lo))), 0, 0, 0, 0, 0, 0, 0
    FROM assets_in a JOIN days d ON a.reg < d.hi AND (a.ret IS NULL OR a.ret > d.lo)
    GROUP BY d.day, a.kind, a.department_id, a.district_id
)
INSERT INTO availability_daily (day, kind, department_id, district_id, scope_us, online_us, degraded_us,
                                offline_us, held_us, online_m_us, degraded_m_us, offline_m_us)
SELECT day, kind, department_id, district_id, sum(scope_us)::bigint, sum(online_us)::bigint,
       sum(degraded_us)::bigint, sum(offline_us)::bigint, sum(held_us)::bigint, sum(online_m_us)::bigint,
       sum(degraded_m_us)::bigint, sum(offline_m_us)::bigint
FROM sums
GROUP BY day, kind, department_id, district_id
""".replace("/*feed of each kind*/", ", ".join(
    f"('{kind}', '{feed}')" for kind, feed in sorted(LIVENESS_FEED.items()) if feed))

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
            raise StoreError(f"refreshing the availability facts failed: {exc}; check that the schema "
                             "is migrated (`citybrain db migrate`, migration 012)") from exc
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
        for _ in range(settings.availability_batch_days):
            step = refresh(conn, start, end, max_days=1, attempts=3)
            done += step.days
            rows += step.rows
            if not step.days:
                return RefreshResult(tuple(done), rows, skipped=step.skipped)
    return RefreshResult(tuple(done), rows)

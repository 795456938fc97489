"""Hourly rollups of probe and cloud-usage readings (tables from migration 009) and daily
latency histograms and packet and cloud-usage sums per local day (probe_latency_daily,
probe_latency_coarse, probe_daily and cloud_daily; migrations 011, 013 and 014).

The ingest path (streams/sink.py) adds each batch's newly stored rows into the rollups in
the statement that stores them; ``rebuild`` recomputes a range of hours, and the local days
that range meets, from the raw tables for rows that arrived another way (COPYed in by a
benchmark or a back-fill, or a migration over existing data); ``set_zone`` moves the daily
rollups to another zone's local days. All use the aggregations built here, so they
cannot drift.

The indicator SQL reads whole hours from the rollups and completes the hours a window
edge, a local midnight or a registration change cuts from raw rows (see the headers of
``infra.packet_loss_rate.sql`` and ``infra.latency_p95.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import sql

from citybrain.kernel.errors import CitybrainError, StoreError
from citybrain.kernel.i18n import N_, Catalogue
from streams import active_users

# The errors are read by the person running `citybrain db rollup` (current language).
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

HOUR = timedelta(hours=1)
NO_FILTER = sql.SQL("")
# The UTC hour start of a timestamptz, independent of the session's TimeZone (date_trunc
# would cut at the session zone's hours, which are not UTC hours in +05:30 zones).
HOUR_OF = "date_bin('1 hour', {t}, '2000-01-01 00:00+00')"

PROBE_COLUMNS = ("hour", "asset_id", "target_kind", "probes", "ok_probes", "packets_sent", "packets_lost",
                 "latency_count", "latency_sum", "latency_min", "latency_max", "latency_buckets",
                 "latency_counts")
CLOUD_COLUMNS = ("hour", "asset_id", "samples", "cpu_used_sum", "cpu_alloc_sum", "mem_used_sum",
                 "mem_alloc_sum", "storage_used_sum", "storage_alloc_sum")
DAILY_COLUMNS = ("day", "target_kind", "asset_id", "coarse", "n", "lo", "hi", "fine")
COARSE_COLUMNS = ("day", "target_kind", "asset_id", "n", "lo", "hi", "counts")
# Coarse latency buckets: latency_bucket is 0..632, coarse c = b / 16 is 0..39.
COARSE_BUCKETS = 40
PROBE_DAILY_COLUMNS = ("day", "target_kind", "asset_id", "packets_sent", "packets_lost")
CLOUD_DAILY_COLUMNS = ("day", "asset_id", *CLOUD_COLUMNS[2:])
# The local date of an event in the rollup zone (``z``: the rollup_zone row joined in).
# Days are only ever found this way, instant to local date, never from a computed local
# midnight: some zones repeat their midnight (America/Havana falls back from 01:00 to
# 00:00), and ``day::timestamp AT TIME ZONE tz`` then names the second one (the indicator
# SQL cuts days with ``local_midnight``, migration 015, which names the first).
DAY_OF = "({t} AT TIME ZONE z.tz)::date"
# No zone in the tz database is 16 hours or more from UTC (the extremes are local mean
# times of about ±15:57), so every instant of local days d0..d1, in any zone, lies in
# [d0 00:00 UTC - 16 h, d1 + 1 00:00 UTC + 16 h): the index range a rebuild of days reads,
# before DAY_OF picks the days' rows exactly.
ZONE_REACH = timedelta(hours=16)
# The rollups kept per local day of rollup_zone (migrations 011, 013 and 014), in the order
# the sink's statement writes them (rebuild and set_zone lock them in this order).
DAILY_TABLES = ("probe_latency_daily", "probe_latency_coarse", "probe_daily", "cloud_daily")
NO_ZONE = N_("rollup_zone has no row; set the zone of the daily rollups with "
             "`citybrain db rollup --zone Asia/Shanghai`")


class RollupZoneError(CitybrainError, ValueError):
    """A time zone the daily rollup cannot be kept in (unknown to Python or PostgreSQL)."""


def probe_aggregate(source: str, where: sql.Composable = NO_FILTER) -> sql.Composed:
    """SELECT of probe_hourly rows from ``source`` (a table or CTE with probe_events' columns).

    Two levels: per (hour, asset, kind, latency bucket) first, then the buckets become the
    sparse histogram arrays of the hour.
    """
    return sql.SQL(
        "SELECT hour, asset_id, target_kind, sum(probes), sum(ok_probes), sum(packets_sent),"
        " sum(packets_lost), sum(latency_count), coalesce(sum(latency_sum), 0),"
        " min(latency_min), max(latency_max),"
        " coalesce(array_agg(b ORDER BY b) FILTER (WHERE b IS NOT NULL), '{{}}'),"
        " coalesce(array_agg(latency_count ORDER BY b) FILTER (WHERE b IS NOT NULL), '{{}}')"
        " FROM (SELECT " + HOUR_OF.format(t="occurred_at") + " AS hour, asset_id, target_kind,"
        " CASE WHEN ok AND latency_ms IS NOT NULL THEN latency_bucket(latency_ms) END AS b,"
        " count(*) AS probes, count(*) FILTER (WHERE ok) AS ok_probes,"
        " coalesce(sum(packets_sent) FILTER (WHERE packets_sent > 0), 0) AS packets_sent,"
        " coalesce(sum(packets_lost) FILTER (WHERE packets_sent > 0), 0) AS packets_lost,"
        " count(latency_ms) FILTER (WHERE ok) AS latency_count,"
        " sum(latency_ms::float8) FILTER (WHERE ok) AS latency_sum,"
        " min(latency_ms) FILTER (WHERE ok) AS latency_min,"
        " max(latency_ms) FILTER (WHERE ok) AS latency_max"
        " FROM {source} {where} GROUP BY 1, 2, 3, 4) per_bucket"
        " GROUP BY hour, asset_id, target_kind"
    ).format(source=sql.Identifier(source), where=where)


def cloud_aggregate(source: str, where: sql.Composable = NO_FILTER) -> sql.Composed:
    """SELECT of cloud_hourly rows from ``source`` (usage samples only)."""
    return sql.SQL(
        "SELECT " + HOUR_OF.format(t="occurred_at") + ", asset_id, count(*),"
        " sum(cpu_used_cores::float8), sum(cpu_alloc_cores::float8), sum(mem_used_gb::float8),"
        " sum(mem_alloc_gb::float8), sum(storage_used_gb::float8), sum(storage_alloc_gb::float8)"
        " FROM {source} WHERE kind = 'usage' {where} GROUP BY 1, 2"
    ).format(source=sql.Identifier(source), where=where)


def latency_daily_aggregate(source: str, where: sql.Composable = NO_FILTER) -> sql.Composed:
    """SELECT of probe_latency_daily rows from ``source`` (probe_events' columns), on local
    days of rollup_zone's zone; ``where`` adds ``AND ...`` conditions on ``e`` (the source
    rows) and ``z`` (the zone row).

    Two levels again: per (day, kind, asset, fine bucket) first, then the fine buckets of
    each coarse bucket become its dense 16 counts. Only successful probes with a latency,
    as in probe_hourly's histogram.
    """
    return sql.SQL(
        # mod(), not %: the statement may carry %s parameters.
        "SELECT day, target_kind, asset_id, (b / 16)::smallint AS coarse, sum(cnt)::integer AS n,"
        " min(lo) AS lo, max(hi) AS hi, latency_fine(array_agg(mod(b, 16)), array_agg(cnt)) AS fine"
        " FROM (SELECT " + DAY_OF.format(t="e.occurred_at") + " AS day, e.target_kind, e.asset_id,"
        " latency_bucket(e.latency_ms) AS b, count(*) AS cnt,"
        " min(e.latency_ms) AS lo, max(e.latency_ms) AS hi"
        " FROM {source} e CROSS JOIN rollup_zone z"
        " WHERE e.ok AND e.latency_ms IS NOT NULL {where}"
        " GROUP BY 1, 2, 3, 4) per_bucket"
        " GROUP BY 1, 2, 3, 4"
    ).format(source=sql.Identifier(source), where=where)


def latency_coarse_aggregate(daily: sql.Composable) -> sql.Composed:
    """SELECT of probe_latency_coarse rows from ``daily`` (a table, CTE or parenthesised
    query with probe_latency_daily's columns): each (day, kind, asset)'s rows summed, their
    n per coarse bucket as the dense counts. Migration 014's back-fill is this over the
    stored table."""
    return sql.SQL(
        "SELECT day, target_kind, asset_id, sum(n)::integer, min(lo), max(hi),"
        " latency_dense(array_agg(coarse::integer), array_agg(n::bigint), {size})"
        " FROM {daily} d GROUP BY 1, 2, 3"
    ).format(daily=daily, size=sql.Literal(COARSE_BUCKETS))


def probe_daily_aggregate(source: str, where: sql.Composable = NO_FILTER) -> sql.Composed:
    """SELECT of probe_daily rows from ``source`` (probe_events' columns) on local days of
    rollup_zone's zone; packets as probe_hourly counts them. ``where``: ``AND ...`` on ``e``
    and ``z``."""
    return sql.SQL(
        "SELECT " + DAY_OF.format(t="e.occurred_at") + ", e.target_kind, e.asset_id,"
        " coalesce(sum(e.packets_sent) FILTER (WHERE e.packets_sent > 0), 0),"
        " coalesce(sum(e.packets_lost) FILTER (WHERE e.packets_sent > 0), 0)"
        " FROM {source} e CROSS JOIN rollup_zone z WHERE true {where} GROUP BY 1, 2, 3"
    ).format(source=sql.Identifier(source), where=where)


def cloud_daily_aggregate(source: str, where: sql.Composable = NO_FILTER) -> sql.Composed:
    """SELECT of cloud_daily rows from ``source`` (usage samples only), as cloud_hourly's
    but per local day of rollup_zone's zone."""
    return sql.SQL(
        "SELECT " + DAY_OF.format(t="e.occurred_at") + ", e.asset_id, count(*),"
        " sum(e.cpu_used_cores::float8), sum(e.cpu_alloc_cores::float8), sum(e.mem_used_gb::float8),"
        " sum(e.mem_alloc_gb::float8), sum(e.storage_used_gb::float8), sum(e.storage_alloc_gb::float8)"
        " FROM {source} e CROSS JOIN rollup_zone z WHERE e.kind = 'usage' {where} GROUP BY 1, 2"
    ).format(source=sql.Identifier(source), where=where)


def _add(table: str, column: str, nullable: bool = False) -> sql.Composed:
    old, new = sql.Identifier(table, column), sql.Identifier("excluded", column)
    if nullable:
        # NULL (no sample carried the resource) plus a number is that number.
        return sql.SQL("{c} = coalesce({old} + {new}, {old}, {new})").format(
            c=sql.Identifier(column), old=old, new=new)
    return sql.SQL("{c} = {old} + {new}").format(c=sql.Identifier(column), old=old, new=new)


def probe_upsert() -> sql.Composed:
    """ON CONFLICT clause adding a batch's probe_hourly rows to the stored ones."""
    adds = [_add("probe_hourly", c) for c in ("probes", "ok_probes", "packets_sent", "packets_lost",
                                              "latency_count", "latency_sum")]
    return sql.SQL(
        " ON CONFLICT (hour, asset_id, target_kind) DO UPDATE SET {adds},"
        " latency_min = least(probe_hourly.latency_min, excluded.latency_min),"
        " latency_max = greatest(probe_hourly.latency_max, excluded.latency_max),"
        # Histograms add bucket by bucket; the arrays stay sorted by bucket.
        " (latency_buckets, latency_counts) = (SELECT coalesce(array_agg(b ORDER BY b), '{{}}'),"
        " coalesce(array_agg(n ORDER BY b), '{{}}')"
        " FROM (SELECT b, sum(n)::integer AS n"
        " FROM unnest(probe_hourly.latency_buckets || excluded.latency_buckets,"
        " probe_hourly.latency_counts || excluded.latency_counts) AS u(b, n) GROUP BY b) merged)"
    ).format(adds=sql.SQL(", ").join(adds))


def cloud_upsert() -> sql.Composed:
    """ON CONFLICT clause adding a batch's cloud_hourly rows to the stored ones."""
    adds = [_add("cloud_hourly", "samples")] + [
        _add("cloud_hourly", c, nullable=True) for c in CLOUD_COLUMNS[3:]]
    return sql.SQL(" ON CONFLICT (hour, asset_id) DO UPDATE SET {adds}").format(
        adds=sql.SQL(", ").join(adds))


def _histogram_upsert(table: str, key: tuple[str, ...], counts: str) -> sql.Composed:
    """ON CONFLICT clause adding a batch's rows to the stored ones of a daily latency
    table: samples added, min and max kept, the counts array added element by element
    (latency_fine_add: any two arrays of one length)."""
    old = sql.Identifier(table, counts)
    return sql.SQL(
        " ON CONFLICT ({key}) DO UPDATE SET {n},"
        " lo = least({lo}, excluded.lo), hi = greatest({hi}, excluded.hi),"
        " {c} = latency_fine_add({old}, {new})"
    ).format(key=sql.SQL(", ").join(map(sql.Identifier, key)), n=_add(table, "n"),
             lo=sql.Identifier(table, "lo"), hi=sql.Identifier(table, "hi"), c=sql.Identifier(counts),
             old=old, new=sql.Identifier("excluded", counts))


def _insert(table: str, cols: tuple[str, ...], select: sql.Composable,
            upsert: sql.Composable = NO_FILTER) -> sql.Composed:
    return sql.SQL("INSERT INTO {table} ({cols}) {select}{upsert}").format(
        table=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, cols)), select=select,
        upsert=upsert)


def _insert_daily(select: sql.Composable, upsert: bool = False) -> sql.Composed:
    return _insert("probe_latency_daily", DAILY_COLUMNS, select, _histogram_upsert(
        "probe_latency_daily", ("target_kind", "day", "asset_id", "coarse"), "fine") if upsert else NO_FILTER)


def _insert_coarse(select: sql.Composable, upsert: bool = False) -> sql.Composed:
    return _insert("probe_latency_coarse", COARSE_COLUMNS, select, _histogram_upsert(
        "probe_latency_coarse", ("target_kind", "day", "asset_id"), "counts") if upsert else NO_FILTER)


def _insert_probe_daily(select: sql.Composable, upsert: bool = False) -> sql.Composed:
    adds = sql.SQL(", ").join(_add("probe_daily", c) for c in PROBE_DAILY_COLUMNS[3:])
    return _insert("probe_daily", PROBE_DAILY_COLUMNS, select,
                   sql.SQL(" ON CONFLICT (target_kind, day, asset_id) DO UPDATE SET {}").format(adds)
                   if upsert else NO_FILTER)


def _insert_cloud_daily(select: sql.Composable, upsert: bool = False) -> sql.Composed:
    adds = sql.SQL(", ").join([_add("cloud_daily", "samples")] + [
        _add("cloud_daily", c, nullable=True) for c in CLOUD_DAILY_COLUMNS[3:]])
    return _insert("cloud_daily", CLOUD_DAILY_COLUMNS, select,
                   sql.SQL(" ON CONFLICT (day, asset_id) DO UPDATE SET {}").format(adds)
                   if upsert else NO_FILTER)


def ingest_cte(family: str, source: str) -> sql.Composed | None:
    """A data-modifying CTE body adding the rows of ``source`` (the batch's newly stored
    rows) to the family's rollup, or None for families without one."""
    cols: tuple[str, ...]
    if family == "probe":
        table, cols, select, upsert = "probe_hourly", PROBE_COLUMNS, probe_aggregate(source), probe_upsert()
    elif family == "cloud":
        table, cols, select, upsert = "cloud_hourly", CLOUD_COLUMNS, cloud_aggregate(source), cloud_upsert()
    else:
        return None
    return sql.SQL("INSERT INTO {table} ({cols}) {select}{upsert} RETURNING 1").format(
        table=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        select=select, upsert=upsert)


def ingest_ctes(family: str, source: str) -> sql.Composable:
    """The data-modifying CTEs (``name AS (...),`` each, for a WITH list after ``source``)
    adding the rows of ``source`` to all of the family's rollups; empty for families
    without one. Every CTE reads the same rows, so each stored row is added once to each.
    """
    if family == "usage":
        # Portal usage: active users per local day and month (streams/active_users.py).
        return active_users.ingest_ctes(source)
    hourly = ingest_cte(family, source)
    if hourly is None:
        return sql.SQL("")
    ctes = [sql.SQL(" rollup AS ({}),").format(hourly)]
    if family == "probe":
        # The zone row is read in the statement's snapshot: set_zone locks the table, so a
        # batch never adds days of the old zone to rows rebuilt in the new one.
        # The batch's daily histogram rows, aggregated once for both daily latency tables.
        ctes.append(sql.SQL(" latency_rows AS ({}),").format(latency_daily_aggregate(source)))
        ctes.append(sql.SQL(" latency_daily AS ({} RETURNING 1),").format(
            _insert_daily(sql.SQL("SELECT * FROM latency_rows"), upsert=True)))
        ctes.append(sql.SQL(" latency_coarse AS ({} RETURNING 1),").format(
            _insert_coarse(latency_coarse_aggregate(sql.Identifier("latency_rows")), upsert=True)))
        ctes.append(sql.SQL(" probe_daily AS ({} RETURNING 1),").format(
            _insert_probe_daily(probe_daily_aggregate(source), upsert=True)))
    elif family == "cloud":
        ctes.append(sql.SQL(" cloud_daily AS ({} RETURNING 1),").format(
            _insert_cloud_daily(cloud_daily_aggregate(source), upsert=True)))
    return sql.Composed(ctes)


# The raw columns each family's rollup reads, for the sink's RETURNING list.
INGEST_COLUMNS: dict[str, tuple[str, ...]] = {
    "probe": ("occurred_at", "asset_id", "target_kind", "ok", "latency_ms", "packets_sent", "packets_lost"),
    "cloud": ("occurred_at", "asset_id", "kind", "cpu_used_cores", "cpu_alloc_cores", "mem_used_gb",
              "mem_alloc_gb", "storage_used_gb", "storage_alloc_gb"),
    "usage": active_users.COLUMNS,
}


@dataclass(frozen=True)
class RebuildResult:
    start: datetime  # the hours rebuilt: [start, end), on UTC hours
    end: datetime
    probe_hours: int  # rollup rows written
    cloud_hours: int
    latency_days: int  # probe_latency_daily rows written, for the local days [start, end) meets
    # (probe_latency_coarse, probe_daily and cloud_daily are rebuilt for the same days)


def _lock(tables: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
        sql.SQL(", ").join(map(sql.Identifier, tables)))


def hour_floor(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("rollup times must be timezone-aware")
    u = t.astimezone(UTC)
    return u.replace(minute=0, second=0, microsecond=0)


def hour_ceil(t: datetime) -> datetime:
    f = hour_floor(t)
    return f if f == t else f + HOUR


def rebuild(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> RebuildResult:
    """Recompute the rollups of every UTC hour that meets [start, end) from the raw tables,
    and the daily rollups (latency histograms, packet and cloud sums) of every local day
    (rollup zone) that meets it.

    ``start`` is rounded down and ``end`` up to whole hours, so a partial hour is rebuilt
    whole; a partial day is rebuilt whole too. Runs in one transaction (a savepoint inside
    the caller's): the rollups are never seen half-rebuilt. Rows arriving through the
    pipeline meanwhile wait on the table locks, then add to the rebuilt hours and days.
    """
    lo, hi = hour_floor(start), hour_ceil(end)
    if hi <= lo:
        return RebuildResult(lo, hi, 0, 0, 0)
    where = sql.SQL("AND occurred_at >= %(lo)s AND occurred_at < %(hi)s")
    params = {"lo": lo, "hi": hi}
    try:
        with conn.transaction():
            # Lock out concurrent ingest into the rebuilt hours and days until this commits
            # (in the order the sink's statement takes them).
            conn.execute(_lock(("probe_hourly", "cloud_hourly", *DAILY_TABLES, *active_users.TABLES)))
            conn.execute("DELETE FROM probe_hourly WHERE hour >= %(lo)s AND hour < %(hi)s", params)
            conn.execute("DELETE FROM cloud_hourly WHERE hour >= %(lo)s AND hour < %(hi)s", params)
            probe = conn.execute(
                sql.SQL("INSERT INTO probe_hourly ({cols}) {select}").format(
                    cols=sql.SQL(", ").join(map(sql.Identifier, PROBE_COLUMNS)),
                    select=probe_aggregate("probe_events", sql.SQL("WHERE true ") + where)),
                params).rowcount
            cloud = conn.execute(
                sql.SQL("INSERT INTO cloud_hourly ({cols}) {select}").format(
                    cols=sql.SQL(", ").join(map(sql.Identifier, CLOUD_COLUMNS)),
                    select=cloud_aggregate("cloud_events", where)),
                params).rowcount
            days = _rebuild_days(conn, start, end)
    except psycopg.Error as exc:
        raise StoreError(_("rebuilding the rollups failed: {error}; check that the schema is "
                           "migrated (`citybrain db migrate`, migrations 009, 011, 013 and 014)").format(
            error=exc)) from exc
    return RebuildResult(lo, hi, max(probe, 0), max(cloud, 0), days)


def _rebuild_days(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> int:
    """Replace the daily rows of the local days that meet [start, end) (start < end) by
    an aggregation of their raw rows; the caller holds the table lock."""
    # The zone is read after the lock: a set_zone that committed meanwhile is seen.
    row = conn.execute(
        "SELECT (%s::timestamptz AT TIME ZONE tz)::date, (%s::timestamptz AT TIME ZONE tz)::date"
        " FROM rollup_zone", (start, end - timedelta(microseconds=1))).fetchone()
    if row is None:
        raise StoreError(_(NO_ZONE))
    first, last = row
    for table in DAILY_TABLES:
        conn.execute(sql.SQL("DELETE FROM {} WHERE day >= %s AND day <= %s").format(sql.Identifier(table)),
                     (first, last))
    where = sql.SQL(
        "AND e.occurred_at >= %(from)s AND e.occurred_at < %(to)s"
        " AND " + DAY_OF.format(t="e.occurred_at") + " BETWEEN %(first)s AND %(last)s")
    params = {"from": _utc_midnight(first) - ZONE_REACH,
              "to": _utc_midnight(last + timedelta(days=1)) + ZONE_REACH,
              "first": first, "last": last}
    written = conn.execute(_insert_daily(latency_daily_aggregate("probe_events", where)), params).rowcount
    # From the rows just written (the raw rows are read once).
    conn.execute(_insert_coarse(latency_coarse_aggregate(sql.SQL(
        "(SELECT * FROM probe_latency_daily WHERE day >= %(first)s AND day <= %(last)s)"))), params)
    conn.execute(_insert_probe_daily(probe_daily_aggregate("probe_events", where)), params)
    conn.execute(_insert_cloud_daily(cloud_daily_aggregate("cloud_events", where)), params)
    active_users.rebuild_days(conn, first, last, params)
    return max(written, 0)


def _utc_midnight(d: date) -> datetime:
    return datetime.combine(d, time(), UTC)


def set_zone(conn: psycopg.Connection[Any], tz: str) -> int:
    """Keep the daily rollups (latency histograms, packet and cloud sums) in local days of
    ``tz`` (an IANA name) from now on: record the zone and rebuild every daily row from all
    raw rows, in one transaction (a savepoint inside the caller's). Returns the latency
    rows written. The availability facts of the old zone's days are dropped by the zone
    change itself (migration 012's trigger); the worker recomputes them.

    Setting the zone it already has rebuilds every day as well. Ingest waits on the table
    lock meanwhile, then adds its rows in the new zone.
    """
    # Both sides must know the zone: PostgreSQL computes the days, and readers (report
    # windows, the tests' reference) take local dates with zoneinfo.
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RollupZoneError(_("unknown time zone {zone}; use an IANA name such as Asia/Shanghai").format(
            zone=repr(tz))) from exc
    try:
        with conn.transaction():
            try:
                conn.execute("SELECT now() AT TIME ZONE %s", (tz,))
            except psycopg.errors.InvalidParameterValue as exc:
                raise RollupZoneError(_("time zone {zone} is not known to the database server; "
                                        "use an IANA name such as Asia/Shanghai").format(
                    zone=repr(tz))) from exc
            conn.execute(_lock((*DAILY_TABLES, *active_users.TABLES)))
            # An upsert, not an UPDATE: it also restores a zone row deleted by hand.
            conn.execute("INSERT INTO rollup_zone (tz) VALUES (%s)"
                         " ON CONFLICT (singleton) DO UPDATE SET tz = excluded.tz", (tz,))
            for table in DAILY_TABLES:
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            written = conn.execute(_insert_daily(latency_daily_aggregate("probe_events"))).rowcount
            conn.execute(_insert_coarse(latency_coarse_aggregate(sql.Identifier("probe_latency_daily"))))
            conn.execute(_insert_probe_daily(probe_daily_aggregate("probe_events")))
            conn.execute(_insert_cloud_daily(cloud_daily_aggregate("cloud_events")))
            active_users.rebuild_all(conn)
    except psycopg.Error as exc:
        raise StoreError(f"rebuilding the daily rollups failed: {exc}; check that the schema "
                         "is migrated (`citybrain db migrate`, migrations 011, 013 and 014)") from exc
    return max(written, 0)

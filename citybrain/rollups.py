"""Hourly rollups of probe and cloud-usage readings (tables from migration 009).

The ingest path (streams/sink.py) adds each batch's newly stored rows into the rollups in
the statement that stores them; ``rebuild`` recomputes a range of hours from the raw
tables for rows that arrived another way (COPYed in by a benchmark or a back-fill, or a
migration over existing data). Both use the aggregation built here, so they cannot drift.

The indicator SQL reads whole hours from the rollups and completes the hours a window
edge, a local midnight or a registration change cuts from raw rows (see the headers of
``infra.packet_loss_rate.sql`` and ``infra.latency_p95.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from citybrain.errors import StoreError

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


# The raw columns each family's rollup reads, for the sink's RETURNING list.
INGEST_COLUMNS: dict[str, tuple[str, ...]] = {
    "probe": ("occurred_at", "asset_id", "target_kind", "ok", "latency_ms", "packets_sent", "packets_lost"),
    "cloud": ("occurred_at", "asset_id", "kind", "cpu_used_cores", "cpu_alloc_cores", "mem_used_gb",
              "mem_alloc_gb", "storage_used_gb", "storage_alloc_gb"),
}


@dataclass(frozen=True)
class RebuildResult:
    start: datetime  # the hours rebuilt: [start, end), on UTC hours
    end: datetime
    probe_hours: int  # rollup rows written
    cloud_hours: int


def hour_floor(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("rollup times must be timezone-aware")
    u = t.astimezone(UTC)
    return u.replace(minute=0, second=0, microsecond=0)


def hour_ceil(t: datetime) -> datetime:
    f = hour_floor(t)
    return f if f == t else f + HOUR


def rebuild(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> RebuildResult:
    """Recompute the rollups of every UTC hour that meets [start, end) from the raw tables.

    ``start`` is rounded down and ``end`` up to whole hours, so a partial hour is rebuilt
    whole. Runs in one transaction (a savepoint inside the caller's): the rollups are
    never seen half-rebuilt. Rows arriving through the pipeline meanwhile wait on the
    row locks, then add to the rebuilt hours.
    """
    lo, hi = hour_floor(start), hour_ceil(end)
    if hi <= lo:
        return RebuildResult(lo, hi, 0, 0)
    where = sql.SQL("AND occurred_at >= %(lo)s AND occurred_at < %(hi)s")
    params = {"lo": lo, "hi": hi}
    try:
        with conn.transaction():
            # Lock out concurrent ingest into the rebuilt hours until this commits.
            conn.execute("LOCK TABLE probe_hourly, cloud_hourly IN SHARE ROW EXCLUSIVE MODE")
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
    except psycopg.Error as exc:
        raise StoreError(f"rebuilding the hourly rollups failed: {exc}; check that the schema is "
                         "migrated (`citybrain db migrate`, migration 009)") from exc
    return RebuildResult(lo, hi, max(probe, 0), max(cloud, 0))

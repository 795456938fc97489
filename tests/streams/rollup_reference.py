"""A from-scratch aggregation of the raw probe and cloud rows, in Python, to check the
hourly rollups and the daily latency histograms against (an implementation independent of
streams.rollups' SQL)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

Conn = psycopg.Connection[Any]


def bucket(ms: float) -> int:
    """The documented histogram bucket: [0.1 ms × 1.025^b, 0.1 ms × 1.025^(b+1)), 0..632."""
    return min(632, max(0, math.floor(math.log(max(ms, 0.1) / 0.1) / math.log(1.025))))


def hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def probe_reference(db: Conn) -> dict[tuple[datetime, str, str], tuple[Any, ...]]:
    acc: dict[tuple[datetime, str, str], dict[str, Any]] = defaultdict(
        lambda: {"probes": 0, "ok": 0, "sent": 0, "lost": 0, "n": 0, "sum": 0.0, "min": None,
                 "max": None, "hist": defaultdict(int)})
    for at, asset, kind, ok, ms, sent, lost in db.execute(
            "SELECT occurred_at, asset_id, target_kind, ok, latency_ms, packets_sent, packets_lost"
            " FROM probe_events"):
        a = acc[(hour(at), asset, kind)]
        a["probes"] += 1
        a["ok"] += int(ok)
        if sent is not None and sent > 0:
            a["sent"] += sent
            a["lost"] += lost or 0
        if ok and ms is not None:
            a["n"] += 1
            a["sum"] += ms
            a["min"] = ms if a["min"] is None else min(a["min"], ms)
            a["max"] = ms if a["max"] is None else max(a["max"], ms)
            a["hist"][bucket(ms)] += 1
    return {k: (a["probes"], a["ok"], a["sent"], a["lost"], a["n"], a["sum"], a["min"], a["max"],
                sorted(a["hist"].items()))
            for k, a in acc.items()}


def probe_rollup(db: Conn) -> dict[tuple[datetime, str, str], tuple[Any, ...]]:
    return {(h, asset, kind): (probes, ok, sent, lost, n, total, lo, hi, list(zip(bs, ns, strict=True)))
            for h, asset, kind, probes, ok, sent, lost, n, total, lo, hi, bs, ns in db.execute(
                "SELECT hour, asset_id, target_kind, probes, ok_probes, packets_sent, packets_lost,"
                " latency_count, latency_sum, latency_min, latency_max, latency_buckets, latency_counts"
                " FROM probe_hourly")}


DailyKey = tuple[str, date, str, int]  # (target_kind, local day, asset_id, coarse bucket)


def latency_daily_reference(db: Conn, tz: ZoneInfo) -> dict[DailyKey, tuple[Any, ...]]:
    """probe_latency_daily as documented, days local to ``tz`` (taken with zoneinfo):
    (n, lo, hi, 16 fine counts) per key, successful probes with a latency only."""
    acc: dict[DailyKey, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "lo": None, "hi": None, "fine": [0] * 16})
    for at, asset, kind, ok, ms in db.execute(
            "SELECT occurred_at, asset_id, target_kind, ok, latency_ms FROM probe_events"):
        if not ok or ms is None:
            continue
        coarse, i = divmod(bucket(ms), 16)
        a = acc[(kind, at.astimezone(tz).date(), asset, coarse)]
        a["n"] += 1
        a["lo"] = ms if a["lo"] is None else min(a["lo"], ms)
        a["hi"] = ms if a["hi"] is None else max(a["hi"], ms)
        a["fine"][i] += 1
    return {k: (a["n"], a["lo"], a["hi"], a["fine"]) for k, a in acc.items()}


def latency_daily_rollup(db: Conn) -> dict[DailyKey, tuple[Any, ...]]:
    """The stored rows, keyed and shaped as ``latency_daily_reference``; min and max are the
    stored float4 readings themselves, so the two compare with ==.

    It also asserts that probe_latency_coarse (migration 014, kept by the same writers)
    holds exactly these rows summed per (kind, day, asset): so every comparison of the
    daily rows with the reference covers the coarse rows as well.
    """
    rows = {(kind, day, asset, coarse): (n, lo, hi, fine)
            for kind, day, asset, coarse, n, lo, hi, fine in db.execute(
                "SELECT target_kind, day, asset_id, coarse, n, lo, hi, fine FROM probe_latency_daily")}
    assert latency_coarse_rollup(db) == latency_coarse_of(rows)
    return rows


CoarseKey = tuple[str, date, str]  # (target_kind, local day, asset_id)


def latency_coarse_of(daily: dict[DailyKey, tuple[Any, ...]]) -> dict[CoarseKey, tuple[Any, ...]]:
    """probe_latency_coarse as documented, from probe_latency_daily-shaped rows: per (kind,
    day, asset) the samples, their min and max, and the 40 coarse counts."""
    acc: dict[CoarseKey, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "lo": None, "hi": None, "counts": [0] * 40})
    for (kind, day, asset, coarse), (n, lo, hi, _) in daily.items():
        a = acc[(kind, day, asset)]
        a["n"] += n
        a["lo"] = lo if a["lo"] is None else min(a["lo"], lo)
        a["hi"] = hi if a["hi"] is None else max(a["hi"], hi)
        a["counts"][coarse] += n
    return {k: (a["n"], a["lo"], a["hi"], a["counts"]) for k, a in acc.items()}


def latency_coarse_rollup(db: Conn) -> dict[CoarseKey, tuple[Any, ...]]:
    return {(kind, day, asset): (n, lo, hi, counts)
            for kind, day, asset, n, lo, hi, counts in db.execute(
                "SELECT target_kind, day, asset_id, n, lo, hi, counts FROM probe_latency_coarse")}


def rollup_zone(db: Conn) -> str:
    row = db.execute("SELECT tz FROM rollup_zone").fetchone()
    assert row is not None
    return str(row[0])


def cloud_reference(db: Conn) -> dict[tuple[datetime, str], tuple[Any, ...]]:
    acc: dict[tuple[datetime, str], list[Any]] = defaultdict(lambda: [0] + [None] * 6)
    for row in db.execute(
            "SELECT occurred_at, asset_id, cpu_used_cores, cpu_alloc_cores, mem_used_gb, mem_alloc_gb,"
            " storage_used_gb, storage_alloc_gb FROM cloud_events WHERE kind = 'usage'"):
        a = acc[(hour(row[0]), row[1])]
        a[0] += 1
        for i, v in enumerate(row[2:], start=1):
            if v is not None:
                a[i] = (a[i] or 0.0) + v
    return {k: tuple(a) for k, a in acc.items()}


def cloud_rollup(db: Conn) -> dict[tuple[datetime, str], tuple[Any, ...]]:
    return {(r[0], r[1]): tuple(r[2:])
            for r in db.execute(
                "SELECT hour, asset_id, samples, cpu_used_sum, cpu_alloc_sum, mem_used_sum, mem_alloc_sum,"
                " storage_used_sum, storage_alloc_sum FROM cloud_hourly")}


def same(got: dict[Any, tuple[Any, ...]], want: dict[Any, tuple[Any, ...]]) -> bool:
    """Equal keys and values; floats (sums of float4 readings, summed in another order and
    read back at float4 precision) equal to 1e-6 relative."""
    if got.keys() != want.keys():
        return False
    for key, row in got.items():
        for x, y in zip(row, want[key], strict=True):
            if isinstance(x, float) or isinstance(y, float):
                if x is None or y is None or not math.isclose(x, y, rel_tol=1e-6):
                    return False
            elif x != y:
                return False
    return True

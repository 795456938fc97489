"""The hourly rollups: rebuilt from raw rows they equal a from-scratch aggregation, and the
packet-loss sums read through them stay exact at windows cut off the UTC hours. The daily
latency histograms: rebuilt whole local days, moved to another zone by set_zone, back-filled
by their migration, each equal to a zoneinfo-based reference."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from citybrain.kernel import store
from citybrain.kernel.i18n import use_language
from citybrain.kernel.settings import Settings
from streams import rollups
from streams.sink import Batch, EventSink
from tests.citybrain.indicators.city import (
    Conn,
    asset,
    department,
    local,
    member,
    members,
    probe,
    run,
    usage,
    window,
)
from tests.helpers import count, worker_env
from tests.streams.rollup_reference import (
    cloud_reference,
    cloud_rollup,
    latency_daily_reference,
    latency_daily_rollup,
    probe_reference,
    probe_rollup,
    rollup_zone,
    same,
)

KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: every local midnight cuts a UTC hour
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the daily rollup's zone until set_zone
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)


def readings(db: Conn) -> None:
    rng = random.Random(7)
    for i in range(60):
        at = T0 + timedelta(minutes=17 * i + rng.randint(0, 16))
        probe(db, f"link-{i % 3}", at, ok=i % 11 != 0, sent=50, lost=i % 4, latency=rng.uniform(0.05, 900))
        probe(db, "portal-1", at, target="portal", ok=i % 7 != 0, latency=rng.uniform(50, 5000))
        usage(db, "vm-1", at, cpu=(rng.uniform(0, 8), 8), mem=(rng.uniform(0, 32), 32), disk=(100, 500))


def test_rebuild_equals_a_from_scratch_aggregation(db: Conn) -> None:
    readings(db)
    probe(db, "link-9", T0, ok=True, latency=None, sent=None, lost=None)  # counted, no latency or packets
    result = rollups.rebuild(db, T0 + timedelta(minutes=5), T0 + timedelta(days=2))
    assert result.start == T0 and result.probe_hours > 0 and result.cloud_hours > 0
    assert same(probe_rollup(db), probe_reference(db))
    assert same(cloud_rollup(db), cloud_reference(db))
    # Rebuilding again (or a range twice) replaces, never adds.
    rollups.rebuild(db, T0, T0 + timedelta(days=2))
    assert same(probe_rollup(db), probe_reference(db))
    # Only the hours asked for are touched.
    rollups.rebuild(db, T0 + timedelta(days=5), T0 + timedelta(days=6))
    assert same(cloud_rollup(db), cloud_reference(db))


def test_rebuild_rejects_naive_times(db: Conn) -> None:
    with pytest.raises(ValueError):
        rollups.rebuild(db, datetime(2026, 3, 9), datetime(2026, 3, 10))


def test_packet_loss_is_exact_on_kolkata_windows(db: Conn) -> None:
    """Window edges at :30 UTC, local midnights at :30 UTC, and a link registered and one
    retired off the hour: the cut hours come from raw rows, so the sums are exact."""
    department(db, "water", "traffic")
    asset(db, "link-0", "link", "water")
    asset(db, "link-1", "link", "traffic", registered=T0 + timedelta(hours=9, minutes=20))
    asset(db, "link-2", "link", "traffic", retired=T0 + timedelta(hours=30, minutes=45))
    rng = random.Random(11)
    sent: dict[tuple[str, str], int] = {}
    lost: dict[tuple[str, str], int] = {}
    start, end = local(KOLKATA, 2026, 3, 10), local(KOLKATA, 2026, 3, 12)
    assert start.minute == 30  # 2026-03-09 18:30 UTC
    registered = {"link-0": (T0 - timedelta(days=1), None),
                  "link-1": (T0 + timedelta(hours=9, minutes=20), None),
                  "link-2": (T0 - timedelta(days=1), T0 + timedelta(hours=30, minutes=45))}
    for i in range(400):
        link = f"link-{i % 3}"
        at = T0 + timedelta(seconds=rng.randint(0, 60 * 3600))
        s, lo = rng.randint(1, 100), rng.randint(0, 5)
        probe(db, link, at, sent=s, lost=lo, latency=10)
        reg, ret = registered[link]
        if start <= at < end and reg <= at and (ret is None or at < ret):
            key = (link, at.astimezone(KOLKATA).date().isoformat())
            sent[key] = sent.get(key, 0) + s
            lost[key] = lost.get(key, 0) + lo
    rollups.rebuild(db, T0, T0 + timedelta(days=3))
    result = run(db, "infra.packet_loss_rate", window(start, end, KOLKATA))
    assert (result.figure.numerator, result.figure.denominator) == (sum(lost.values()), sum(sent.values()))
    days = sorted({d for _, d in sent})
    assert days == ["2026-03-10", "2026-03-11"]
    expected_days = {d: 100 * sum(v for (_, dd), v in lost.items() if dd == d)
                     / sum(v for (_, dd), v in sent.items() if dd == d) for d in days}
    assert members(result, "day") == pytest.approx(expected_days)
    expected_assets = {a: 100 * sum(v for (aa, _), v in lost.items() if aa == a)
                       / sum(v for (aa, _), v in sent.items() if aa == a) for a in registered}
    assert members(result, "asset") == pytest.approx(expected_assets)
    # A date-time window off the hours (start :07, end :53) is exact too.
    ws, we = T0 + timedelta(hours=3, minutes=7), T0 + timedelta(hours=40, minutes=53)
    dt = run(db, "infra.packet_loss_rate", window(ws, we, KOLKATA))
    rows = db.execute(
        "SELECT coalesce(sum(e.packets_lost), 0), coalesce(sum(e.packets_sent), 0) FROM probe_events e"
        " JOIN assets a USING (asset_id) WHERE e.occurred_at >= %s AND e.occurred_at < %s"
        " AND e.occurred_at >= a.registered_at AND (a.retired_at IS NULL OR e.occurred_at < a.retired_at)",
        (ws, we)).fetchone()
    assert rows is not None and (dt.figure.numerator, dt.figure.denominator) == (rows[0], rows[1])


def test_the_indicators_read_the_rollup_not_the_raw_rows(db: Conn) -> None:
    """Whole hours come from probe_hourly: a rollup left stale shows in the figure (which
    is why rows loaded around the pipeline need ``rebuild``)."""
    department(db, "water")
    asset(db, "link-0", "link", "water")
    probe(db, "link-0", T0 + timedelta(minutes=10), sent=100, lost=10, latency=5)
    start, end = T0, T0 + timedelta(hours=2)
    assert run(db, "infra.packet_loss_rate", window(start, end)).figure.value is None  # not rebuilt yet
    rollups.rebuild(db, start, end)
    assert run(db, "infra.packet_loss_rate", window(start, end)).figure.value == pytest.approx(10.0)


def test_db_rollup_command_rebuilds_the_hours(settings: Settings, db: Conn) -> None:
    readings(db)
    out = subprocess.run([sys.executable, "-m", "citybrain", "db", "rollup", "--from", "2026-03-09T17:00",
                          "--to", "2026-03-12T00:00+05:30", "-o", "json"], env=worker_env(settings),
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    printed = orjson.loads(out.stdout)
    assert printed["start"] == "2026-03-09T17:00:00+00:00" and printed["end"] == "2026-03-11T19:00:00+00:00"
    assert printed["probe_hours"] == len(probe_reference(db)) > 0
    assert same(probe_rollup(db), probe_reference(db))
    # Availability facts: the one Shanghai day wholly inside [17:00Z on the 9th, 19:00Z on
    # the 11th) is the 11th (16:00Z on the 10th to 16:00Z on the 11th).
    assert printed["availability_days"] == 1 and printed["availability_skipped"] is False
    db.rollback()  # a fresh snapshot: the command committed on its own connection
    assert [r[0].isoformat() for r in db.execute("SELECT day FROM availability_days")] == ["2026-03-11"]
    bad = subprocess.run([sys.executable, "-m", "citybrain", "db", "rollup", "--from", "yesterday",
                          "--to", "2026-03-12"], env=worker_env(settings),
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "ISO 8601" in bad.stderr
    # The local days the range meets (Shanghai 03-10 to 03-12) are rebuilt too.
    assert printed["latency_days"] == len(latency_daily_reference(db, SHANGHAI)) > 0
    assert latency_daily_rollup(db) == latency_daily_reference(db, SHANGHAI)


def test_migration_back_fills_existing_rows(database_url: str, schema: str, db: Conn) -> None:
    """Migration 009 on a store with raw rows: the rollups it back-fills equal a rebuild's."""
    readings(db)
    db.execute("DELETE FROM schema_migrations WHERE version = 9")
    db.execute("DROP TABLE probe_hourly, cloud_hourly")
    db.execute("DROP FUNCTION latency_bucket, latency_bucket_floor")
    store.migrate(database_url, schema)
    assert count(db, "SELECT count(*) FROM probe_hourly") > 0
    assert same(probe_rollup(db), probe_reference(db))
    assert same(cloud_rollup(db), cloud_reference(db))


def test_cloud_utilisation_sums_are_exact_on_a_kolkata_date_time_window(db: Conn) -> None:
    department(db, "water")
    asset(db, "vm-1", "cloud_host", "water", registered=T0 + timedelta(hours=2, minutes=50))
    asset(db, "vm-0", "cloud_host", "water")
    readings(db)  # vm-1 usage every ~17 minutes over ~17 hours
    for i in range(40):
        usage(db, "vm-0", T0 + timedelta(minutes=29 * i), cpu=(i % 8, 8), mem=(4, 32), disk=(i, 500))
    rollups.rebuild(db, T0, T0 + timedelta(days=2))
    ws, we = T0 + timedelta(hours=1, minutes=7), T0 + timedelta(hours=15, minutes=41)
    result = run(db, "infra.cloud_utilisation", window(ws, we, KOLKATA))
    row = db.execute(
        "SELECT sum(e.cpu_used_cores::float8), sum(e.cpu_alloc_cores::float8),"
        " sum(e.storage_used_gb::float8), sum(e.storage_alloc_gb::float8) FROM cloud_events e"
        " JOIN assets a USING (asset_id) WHERE e.kind = 'usage'"
        " AND e.occurred_at >= %s AND e.occurred_at < %s AND e.occurred_at >= a.registered_at",
        (ws, we)).fetchone()
    assert row is not None
    cpu, storage = member(result, "category", "cpu"), member(result, "category", "storage")
    assert cpu is not None and storage is not None
    assert (cpu.numerator, cpu.denominator) == pytest.approx((row[0], row[1]), rel=1e-12)
    assert (storage.numerator, storage.denominator) == pytest.approx((row[2], row[3]), rel=1e-12)


# --- daily latency histograms (probe_latency_daily, migration 011) ----------------------

def around_midnight(db: Conn, midnight: datetime, asset_id: str = "link-0", seed: int = 3) -> None:
    """Probes from 40 minutes before ``midnight`` to 40 after, one exactly on it, one a
    microsecond before, failed ones and ones without a latency (neither is counted), and
    latencies at both ends of the histogram (bucket 0, bucket 632 = coarse 39, index 8)."""
    rng = random.Random(seed)
    for k in range(-20, 21):
        probe(db, asset_id, midnight + timedelta(minutes=2 * k), ok=k % 9 != 0, latency=rng.uniform(0.5, 400))
        probe(db, "portal-1", midnight + timedelta(minutes=2 * k, seconds=30), target="portal",
              latency=rng.uniform(20, 3000))
    probe(db, asset_id, midnight - timedelta(microseconds=1), latency=0.01)
    probe(db, asset_id, midnight, latency=900_000.0)
    probe(db, asset_id, midnight + timedelta(minutes=1), latency=None)


def by_day(rows: dict[tuple[str, date, str, int], tuple[object, ...]],
           keep: set[date]) -> dict[tuple[str, date, str, int], tuple[object, ...]]:
    return {k: v for k, v in rows.items() if k[1] in keep}


def test_daily_rebuild_equals_the_reference_and_rebuilds_whole_local_days(db: Conn) -> None:
    d10, d11, d12 = date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)
    readings(db)  # Shanghai 03-10 01:00 to about 18:00
    around_midnight(db, local(SHANGHAI, 2026, 3, 11))
    assert rollup_zone(db) == "Asia/Shanghai"
    result = rollups.rebuild(db, T0 + timedelta(minutes=5), T0 + timedelta(days=2))
    want = latency_daily_reference(db, SHANGHAI)
    assert {k[1] for k in want} == {d10, d11}
    # The 900 s probe exactly on the midnight: the top coarse bucket, of the new day.
    assert [k[1] for k in want if k[3] == 39] == [d11]
    assert result.latency_days == len(want)
    assert latency_daily_rollup(db) == want
    assert all(n == sum(fine) and len(fine) == 16 for n, _, _, fine in want.values())
    # Rebuilding again replaces, never adds.
    rollups.rebuild(db, T0, T0 + timedelta(days=2))
    assert latency_daily_rollup(db) == want

    # New raw rows on three days, then a rebuild of the last hour before the 03-11
    # midnight: day 03-10 is rebuilt whole (readings from 01:00 on included), 03-11 (the
    # range ends exactly at its first instant) and 03-12 are left alone.
    probe(db, "link-0", local(SHANGHAI, 2026, 3, 10, 23, 59), latency=12.5)
    probe(db, "link-0", local(SHANGHAI, 2026, 3, 11), latency=13.5)
    probe(db, "link-7", local(SHANGHAI, 2026, 3, 12, 12), latency=14.5)
    before = latency_daily_rollup(db)
    result = rollups.rebuild(db, local(SHANGHAI, 2026, 3, 10, 23), local(SHANGHAI, 2026, 3, 11))
    want = latency_daily_reference(db, SHANGHAI)
    assert result.latency_days == len(by_day(want, {d10}))
    got = latency_daily_rollup(db)
    assert by_day(got, {d10}) == by_day(want, {d10}) != by_day(before, {d10})
    assert by_day(got, {d11, d12}) == by_day(before, {d11, d12}) != by_day(want, {d11, d12})
    # One instant of 03-11 rebuilds that day whole; then 03-12 is the only stale day.
    d11_start = local(SHANGHAI, 2026, 3, 11)
    rollups.rebuild(db, d11_start, d11_start + timedelta(microseconds=1))
    got = latency_daily_rollup(db)
    assert by_day(got, {d10, d11}) == by_day(want, {d10, d11}) and by_day(got, {d12}) == {}
    rollups.rebuild(db, T0, T0 + timedelta(days=3))
    assert latency_daily_rollup(db) == want


def test_daily_rebuild_in_a_zone_that_repeats_its_midnight(db: Conn) -> None:
    """America/Havana falls back from 01:00 to 00:00 on 2024-11-03: both 00:30s belong to
    11-03, though ``'2024-11-03'::timestamp AT TIME ZONE`` names the second midnight."""
    havana = ZoneInfo("America/Havana")
    first = datetime(2024, 11, 3, 4, 30, tzinfo=UTC)  # 00:30 CDT, before the fall-back
    assert first.astimezone(havana).date() == date(2024, 11, 3)
    for minutes in (-45, -20, 0, 20, 50, 70, 95):
        probe(db, "link-0", first + timedelta(minutes=minutes), latency=10 + minutes / 7)
    rollups.set_zone(db, "America/Havana")
    want = latency_daily_reference(db, havana)
    assert latency_daily_rollup(db) == want
    assert {k[1] for k in want} == {date(2024, 11, 2), date(2024, 11, 3)}
    # A rebuild of either day alone reproduces it.
    rollups.rebuild(db, datetime(2024, 11, 3, 5, 10, tzinfo=UTC), datetime(2024, 11, 3, 5, 20, tzinfo=UTC))
    assert latency_daily_rollup(db) == want
    rollups.rebuild(db, datetime(2024, 11, 3, 3, 0, tzinfo=UTC), datetime(2024, 11, 3, 3, 10, tzinfo=UTC))
    assert latency_daily_rollup(db) == want


def test_set_zone_moves_the_days_across_a_dst_change(db: Conn) -> None:
    """Berlin moves to CEST at 2026-03-29 01:00 UTC: a probe at 22:30 UTC is on 03-29 the
    day before (CET, +1) and on 03-30 that evening (CEST, +2)."""
    rng = random.Random(13)
    start = datetime(2026, 3, 27, 12, tzinfo=UTC)
    for i in range(300):
        at = start + timedelta(minutes=23 * i + rng.randint(0, 22))
        probe(db, f"link-{i % 3}", at, ok=i % 13 != 0, latency=rng.uniform(0.2, 2500))
    marks = {"mark-a": datetime(2026, 3, 28, 22, 30, tzinfo=UTC),   # Berlin 03-28 23:30, Shanghai 03-29
             "mark-b": datetime(2026, 3, 28, 23, 30, tzinfo=UTC),   # Berlin 03-29 00:30, Shanghai 03-29
             "mark-c": datetime(2026, 3, 29, 21, 30, tzinfo=UTC),   # Berlin 03-29 23:30, Shanghai 03-30
             "mark-d": datetime(2026, 3, 29, 22, 30, tzinfo=UTC)}   # Berlin 03-30 00:30, Shanghai 03-30
    for mark, at in marks.items():
        probe(db, mark, at, latency=42.0)

    def mark_days() -> dict[str, date]:
        return {asset: day for _, day, asset, _ in latency_daily_rollup(db) if asset.startswith("mark-")}

    rollups.rebuild(db, start, start + timedelta(days=6))
    assert latency_daily_rollup(db) == latency_daily_reference(db, SHANGHAI)
    assert mark_days() == {"mark-a": date(2026, 3, 29), "mark-b": date(2026, 3, 29),
                           "mark-c": date(2026, 3, 30), "mark-d": date(2026, 3, 30)}

    written = rollups.set_zone(db, "Europe/Berlin")
    want = latency_daily_reference(db, BERLIN)
    assert rollup_zone(db) == "Europe/Berlin"
    assert written == len(want) and latency_daily_rollup(db) == want
    assert mark_days() == {"mark-a": date(2026, 3, 28), "mark-b": date(2026, 3, 29),
                           "mark-c": date(2026, 3, 29), "mark-d": date(2026, 3, 30)}

    # Rebuilds now cut Berlin days: the 23-hour 03-29 is rebuilt whole from one instant.
    probe(db, "link-0", local(BERLIN, 2026, 3, 29, 0, 5), latency=7.0)
    probe(db, "link-0", local(BERLIN, 2026, 3, 29, 23, 55), latency=8.0)
    result = rollups.rebuild(db, local(BERLIN, 2026, 3, 29, 12), local(BERLIN, 2026, 3, 29, 12, 1))
    want = latency_daily_reference(db, BERLIN)
    assert result.latency_days == len(by_day(want, {date(2026, 3, 29)}))
    assert latency_daily_rollup(db) == want

    # An unknown zone is refused with a clear message and changes nothing.
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with use_language("en"), pytest.raises(rollups.RollupZoneError, match="unknown time zone"):
            rollups.set_zone(db, bad)
    assert isinstance(rollups.RollupZoneError("x"), ValueError)
    assert rollup_zone(db) == "Europe/Berlin" and latency_daily_rollup(db) == want

    # Back to Shanghai: the same rows as a rebuild there gave.
    rollups.set_zone(db, "Asia/Shanghai")
    assert latency_daily_rollup(db) == latency_daily_reference(db, SHANGHAI)


def test_db_rollup_zone_command(settings: Settings, db: Conn) -> None:
    readings(db)
    around_midnight(db, local(BERLIN, 2026, 3, 10))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "citybrain", "db", "rollup", *args],
                              env=worker_env(settings, CITYBRAIN_LANGUAGE="zh-CN"), capture_output=True,
                              text=True, timeout=120, check=False)

    out = cli("--zone", "Europe/Berlin", "-o", "json")
    assert out.returncode == 0, out.stderr
    want = latency_daily_reference(db, BERLIN)
    assert orjson.loads(out.stdout) == {"zone": "Europe/Berlin", "latency_days": len(want)}
    assert rollup_zone(db) == "Europe/Berlin" and latency_daily_rollup(db) == want
    table = cli("--zone", "Europe/Berlin")   # for a person: in the settings' language
    assert table.returncode == 0, table.stderr
    assert f"每日汇总现按 Europe/Berlin 计算：已重建 {len(want)} 行时延数据" in table.stdout
    bad = cli("--zone", "Mars/Olympus")
    assert bad.returncode == 1 and "未知时区 'Mars/Olympus'；请使用 IANA 名称" in bad.stderr
    assert rollup_zone(db) == "Europe/Berlin"
    neither = cli()
    assert neither.returncode == 2 and "--zone" in neither.stderr
    both = cli("--zone", "UTC", "--from", "2026-03-09T17:00", "--to", "2026-03-10T00:00")
    assert both.returncode == 2 and rollup_zone(db) == "Europe/Berlin"
    assert "--zone" in cli("--help").stdout


def test_latency_daily_migration_back_fills_existing_rows(database_url: str, schema: str, db: Conn) -> None:
    """Migration 011 on a store with raw rows: Shanghai days, equal to the reference (and
    014's coarse rows, back-filled from them, equal to their sums)."""
    readings(db)
    around_midnight(db, local(SHANGHAI, 2026, 3, 10))
    # 011 and the later migrations built on its rollup_zone (012 to 016) apply again; the later ones stay.
    db.execute("DELETE FROM schema_migrations WHERE version BETWEEN 11 AND 16")
    db.execute("DROP TABLE probe_latency_daily, rollup_zone, availability_days, availability_daily,"
               " probe_daily, cloud_daily, probe_latency_coarse CASCADE")
    db.execute("DROP FUNCTION latency_fine, latency_fine_add, availability_intervals_changed,"
               " availability_assets_changed, availability_maintenance_changed, availability_zone_changed,"
               " latency_dense, local_midnight CASCADE")
    db.execute("DROP INDEX cloud_events_request_idx, assets_registered_idx, assets_retired_idx,"
               " assets_kind_idx, state_intervals_end_idx, state_intervals_asset_end_idx")
    store.migrate(database_url, schema)
    assert rollup_zone(db) == "Asia/Shanghai"
    want = latency_daily_reference(db, SHANGHAI)
    assert len({k[1] for k in want}) == 2 and latency_daily_rollup(db) == want
    # And a rebuild of everything writes the same rows.
    rollups.rebuild(db, T0 - timedelta(days=2), T0 + timedelta(days=2))
    assert latency_daily_rollup(db) == want


# --- daily packet and cloud sums (probe_daily, cloud_daily, migration 013) ---------------

SumRows = tuple[dict[tuple[Any, ...], tuple[Any, ...]], dict[tuple[Any, ...], tuple[Any, ...]]]


def sums_reference(db: Conn, tz: ZoneInfo) -> SumRows:
    """probe_daily and cloud_daily as documented, on zoneinfo days of ``tz``: packets only
    of probes with packets_sent > 0 (a probe without still makes its row), usage samples
    only, sums of the exact float4 readings (cast in SQL: their text form is not exact)."""
    probes: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for at, kind, asset_id, sent, lost in db.execute(
            "SELECT occurred_at, target_kind, asset_id, packets_sent, packets_lost FROM probe_events"):
        p = probes[(kind, at.astimezone(tz).date(), asset_id)]
        if sent:
            p[0], p[1] = p[0] + sent, p[1] + lost
    cloud: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] + [None] * 6)
    for at, asset_id, *values in db.execute(
            "SELECT occurred_at, asset_id, cpu_used_cores::float8, cpu_alloc_cores::float8,"
            " mem_used_gb::float8, mem_alloc_gb::float8, storage_used_gb::float8, storage_alloc_gb::float8"
            " FROM cloud_events WHERE kind = 'usage'"):
        c = cloud[(at.astimezone(tz).date(), asset_id)]
        c[0] += 1
        for i, v in enumerate(values, start=1):
            c[i] = c[i] if v is None else (c[i] or 0.0) + v
    return {k: tuple(v) for k, v in probes.items()}, {k: tuple(v) for k, v in cloud.items()}


def sums_rollup(db: Conn) -> SumRows:
    probes = {(kind, day, asset_id): (sent, lost) for day, kind, asset_id, sent, lost in db.execute(
        "SELECT day, target_kind, asset_id, packets_sent, packets_lost FROM probe_daily")}
    cloud = {(r[0], r[1]): tuple(r[2:]) for r in db.execute(
        "SELECT day, asset_id, samples, cpu_used_sum, cpu_alloc_sum, mem_used_sum, mem_alloc_sum,"
        " storage_used_sum, storage_alloc_sum FROM cloud_daily")}
    return probes, cloud


def sums_equal(got: SumRows, want: SumRows) -> bool:
    """Packets exactly; float sums (added in another order) to 1e-12 relative, NULL to NULL."""
    return got[0] == want[0] and got[1].keys() == want[1].keys() and all(
        x == y or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-12))
        for k, row in got[1].items() for x, y in zip(row, want[1][k], strict=True))


def sink(database_url: str, schema: str, family: str, *batches: list[tuple[Any, ...]]) -> None:
    """Write batches through the worker's EventSink (staging COPY, INSERT and rollup CTEs)."""
    async def write() -> None:
        s = EventSink(database_url, schema, family)
        try:
            for rows in batches:
                await s.write(Batch(family, rows=rows))
        finally:
            await s.close()
    asyncio.run(write())


def sink_rows(start: datetime, n: int, seed: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """n probe and usage rows (sink column order, occurred_at as text) 7 minutes apart from
    ``start``, with probes without packets or with 0 sent and samples without storage."""
    rng = random.Random(seed)
    probes, cloud = [], []
    for i in range(n):
        at = (start + timedelta(minutes=7 * i, microseconds=rng.randrange(10**6))).isoformat()
        sent = rng.choice([None, 0, rng.randint(1, 90), rng.randint(1, 90)])
        probes.append((at, f"p{seed}-{i}", f"link-{i % 3}", "link", i % 5 != 0, None, 12.5, sent,
                       None if sent is None else rng.randint(0, min(sent, 7)), None, None))
        disk = (500.0, rng.uniform(0, 500)) if i % 4 else (None, None)
        cloud.append((at, f"c{seed}-{i}", f"vm-{i % 2}", "usage", 8.0, rng.uniform(0, 8), 32.0,
                       rng.uniform(0, 32), *disk, None, None, None, None, None))
    cloud.append((start.isoformat(), f"r{seed}", "vm-0", "request", *[None] * 6, "r", "vm", start, None, 4.0))
    return probes, cloud


def test_sink_keeps_daily_sums_equal_to_the_raw_rows(database_url: str, schema: str, db: Conn) -> None:
    midnight = local(SHANGHAI, 2026, 3, 11)
    probes, cloud = sink_rows(midnight - timedelta(hours=4), 80, seed=1)  # 4 h before to 5 h after
    edge = [(m.isoformat(), f"edge{k}", "link-0", "link", True, None, 1.0, 10, k, None, None)
            for k, m in enumerate((midnight - timedelta(microseconds=1), midnight))]
    # Overlapping batches (rows 30..49 twice: stored once, added once), each adding to rows
    # already summed for the day; the last sample, alone in its batch, has no storage
    # (NULL sums must not wipe the day's).
    lone = (midnight.isoformat(), "lone", "vm-0", "usage", 8.0, 1.0, 32.0, 2.0, *[None] * 7)
    sink(database_url, schema, "probe", probes[:50], probes[30:] + edge)
    sink(database_url, schema, "cloud", cloud[:50], cloud[30:], [lone])
    want = sums_reference(db, SHANGHAI)
    assert {k[1] for k in want[0]} == {k[0] for k in want[1]} == {date(2026, 3, 10), date(2026, 3, 11)}
    assert sums_equal(sums_rollup(db), want)

    # A rebuild over the range writes the same rows, and one instant of a day rebuilds it whole.
    rollups.rebuild(db, midnight - timedelta(days=1), midnight + timedelta(days=1))
    assert sums_equal(sums_rollup(db), want)
    db.execute("DELETE FROM probe_daily; DELETE FROM cloud_daily")
    rollups.rebuild(db, midnight + timedelta(hours=5), midnight + timedelta(hours=5, microseconds=1))
    got = sums_rollup(db)
    assert sums_equal(got, ({k: v for k, v in want[0].items() if k[1] == date(2026, 3, 11)},
                            {k: v for k, v in want[1].items() if k[0] == date(2026, 3, 11)}))

    # set_zone moves them to Berlin days (the same instants fall on other dates), and the
    # sink adds later batches on Berlin days.
    rollups.set_zone(db, "Europe/Berlin")
    assert sums_equal(sums_rollup(db), sums_reference(db, BERLIN)) and not sums_equal(sums_rollup(db), want)
    probes, cloud = sink_rows(local(BERLIN, 2026, 3, 11, 22), 20, seed=2)
    sink(database_url, schema, "probe", probes)
    sink(database_url, schema, "cloud", cloud)
    want = sums_reference(db, BERLIN)
    assert date(2026, 3, 12) in {k[1] for k in want[0]} and sums_equal(sums_rollup(db), want)

"""The hourly rollups: rebuilt from raw rows they equal a from-scratch aggregation, and the
packet-loss sums read through them stay exact at windows cut off the UTC hours."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest

from citybrain import rollups, store
from citybrain.settings import Settings
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
from tests.citybrain.rollup_reference import (
    cloud_reference,
    cloud_rollup,
    probe_reference,
    probe_rollup,
    same,
)
from tests.helpers import count, worker_env

KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: every local midnight cuts a UTC hour
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
    bad = subprocess.run([sys.executable, "-m", "citybrain", "db", "rollup", "--from", "yesterday",
                          "--to", "2026-03-12"], env=worker_env(settings),
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "ISO 8601" in bad.stderr


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

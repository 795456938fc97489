"""The p95 indicators read whole local days from the daily latency rollup (migration 011)
and everything else from the hourly rollup and raw rows. Both paths must give the same
figures, and those figures must stay within the documented bound of the exact
percentile_cont computed from the raw rows.

A week of link and portal probes in Shanghai, every 20 minutes with seeded random
latencies (two assets in another latency range, so groups fall into different coarse
buckets), one asset registered and one retired mid-day inside the window, and windows
that start and end on, and off, local midnights. The same report is computed with the
rollup kept in Shanghai days (whole days come from the daily rollup) and in UTC days
(the zones differ, so every sample comes from the hourly rollup and raw rows); a third
run in Asia/Kolkata checks a :30 zone.
"""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from citybrain.indicators.model import IndicatorResult
from streams import rollups
from tests.citybrain.indicators.city import (
    LONG_AGO,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    local,
    probe,
    run,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
P95 = 0.025  # the documented relative error bound


def build(db: Conn) -> None:
    department(db, "water", "traffic")
    rng = random.Random(11)
    assets = [("link-1", "link", "water", None, None), ("link-2", "link", "traffic", None, None),
              ("link-3", "link", "water", H(30.5), None),            # registered mid-day
              ("portal-1", "portal", "water", None, None), ("portal-2", "portal", "traffic", None, None),
              ("portal-3", "portal", "traffic", None, H(100.25)),   # retired mid-day
              # registered and retired on one local day (03-12): that day is read once
              ("link-4", "link", "water", H(50.75), H(66.5)),
              ("portal-4", "portal", "water", H(50.75), H(66.5))]
    for asset_id, kind, dept, registered, retired in assets:
        asset(db, asset_id, kind, dept, key="portal" if kind == "portal" else "infrastructure",
              registered=registered or LONG_AGO, retired=retired)
    for step in range(7 * 24 * 3):
        at = H(-12) + timedelta(minutes=20 * step, seconds=rng.randrange(0, 60))
        for asset_id, kind, _, _, _ in assets:
            slow = asset_id in ("link-2", "portal-2")
            ms = rng.uniform(800, 3000) if slow else rng.lognormvariate(3.5, 0.6)
            probe(db, asset_id, at, target=kind, latency=round(ms, 3), ok=rng.random() > 0.02)
    rollups.rebuild(db, LONG_AGO, H(200))


def exact_p95(db: Conn, kind: str, start: object, end: object) -> float:
    row = db.execute(
        "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY e.latency_ms)"
        " FROM probe_events e JOIN assets a ON a.asset_id = e.asset_id"
        " WHERE e.target_kind = %s AND e.ok AND e.occurred_at >= %s AND e.occurred_at < %s"
        " AND e.occurred_at >= a.registered_at AND (a.retired_at IS NULL OR e.occurred_at < a.retired_at)",
        (kind, start, end)).fetchone()
    assert row is not None
    return float(row[0])


def figures(result: IndicatorResult) -> list[tuple[str, str, float | None, float | None]]:
    rows = [("total", "", result.figure.value, result.figure.denominator)]
    rows += [(b.dimension, b.member, b.figure.value, b.figure.denominator) for b in result.breakdowns]
    return rows


WINDOWS = [
    pytest.param(0, 120, id="whole-days"),
    pytest.param(5.5, 117.25, id="cut-days"),
    # whole days with no registration or retirement inside: nothing but the daily rows
    pytest.param(0, 24, id="one-whole-day"),
]


@pytest.mark.parametrize("indicator_id,kind", [("infra.latency_p95", "link"),
                                               ("portal.response_time_p95", "portal")])
@pytest.mark.parametrize("lo,hi", WINDOWS)
def test_daily_and_hourly_paths_agree(db: Conn, indicator_id: str, kind: str, lo: float, hi: float) -> None:
    build(db)
    win = window(H(lo), H(hi))
    daily_count = db.execute("SELECT count(*) FROM probe_latency_daily").fetchone()
    assert daily_count is not None and daily_count[0] > 0
    from_daily = run(db, indicator_id, win)
    water_daily = run(db, indicator_id, win, department="water")
    rollups.set_zone(db, "UTC")  # the report's zone (Shanghai) no longer matches: no daily rows used
    from_hourly = run(db, indicator_id, win)
    assert figures(from_daily) == figures(from_hourly)
    assert figures(water_daily) == figures(run(db, indicator_id, win, department="water"))
    assert water_daily.figure.denominator != from_daily.figure.denominator
    exact = exact_p95(db, kind, win.start, win.end)
    assert from_daily.figure.value == pytest.approx(exact, rel=P95)
    # the groups really fall into different coarse buckets (the slow asset's is higher)
    per_asset = {b.member: b.figure.value for b in from_daily.breakdowns if b.dimension == "asset"}
    slow = f"{kind}-2"
    assert all(v is not None and v < per_asset[slow] / 4  # type: ignore[operator]
               for m, v in per_asset.items() if m != slow)


def test_half_hour_zone(db: Conn) -> None:
    build(db)
    rollups.set_zone(db, "Asia/Kolkata")
    kolkata = window(H(0), H(120), tz=ZoneInfo("Asia/Kolkata"))
    from_daily = run(db, "infra.latency_p95", kolkata)
    exact = exact_p95(db, "link", kolkata.start, kolkata.end)
    assert from_daily.figure.value == pytest.approx(exact, rel=P95)
    # every local day's samples are counted once: the day counts add up to the total
    days = [b.figure.denominator or 0 for b in from_daily.breakdowns if b.dimension == "day"]
    assert sum(days) == from_daily.figure.denominator
    rollups.set_zone(db, "UTC")
    assert figures(run(db, "infra.latency_p95", kolkata)) == figures(from_daily)


@pytest.mark.parametrize("indicator_id,kind", [("infra.latency_p95", "link"),
                                               ("portal.response_time_p95", "portal")])
def test_whole_days_come_from_the_coarse_and_the_fine_daily_rows(db: Conn, indicator_id: str,
                                                                  kind: str) -> None:
    """Pass 1 counts the samples of whole days from probe_latency_coarse and pass 2 places
    the ranks with probe_latency_daily's fine counts: altering either moves the figures."""
    build(db)
    win = window(H(0), H(120))
    before = run(db, indicator_id, win)
    asset_id, day = f"{kind}-1", H(30).astimezone(SHANGHAI).date()
    key = (kind, asset_id, day)
    row = db.execute("SELECT n FROM probe_latency_coarse"
                     " WHERE target_kind = %s AND asset_id = %s AND day = %s", key).fetchone()
    assert row is not None and row[0] > 0
    # One asset-day's coarse counts doubled: the whole-days sample counts grow by its n.
    db.execute("UPDATE probe_latency_coarse SET counts = latency_fine_add(counts, counts)"
               " WHERE target_kind = %s AND asset_id = %s AND day = %s", key)
    doubled = run(db, indicator_id, win)
    assert doubled.figure.denominator == (before.figure.denominator or 0) + row[0]
    db.execute("UPDATE probe_latency_coarse SET counts = ARRAY(SELECT c / 2 FROM unnest(counts) c)"
               " WHERE target_kind = %s AND asset_id = %s AND day = %s", key)
    assert figures(run(db, indicator_id, win)) == figures(before)
    # Every sample moved to the top fine bucket of its coarse bucket: same counts, the
    # rank found higher up in the same coarse bucket.
    db.execute("UPDATE probe_latency_daily SET fine = array_fill(0, ARRAY[15]) || n WHERE target_kind = %s",
               (kind,))
    raised = run(db, indicator_id, win)
    assert raised.figure.denominator == before.figure.denominator
    assert (raised.figure.value or 0) > (before.figure.value or 0)


HAVANA = ZoneInfo("America/Havana")


def test_havana_registration_between_the_two_midnights_is_read_once(db: Conn) -> None:
    """Cuba falls back from 01:00 CDT to 00:00 CST on 2026-11-01, so local midnight
    happens twice. A link registered at 00:30 CDT, between the two, has only part of
    11-01 in its life: that day is read from the hourly rollup and raw rows, never also
    from the daily rows (which the second midnight would have let through)."""
    department(db, "water")
    registered = local(HAVANA, 2026, 11, 1, 0, 30)  # 04:30 UTC
    asset(db, "link-h", "link", "water", registered=registered)
    asset(db, "link-o", "link", "water")
    start, end = local(HAVANA, 2026, 10, 31), local(HAVANA, 2026, 11, 3)
    rng = random.Random(5)
    at = start
    while at < end:
        for asset_id in ("link-h", "link-o"):
            probe(db, asset_id, at + timedelta(seconds=rng.randrange(60)),
                  latency=round(rng.uniform(5, 80), 3), sent=10, lost=rng.randrange(3))
        at += timedelta(minutes=10)
    rollups.rebuild(db, LONG_AGO, end + timedelta(days=1))
    rollups.set_zone(db, "America/Havana")
    win = window(start, end, HAVANA)
    samples, sent, lost = db.execute(
        "SELECT count(*), sum(e.packets_sent), sum(e.packets_lost) FROM probe_events e"
        " JOIN assets a ON a.asset_id = e.asset_id"
        " WHERE e.occurred_at >= %s AND e.occurred_at < %s AND e.occurred_at >= a.registered_at",
        (start, end)).fetchone() or (0, 0, 0)
    p95 = run(db, "infra.latency_p95", win)
    loss = run(db, "infra.packet_loss_rate", win)
    assert p95.figure.denominator == samples
    assert (loss.figure.numerator, loss.figure.denominator) == (lost, sent)
    # link-h: samples from 00:30 CDT on, all on 11-01 and after
    day = {b.member: b.figure.denominator for b in p95.breakdowns if b.dimension == "day"}
    assert sum(v or 0 for v in day.values()) == samples
    rollups.set_zone(db, "UTC")  # no daily rows in the report's zone: the same figures
    assert figures(run(db, "infra.latency_p95", win)) == figures(p95)

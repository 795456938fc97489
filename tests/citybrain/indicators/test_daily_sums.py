"""Packet loss and cloud utilisation read whole Shanghai days from probe_daily / cloud_daily
(migration 013), the rest from the hourly rollups and raw rows. Every figure must equal the
hourly path's (forced by keeping the daily rollups in UTC days) and sums taken in Python from
the raw rows, over readings at irregular times and either side of every midnight, window
edge, registration and retirement; corrupting a daily row shows which windows read it."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citybrain.indicators.model import IndicatorResult, ReportWindow
from streams import rollups
from tests.citybrain.indicators.city import (
    LONG_AGO,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    district,
    local,
    probe,
    request,
    run,
    window,
)

KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: its midnights cut UTC hours
H = Clock(local(SHANGHAI, 2026, 3, 10))  # Shanghai days 03-10 .. 03-13 are H(0) .. H(96)
REGISTERED, RETIRED = H(30.5), H(70.25)  # 03-11 06:30 and 03-12 22:15 Shanghai (not on UTC hours)
CUT = (local(SHANGHAI, 2026, 3, 10, 5, 17), local(SHANGHAI, 2026, 3, 13, 13, 45))
WINDOWS: dict[str, tuple[ReportWindow, str | None]] = {
    "whole-days": (window(H(0), H(96)), None),
    "cut": (window(*CUT), None),
    "kolkata": (window(local(KOLKATA, 2026, 3, 10), local(KOLKATA, 2026, 3, 13), KOLKATA), None),
    "department": (window(H(0), H(96)), "water"),
}
# Instants where an off-by-one in a day or hour boundary would move a reading.
EDGES = ([H(24 * k) for k in range(5)] + [local(KOLKATA, 2026, 3, d) for d in range(10, 14)]
         + [*CUT, REGISTERED, RETIRED])
NEAR = (timedelta(seconds=-1), timedelta(microseconds=-1), timedelta(0), timedelta(seconds=1))
Figures = dict[tuple[str, str], tuple[float | None, float | None, float | None]]


def register(db: Conn, prefix: str, kind: str) -> None:
    """<prefix>-1 .. -6: plain (water, d1), other department (traffic), registered mid-day,
    retired mid-day, registered on a Shanghai midnight (that day is then wholly its own),
    registered and retired on the same day."""
    department(db, "water", "traffic")
    district(db, "d1", "d2")
    asset(db, f"{prefix}-1", kind, "water", district="d1")
    asset(db, f"{prefix}-2", kind, "traffic", district="d2")
    asset(db, f"{prefix}-3", kind, "water", district="d1", registered=REGISTERED)
    asset(db, f"{prefix}-4", kind, "water", retired=RETIRED)
    asset(db, f"{prefix}-5", kind, "traffic", district="d2", registered=H(48))
    # Registered and retired on one local day (03-12): that day is read once, not twice.
    asset(db, f"{prefix}-6", kind, "water", registered=H(50.75), retired=H(66.5))


def times(rng: random.Random) -> list[datetime]:
    """Irregular readings over H(-14) .. H(110), plus the instants around EDGES."""
    out, t = [], H(-14)
    while t < H(110):
        out.append(t)
        t += timedelta(seconds=rng.randint(60, 3000), microseconds=rng.randint(0, 999_999))
    return out + [e + d for e in EDGES for d in NEAR]


def probes(db: Conn, rng: random.Random) -> None:
    register(db, "link", "link")
    asset(db, "portal-1", "portal", "water", key="portal")  # probes without packets
    # link-9: unregistered
    for link in ("link-1", "link-2", "link-3", "link-4", "link-5", "link-6", "link-9"):
        for at in times(rng):
            r = rng.random()
            sent = None if r < 0.1 else 0 if r < 0.15 else rng.randint(1, 100)  # None and 0: not counted
            probe(db, link, at, sent=sent, lost=None if sent is None else rng.randint(0, min(sent, 9)))
    for at in times(rng)[::5]:
        probe(db, "portal-1", at, target="portal", latency=80.0)


def samples(db: Conn, rng: random.Random) -> None:
    register(db, "vm", "cloud_host")
    asset(db, "link-1", "link", "water")  # not a cloud host: its samples do not count
    for host in ("vm-1", "vm-2", "vm-3", "vm-4", "vm-5", "vm-6", "vm-9", "link-1"):  # vm-9: unregistered
        for i, at in enumerate(times(rng)):
            disk = (rng.uniform(0, 500), 500.0) if i % 5 else (None, None)  # storage is optional
            db.execute("INSERT INTO cloud_events (occurred_at, event_id, asset_id, kind, cpu_used_cores,"
                       " cpu_alloc_cores, mem_used_gb, mem_alloc_gb, storage_used_gb, storage_alloc_gb)"
                       " VALUES (%s, %s, %s, 'usage', %s, 8, %s, 32, %s, %s)",
                       (at, f"u-{host}-{i}", host, rng.uniform(0, 8), rng.uniform(0, 32), *disk))
    request(db, "vm-1", "r1", H(40), 4.0, fulfilled=H(41))  # requests are not usage samples


def live(at: datetime, win: ReportWindow, registered: datetime, retired: datetime | None) -> bool:
    return win.start <= at < win.end and registered <= at and (retired is None or at < retired)


def packet_reference(db: Conn, win: ReportWindow, dept: str | None) -> Figures:
    acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for at, asset_id, sent, lost, d, dist, reg, ret in db.execute(
            "SELECT e.occurred_at, e.asset_id, e.packets_sent, e.packets_lost, a.department_id,"
            " a.district_id, a.registered_at, a.retired_at"
            " FROM probe_events e JOIN assets a USING (asset_id)"):
        if live(at, win, reg, ret) and dept in (None, d) and sent:
            for key in (("total", ""), ("department", d), ("district", dist or "(none)"),
                        ("asset", asset_id), ("day", at.astimezone(win.tz).date().isoformat())):
                acc[key][0] += lost
                acc[key][1] += sent
    return {k: (100 * lost / sent, float(lost), float(sent)) for k, (lost, sent) in acc.items()}


def cloud_reference(db: Conn, win: ReportWindow, dept: str | None) -> Figures:
    acc: dict[tuple[str, str], list[float | None]] = defaultdict(lambda: [None] * 6)
    for at, asset_id, d, reg, ret, *values in db.execute(
            "SELECT e.occurred_at, e.asset_id, a.department_id, a.registered_at, a.retired_at,"
            # float8 in SQL: the exact float4 readings (their text form is only the shortest
            # decimal that reads back as the same float4, not the same double).
            " e.cpu_used_cores::float8, e.cpu_alloc_cores::float8, e.mem_used_gb::float8,"
            " e.mem_alloc_gb::float8, e.storage_used_gb::float8, e.storage_alloc_gb::float8"
            " FROM cloud_events e JOIN assets a USING (asset_id)"
            " WHERE e.kind = 'usage' AND a.kind = 'cloud_host'"):
        if live(at, win, reg, ret) and dept in (None, d):
            for key in (("total", ""), ("department", d), ("asset", asset_id),
                        ("day", at.astimezone(win.tz).date().isoformat())):
                sums = acc[key]
                for i, v in enumerate(values):
                    if v is not None:
                        sums[i] = (sums[i] or 0.0) + v

    def ratio(used: float | None, alloc: float | None) -> float | None:
        return 100.0 * used / alloc if used is not None and alloc else None

    out: Figures = {}
    for key, s in acc.items():
        ratios = [r for r in (ratio(s[0], s[1]), ratio(s[2], s[3]), ratio(s[4], s[5])) if r is not None]
        out[key] = (sum(ratios) / len(ratios) if ratios else None, None, None)
    total = acc[("total", "")]
    for name, i in (("cpu", 0), ("memory", 2), ("storage", 4)):
        out[("category", name)] = (ratio(total[i], total[i + 1]), total[i], total[i + 1])
    return out


def figures(result: IndicatorResult) -> Figures:
    f = result.figure
    out: Figures = {("total", ""): (f.value, f.numerator, f.denominator)}
    out.update({(b.dimension, b.member): (b.figure.value, b.figure.numerator, b.figure.denominator)
                for b in result.breakdowns})
    return out


def agree(got: Figures, want: Figures, rel: float, what: str) -> None:
    """Same members, every number equal (rel 0: exactly)."""
    assert got.keys() == want.keys(), what
    for key, row in got.items():
        for x, y in zip(row, want[key], strict=True):
            ok = x is None if y is None else x is not None and math.isclose(x, y, rel_tol=rel, abs_tol=0)
            assert ok, (what, key, row, want[key])


@dataclass(frozen=True)
class Case:
    indicator: str
    readings: Callable[[Conn, random.Random], None]
    reference: Callable[[Conn, ReportWindow, str | None], Figures]
    rel: float  # daily vs hourly path: 0 (exact) for integer packets, 1e-12 for float sums
    corrupt: str  # adds 1000 to the numerator of one daily row wholly inside its asset's life
    moved: tuple[str, str]  # the figure whose numerator that moves


CASES = [
    pytest.param(Case("infra.packet_loss_rate", probes, packet_reference, 0.0,
                      "UPDATE probe_daily SET packets_lost = packets_lost + 1000"
                      " WHERE asset_id = 'link-1' AND day = '2026-03-11'", ("total", "")), id="packet-loss"),
    pytest.param(Case("infra.cloud_utilisation", samples, cloud_reference, 1e-12,
                      "UPDATE cloud_daily SET cpu_used_sum = cpu_used_sum + 1000"
                      " WHERE asset_id = 'vm-1' AND day = '2026-03-11'", ("category", "cpu")), id="cloud"),
]


@pytest.mark.parametrize("case", CASES)
def test_daily_path_equals_hourly_path_and_reference(db: Conn, case: Case) -> None:
    case.readings(db, random.Random(17))
    rollups.rebuild(db, LONG_AGO, H(120))
    daily = {name: figures(run(db, case.indicator, win, dept)) for name, (win, dept) in WINDOWS.items()}

    # Whole Shanghai days read the daily row (the figure moves by exactly the corruption);
    # Kolkata days cannot (another zone), so they stay put.
    assert db.execute(case.corrupt).rowcount == 1
    moved = figures(run(db, case.indicator, WINDOWS["whole-days"][0]))[case.moved][1]
    assert moved == pytest.approx((daily["whole-days"][case.moved][1] or 0) + 1000, rel=1e-12)
    assert figures(run(db, case.indicator, WINDOWS["kolkata"][0])) == daily["kolkata"]

    rollups.set_zone(db, "UTC")  # rebuilds the daily rows (undoing the corruption) on UTC days
    for name, (win, dept) in WINDOWS.items():
        agree(daily[name], figures(run(db, case.indicator, win, dept)), case.rel, f"{name}: hourly path")
        # The SQL divides packets in numeric (16 significant digits), Python in binary: values
        # to 1e-14 (the integer numerators and denominators are still compared exactly).
        agree(daily[name], case.reference(db, win, dept), max(case.rel, 1e-14), f"{name}: reference")
    # The data reaches the cases it is meant to: every asset and Shanghai day, in the window.
    assert {m for d, m in daily["whole-days"] if d == "day"} == {f"2026-03-{d}" for d in range(10, 14)}
    assert len([m for d, m in daily["whole-days"] if d == "asset"]) == 6

"""The availability SQL against a plain Python reference, on a synthetic city.

The SQL avoids cutting intervals at midnights and keeps maintenance as boundary arrays
(see the header of infra.device_online_rate.sql); this test recomputes the same figures
the obvious way — per asset, per interval, per day — from the very rows the SQL read: a
few hundred assets with state churn, degraded spells, an ingestion gap, holes with no
interval, registrations and retirements inside the window, and maintenance windows of
every scope (one removed an hour into its period, one a silence).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citybrain.indicators.model import ReportWindow
from tests.citybrain.indicators.city import Conn, members, run
from tests.citybrain.indicators.synthetic import START, Shape, load

SMALL = Shape(devices=400, gateways=20, cameras=60, links=40, portals=6, systems=6, cloud_hosts=4,
              datasets=10, departments=5, districts=3, days=8, probe_interval_s=3600,
              cloud_interval_s=3600, incidents=40, security_events=20, lifecycle_every=37)
TZ = ZoneInfo("Asia/Shanghai")
UP = {"infra.device_online_rate": {"online", "degraded"}, "infra.camera_intact_rate": {"online"},
      "infra.link_stability": {"online", "degraded"}}
KINDS = {"infra.device_online_rate": {"iot_device", "gateway"}, "infra.camera_intact_rate": {"camera"},
         "infra.link_stability": {"link"}}


@dataclass
class Sums:
    scope: float = 0.0
    up: float = 0.0
    known: float = 0.0
    up_m: float = 0.0
    known_m: float = 0.0

    def value(self) -> float | None:
        return 100 * self.up / self.known if self.known else None

    def adjusted(self) -> float | None:
        known = self.known - self.known_m
        return 100 * (self.up - self.up_m) / known if known else None


@dataclass
class Reference:
    total: Sums = field(default_factory=Sums)
    groups: dict[tuple[str, str], Sums] = field(default_factory=lambda: defaultdict(Sums))


def overlap(a: datetime, b: datetime, c: datetime, d: datetime) -> float:
    return max(0.0, (min(b, d) - max(a, c)).total_seconds())


def union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        elif lo < hi:
            merged.append((lo, hi))
    return merged


def days_of(win: ReportWindow) -> list[tuple[str, datetime, datetime]]:
    out: list[tuple[str, datetime, datetime]] = []
    day = win.start.astimezone(TZ).date()
    while True:
        lo = datetime(day.year, day.month, day.day, tzinfo=TZ)
        if lo >= win.end:
            return out
        nxt = day + timedelta(days=1)
        hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=TZ)
        out.append((day.isoformat(), max(lo, win.start), min(hi, win.end)))
        day = nxt


def reference(db: Conn, indicator: str, win: ReportWindow) -> Reference:
    assets = db.execute("SELECT asset_id, kind, department_id, coalesce(district_id, '(none)'), tags,"
                        " registered_at, retired_at FROM assets WHERE kind = ANY(%s)",
                        (list(KINDS[indicator]),)).fetchall()
    spans: dict[str, list[tuple[str, datetime, datetime | None]]] = defaultdict(list)
    for asset_id, state, started, ended in db.execute(
            "SELECT asset_id, state, started_at, ended_at FROM state_intervals"):
        spans[asset_id].append((state, started, ended))
    windows = db.execute(
        "SELECT mw.scope, mw.target, mp.starts_at, least(mp.ends_at, mw.removed_at)"
        " FROM maintenance_periods mp JOIN maintenance_windows mw USING (window_id)"
        " WHERE mw.kind = 'maintenance'").fetchall()
    days = days_of(win)
    ref = Reference()
    for asset_id, kind, dept, dist, tags, registered, retired in assets:
        lo, hi = max(registered, win.start), min(retired or win.end, win.end)
        if lo >= hi:
            continue
        targets = {"all": None, "asset": asset_id, "department": dept, "district": dist}
        maint = union([(max(s, lo), min(e, hi)) for scope, target, s, e in windows
                       if (target in tags if scope == "tag" else targets[scope] == target)])
        buckets = [ref.total, ref.groups["department", dept], ref.groups["district", dist],
                   ref.groups["kind", kind]]

        # Per day: the city's day, and this asset's department's and district's day.
        day_keys = [(day, d_lo, d_hi, (("day", day), ("department_day", f"{dept}|{day}"),
                                       ("district_day", f"{dist or '(none)'}|{day}")))
                    for day, d_lo, d_hi in days]

        def add(a: datetime, b: datetime, measure: str, *, days_only: bool = False,
                buckets: list[Sums] = buckets,
                day_keys: Sequence[tuple[str, datetime, datetime, tuple[tuple[str, str], ...]]] = day_keys,
                ) -> None:
            for bucket in buckets:
                setattr(bucket, measure, getattr(bucket, measure) + overlap(a, b, a, b))
            for _day, d_lo, d_hi, keys in day_keys:
                for key in keys:
                    sums = ref.groups[key]
                    setattr(sums, measure, getattr(sums, measure) + overlap(a, b, d_lo, d_hi))

        add(lo, hi, "scope")
        for state, started, ended in spans[asset_id]:
            a, b = max(started, lo), min(ended or hi, hi)
            if a >= b:
                continue
            pieces_in_m = [(max(a, m_lo), min(b, m_hi)) for m_lo, m_hi in maint if m_lo < b and a < m_hi]
            if state in UP[indicator]:
                add(a, b, "up")
                for m in pieces_in_m:
                    add(*m, "up_m")
            if state != "unknown":
                add(a, b, "known")
                for m in pieces_in_m:
                    add(*m, "known_m")
    return ref


@pytest.mark.parametrize("indicator", sorted(UP))
def test_availability_matches_the_reference(db: Conn, indicator: str) -> None:
    load(db, SMALL)
    win = ReportWindow(START, START + timedelta(days=SMALL.days), TZ)
    ref = reference(db, indicator, win)
    result = run(db, indicator, win)
    # the fixture exercises what it should: maintenance, and unknown time on the iot feed
    assert ref.total.known > 0 and ref.total.up_m > 0 and ref.total.up < ref.total.known
    if indicator == "infra.device_online_rate":
        assert ref.total.scope > ref.total.known
    f = result.figure
    assert f.numerator == pytest.approx(ref.total.up)
    assert f.denominator == pytest.approx(ref.total.known)
    assert f.value == pytest.approx(ref.total.value())
    assert f.adjusted_value == pytest.approx(ref.total.adjusted())
    assert f.unknown_share == pytest.approx((ref.total.scope - ref.total.known) / ref.total.scope)
    expected: dict[tuple[str, str, str], float | None] = {}
    for (dimension, name), sums in ref.groups.items():
        if dimension in result.indicator.breakdowns:
            expected[dimension, name, "value"] = sums.value()
            expected[dimension, name, "adjusted"] = sums.adjusted()
    got: dict[tuple[str, str, str], float | None] = {}
    for b in result.breakdowns:
        if b.dimension != "asset":
            got[b.dimension, b.member, "value"] = b.figure.value
            got[b.dimension, b.member, "adjusted"] = b.figure.adjusted_value
    assert got == pytest.approx(expected)
    assert len(members(result, "day")) == SMALL.days

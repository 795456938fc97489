"""Availability seconds are summed exactly, so no plan can change a figure.

Durations used to be summed as doubles: the result then depended on the order of the
additions, which depends on the plan (parallel workers, hash or sort aggregation), so two
exports of the same data could differ in the last digits, and a window without any gap
reported an unknown share of 4e-16 instead of 0. Here one asset per indicator spends a
day in 240 intervals of awkward fractional lengths (0.1 s, 0.7 s, …, as heartbeat
deadlines produce them), and every figure must equal the exact sum, computed here in
whole microseconds, under two different plans.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from citybrain.indicators.model import IndicatorResult
from tests.citybrain.indicators.city import (
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    local,
    run,
    states,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(24))
US = timedelta(microseconds=1)

KINDS = [
    ("infra.device_online_rate", "iot_device"),
    ("infra.camera_intact_rate", "camera"),
    ("infra.link_stability", "link"),
    ("system.availability", "system"),
    ("portal.availability_7x24", "portal"),
]
# Session settings giving the same query two different plans.
PLANS = [
    ("SET enable_hashagg = on", "SET enable_sort = off", "SET max_parallel_workers_per_gather = 2"),
    ("SET enable_hashagg = off", "SET enable_sort = on", "SET max_parallel_workers_per_gather = 0"),
]


def fractional_day(db: Conn, asset_id: str) -> tuple[int, int]:
    """240 intervals over the window, alternately online and offline, of lengths that are
    not sums of binary fractions; returns (online µs, window µs)."""
    t, up_us = W.start, 0
    spans = []
    for n in range(239):
        length = timedelta(seconds=360 - 0.3, microseconds=100_000 * (n % 7))
        state = "online" if n % 2 == 0 else "offline"
        spans.append((state, t, t + length))
        if state == "online":
            up_us += length // US
        t += length
    spans.append(("online", t, W.end))
    up_us += (W.end - t) // US
    states(db, asset_id, *spans)
    return up_us, (W.end - W.start) // US


def figures(db: Conn, indicator_id: str) -> list[IndicatorResult]:
    results = []
    for plan in PLANS:
        for setting in plan:
            db.execute(setting)
        results.append(run(db, indicator_id, W))
    for setting in ("RESET enable_hashagg", "RESET enable_sort", "RESET max_parallel_workers_per_gather"):
        db.execute(setting)
    return results


@pytest.mark.parametrize(("indicator_id", "kind"), KINDS)
def test_seconds_are_exact_under_any_plan(db: Conn, indicator_id: str, kind: str) -> None:
    department(db, "water")
    asset(db, "A", kind, "water", district=None)
    up_us, window_us = fractional_day(db, "A")
    first, second = figures(db, indicator_id)
    assert first == second, "the same data gave different figures under two plans"
    total = first.figure
    assert total.unknown_share == 0.0  # no gap: exactly 0, not 4e-16
    assert total.numerator == up_us / 1_000_000
    assert total.denominator == window_us / 1_000_000
    assert total.value == pytest.approx(100 * up_us / window_us, rel=1e-15)

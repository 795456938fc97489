"""Golden tests of the portal service count and response time p95, hand-computed
(7×24 availability is in test_availability.py).

Window: two Shanghai days, H0 = 2026-03-10 00:00 local; the midnight between them is H24.

    p-1  water    in the register throughout; probes ok 100 ms (H1), 200 (H2), 300 (H30),
                  one failed 10,000 ms (H3)
    p-2  water    registered H30; a probe before that (H20, 5,000 ms), one after (H31, 400)
    p-3  traffic  retired H10; probes H5 (500 ms) and H11 (600, after retirement)
    p-4  traffic  registered H50, after the window; p-5 water, retired before it
    roads has an IoT device and no portal; a link probe (1 ms) is not a portal's.

Response time p95 reads the hourly rollups (migration 009): every fixture ends with
``rollups.rebuild``, and each p95 is asserted within the documented bound (a factor 1.025)
of the exact percentile_cont value computed by hand; sample counts are exact.
"""

from __future__ import annotations

import pytest

from streams import rollups
from tests.citybrain.indicators.city import (
    BERLIN,
    LONG_AGO,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    local,
    members,
    probe,
    run,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))


def build_portals(db: Conn) -> None:
    department(db, "water", "traffic", "roads", "empty")
    asset(db, "p-1", "portal", "water", key="portal")
    asset(db, "p-2", "portal", "water", key="portal", registered=H(30))
    asset(db, "p-3", "portal", "traffic", key="portal", retired=H(10))
    asset(db, "p-4", "portal", "traffic", key="portal", registered=H(50))
    asset(db, "p-5", "portal", "water", key="portal", retired=H(-1))
    asset(db, "iot-1", "iot_device", "roads")
    asset(db, "link-1", "link", "roads")
    for hour, ms in ((1, 100), (2, 200), (30, 300)):
        probe(db, "p-1", H(hour), target="portal", latency=ms)
    probe(db, "p-1", H(3), target="portal", ok=False, latency=10_000)
    probe(db, "p-2", H(20), target="portal", latency=5000)
    probe(db, "p-2", H(31), target="portal", latency=400)
    probe(db, "p-3", H(5), target="portal", latency=500)
    probe(db, "p-3", H(11), target="portal", latency=600)
    probe(db, "link-1", H(1), latency=1)
    rollups.rebuild(db, LONG_AGO, H(100))


P95 = 0.025  # the documented relative error bound of the histogram p95


def test_service_count(db: Conn) -> None:
    build_portals(db)
    result = run(db, "portal.service_count", W)
    # in the register at some time of W: p-1, p-2 (from H30), p-3 (until H10)
    assert result.figure.value == 3
    # roads has assets but no portal: 0, not "no data"
    assert members(result, "department") == {"water": 2, "traffic": 1, "roads": 0}
    # day 1: p-1, p-3; day 2: p-1, p-2
    assert members(result, "day") == {"2026-03-10": 2, "2026-03-11": 2}


def test_response_time_p95(db: Conn) -> None:
    build_portals(db)
    result = run(db, "portal.response_time_p95", W)
    # successful portal probes while registered: 100, 200, 300, 400, 500;
    # position 0.95 × 4 = 3.8 → 400 + 0.8 × 100 = 480
    assert result.figure.value == pytest.approx(480.0, rel=P95)
    assert result.figure.denominator == 5
    # water [100, 200, 300, 400]: 0.95 × 3 = 2.85 → 300 + 0.85 × 100 = 385; traffic [500]
    assert members(result, "department") == pytest.approx({"water": 385.0, "traffic": 500.0}, rel=P95)
    # p-1 [100, 200, 300]: 0.95 × 2 = 1.9 → 200 + 0.9 × 100 = 290
    assert members(result, "asset") == pytest.approx({"p-1": 290.0, "p-2": 400.0, "p-3": 500.0}, rel=P95)
    # day 1 [100, 200, 500]: 1.9 → 200 + 0.9 × 300 = 470; day 2 [300, 400]: 300 + 0.95 × 100
    assert members(result, "day") == pytest.approx({"2026-03-10": 470.0, "2026-03-11": 395.0}, rel=P95)


@pytest.mark.parametrize("indicator", ["portal.service_count", "portal.response_time_p95"])
def test_empty_department_is_no_data(db: Conn, indicator: str) -> None:
    build_portals(db)
    result = run(db, indicator, W, department="empty")
    assert result.figure.value is None
    assert all(b.figure.value is None for b in result.breakdowns)


def test_berlin_days_across_the_autumn_change(db: Conn) -> None:
    department(db, "water")
    asset(db, "p-1", "portal", "water", key="portal")
    # registered at 23:30 CET on the 25-hour 2026-10-25 (22:30 UTC): in the register that day
    late = local(BERLIN, 2026, 10, 25, 23, 30)
    asset(db, "p-2", "portal", "water", key="portal", registered=late)
    probe(db, "p-2", late, target="portal", latency=250)
    probe(db, "p-1", local(BERLIN, 2026, 10, 26, 0, 30), target="portal", latency=150)
    rollups.rebuild(db, LONG_AGO, local(BERLIN, 2026, 10, 28))
    win = window(local(BERLIN, 2026, 10, 24), local(BERLIN, 2026, 10, 27), BERLIN)
    count = run(db, "portal.service_count", win)
    assert members(count, "day") == {"2026-10-24": 1, "2026-10-25": 2, "2026-10-26": 2}
    p95 = run(db, "portal.response_time_p95", win)
    assert members(p95, "day") == {"2026-10-25": 250.0, "2026-10-26": 150.0}  # one sample each: exact

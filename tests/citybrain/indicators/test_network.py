"""Golden tests of packet loss and link latency p95, hand-computed.

Window: two Shanghai days, H0 = 2026-03-10 00:00 local; the midnight between them is H24.

    link-1  water/d1    H1 50 sent 1 lost 10 ms; H23.5 50/0 20 ms; H24.5 50/5 30 ms;
                        H30 failed probe 50/50 10,000 ms
    link-2  traffic/d2  registered at H6: its H3 probe (50/50) does not count; H7 100/2 40 ms
    link-3  traffic/d1  retired at H20: H10 50/0 50 ms counts, H22 50/10 60 ms does not
    also: a portal probe (no packets, 900 ms) and a probe of an unregistered link (50/25 5 ms).

The indicators read the hourly rollups (migration 009), so every fixture ends with
``rollups.rebuild`` as a back-fill would. Packet loss is exact. Latency p95 comes from the
rollups' log-spaced histograms: each p95 is asserted within the documented bound of the
exact percentile_cont value computed by hand (estimate within a factor 1.025 of it).
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
    district,
    local,
    members,
    probe,
    run,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))


def build_links(db: Conn) -> None:
    department(db, "water", "traffic", "empty")
    district(db, "d1", "d2")
    asset(db, "link-1", "link", "water", district="d1")
    asset(db, "link-2", "link", "traffic", district="d2", registered=H(6))
    asset(db, "link-3", "link", "traffic", district="d1", retired=H(20))
    asset(db, "portal-1", "portal", "water", key="portal")
    probe(db, "link-1", H(1), sent=50, lost=1, latency=10)
    probe(db, "link-1", H(23.5), sent=50, lost=0, latency=20)
    probe(db, "link-1", H(24.5), sent=50, lost=5, latency=30)
    probe(db, "link-1", H(30), ok=False, sent=50, lost=50, latency=10_000)
    probe(db, "link-2", H(3), sent=50, lost=50, latency=1)
    probe(db, "link-2", H(7), sent=100, lost=2, latency=40)
    probe(db, "link-3", H(10), sent=50, lost=0, latency=50)
    probe(db, "link-3", H(22), sent=50, lost=10, latency=60)
    probe(db, "portal-1", H(2), target="portal", latency=900)
    probe(db, "link-unregistered", H(2), sent=50, lost=25, latency=5)
    probe(db, "link-1", H(49), sent=50, lost=50, latency=70)  # after the window
    rollups.rebuild(db, LONG_AGO, H(100))


P95 = 0.025  # the documented relative error bound of the histogram p95


def test_packet_loss(db: Conn) -> None:
    build_links(db)
    result = run(db, "infra.packet_loss_rate", W)
    # sent: link-1 4 × 50 = 200, link-2 100 (H7 only), link-3 50 (H10 only) = 350
    # lost: link-1 1 + 0 + 5 + 50 = 56, link-2 2, link-3 0 = 58
    assert (result.figure.numerator, result.figure.denominator) == (58, 350)
    assert result.figure.value == pytest.approx(100 * 58 / 350)  # 16.57 %
    # water = link-1: 56/200; traffic = link-2 + link-3: 2/150
    assert members(result, "department") == pytest.approx({"water": 28.0, "traffic": 100 * 2 / 150})
    # d1 = link-1 + link-3: 56/250; d2 = link-2: 2/100
    assert members(result, "district") == pytest.approx({"d1": 22.4, "d2": 2.0})
    assert members(result, "asset") == pytest.approx({"link-1": 28.0, "link-2": 2.0, "link-3": 0.0})
    # day 1: link-1 H1 + H23.5 (100 sent, 1 lost), link-2 100/2, link-3 50/0 → 3/250;
    # day 2: link-1 H24.5 + H30 → 55/100
    assert members(result, "day") == pytest.approx({"2026-03-10": 1.2, "2026-03-11": 55.0})


def test_latency_p95(db: Conn) -> None:
    build_links(db)
    result = run(db, "infra.latency_p95", W)
    # successful link probes in scope: 10, 20, 30 (link-1), 40 (link-2), 50 (link-3);
    # p95 at position 0.95 × (5 − 1) = 3.8 → 40 + 0.8 × (50 − 40) = 48
    assert result.figure.value == pytest.approx(48.0, rel=P95)
    assert result.figure.denominator == 5
    # water [10, 20, 30]: 0.95 × 2 = 1.9 → 20 + 0.9 × 10 = 29; traffic [40, 50]: 40 + 0.95 × 10
    assert members(result, "department") == pytest.approx({"water": 29.0, "traffic": 49.5}, rel=P95)
    # one sample: the exact min/max clamp makes the estimate exact
    assert members(result, "asset") == pytest.approx({"link-1": 29.0, "link-2": 40.0, "link-3": 50.0},
                                                     rel=P95)
    assert members(result, "asset")["link-2"] == 40.0
    # day 1 [10, 20, 40, 50]: 0.95 × 3 = 2.85 → 40 + 0.85 × 10 = 48.5; day 2 [30]
    assert members(result, "day") == pytest.approx({"2026-03-10": 48.5, "2026-03-11": 30.0}, rel=P95)


@pytest.mark.parametrize("indicator", ["infra.packet_loss_rate", "infra.latency_p95"])
def test_empty_department_is_no_data(db: Conn, indicator: str) -> None:
    build_links(db)
    result = run(db, indicator, W, department="empty")
    assert result.figure.value is None
    assert result.breakdowns == ()


def test_berlin_days_across_the_spring_change(db: Conn) -> None:
    department(db, "water")
    asset(db, "link-1", "link", "water")
    # 2026-03-29 lasts 23 h and ends at 22:00 UTC: 21:30 UTC is 23:30 CEST on the 29th,
    # 22:30 UTC is 00:30 CEST on the 30th.
    probe(db, "link-1", local(BERLIN, 2026, 3, 29, 23, 30), sent=10, lost=2, latency=12)
    probe(db, "link-1", local(BERLIN, 2026, 3, 30, 0, 30), sent=10, lost=1, latency=14)
    rollups.rebuild(db, LONG_AGO, local(BERLIN, 2026, 4, 1))
    win = window(local(BERLIN, 2026, 3, 28), local(BERLIN, 2026, 3, 31), BERLIN)
    loss = run(db, "infra.packet_loss_rate", win)
    assert members(loss, "day") == pytest.approx({"2026-03-29": 20.0, "2026-03-30": 10.0})
    latency = run(db, "infra.latency_p95", win)
    assert members(latency, "day") == pytest.approx({"2026-03-29": 12.0, "2026-03-30": 14.0})

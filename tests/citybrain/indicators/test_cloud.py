"""Golden tests of the gov-cloud fulfilment rate and utilisation, hand-computed.

Window: two Shanghai days, H0 = 2026-03-10 00:00 local; the midnight between them is H24.
Hosts: vm-1 water; vm-2 traffic, registered at H6; vm-3 traffic, retired at H20.

Utilisation reads the hourly rollup cloud_hourly (migration 009): its fixtures end with
``rollups.rebuild`` as a back-fill would; the sums stay exact.
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
    member,
    members,
    request,
    run,
    usage,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))


def build_hosts(db: Conn) -> None:
    department(db, "water", "traffic", "empty")
    asset(db, "vm-1", "cloud_host", "water")
    asset(db, "vm-2", "cloud_host", "traffic", registered=H(6))
    asset(db, "vm-3", "cloud_host", "traffic", retired=H(20))


def test_fulfilment_rate_judged_at_the_window_end(db: Conn) -> None:
    build_hosts(db)
    request(db, "vm-1", "r1", H(1), 4, fulfilled=H(3))      # met
    request(db, "vm-1", "r2", H(2), 2, fulfilled=H(6))      # missed: due H4
    request(db, "vm-2", "r3", H(10), 10)                    # missed: due H20, never fulfilled
    request(db, "vm-2", "r4", H(45), 10)                    # pending: due H55, after W
    request(db, "vm-3", "r5", H(40), 24, fulfilled=H(47))   # met before its due time H64
    request(db, "vm-3", "r6", H(20), 24, fulfilled=H(50))   # missed: due H44, not done by then
    request(db, "vm-3", "r7", H(30), 24, fulfilled=H(49))   # pending at W's end (done after it)
    request(db, "vm-1", "r8", H(-5), 4, fulfilled=H(1))     # filed before W: not W's
    request(db, "vm-1", "r9", H(5), None, fulfilled=H(6))   # no agreed lead time: not judged
    request(db, "vm-x", "r10", H(5), 1, fulfilled=H(5.5))   # host not in the register
    result = run(db, "infra.cloud_fulfilment_rate", W)
    # judged: r1 met, r2 missed, r3 missed, r5 met, r6 missed → 2 / 5
    assert (result.figure.numerator, result.figure.denominator) == (2, 5)
    assert result.figure.value == pytest.approx(40.0)
    # water: r1, r2 → 1/2; traffic: r3, r5, r6 → 1/3
    assert members(result, "department") == pytest.approx({"water": 50.0, "traffic": 100 / 3})
    # by the local day filed: 03-10 r1, r2, r3, r6 → 1/4; 03-11 r5 → 1/1
    assert members(result, "day") == pytest.approx({"2026-03-10": 25.0, "2026-03-11": 100.0})


def test_utilisation(db: Conn) -> None:
    build_hosts(db)
    usage(db, "vm-1", H(1), cpu=(2, 8), mem=(8, 32), disk=(100, 500))
    usage(db, "vm-1", H(30), cpu=(6, 8), mem=(16, 32), disk=(200, 500))
    usage(db, "vm-2", H(2), cpu=(16, 16), mem=(64, 64), disk=(1000, 1000))  # before registration
    usage(db, "vm-2", H(7), cpu=(4, 16), mem=(32, 64), disk=(250, 1000))
    usage(db, "vm-3", H(10), cpu=(8, 16), mem=(16, 64), disk=(500, 1000))
    usage(db, "vm-3", H(21), cpu=(16, 16), mem=(64, 64), disk=(1000, 1000))  # after retirement
    rollups.rebuild(db, LONG_AGO, H(100))
    result = run(db, "infra.cloud_utilisation", W)
    # cpu 20/48, memory 72/192, storage 1050/3000
    cpu, memory, storage = (member(result, "category", c) for c in ("cpu", "memory", "storage"))
    assert cpu is not None and memory is not None and storage is not None
    assert (cpu.numerator, cpu.denominator) == (20, 48)
    assert (memory.numerator, memory.denominator) == (72, 192)
    assert (storage.numerator, storage.denominator) == (1050, 3000)
    assert [cpu.value, memory.value, storage.value] == pytest.approx([100 * 20 / 48, 37.5, 35.0])
    # the mean of the three: (41.667 + 37.5 + 35) / 3
    assert result.figure.value == pytest.approx((100 * 20 / 48 + 37.5 + 35.0) / 3)
    # water (vm-1): cpu 8/16, memory 24/64, storage 300/1000 → (50 + 37.5 + 30) / 3;
    # traffic (vm-2, vm-3): 12/32, 48/128, 750/2000 → 37.5 each
    assert members(result, "department") == pytest.approx({"water": 117.5 / 3, "traffic": 37.5})
    # vm-2: 25, 50, 25; vm-3: 50, 25, 50
    assert members(result, "asset") == pytest.approx(
        {"vm-1": 117.5 / 3, "vm-2": 100 / 3, "vm-3": 125 / 3})
    # day 1 (vm-1 H1, vm-2 H7, vm-3 H10): 14/40, 56/160, 850/2500 → (35 + 35 + 34) / 3;
    # day 2 (vm-1 H30): 75, 50, 40
    assert members(result, "day") == pytest.approx({"2026-03-10": 104 / 3, "2026-03-11": 55.0})


@pytest.mark.parametrize("indicator", ["infra.cloud_fulfilment_rate", "infra.cloud_utilisation"])
def test_empty_department_is_no_data(db: Conn, indicator: str) -> None:
    build_hosts(db)
    request(db, "vm-1", "r1", H(1), 4, fulfilled=H(3))
    usage(db, "vm-1", H(1), cpu=(2, 8), mem=(8, 32), disk=(100, 500))
    rollups.rebuild(db, LONG_AGO, H(100))
    result = run(db, indicator, W, department="empty")
    assert result.figure.value is None
    assert result.figure.numerator in (None, 0)
    assert all(b.figure.value is None for b in result.breakdowns)


def test_berlin_days_across_the_autumn_change(db: Conn) -> None:
    department(db, "water")
    asset(db, "vm-1", "cloud_host", "water")
    # 2026-10-25 lasts 25 h and ends at 23:00 UTC: 23:30 CET (22:30 UTC) is still the 25th
    late, next = local(BERLIN, 2026, 10, 25, 23, 30), local(BERLIN, 2026, 10, 26, 0, 30)
    usage(db, "vm-1", late, cpu=(1, 2), mem=(1, 2), disk=(1, 2))
    usage(db, "vm-1", next, cpu=(2, 2), mem=(2, 2), disk=(2, 2))
    request(db, "vm-1", "r1", late, 1, fulfilled=late)
    request(db, "vm-1", "r2", next, 1)  # never fulfilled, due 01:30 CET: missed
    rollups.rebuild(db, LONG_AGO, local(BERLIN, 2026, 10, 28))
    win = window(local(BERLIN, 2026, 10, 24), local(BERLIN, 2026, 10, 27), BERLIN)
    use = run(db, "infra.cloud_utilisation", win)
    assert members(use, "day") == pytest.approx({"2026-10-25": 50.0, "2026-10-26": 100.0})
    fulfilment = run(db, "infra.cloud_fulfilment_rate", win)
    assert members(fulfilment, "day") == pytest.approx({"2026-10-25": 100.0, "2026-10-26": 0.0})

"""Golden tests of the four data indicators, hand-computed.

Window: two Shanghai days, H0 = 2026-03-10 00:00 local; the midnight between them is H24.

    ds-1  water    cadence 24 h; updated H−10, H12, H36 (H12 → H36 is exactly one cadence);
                   shared H5; opened H30; checks H12.1 passed, H36.1 passed
    ds-2  water    cadence 6 h; updated H−2, H4, H10, H16, H22, H28, then never (stale from
                   H34); opened H20; checks H4 passed, H28 failed
    ds-3  traffic  no declared cadence (daily); registered H6; updated H20 (stale from H44);
                   shared H7
    ds-4  traffic  cadence 12 h; retired H20; updated H−13 (stale from H−1) and H3 (stale
                   from H15); shared H2 and H25 (after retirement); opened H21 (after);
                   checks H3 passed, H22 failed (after retirement)
    ds-5  water    cadence 24 h; no event at all
"""

from __future__ import annotations

import pytest

from tests.citybrain.indicators.city import (
    BERLIN,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    data,
    department,
    local,
    members,
    run,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))
DATA = ["data.sharing_rate", "data.open_rate", "data.freshness_rate", "data.quality_pass_rate"]


def build_datasets(db: Conn) -> None:
    department(db, "water", "traffic", "empty")
    asset(db, "ds-1", "dataset", "water", key="data", interval=86400)
    asset(db, "ds-2", "dataset", "water", key="data", interval=6 * 3600)
    asset(db, "ds-3", "dataset", "traffic", key="data", interval=None, registered=H(6))
    asset(db, "ds-4", "dataset", "traffic", key="data", interval=12 * 3600, retired=H(20))
    asset(db, "ds-5", "dataset", "water", key="data", interval=86400)
    asset(db, "iot-1", "iot_device", "water")
    for hour in (-10, 12, 36):
        data(db, "ds-1", H(hour), "updated")
    data(db, "ds-1", H(5), "shared")
    data(db, "ds-1", H(30), "opened")
    data(db, "ds-1", H(12.1), "quality_check", passed=True)
    data(db, "ds-1", H(36.1), "quality_check", passed=True)
    for hour in (-2, 4, 10, 16, 22, 28):
        data(db, "ds-2", H(hour), "updated")
    data(db, "ds-2", H(20), "opened")
    data(db, "ds-2", H(4), "quality_check", passed=True)
    data(db, "ds-2", H(28), "quality_check", passed=False)
    data(db, "ds-3", H(20), "updated")
    data(db, "ds-3", H(7), "shared")
    for hour in (-13, 3):
        data(db, "ds-4", H(hour), "updated")
    data(db, "ds-4", H(2), "shared")
    data(db, "ds-4", H(25), "shared")
    data(db, "ds-4", H(21), "opened")
    data(db, "ds-4", H(3), "quality_check", passed=True)
    data(db, "ds-4", H(22), "quality_check", passed=False)
    data(db, "iot-1", H(1), "shared")  # not a dataset


def test_sharing_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.sharing_rate", W)
    # catalogued: all five; shared within scope: ds-1 (H5), ds-3 (H7), ds-4 (H2) → 3 / 5
    assert (result.figure.numerator, result.figure.denominator) == (3, 5)
    # water ds-1 of ds-1, ds-2, ds-5; traffic ds-3, ds-4 of both
    assert members(result, "department") == pytest.approx({"water": 100 / 3, "traffic": 100.0})
    # day 1: five in scope, three shared; day 2: four (ds-4 retired), none (H25 is after)
    assert members(result, "day") == pytest.approx({"2026-03-10": 60.0, "2026-03-11": 0.0})


def test_open_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.open_rate", W)
    # opened within scope: ds-1 (H30), ds-2 (H20); ds-4's H21 is after its retirement → 2 / 5
    assert (result.figure.numerator, result.figure.denominator) == (2, 5)
    assert members(result, "department") == pytest.approx({"water": 200 / 3, "traffic": 0.0})
    # day 1: ds-2 of five; day 2: ds-1 of four
    assert members(result, "day") == pytest.approx({"2026-03-10": 20.0, "2026-03-11": 25.0})


def test_freshness_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.freshness_rate", W)
    # fresh throughout: ds-1 only (H−10 covers H0–H14, H12 → H36 exactly one cadence, H36
    # covers the rest). Stale: ds-2 from H34, ds-3 from H44 (daily by default), ds-4 H0–H3
    # and H15–H20, ds-5 always → 1 / 5
    assert (result.figure.numerator, result.figure.denominator) == (1, 5)
    assert members(result, "department") == pytest.approx({"water": 100 / 3, "traffic": 0.0})
    # day 1: ds-1, ds-2, ds-3 (registered H6, updated H20) fresh; ds-4, ds-5 stale → 3/5;
    # day 2: ds-1 fresh; ds-2, ds-3, ds-5 stale → 1/4
    assert members(result, "day") == pytest.approx({"2026-03-10": 60.0, "2026-03-11": 25.0})


def test_quality_pass_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.quality_pass_rate", W)
    # checked: ds-1 (all passed), ds-2 (H28 failed), ds-4 (H3 passed; H22 is after its
    # retirement) → 2 / 3; ds-3 and ds-5 were not checked and are left out
    assert (result.figure.numerator, result.figure.denominator) == (2, 3)
    assert members(result, "department") == pytest.approx({"water": 50.0, "traffic": 100.0})
    # day 1: ds-1, ds-2 (H4), ds-4 passed → 3/3; day 2: ds-1 passed, ds-2 failed → 1/2
    assert members(result, "day") == pytest.approx({"2026-03-10": 100.0, "2026-03-11": 50.0})


@pytest.mark.parametrize("indicator", DATA)
def test_empty_department_is_no_data(db: Conn, indicator: str) -> None:
    build_datasets(db)
    result = run(db, indicator, W, department="empty")
    assert result.figure.value is None
    assert (result.figure.numerator, result.figure.denominator) == (0, 0)
    assert members(result, "day") == {"2026-03-10": None, "2026-03-11": None}


def test_berlin_days_across_the_spring_change(db: Conn) -> None:
    department(db, "water")
    asset(db, "ds-1", "dataset", "water", key="data", interval=86400)
    # 2026-03-29 lasts 23 h: 22:00 UTC on the 29th is already 00:00 CEST on the 30th.
    # The update at 23:30 CET on the 28th (22:30 UTC) keeps ds-1 fresh until 22:30 UTC on
    # the 29th = 00:30 CEST on the 30th: fresh on the 29th, stale on the 30th (with 24-hour
    # days from the window's start, the 29th would have taken the stale half hour).
    data(db, "ds-1", local(BERLIN, 2026, 3, 27, 23, 30), "updated")
    data(db, "ds-1", local(BERLIN, 2026, 3, 28, 23, 30), "updated")
    # Shared at 23:30 CEST on the 29th (21:30 UTC) and 00:30 CEST on the 30th (22:30 UTC)
    data(db, "ds-1", local(BERLIN, 2026, 3, 29, 23, 30), "shared")
    data(db, "ds-1", local(BERLIN, 2026, 3, 29, 23, 30), "quality_check", passed=False)
    data(db, "ds-1", local(BERLIN, 2026, 3, 30, 0, 30), "quality_check", passed=True)
    win = window(local(BERLIN, 2026, 3, 28), local(BERLIN, 2026, 3, 31), BERLIN)
    fresh = run(db, "data.freshness_rate", win)
    assert members(fresh, "day") == {"2026-03-28": 100.0, "2026-03-29": 100.0, "2026-03-30": 0.0}
    shared = run(db, "data.sharing_rate", win)
    assert members(shared, "day") == {"2026-03-28": 0.0, "2026-03-29": 100.0, "2026-03-30": 0.0}
    quality = run(db, "data.quality_pass_rate", win)
    assert members(quality, "day") == {"2026-03-28": None, "2026-03-29": 0.0, "2026-03-30": 100.0}

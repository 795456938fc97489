"""Golden tests of the camera access and sharing rates, hand-computed.

Window: two Shanghai days, H0 = 2026-03-10 00:00 local; the midnight between them is H24.

    cam-1  water/d1    up throughout; shared with traffic
    cam-2  water/d2    registered at H6; up H30–H34 only (day 2)
    cam-3  traffic/d1  retired at H20; offline all its scope; shared with water
    cam-4  traffic/d2  degraded H0–H2 (reports, picture faulty: still connected), then unknown;
                       shared_with names its own department only
    cam-5  water/d1    no state interval at all
"""

from __future__ import annotations

import pytest

from tests.citybrain.indicators.city import (
    BERLIN,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    district,
    local,
    member,
    members,
    run,
    states,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))


def build_cameras(db: Conn) -> None:
    department(db, "water", "traffic", "empty")
    district(db, "d1", "d2")
    asset(db, "cam-1", "camera", "water", district="d1", shared_with=["traffic"])
    asset(db, "cam-2", "camera", "water", district="d2", registered=H(6))
    asset(db, "cam-3", "camera", "traffic", district="d1", retired=H(20), shared_with=["water"])
    asset(db, "cam-4", "camera", "traffic", district="d2", shared_with=["traffic"])
    asset(db, "cam-5", "camera", "water", district="d1")
    asset(db, "iot-1", "iot_device", "water", district="d1")  # not a camera: never counted
    states(db, "iot-1", ("online", H(-5), None))
    states(db, "cam-1", ("online", H(-5), None))
    states(db, "cam-2", ("offline", H(6), H(30)), ("online", H(30), H(34)), ("offline", H(34), None))
    states(db, "cam-3", ("offline", H(-5), H(40)))
    states(db, "cam-4", ("degraded", H(-1), H(2)), ("unknown", H(2), None))


def test_access_rate(db: Conn) -> None:
    build_cameras(db)
    result = run(db, "infra.camera_access_rate", W)
    # in the register: all five (cam-2 from H6, cam-3 until H20); connected: cam-1,
    # cam-2 (H30–34), cam-4 (degraded H0–2) → 3 / 5
    assert (result.figure.numerator, result.figure.denominator) == (3, 5)
    assert result.figure.value == pytest.approx(60.0)
    # water: cam-1, cam-2 of cam-1, cam-2, cam-5 → 2/3; traffic: cam-4 of cam-3, cam-4 → 1/2
    assert members(result, "department") == pytest.approx({"water": 100 * 2 / 3, "traffic": 50.0})
    # d1: cam-1 of cam-1, cam-3, cam-5 → 1/3; d2: cam-2, cam-4 → 2/2
    assert members(result, "district") == pytest.approx({"d1": 100 / 3, "d2": 100.0})
    # 2026-03-10: registered all five, up cam-1 and cam-4 → 2/5;
    # 2026-03-11: cam-3 retired → four, up cam-1 and cam-2 → 2/4
    day1, day2 = member(result, "day", "2026-03-10"), member(result, "day", "2026-03-11")
    assert day1 is not None and day2 is not None
    assert (day1.numerator, day1.denominator) == (2, 5)
    assert (day2.numerator, day2.denominator) == (2, 4)
    assert result.figure.adjusted_value is None and result.figure.unknown_share is None


def test_sharing_rate(db: Conn) -> None:
    build_cameras(db)
    result = run(db, "infra.camera_sharing_rate", W)
    # connected: cam-1, cam-2, cam-4; shared with another department: cam-1 (cam-3 is
    # shared but never connected; cam-4 names only its own department) → 1 / 3
    assert (result.figure.numerator, result.figure.denominator) == (1, 3)
    assert result.figure.value == pytest.approx(100 / 3)
    # water: cam-1 of cam-1, cam-2 → 1/2; traffic: cam-4 connected, not shared → 0/1 = 0 %
    assert members(result, "department") == pytest.approx({"water": 50.0, "traffic": 0.0})
    # day 1: connected cam-1, cam-4 → 1/2; day 2: cam-1, cam-2 → 1/2
    assert members(result, "day") == pytest.approx({"2026-03-10": 50.0, "2026-03-11": 50.0})


@pytest.mark.parametrize("indicator", ["infra.camera_access_rate", "infra.camera_sharing_rate"])
def test_empty_department_is_no_data(db: Conn, indicator: str) -> None:
    build_cameras(db)
    result = run(db, indicator, W, department="empty")
    assert result.figure.value is None
    assert (result.figure.numerator, result.figure.denominator) == (0, 0)
    assert members(result, "day") == {"2026-03-10": None, "2026-03-11": None}


@pytest.mark.parametrize("indicator", ["infra.camera_access_rate", "infra.camera_sharing_rate"])
def test_berlin_days_follow_local_midnight_across_dst(db: Conn, indicator: str) -> None:
    department(db, "water", "traffic")
    asset(db, "cam-1", "camera", "water", shared_with=["traffic"])
    # Up 23:30–23:45 CET on 2026-10-25 (22:30–22:45 UTC): still the 25-hour day 10-25,
    # which ends at 23:00 UTC (a 24-hour day from 10-24 22:00 UTC would have ended first).
    states(db, "cam-1", ("offline", local(BERLIN, 2026, 10, 1), local(BERLIN, 2026, 10, 25, 23, 30)),
           ("online", local(BERLIN, 2026, 10, 25, 23, 30), local(BERLIN, 2026, 10, 25, 23, 45)),
           ("offline", local(BERLIN, 2026, 10, 25, 23, 45), None))
    result = run(db, indicator, window(local(BERLIN, 2026, 10, 24), local(BERLIN, 2026, 10, 27), BERLIN))
    expected: dict[str, float | None] = {"2026-10-24": 0.0, "2026-10-25": 100.0, "2026-10-26": 0.0}
    if indicator == "infra.camera_sharing_rate":
        expected = {"2026-10-24": None, "2026-10-25": 100.0, "2026-10-26": None}  # none connected
    assert members(result, "day") == expected

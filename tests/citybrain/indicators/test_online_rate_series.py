"""Golden tests of the device online rate per department and day and per district and day
(breakdowns ``department_day`` and ``district_day``, member ``<id>|YYYY-MM-DD``), hand-computed.

The Shanghai city is the one of ``test_availability`` (H0 = 2026-03-10 00:00 local, the
local midnight between the two days is H24). Per asset and day, (scope, known, up;
maintenance known, maintenance up) in hours:

    day 2026-03-10 (H0–H24)                 day 2026-03-11 (H24–H48)
    A water/d1    24, 24, 20; 4, 2          24, 24, 24; 0, 0
    B water/d2    18, 18, 18; 0, 0          24, 21, 21; 3, 3   (gap H30–33; solar, d2)
    C traffic/d1  24, 20, 20; 0, 0          12, 10,  6; 0, 0   (unrecorded H20–26)
    G traffic/d2  24, 24, 24; 2, 2          24, 24, 24; 2, 2   (traffic H22–25, d2 H46–47)
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from citybrain.indicators.model import IndicatorResult
from tests.citybrain.indicators.city import (
    BERLIN,
    HOUR,
    Conn,
    asset,
    department,
    district,
    local,
    maintenance,
    member,
    run,
    states,
    window,
)
from tests.citybrain.indicators.test_availability import W, build_city

ONLINE = "infra.device_online_rate"


def hours(result: IndicatorResult, dimension: str, name: str) -> tuple[float, float, float | None,
                                                                        float | None, float | None]:
    """(up h, known h, value, adjusted_value, unknown_share) of one member; it must be listed."""
    f = member(result, dimension, name)
    assert f is not None, f"{dimension} {name} missing"
    assert f.numerator is not None and f.denominator is not None
    return f.numerator / HOUR, f.denominator / HOUR, f.value, f.adjusted_value, f.unknown_share


def test_per_department_and_day(db: Conn) -> None:
    build_city(db, "iot_device", "gateway")
    result = run(db, ONLINE, W)
    # water = A + B. 03-10: scope 42, known 42, up 38, maintenance known 4 up 2.
    assert hours(result, "department_day", "water|2026-03-10") == pytest.approx(
        (38, 42, 100 * 38 / 42, 100 * 36 / 38, 0.0))
    # 03-11: scope 48, known 45 (B's gap), up 45, maintenance 3 / 3.
    assert hours(result, "department_day", "water|2026-03-11") == pytest.approx(
        (45, 45, 100.0, 100.0, 3 / 48))
    # traffic = C + G. 03-10: scope 48, known 44 (C unrecorded H20–24), up 44, maintenance 2 / 2.
    assert hours(result, "department_day", "traffic|2026-03-10") == pytest.approx(
        (44, 44, 100.0, 100.0, 4 / 48))
    # 03-11: scope 36 (C retired H36), known 34, up 30 (C offline H26–30), maintenance 2 / 2.
    assert hours(result, "department_day", "traffic|2026-03-11") == pytest.approx(
        (30, 34, 100 * 30 / 34, 100 * 28 / 32, 2 / 36))
    # A department without assets has no series.
    assert {b.member for b in result.breakdowns if b.dimension == "department_day"} == {
        "water|2026-03-10", "water|2026-03-11", "traffic|2026-03-10", "traffic|2026-03-11"}


def test_per_district_and_day(db: Conn) -> None:
    build_city(db, "iot_device", "gateway")
    result = run(db, ONLINE, W)
    # d1 = A + C. 03-10: scope 48, known 44, up 40, maintenance known 4 up 2.
    assert hours(result, "district_day", "d1|2026-03-10") == pytest.approx(
        (40, 44, 100 * 40 / 44, 100 * 38 / 40, 4 / 48))
    # 03-11: scope 36, known 34, up 30, no maintenance on recorded time.
    assert hours(result, "district_day", "d1|2026-03-11") == pytest.approx(
        (30, 34, 100 * 30 / 34, 100 * 30 / 34, 2 / 36))
    # d2 = B + G. 03-10: scope 42, known 42, up 42, maintenance 2 / 2.
    assert hours(result, "district_day", "d2|2026-03-10") == pytest.approx((42, 42, 100.0, 100.0, 0.0))
    # 03-11: scope 48, known 45, up 45, maintenance 5 / 5.
    assert hours(result, "district_day", "d2|2026-03-11") == pytest.approx((45, 45, 100.0, 100.0, 3 / 48))


def test_series_add_up_to_the_day_and_the_member(db: Conn) -> None:
    build_city(db, "iot_device", "gateway")
    result = run(db, ONLINE, W)
    for series, whole in (("department_day", "department"), ("district_day", "district")):
        per_day: dict[str, float] = defaultdict(float)
        per_member: dict[str, float] = defaultdict(float)
        for b in result.breakdowns:
            if b.dimension == series:
                assert b.figure.denominator is not None
                # The day is the last 10 characters: ids may contain '|'.
                per_member[b.member[:-11]] += b.figure.denominator
                per_day[b.member[-10:]] += b.figure.denominator
        for day, known in per_day.items():
            day_figure = member(result, "day", day)
            assert day_figure is not None and day_figure.denominator == pytest.approx(known)
        for name, known in per_member.items():
            whole_figure = member(result, whole, name)
            assert whole_figure is not None and whole_figure.denominator == pytest.approx(known)


def test_department_scope_keeps_only_its_series(db: Conn) -> None:
    build_city(db, "iot_device", "gateway")
    result = run(db, ONLINE, W, department="water")
    assert {b.member for b in result.breakdowns if b.dimension == "department_day"} == {
        "water|2026-03-10", "water|2026-03-11"}
    # d1 is only A within water: 20 of 24 h up on 03-10; adjusted (20 − 2) / (24 − 4).
    assert hours(result, "district_day", "d1|2026-03-10") == pytest.approx(
        (20, 24, 100 * 20 / 24, 100 * 18 / 20, 0.0))
    empty = run(db, ONLINE, W, department="empty")
    assert not [b for b in empty.breakdowns if b.dimension in ("department_day", "district_day")]


def test_berlin_series_across_dst(db: Conn) -> None:
    department(db, "water", "traffic")
    district(db, "d1")
    spring = local(BERLIN, 2026, 3, 29, 9)          # 09:00 CEST on the 23-hour day
    autumn = local(BERLIN, 2026, 10, 25, 23, 30)    # 23:30 CET, the 25-hour day's last hour
    hour = timedelta(hours=1)
    asset(db, "A", "iot_device", "water", district="d1")
    states(db, "A", ("online", local(BERLIN, 2026, 1, 1), spring), ("offline", spring, spring + hour),
           ("online", spring + hour, autumn), ("offline", autumn, autumn + hour),
           ("online", autumn + hour, None))
    # B has no district ('(none)') and is registered at noon on the 23-hour day.
    asset(db, "B", "gateway", "traffic", registered=local(BERLIN, 2026, 3, 29, 12))
    states(db, "B", ("online", local(BERLIN, 2026, 3, 29, 12), None))
    # d1 maintenance 01:00 CET → 04:00 CEST: 2 real hours across the skipped 02:00–03:00.
    maintenance(db, "district", "d1", (local(BERLIN, 2026, 3, 29, 1), local(BERLIN, 2026, 3, 29, 4)))

    march = run(db, ONLINE, window(local(BERLIN, 2026, 3, 28), local(BERLIN, 2026, 3, 31), BERLIN))
    # A: the day is 23 h, one offline: 22 / 23; maintenance 2 h online → adjusted 20 / 21.
    assert hours(march, "district_day", "d1|2026-03-29") == pytest.approx(
        (22, 23, 100 * 22 / 23, 100 * 20 / 21, 0.0))
    assert hours(march, "department_day", "water|2026-03-29") == hours(march, "district_day", "d1|2026-03-29")
    assert hours(march, "district_day", "d1|2026-03-28")[:2] == pytest.approx((24, 24))
    # B: 12:00–24:00 CEST = 12 h; before its registration nothing is in scope: no data.
    assert hours(march, "district_day", "(none)|2026-03-29") == pytest.approx((12, 12, 100.0, 100.0, 0.0))
    assert hours(march, "department_day", "traffic|2026-03-28") == (0, 0, None, None, None)
    assert hours(march, "department_day", "traffic|2026-03-30") == pytest.approx((24, 24, 100.0, 100.0, 0.0))

    october = run(db, ONLINE, window(local(BERLIN, 2026, 10, 24), local(BERLIN, 2026, 10, 27), BERLIN))
    # 2026-10-25 lasts 25 h; A offline from 23:30 CET: 30 min on the 25th, 30 min on the 26th.
    assert hours(october, "department_day", "water|2026-10-25")[:2] == pytest.approx((24.5, 25))
    assert hours(october, "department_day", "water|2026-10-26")[:2] == pytest.approx((23.5, 24))
    assert hours(october, "district_day", "(none)|2026-10-25")[:2] == pytest.approx((25, 25))

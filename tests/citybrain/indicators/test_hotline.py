"""Golden tests of the four 12345 work-order indicators, hand-computed.

The orders are tests/streams/test_workorders.py's EVENTS, stored through the real sink
and its fact step (with department water's local holiday on 2026-03-04), plus a return
visit to M2 after it was merged (left out everywhere). Their limits, as that module
computes them by hand (department, category; response / completion outcome):

    order  created (local)    dept     category      response   completion   notes
    U1     03-02 09:00        water    urgent        breached   met          visit satisfied 03-04
    U2     03-02 12:00        traffic  urgent        breached   breached     never answered
    H1     03-03 10:00        water    help          met        breached     first completed 03-12
    X1     03-05 09:00        (none)   noise         unknown    unknown      unknown category
    R1     03-10 08:00        water    urgent        breached   met          first completed 03-10
    O1     03-16 09:00        water    consultation  met        breached     completed 03-17, visit
                                                                             dissatisfied, reopened 03-18
    M1     03-20 09:00        water    help          met        met          completed 03-23
    M2     merged into M1: no limits, not counted
    C1     09-30 10:00        traffic  complaint     met        met          visit basically satisfied 10-20
    K1     10-09 15:00        traffic  consultation  breached   met          completed 10-13
    P1     10-20 10:00        traffic  complaint     pending    pending      due 10-22 / 11-07
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.citybrain.indicators.city import SHANGHAI, Conn, members, run, window
from tests.streams.test_workorders import EVENTS, L, deliver, ev, settings_with

MARCH = window(L(3, 1), L(4, 1), SHANGHAI)
FIRST_TWO_DAYS = window(L(3, 1), L(3, 3), SHANGHAI)
OCTOBER = window(L(9, 30), L(10, 21), SHANGHAI)    # 09-30 … 10-20: ends before P1's first due time


@pytest.fixture
async def orders(database_url: str, schema: str, db: Conn, tmp_path: Path) -> Conn:
    late_visit = ev("M2", "return_visit", L(3, 25, 10), satisfaction="dissatisfied")
    await deliver(database_url, schema, settings_with(tmp_path), [EVENTS, [late_visit]])
    return db


def figure(result: object) -> tuple[float | None, float | None, float | None]:
    f = result.figure  # type: ignore[attr-defined]
    return f.value, f.numerator, f.denominator


def test_on_time_response_rate(orders: Conn) -> None:
    result = run(orders, "ops.hotline_response_on_time_rate", MARCH)
    # met H1, O1, M1; missed U1 (3 min late), U2 (never), R1 (08:40 vs 08:30); X1 unknown,
    # M2 merged → 3 / 6
    assert figure(result) == (50.0, 3, 6)
    # water: H1, O1, M1 met, U1, R1 missed → 3/5; traffic: U2 → 0/1; X1 alone → no data
    assert members(result, "department") == pytest.approx({"water": 60.0, "traffic": 0.0, "(none)": None})
    # urgent U1, U2, R1 all missed; help H1, M1; consultation O1; noise: no data
    assert members(result, "category") == pytest.approx(
        {"urgent": 0.0, "help": 100.0, "consultation": 100.0, "noise": None})
    assert members(result, "day") == pytest.approx({
        "2026-03-02": 0.0, "2026-03-03": 100.0, "2026-03-05": None, "2026-03-10": 0.0,
        "2026-03-16": 100.0, "2026-03-20": 100.0})
    # One department: traffic's U2 only.
    traffic = run(orders, "ops.hotline_response_on_time_rate", MARCH, department="traffic")
    assert figure(traffic) == (0.0, 0, 1)
    # October: C1 met (public holiday), K1 missed (the adjusted Saturday), P1 pending → 1/2
    october = run(orders, "ops.hotline_response_on_time_rate", OCTOBER)
    assert figure(october) == (50.0, 1, 2)
    assert members(october, "category") == pytest.approx({"complaint": 100.0, "consultation": 0.0})


def test_on_time_completion_rate_is_judged_at_the_windows_end(orders: Conn) -> None:
    # met U1, R1, M1; missed U2, H1 (9 h late), O1 (undone by the reopening, due 03-20) → 3/6
    result = run(orders, "ops.hotline_completion_on_time_rate", MARCH)
    assert figure(result) == (50.0, 3, 6)
    # water: U1, R1, M1 met, H1, O1 missed → 3/5
    assert members(result, "department") == pytest.approx({"water": 60.0, "traffic": 0.0, "(none)": None})
    # 03-01..03-02 only: U1 completed 03-03 08:00 and due 03-03 09:00, U2 due 03-03 12:00:
    # neither known at the window's end → nothing judged → no data (not 0, not 100)
    assert figure(run(orders, "ops.hotline_completion_on_time_rate", FIRST_TWO_DAYS)) == (None, 0, 0)
    # October: C1 (due 10-24, done 10-16) and K1 (due 10-14, done 10-13) met; P1 pending → 2/2
    assert figure(run(orders, "ops.hotline_completion_on_time_rate", OCTOBER)) == (100.0, 2, 2)


def test_satisfaction_rate(orders: Conn) -> None:
    result = run(orders, "ops.hotline_satisfaction_rate", MARCH)
    # visits: U1 satisfied (03-04), O1 dissatisfied (03-18); M2's (03-25) left out: merged → 1/2
    assert figure(result) == (50.0, 1, 2)
    assert members(result, "category") == pytest.approx({"urgent": 100.0, "consultation": 0.0})
    assert members(result, "day") == pytest.approx({"2026-03-04": 100.0, "2026-03-18": 0.0})
    # October: C1 basically satisfied counts as satisfied → 1/1
    assert figure(run(orders, "ops.hotline_satisfaction_rate", OCTOBER)) == (100.0, 1, 1)


def test_reopen_rate(orders: Conn) -> None:
    result = run(orders, "ops.hotline_reopen_rate", MARCH)
    # first completed in March: U1 (03-03), R1 (03-10), H1 (03-12), O1 (03-17), M1 (03-23);
    # reopened: O1 (03-18) → 1/5
    assert figure(result) == (20.0, 1, 5)
    assert members(result, "category") == pytest.approx(
        {"urgent": 0.0, "help": 0.0, "consultation": 100.0})
    # O1 completed 03-17 but its reopening (03-18) is after a window ending 03-18 00:00: not known
    assert figure(run(orders, "ops.hotline_reopen_rate", window(L(3, 1), L(3, 18), SHANGHAI))) == (0.0, 0, 4)
    # October: C1 and K1 completed, none reopened → 0/2 (a figure, not "no data")
    assert figure(run(orders, "ops.hotline_reopen_rate", OCTOBER)) == (0.0, 0, 2)


def test_no_order_is_no_data(db: Conn) -> None:
    for indicator in ("ops.hotline_response_on_time_rate", "ops.hotline_completion_on_time_rate",
                      "ops.hotline_satisfaction_rate", "ops.hotline_reopen_rate"):
        assert figure(run(db, indicator, MARCH)) == (None, 0, 0), indicator

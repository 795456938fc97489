"""Golden tests of the 好差评 indicators (portal.ratings, portal.rating_good_rate,
portal.rectification_on_time_rate, portal.return_visit_rate), hand-computed.

The facts are written as rows of rating_facts (migration 028) with the dues worked out by
hand on the 2026 official calendar (National Day 10-01…07 off, Saturday 10-10 worked;
Mid-autumn 09-25…27 off), 5 working days to rectify and 3 to visit again; the last test
derives them from events through the real sink instead. W = October 2026, Shanghai.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from citybrain.indicators.catalogue import find
from citybrain.indicators.engine import compute
from citybrain.kernel import workdays
from citybrain.kernel.settings import Settings
from citybrain.simulator import CityConfig, build_city
from citybrain.simulator import ratings as simulated
from citybrain.simulator.scenario import tick_grid
from schemas.events import RatingEvent
from streams import ratings
from streams.decode import Decoder
from streams.sink import Batch, EventSink
from tests.citybrain.indicators.city import SHANGHAI, Conn, member, members, run, window

W = window(datetime(2026, 10, 1, tzinfo=SHANGHAI).astimezone(UTC),
           datetime(2026, 11, 1, tzinfo=SHANGHAI).astimezone(UTC))


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


def fact(db: Conn, rating_id: str, rated: datetime, level: int, channel: str, dept: str, *,
         due: datetime | None = None, rectified: datetime | None = None,
         visit_due: datetime | None = None, visited: datetime | None = None) -> None:
    """One rating's facts, with the derived columns as streams/ratings.py defines them."""
    bad = level <= 2
    status = judged = visit_judged = None
    if bad:
        if due is None:
            status = "pending" if rectified is None else "unknown"
        elif rectified is None:
            status, judged = "pending", due
        else:
            status, judged = ("on_time", rectified) if rectified < due else ("late", due)
    if visit_due is not None:
        visit_judged = visited if visited is not None and visited < visit_due else visit_due
    db.execute(
        "INSERT INTO rating_facts (rating_id, rated_at, level, bad, channel, department_id, service_id,"
        " rectification_days, rectification_due, rectified_at, rectification, rectification_judged_at,"
        " return_visit_days, return_visit_due, return_visit_at, return_visit_within,"
        " return_visit_judged_at, events)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'svc-1', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)",
        (rating_id, rated, level, bad, channel, dept, 5 if bad else None, due, rectified, status, judged,
         3 if visit_due else None, visit_due, visited,
         None if visited is None or visit_due is None else visited < visit_due, visit_judged))


def build(db: Conn) -> None:
    fact(db, "g1", at(10, 8, 10), 5, "app", "dept-a")
    fact(db, "g2", at(10, 8, 11), 4, "web", "dept-a")
    fact(db, "g3", at(10, 9, 9), 3, "hall", "dept-b")
    fact(db, "g4", at(10, 20), 5, "app", "dept-b")
    # b1 Fri 10-09: Sat 10-10 worked (1), 10-12 … 10-15 (5) → due 10-16 00:00; rectified
    # 10-14 on time. Visit due 3 working days after 10-14: 10-15, 16, 19 → 10-20; visited 10-15.
    fact(db, "b1", at(10, 9, 10), 2, "app", "dept-a", due=at(10, 16), rectified=at(10, 14),
         visit_due=at(10, 20), visited=at(10, 15))
    # b2 Mon 10-12: 10-13 … 16, 10-19 → due 10-20; rectified 10-22: late, judged 10-20.
    # Visit due after Thu 10-22: 10-23, 26, 27 → 10-28; never visited: judged 10-28, missed.
    fact(db, "b2", at(10, 12), 1, "hall", "dept-b", due=at(10, 20), rectified=at(10, 22),
         visit_due=at(10, 28))
    # b3 Wed 10-28: 10-29, 30, 11-02, 03, 04 → due 11-05: pending, judged after W.
    fact(db, "b3", at(10, 28), 2, "kiosk", "dept-a", due=at(11, 5))
    # b4 rated Fri 09-25 (before W): 09-26/27 off, 09-28, 29, 30, 10-08, 10-09 → due 10-10:
    # never rectified, judged late on 10-10 (in W), though not rated in W.
    fact(db, "b4", at(9, 25, 15), 2, "app", "dept-a", due=at(10, 10))
    # b5 Fri 10-30: 11-02 … 11-06 → due 11-07; rectified Sat 10-31 on time: judged 10-31. Visit due
    # after 10-31: 11-02, 03, 04 → 11-05; visited 11-03: judged after W.
    fact(db, "b5", at(10, 30), 1, "app", "dept-b", due=at(11, 7), rectified=at(10, 31, 10),
         visit_due=at(11, 5), visited=at(11, 3))
    # b6: a due the calendar could not give (calendar_unknown): rated in W, never judged.
    fact(db, "b6", at(10, 29), 2, "mini_program", "dept-a")
    # b7 Tue 10-13: 10-14, 15, 16, 19, 20 → due 10-21; rectified Thu 10-15 on time. Visit due
    # 10-16, 19, 20 → 10-21; reached only on 10-22: judged 10-21, missed.
    fact(db, "b7", at(10, 13), 2, "hall", "dept-a", due=at(10, 21), rectified=at(10, 15),
         visit_due=at(10, 21), visited=at(10, 22))


@pytest.mark.parametrize(("start", "days", "due"), [
    (at(10, 9, 10), 5, at(10, 16)), (at(10, 14), 3, at(10, 20)),    # b1
    (at(10, 12), 5, at(10, 20)), (at(10, 22), 3, at(10, 28)),       # b2
    (at(10, 28), 5, at(11, 5)), (at(9, 25, 15), 5, at(10, 10)),     # b3, b4
    (at(10, 30), 5, at(11, 7)), (at(10, 31, 10), 3, at(11, 5)),     # b5
    (at(10, 13), 5, at(10, 21)), (at(10, 15), 3, at(10, 21)),       # b7
])
def test_the_hand_counted_dues_are_the_calendars(start: datetime, days: int, due: datetime) -> None:
    assert workdays.OFFICIAL.deadline(start, days, SHANGHAI) == due


def test_ratings_five_level_distribution_and_channels(db: Conn) -> None:
    build(db)
    result = run(db, "portal.ratings", W)
    # Rated in W: g1 g2 g3 g4 b1 b2 b3 b5 b6 b7 = 10 (b4 was rated in September).
    assert result.figure.value == 10
    # 5: g1 g4; 4: g2; 3: g3; 2: b1 b3 b6 b7; 1: b2 b5
    assert members(result, "level") == {"1": 2, "2": 4, "3": 1, "4": 1, "5": 2}
    # app: g1 g4 b1 b5; web: g2; hall: g3 b2 b7; kiosk: b3; mini_program: b6; hotline: none
    assert members(result, "channel") == {"app": 4, "web": 1, "hall": 3, "kiosk": 1,
                                          "mini_program": 1, "hotline": 0}
    assert members(result, "department") == {"dept-a": 6, "dept-b": 4}
    days = members(result, "day")
    assert len(days) == 31 and days["2026-10-08"] == 2 and days["2026-10-01"] == 0


def test_good_rate(db: Conn) -> None:
    build(db)
    result = run(db, "portal.rating_good_rate", W)
    # good (levels 3–5): g1 g2 g3 g4 = 4 of 10
    assert (result.figure.numerator, result.figure.denominator) == (4, 10)
    assert result.figure.value == pytest.approx(40.0)
    # dept-a: g1 g2 of g1 g2 b1 b3 b6 b7 → 2/6; dept-b: g3 g4 of g3 g4 b2 b5 → 2/4
    assert members(result, "department") == pytest.approx({"dept-a": 100 / 3, "dept-b": 50.0})
    # app 2/4, web 1/1, hall 1/3, kiosk 0/1, mini_program 0/1
    assert members(result, "channel") == pytest.approx(
        {"app": 50.0, "web": 100.0, "hall": 100 / 3, "kiosk": 0.0, "mini_program": 0.0})


def test_rectification_on_time_rate(db: Conn) -> None:
    build(db)
    result = run(db, "portal.rectification_on_time_rate", W)
    # judged in W: b4 late (10-10), b1 on time (10-14), b7 on time (10-15), b2 late (10-20),
    # b5 on time (10-31); b3 is judged in November, b6 never → 3 / 5
    assert (result.figure.numerator, result.figure.denominator) == (3, 5)
    assert result.figure.value == pytest.approx(60.0)
    # dept-a: b1 b4 b7 → 2/3; dept-b: b2 b5 → 1/2
    assert members(result, "department") == pytest.approx({"dept-a": 200 / 3, "dept-b": 50.0})
    assert members(result, "day") == pytest.approx(
        {"2026-10-10": 0.0, "2026-10-14": 100.0, "2026-10-15": 100.0, "2026-10-20": 0.0,
         "2026-10-31": 100.0})


def test_return_visit_rate(db: Conn) -> None:
    build(db)
    result = run(db, "portal.return_visit_rate", W)
    # judged in W: b1 visited in time (10-15), b7 missed (10-21), b2 missed (10-28);
    # b5 is judged in November → 1 / 3
    assert (result.figure.numerator, result.figure.denominator) == (1, 3)
    assert members(result, "department") == pytest.approx({"dept-a": 50.0, "dept-b": 0.0})


def test_one_department(db: Conn) -> None:
    build(db)
    # dept-b: g3 g4 b2 b5
    assert run(db, "portal.ratings", W, department="dept-b").figure.value == 4
    assert run(db, "portal.rating_good_rate", W, department="dept-b").figure.value == pytest.approx(50.0)
    rect = run(db, "portal.rectification_on_time_rate", W, department="dept-b")
    assert (rect.figure.numerator, rect.figure.denominator) == (1, 2)  # b5 on time, b2 late
    visits = run(db, "portal.return_visit_rate", W, department="dept-b")
    assert (visits.figure.numerator, visits.figure.denominator) == (0, 1)  # b2 missed


def test_as_of_a_moment_inside_the_window(db: Conn) -> None:
    build(db)
    now = at(10, 21, 12)
    rect = compute(db, find("portal.rectification_on_time_rate"), W, now=now)
    # judged before 10-21 12:00: b4 late, b1 on time, b7 on time, b2 late → 2 / 4
    assert (rect.figure.numerator, rect.figure.denominator) == (2, 4)
    visits = compute(db, find("portal.return_visit_rate"), W, now=now)
    # b1 visited in time (10-15); b7's limit closed at 10-21 00:00, missed; b2's is 10-28 → 1 / 2
    assert (visits.figure.numerator, visits.figure.denominator) == (1, 2)
    # rated before then: g1 g2 g3 g4 b1 b2 b7
    assert compute(db, find("portal.ratings"), W, now=now).figure.value == 7


@pytest.mark.parametrize("indicator", ["portal.ratings", "portal.rating_good_rate",
                                       "portal.rectification_on_time_rate", "portal.return_visit_rate"])
def test_no_data_is_null(db: Conn, indicator: str) -> None:
    build(db)
    december = window(datetime(2026, 12, 1, tzinfo=SHANGHAI).astimezone(UTC),
                      datetime(2027, 1, 1, tzinfo=SHANGHAI).astimezone(UTC))
    result = run(db, indicator, december)
    assert result.figure.value is None
    assert all(b.figure.value is None for b in result.breakdowns)
    assert run(db, indicator, W, department="nobody").figure.value is None


async def test_from_events_through_the_sink(db: Conn, database_url: str, schema: str) -> None:
    """End to end: events → the rating fact step → the indicator. Both ratings are rated
    Tue 09-29 in dept-a; their due is 10-13 00:00 (09-30; National Day off; 10-08, 10-09,
    Sat 10-10 worked, Mon 10-12): rectified Mon 10-12 17:00 → on time; Tue 10-13 09:00 →
    late. (Counting weekends alone, both would be late: the due would be 10-07 00:00.)"""
    settings = Settings(database_url=database_url, database_schema=schema, timezone="Asia/Shanghai")
    base: dict[str, Any] = {"asset_id": "haochaping", "service_id": "svc-1", "department_id": "dept-a",
            "channel": "app", "transaction_id": "tx-1", "tags": (), "satisfied": None}
    rows: list[tuple[Any, ...]] = []
    for n, (rating, when, action, level) in enumerate([
            ("r1", at(9, 29, 10), "rated", 2), ("r1", at(10, 12, 17), "rectified", None),
            ("r2", at(9, 29, 11), "rated", 1), ("r2", at(10, 13, 9), "rectified", None)]):
        event = {**base, "occurred_at": when.isoformat(), "event_id": f"e{n}", "action": action,
                 "rating_id": rating, "level": level}
        rows.append(tuple(list(event["tags"]) if c == "tags" else event[c]
                          for c in RatingEvent.COLUMNS))
    sink = EventSink(database_url, schema, "rating", facts=ratings.deriver(settings))
    try:
        await sink.write(Batch("rating", rows=rows))
    finally:
        await sink.close()
    result = run(db, "portal.rectification_on_time_rate", W)
    assert (result.figure.numerator, result.figure.denominator) == (1, 2)
    assert members(result, "day") == {"2026-10-12": 100.0, "2026-10-13": 0.0}
    bad = member(run(db, "portal.ratings", window(at(9, 29), at(9, 30))), "level", "2")
    assert bad is not None and bad.value == 1


async def test_four_simulated_weeks(db: Conn, database_url: str, schema: str) -> None:
    """The simulator's ratings through the sink and the fact step: plausible figures (its
    mix: ~97 % good; ~80 % of bad ones rectified within 4 days, ~15 % after 8–15 days,
    5 % never; ~75 % visited within 1.5 days, ~13 % at a second call a day later)."""
    cfg = CityConfig(iot_devices=0, cameras=0, cloud_hosts=0, services=4, links=0, datasets=0,
                     service_items=200)
    start = datetime(2026, 11, 1, 16, tzinfo=UTC)     # Mon 11-02 00:00 in the city
    registry = build_city(cfg, start)
    entries = sorted(simulated.lay_out(registry, tick_grid(cfg, start, 28), cfg.seed))
    decoder = Decoder("rating", max_bytes=1_000_000, max_future_skew=timedelta(minutes=5),
                      max_age=timedelta(days=400))
    settings = Settings(database_url=database_url, database_schema=schema, timezone="Asia/Shanghai")
    sink = EventSink(database_url, schema, "rating", facts=ratings.deriver(settings))
    try:
        for n in range(0, len(entries), 500):
            values = [orjson.loads(e[3]) for e in entries[n:n + 500]]
            message = orjson.dumps({"source": "s", "events": values})
            columns = decoder.decode_columns(message, start + timedelta(days=30))
            assert not columns.rejected
            await sink.write(Batch("rating", rows=columns.rows))
    finally:
        await sink.close()
    # The last three weeks: ratings of the first week are judged in them too.
    weeks = window(start + timedelta(days=7), start + timedelta(days=28))
    count = run(db, "portal.ratings", weeks).figure.value
    assert count is not None and 21 * 400 * 0.8 < count < 21 * 400 * 1.2   # 200 items × 2 a day
    good = run(db, "portal.rating_good_rate", weeks).figure.value
    assert good is not None and 94 < good < 99.5
    rect = run(db, "portal.rectification_on_time_rate", weeks).figure
    assert rect.denominator and rect.value is not None and 60 < rect.value < 98
    visits = run(db, "portal.return_visit_rate", weeks).figure
    assert visits.denominator and visits.value is not None and 50 < visits.value < 98

"""好差评 facts (streams/ratings.py): golden values worked out by hand on the 2026 calendar,
and the same facts whatever the delivery.

The 2026 official calendar (chinesecalendar, checked): National Day 10-01 … 10-07 off, with
Sunday 09-20 and Saturday 10-10 adjusted working days (调休); Mid-autumn 09-25 … 09-27 off.
Deadlines close at the local midnight (Asia/Shanghai, UTC+8) that ends the N-th working day
after the rating's local day (that day not counted).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import orjson
import psycopg
import pytest

from citybrain.kernel import workdays
from citybrain.kernel.settings import Settings
from citybrain.kernel.store import connect_async
from streams import ratings
from streams.decode import Decoder
from streams.ratings import Event, Fact, Limits, fold
from streams.sink import Batch, EventSink

SHANGHAI = ratings.CITY_ZONE
CALENDAR = """\
departments:
  dept-b:
    holidays: [2026-10-12]      # a local holiday of dept-b only
"""


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A Shanghai wall-clock time, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def rated(when: datetime, level: int, dept: str = "dept-a", eid: str = "r") -> Event:
    return Event(when, eid, "rated", "tx-1", "svc-1", dept, "app", level, ("slow",))


def rectified(when: datetime, eid: str = "f") -> Event:
    return Event(when, eid, "rectified")


def visit(when: datetime, satisfied: bool | None, eid: str = "v") -> Event:
    return Event(when, eid, "return_visit", satisfied=satisfied)


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Limits:
    path = tmp_path_factory.mktemp("calendar") / "calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    return Limits(5, {"dept-c": 15}, 3, workdays.load(path), SHANGHAI)


def test_the_calendar_facts_these_values_rest_on() -> None:
    assert not any(chinese_calendar.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert chinese_calendar.is_workday(date(2026, 10, 10))   # Saturday, adjusted working day
    assert chinese_calendar.is_workday(date(2026, 9, 20))    # Sunday, adjusted working day
    assert not chinese_calendar.is_workday(date(2026, 10, 11))


def test_bad_rating_across_national_day_rectified_on_time(limits: Limits) -> None:
    # Rated Tue 09-29 10:00. Working days after 09-29: 09-30 (1); 10-01…07 off; 10-08 (2),
    # 10-09 (3), Sat 10-10 adjusted (4), Sun 10-11 off, Mon 10-12 (5) → due 10-13 00:00
    # local = 10-12 16:00 UTC. (Weekends alone would give 10-07 00:00.)
    # Rectified Mon 10-12 17:00 local: before the due → on time, judged at the rectification.
    # Return visit: 3 working days after 10-12 → 10-13, 10-14, 10-15 → due 10-16 00:00; a
    # first call 10-13 09:00 did not reach the person, the second 10-15 20:00 did.
    fact = fold("r1", [visit(at(10, 15, 20), True, "v2"), rated(at(9, 29, 10), 2),
                       rectified(at(10, 12, 17)), visit(at(10, 13, 9), None, "v1")], limits)
    assert fact == Fact(
        "r1", rated_at=at(9, 29, 10), level=2, bad=True, channel="app", department_id="dept-a",
        service_id="svc-1", transaction_id="tx-1", tags=("slow",), rectification_days=5,
        rectification_due=datetime(2026, 10, 12, 16, 0, tzinfo=UTC), rectified_at=at(10, 12, 17),
        rectification="on_time", rectification_judged_at=at(10, 12, 17), return_visit_days=3,
        return_visit_due=datetime(2026, 10, 15, 16, 0, tzinfo=UTC), return_visit_at=at(10, 15, 20),
        return_visit_attempts=2, return_visit_within=True, return_visit_judged_at=at(10, 15, 20),
        satisfied=True, events=4)


def test_late_rectification_and_missing_return_visit(limits: Limits) -> None:
    # Same rating, rectified Tue 10-13 09:00: after the due 10-13 00:00 → late, judged at the
    # due. No return visit: due 3 working days after 10-13 → 10-14, 10-15, 10-16 → 10-17
    # 00:00 local; judged there, not within (NULL: no visit at all).
    fact = fold("r2", [rated(at(9, 29, 10), 1), rectified(at(10, 13, 9))], limits)
    assert (fact.rectification, fact.rectification_judged_at) == ("late", at(10, 13))
    assert fact.return_visit_due == at(10, 17)
    assert (fact.return_visit_at, fact.return_visit_within, fact.return_visit_attempts) == (None, None, 0)
    assert fact.return_visit_judged_at == at(10, 17)


def test_late_return_visit_and_a_visit_before_the_rectification(limits: Limits) -> None:
    # Rectified 10-12 17:00 (on time); the verification call on 10-10 is before it and does
    # not count; the person is reached on Fri 10-16 09:00, after the due 10-16 00:00.
    fact = fold("r3", [rated(at(9, 29, 10), 2), visit(at(10, 10, 9), False, "v0"),
                       rectified(at(10, 12, 17)), visit(at(10, 16, 9), False)], limits)
    assert (fact.return_visit_at, fact.return_visit_attempts) == (at(10, 16, 9), 1)
    assert (fact.return_visit_within, fact.return_visit_judged_at) == (False, at(10, 16))
    assert fact.satisfied is False


def test_adjusted_working_day_sunday_counts(limits: Limits) -> None:
    # Rated Fri 09-18 15:00: Sat 09-19 off, Sun 09-20 adjusted (1), 09-21 (2), 09-22 (3),
    # 09-23 (4), 09-24 (5) → due 09-25 00:00 local; still pending (no rectification).
    fact = fold("r4", [rated(at(9, 18, 15), 2)], limits)
    assert (fact.rectification_due, fact.rectification) == (at(9, 25), "pending")
    assert fact.rectification_judged_at == at(9, 25)
    assert fact.return_visit_due is None and fact.return_visit_judged_at is None


def test_a_department_local_holiday_moves_its_deadline(limits: Limits) -> None:
    # dept-b is off on Mon 10-12 (calendar file): 09-30 (1), 10-08 (2), 10-09 (3), 10-10 (4),
    # 10-13 (5) → due 10-14 00:00. Rectified 10-13 10:00: on time for dept-b, where dept-a's
    # due (10-13 00:00) would make it late.
    fact = fold("r5", [rated(at(9, 29, 10), 2, "dept-b"), rectified(at(10, 13, 10))], limits)
    assert (fact.rectification_due, fact.rectification) == (at(10, 14), "on_time")
    assert fold("r5", [rated(at(9, 29, 10), 2), rectified(at(10, 13, 10))], limits).rectification == "late"


def test_a_department_limit_of_its_own(limits: Limits) -> None:
    # dept-c: 15 working days. Rated Mon 11-02: 11-03…06 (4), 11-09…13 (9), 11-16…20 (14),
    # Mon 11-23 (15) → due 11-24 00:00.
    fact = fold("r6", [rated(at(11, 2, 9), 2, "dept-c")], limits)
    assert (fact.rectification_days, fact.rectification_due) == (15, at(11, 24))


def test_good_rating_has_no_rectification(limits: Limits) -> None:
    fact = fold("r7", [rated(at(9, 29, 10), 3), rectified(at(9, 30))], limits)
    assert (fact.bad, fact.level, fact.rectification, fact.rectification_due) == (False, 3, None, None)


def test_the_first_rated_event_is_the_rating_of_record(limits: Limits) -> None:
    fact = fold("r8", [rated(at(9, 30), 5, eid="b"), rated(at(9, 29), 1, eid="a")], limits)
    assert (fact.rated_at, fact.level, fact.events) == (at(9, 29), 1, 2)


def test_events_before_their_rating_arrive(limits: Limits) -> None:
    fact = fold("r9", [rectified(at(10, 12, 17))], limits)
    assert fact == Fact("r9", reason="not_rated", events=1)


def test_a_year_the_calendar_does_not_know(limits: Limits) -> None:
    assert workdays.KNOWN_TO == 2026  # (if chinesecalendar learns 2027, move these dates on)
    # Rated Wed 2027-12-29: its deadline needs 2027's days off, unknown → due NULL.
    fact = fold("r10", [rated(at(12, 29, 9, year=2027), 2)], limits)
    assert (fact.rectification_due, fact.rectification, fact.reason) == (None, "pending", "calendar_unknown")
    assert fact.rectification_judged_at is None
    done = fold("r10", [rated(at(12, 29, 9, year=2027), 2), rectified(at(12, 30, year=2027))], limits)
    assert (done.rectification, done.return_visit_due, done.reason) == ("unknown", None, "calendar_unknown")


def test_a_problem_of_one_rating_is_stored_not_raised(limits: Limits) -> None:
    broken = Limits(5, {}, 3, workdays.Calendars(), SHANGHAI)
    object.__setattr__(broken, "rectification_days", 0)  # out of range: deadline() raises ValueError
    fact = ratings._fold_safely("r11", [rated(at(9, 29, 10), 2)], broken)
    assert (fact.reason, fact.events) == ("derivation_error", 1)


# ── through the real sink ────────────────────────────────────────────────────────────

NOW = datetime(2026, 10, 20, tzinfo=UTC)


def _message(event_id: str, when: datetime, action: str, rating: str, **more: Any) -> dict[str, Any]:
    return {"event_id": event_id, "asset_id": "haochaping", "occurred_at": when.isoformat(),
            "action": action, "rating_id": rating, **more}


RATED = {"transaction_id": "tx", "service_id": "svc-1", "channel": "hall"}
EVENTS: list[dict[str, Any]] = [
    _message("e1", at(9, 29, 10), "rated", "r1", department_id="dept-a", level=2, tags=["slow"], **RATED),
    _message("e2", at(10, 12, 17), "rectified", "r1"),
    _message("e3", at(10, 13, 9), "return_visit", "r1"),
    _message("e4", at(10, 15, 20), "return_visit", "r1", satisfied=True),
    _message("e5", at(9, 29, 10), "rated", "r2", department_id="dept-b", level=1, **RATED),
    _message("e6", at(10, 13, 10), "rectified", "r2"),
    _message("e7", at(9, 29, 11), "rated", "r3", department_id="dept-a", level=1, **RATED),
    _message("e8", at(10, 13, 9), "rectified", "r3"),
    _message("e9", at(9, 30, 8), "rated", "r4", department_id="dept-a", level=5, **RATED),
    _message("e10", at(9, 30, 9), "rated", "r4", department_id="dept-a", level=1, **RATED),
    _message("e11", at(10, 2), "rectified", "r5"),
]


def _rows(events: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    decoder = Decoder("rating", max_bytes=100_000, max_future_skew=timedelta(minutes=5),
                      max_age=timedelta(days=400))
    columns = decoder.decode_columns(orjson.dumps({"source": "haochaping", "events": list(events)}), NOW)
    assert not columns.rejected
    return columns.rows


@pytest.fixture
def settings(database_url: str, schema: str, tmp_path: Path) -> Settings:
    path = tmp_path / "calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    return Settings(database_url=database_url, database_schema=schema, work_calendar_file=path,
                    timezone="Asia/Shanghai")


@pytest.fixture
async def admin(database_url: str, schema: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    conn = await connect_async(database_url, schema)
    await conn.set_autocommit(True)
    try:
        yield conn
    finally:
        await conn.close()


async def _facts(admin: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
    cur = await admin.execute("SELECT * FROM rating_facts ORDER BY rating_id")
    return await cur.fetchall()


async def _deliver(settings: Settings, batches: list[list[dict[str, Any]]]) -> None:
    sink = EventSink(str(settings.database_url), settings.database_schema, "rating",
                     facts=ratings.deriver(settings))
    try:
        for batch in batches:
            await sink.write(Batch("rating", rows=_rows(batch)))
    finally:
        await sink.close()


async def test_facts_through_the_sink(settings: Settings, admin: psycopg.AsyncConnection[Any]) -> None:
    await _deliver(settings, [EVENTS])
    facts = {row[0]: row for row in await _facts(admin)}
    columns = ratings.FACT_COLUMNS
    got = {r: dict(zip(columns, facts[r], strict=True)) for r in facts}
    assert sorted(got) == ["r1", "r2", "r3", "r4", "r5"]
    # r1: as in the golden test above (on time; visited on the second call, within 3 days).
    assert (got["r1"]["rectification"], got["r1"]["return_visit_within"], got["r1"]["satisfied"]) == (
        "on_time", True, True)
    assert got["r1"]["tags"] == ["slow"] and got["r1"]["return_visit_attempts"] == 2
    # r2: dept-b's local holiday 10-12 → due 10-14 00:00, rectified 10-13 10:00 on time.
    assert (got["r2"]["rectification_due"], got["r2"]["rectification"]) == (at(10, 14), "on_time")
    # r3: dept-a, due 10-13 00:00, rectified 10-13 09:00 → late; no return visit yet.
    assert (got["r3"]["rectification"], got["r3"]["return_visit_judged_at"]) == ("late", at(10, 17))
    # r4: the first rated event (level 5 at 08:00) is the rating: good.
    assert (got["r4"]["level"], got["r4"]["bad"], got["r4"]["events"]) == (5, False, 2)
    assert (got["r5"]["reason"], got["r5"]["level"]) == ("not_rated", None)


async def test_same_facts_whatever_the_delivery(settings: Settings,
                                                admin: psycopg.AsyncConnection[Any]) -> None:
    """The differential test: one batch; one event a batch in reverse order; random orders
    and splits with replays — byte-identical rows."""
    deliveries: list[list[list[dict[str, Any]]]] = [[EVENTS], [[e] for e in reversed(EVENTS)]]
    rng = random.Random(28)
    for _ in range(4):
        shuffled = rng.sample(EVENTS, len(EVENTS))
        cuts = sorted(rng.sample(range(1, len(EVENTS)), 3))
        parts = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(EVENTS)], strict=True)]
        parts.append(rng.sample(EVENTS, 4))  # a replay of some: stored once, facts unchanged
        deliveries.append(parts)
    seen: list[list[tuple[Any, ...]]] = []
    for batches in deliveries:
        await admin.execute("TRUNCATE rating_events, rating_facts")
        await _deliver(settings, batches)
        seen.append(await _facts(admin))
    assert len(seen[0]) == 5
    assert all(facts == seen[0] for facts in seen[1:])


async def test_concurrent_batches_of_one_rating_both_count(
        settings: Settings, admin: psycopg.AsyncConnection[Any]) -> None:
    """Two workers writing events of one rating at once: the second waits for the first's
    commit and folds its events too (the row lock of the fact step)."""
    limits = Limits.of(settings)
    first = await connect_async(str(settings.database_url), settings.database_schema)
    second = await connect_async(str(settings.database_url), settings.database_schema)
    insert = ("INSERT INTO rating_events (occurred_at, event_id, asset_id, action, rating_id,"
              " department_id, service_id, channel, level) VALUES (%s, %s, 'h', %s, 'r1', %s, %s, %s, %s)")
    try:
        async with first.cursor() as one:
            await one.execute(insert, (at(9, 29, 10), "e1", "rated", "dept-a", "svc-1", "hall", 2))
            await ratings.derive_ratings(one, ["r1"], limits)
            async with second.cursor() as two:
                await two.execute(insert, (at(10, 12, 17), "e2", "rectified", None, None, None, None))
                waiting = asyncio.create_task(ratings.derive_ratings(two, ["r1"], limits))
                await asyncio.sleep(0.3)
                assert not waiting.done()  # held by the first batch's row lock
                await first.commit()
                facts = await asyncio.wait_for(waiting, 10)
                await second.commit()
        assert (facts[0].level, facts[0].rectification) == (2, "on_time")
        stored = await _facts(admin)
        assert dict(zip(ratings.FACT_COLUMNS, stored[0], strict=True))["rectification"] == "on_time"
    finally:
        await first.close()
        await second.close()


async def test_deriving_every_rating_again_after_a_change_of_limits(
        settings: Settings, admin: psycopg.AsyncConnection[Any]) -> None:
    await _deliver(settings, [EVENTS])
    # dept-a allowed 15 working days from now on: r3 (rated 09-29, rectified 10-13 09:00)
    # is then due at the close of the 15th working day after 09-29: 09-30, 10-08…10-10,
    # 10-12…16, 10-19…23 (14), 10-26 (15) → 10-27 00:00, so on time.
    wider = dataclasses.replace(Limits.of(settings), by_department={"dept-a": 15})
    async with await connect_async(str(settings.database_url), settings.database_schema) as conn, \
            conn.cursor() as cur:
        assert await ratings.rederive_all(cur, wider, chunk=2) == 5
    got = {row[0]: dict(zip(ratings.FACT_COLUMNS, row, strict=True)) for row in await _facts(admin)}
    assert (got["r3"]["rectification_due"], got["r3"]["rectification"]) == (at(10, 27), "on_time")
    assert got["r2"]["rectification_days"] == 5   # dept-b keeps the city's limit

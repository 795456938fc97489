"""The 12345 work-order facts (streams/workorders.py), through the real sink, hand-computed.

All times are Shanghai local (UTC+8, no DST); the 2026 official calendar: National Day
holidays 10-01..10-07, Saturday 10-10 an adjusted working day (调休), Mid-Autumn 09-25..27.
The calendar file gives department `water` a local holiday on Wednesday 2026-03-04.
Categories are the packaged ones: urgent 30 min / 2 h / 24 h; complaint 1 / 3 / 13 working
days; consultation 1 / – / 3; help 1 / 2 / 5. N working days end at the local midnight
closing the N-th working day after the day of creation.

The feed's watermark is the last event stored: C1's return visit, 10-20 12:00.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from typer.testing import CliRunner

from alerts.detection.rules import load_rules
from citybrain.cli import app
from citybrain.kernel import store
from citybrain.kernel.settings import Settings
from citybrain.kernel.workdays import Calendars
from citybrain.kernel.workdays import load as load_calendars
from schemas.workorder_categories import load as load_categories
from streams import workorders
from streams.sink import Batch, EventSink
from tests.helpers import fresh_schema

SHANGHAI = ZoneInfo("Asia/Shanghai")
Conn = psycopg.Connection[Any]
CALENDAR = "departments:\n  water:\n    holidays: [2026-03-04]\n"


def L(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A Shanghai local time, as the UTC instant the store keeps."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


_ids = itertools.count()


def ev(order: str, action: str, at: datetime, **kw: str) -> tuple[Any, ...]:
    """A hotline row in the sink's column order (occurred_at as RFC 3339 text)."""
    return (at.isoformat(), f"e{next(_ids):03d}", "hotline-12345", order, action, kw.get("category"),
            kw.get("department_id"), kw.get("subject_asset_id"), kw.get("service_id"),
            kw.get("district_id"), kw.get("channel", "phone" if action == "created" else None),
            kw.get("satisfaction"), kw.get("merged_into"))


EVENTS: list[tuple[Any, ...]] = [
    # U1 urgent, answered 3 minutes late
    ev("U1", "created", L(3, 2, 9), category="urgent"),
    ev("U1", "dispatched", L(3, 2, 9, 5), department_id="water"),
    ev("U1", "responded", L(3, 2, 9, 33)),
    ev("U1", "fed_back", L(3, 2, 10, 40)),
    ev("U1", "completed", L(3, 3, 8)),
    ev("U1", "return_visit", L(3, 4, 10), satisfaction="satisfied"),
    # U2 urgent, never answered
    ev("U2", "created", L(3, 2, 12), category="urgent"),
    ev("U2", "dispatched", L(3, 2, 12, 1), department_id="traffic"),
    # H1 help for water, across water's own holiday
    ev("H1", "created", L(3, 3, 10), category="help"),
    ev("H1", "dispatched", L(3, 3, 10, 5), department_id="water"),
    ev("H1", "responded", L(3, 5, 10)),
    ev("H1", "fed_back", L(3, 6, 18)),
    ev("H1", "completed", L(3, 12, 9)),
    # X1 a category the configuration does not know
    ev("X1", "created", L(3, 5, 9), category="noise"),
    # R1 urgent, returned and reassigned: the clock keeps running from creation
    ev("R1", "created", L(3, 10, 8), category="urgent"),
    ev("R1", "dispatched", L(3, 10, 8, 2), department_id="traffic"),
    ev("R1", "returned", L(3, 10, 8, 20), department_id="traffic"),
    ev("R1", "reassigned", L(3, 10, 8, 25), department_id="water"),
    ev("R1", "responded", L(3, 10, 8, 40)),
    ev("R1", "completed", L(3, 10, 20)),
    # O1 consultation, completed, found unsatisfactory and reopened
    ev("O1", "created", L(3, 16, 9), category="consultation"),
    ev("O1", "dispatched", L(3, 16, 9, 5), department_id="water"),
    ev("O1", "responded", L(3, 16, 10)),
    ev("O1", "completed", L(3, 17, 10)),
    ev("O1", "return_visit", L(3, 18, 10), satisfaction="dissatisfied"),
    ev("O1", "reopened", L(3, 18, 11)),
    # M1, M2: two calls about camera cam-1; M2 merged into M1 (并单)
    ev("M1", "created", L(3, 20, 9), category="help", subject_asset_id="cam-1"),
    ev("M1", "dispatched", L(3, 20, 9, 5), department_id="water"),
    ev("M2", "created", L(3, 20, 9, 10), category="help", subject_asset_id="cam-1"),
    ev("M2", "merged", L(3, 20, 9, 20), merged_into="M1"),
    ev("M1", "completed", L(3, 23, 9)),
    # C1 complaint across National Day
    ev("C1", "created", L(9, 30, 10), category="complaint"),
    ev("C1", "dispatched", L(9, 30, 10, 30), department_id="traffic"),
    ev("C1", "responded", L(10, 8, 9)),
    ev("C1", "fed_back", L(10, 10, 16)),
    ev("C1", "completed", L(10, 16, 10)),
    # K1 consultation on the eve of the adjusted working day (Saturday 10-10)
    ev("K1", "created", L(10, 9, 15), category="consultation"),
    ev("K1", "dispatched", L(10, 9, 15, 10), department_id="traffic"),
    ev("K1", "responded", L(10, 12, 9)),
    ev("K1", "completed", L(10, 13, 17)),
    # P1 complaint created on the last day: every limit pending
    ev("P1", "created", L(10, 20, 10), category="complaint"),
    ev("P1", "dispatched", L(10, 20, 10, 30), department_id="traffic"),
    # the last event: the watermark
    ev("C1", "return_visit", L(10, 20, 12), satisfaction="basically_satisfied"),
]

# (order, kind) → (due, done, outcome), each computed by hand:
LIMITS: dict[tuple[str, str], tuple[datetime | None, datetime | None, str]] = {
    # U1: 09:00 + 30 min = 09:30, responded 09:33 → 3 minutes late; + 2 h = 11:00, fed back
    # 10:40; + 24 h = 03-03 09:00, completed 08:00.
    ("U1", "response"): (L(3, 2, 9, 30), L(3, 2, 9, 33), "breached"),
    ("U1", "feedback"): (L(3, 2, 11), L(3, 2, 10, 40), "met"),
    ("U1", "completion"): (L(3, 3, 9), L(3, 3, 8), "met"),
    # U2: nothing done; every due time is long before the watermark (10-20 12:00).
    ("U2", "response"): (L(3, 2, 12, 30), None, "breached"),
    ("U2", "feedback"): (L(3, 2, 14), None, "breached"),
    ("U2", "completion"): (L(3, 3, 12), None, "breached"),
    # H1 (water, created Tue 03-03): 03-04 is water's holiday. 1 wd: Thu 03-05 → 03-06 00:00
    # (the city's calendar would say 03-05 00:00, and the response at 03-05 10:00 would be
    # late); 2 wd: 03-05, Fri 03-06 → 03-07 00:00, fed back 03-06 18:00; 5 wd: 03-05, 03-06,
    # Mon 03-09, 03-10, 03-11 → 03-12 00:00, completed 03-12 09:00 → 9 hours late.
    ("H1", "response"): (L(3, 6), L(3, 5, 10), "met"),
    ("H1", "feedback"): (L(3, 7), L(3, 6, 18), "met"),
    ("H1", "completion"): (L(3, 12), L(3, 12, 9), "breached"),
    # X1: category "noise" unknown → no due time, neither met nor breached.
    ("X1", "response"): (None, None, "unknown"),
    ("X1", "feedback"): (None, None, "unknown"),
    ("X1", "completion"): (None, None, "unknown"),
    # R1: clock from creation 08:00, not from the reassignment: 08:30 vs responded 08:40;
    # feedback 10:00, done by the completion at 20:00 (a final reply is a feedback); 24 h:
    # 03-11 08:00 vs 03-10 20:00.
    ("R1", "response"): (L(3, 10, 8, 30), L(3, 10, 8, 40), "breached"),
    ("R1", "feedback"): (L(3, 10, 10), L(3, 10, 20), "breached"),
    ("R1", "completion"): (L(3, 10, 8) + timedelta(hours=24), L(3, 10, 20), "met"),
    # O1 (consultation, water, created Mon 03-16): 1 wd: 03-17 → 03-18 00:00, responded
    # 03-16 10:00; 3 wd: 03-17, 03-18, 03-19 → 03-20 00:00; its completion of 03-17 was
    # undone by the reopening of 03-18 → not done, due long before the watermark.
    ("O1", "response"): (L(3, 18), L(3, 16, 10), "met"),
    ("O1", "completion"): (L(3, 20), None, "breached"),
    # M1 (help, water, created Fri 03-20): 1 wd: Mon 03-23 → 03-24 00:00; 2 wd: 03-23, 03-24
    # → 03-25 00:00; 5 wd: 03-23..03-27 → 03-28 00:00; the completion (03-23 09:00) is also
    # its response and feedback. M2 was merged: no limits.
    ("M1", "response"): (L(3, 24), L(3, 23, 9), "met"),
    ("M1", "feedback"): (L(3, 25), L(3, 23, 9), "met"),
    ("M1", "completion"): (L(3, 28), L(3, 23, 9), "met"),
    # C1 (complaint, created Wed 09-30): 10-01..10-07 are holidays. 1 wd: Thu 10-08 → 10-09
    # 00:00 (weekends alone would say 10-02 00:00), responded 10-08 09:00; 3 wd: 10-08, Fri
    # 10-09, Sat 10-10 (worked) → 10-11 00:00, fed back on 10-10 itself at 16:00; 13 wd:
    # 10-08, 10-09, 10-10, 10-12..10-16 (8), 10-19..10-23 (13) → 10-24 00:00, done 10-16.
    ("C1", "response"): (L(10, 9), L(10, 8, 9), "met"),
    ("C1", "feedback"): (L(10, 11), L(10, 10, 16), "met"),
    ("C1", "completion"): (L(10, 24), L(10, 16, 10), "met"),
    # K1 (consultation, created Fri 10-09 15:00): 1 wd: Sat 10-10 is a working day → 10-11
    # 00:00, responded Mon 10-12 09:00 → late (without the adjusted day it was on time);
    # 3 wd: 10-10, 10-12, 10-13 → 10-14 00:00, completed 10-13 17:00.
    ("K1", "response"): (L(10, 11), L(10, 12, 9), "breached"),
    ("K1", "completion"): (L(10, 14), L(10, 13, 17), "met"),
    # P1 (complaint, Tue 10-20): 1 wd: 10-21 → 10-22 00:00; 3 wd: 10-21, 22, 23 → 10-24
    # 00:00; 13 wd: 10-21..23 (3), 10-26..30 (8), 11-02..06 (13) → 11-07 00:00. All after
    # the watermark (10-20 12:00) → pending.
    ("P1", "response"): (L(10, 22), None, "pending"),
    ("P1", "feedback"): (L(10, 24), None, "pending"),
    ("P1", "completion"): (L(11, 7), None, "pending"),
}


def settings_with(tmp_path: Path, calendar: str = CALENDAR, **more: Any) -> Settings:
    path = tmp_path / "calendar.yaml"
    path.write_text(calendar, encoding="utf-8")
    return Settings(work_calendar_file=path, timezone="Asia/Shanghai", **more)


async def deliver(url: str, schema: str, settings: Settings,
                  batches: Sequence[Sequence[tuple[Any, ...]]]) -> None:
    sink = EventSink(url, schema, "hotline", facts=workorders.deriver(settings))
    try:
        for rows in batches:
            await sink.write(Batch("hotline", rows=list(rows)))
    finally:
        await sink.close()


def facts(db: Conn) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "orders": db.execute("SELECT * FROM work_orders ORDER BY order_id").fetchall(),
        "limits": db.execute("SELECT * FROM work_order_limits ORDER BY order_id, kind").fetchall(),
        "calls": db.execute("SELECT incident_id, at, actor, detail FROM incident_events"
                            " WHERE kind = 'hotline.calls' ORDER BY incident_id").fetchall(),
    }


async def test_the_facts_of_every_order_are_as_computed_by_hand(
        database_url: str, schema: str, db: Conn, tmp_path: Path) -> None:
    await deliver(database_url, schema, settings_with(tmp_path), [EVENTS])
    got = {(r[0], r[1]): (r[5], r[6], r[7]) for r in db.execute(
        "SELECT order_id, kind, category, department_id, created_at, due_at, done_at, outcome"
        " FROM work_order_limits").fetchall()}
    assert got == LIMITS
    reasons = dict(((r[0], r[1]), r[2]) for r in db.execute(
        "SELECT order_id, kind, reason FROM work_order_limits WHERE reason IS NOT NULL").fetchall())
    assert reasons == {("X1", k): "category_unknown" for k in ("response", "feedback", "completion")}
    # The breach facts: every limit breached, done or not.
    assert sorted(db.execute("SELECT order_id, kind FROM work_order_breaches").fetchall()) == sorted(
        key for key, (_, _, outcome) in LIMITS.items() if outcome == "breached")

    orders = {r[0]: r[1:] for r in db.execute(
        "SELECT order_id, state, department_id, reopen_count, return_count, satisfaction, merged_into,"
        " merged_orders, completed_at, first_completed_at, problem FROM work_orders").fetchall()}
    assert orders == {
        "U1": ("completed", "water", 0, 0, "satisfied", None, 0, L(3, 3, 8), L(3, 3, 8), None),
        "U2": ("dispatched", "traffic", 0, 0, None, None, 0, None, None, None),
        "H1": ("completed", "water", 0, 0, None, None, 0, L(3, 12, 9), L(3, 12, 9), None),
        "X1": ("created", None, 0, 0, None, None, 0, None, None, "category_unknown"),
        # returned + reassigned = 2; the department is the one it was reassigned to
        "R1": ("completed", "water", 0, 2, None, None, 0, L(3, 10, 20), L(3, 10, 20), None),
        "O1": ("reopened", "water", 1, 0, "dissatisfied", None, 0, None, L(3, 17, 10), None),
        "M1": ("completed", "water", 0, 0, None, None, 1, L(3, 23, 9), L(3, 23, 9), None),
        "M2": ("merged", None, 0, 0, None, "M1", 0, None, None, None),
        "C1": ("completed", "traffic", 0, 0, "basically_satisfied", None, 0, L(10, 16, 10), L(10, 16, 10),
               None),
        "K1": ("completed", "traffic", 0, 0, None, None, 0, L(10, 13, 17), L(10, 13, 17), None),
        "P1": ("dispatched", "traffic", 0, 0, None, None, 0, None, None, None),
    }


async def test_an_open_limit_becomes_a_breach_when_the_feed_passes_its_due_time(
        database_url: str, schema: str, db: Conn, tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    sink = EventSink(database_url, schema, "hotline", facts=workorders.deriver(settings))
    try:
        await sink.write(Batch("hotline", rows=[ev("A", "created", L(3, 2, 9), category="urgent")]))
        # watermark 09:00: due 09:30 → pending
        assert db.execute("SELECT outcome FROM work_order_limits WHERE order_id = 'A' AND kind = 'response'"
                          ).fetchone() == ("pending",)
        # Another order's event at 09:31 moves the watermark past A's 09:30: A, untouched by
        # the batch, is recomputed and breached; its 11:00 feedback is still pending.
        await sink.write(Batch("hotline", rows=[ev("B", "created", L(3, 2, 9, 31), category="urgent")]))
        assert db.execute("SELECT kind, outcome FROM work_order_limits WHERE order_id = 'A' ORDER BY kind"
                          ).fetchall() == [("completion", "pending"), ("feedback", "pending"),
                                           ("response", "breached")]
        # A response at 09:29 arriving late corrects it: the facts follow the evidence.
        await sink.write(Batch("hotline", rows=[ev("A", "responded", L(3, 2, 9, 29))]))
        assert db.execute("SELECT outcome, done_at FROM work_order_limits WHERE order_id = 'A'"
                          " AND kind = 'response'").fetchone() == ("met", L(3, 2, 9, 29))
    finally:
        await sink.close()


def test_a_year_nobody_described_leaves_the_due_time_unknown_not_guessed(tmp_path: Path) -> None:
    categories = load_categories()
    created = [workorders.Event(L(12, 30, 10), "e1", "created", category="consultation", channel="phone"),
               workorders.Event(L(12, 30, 11), "e2", "dispatched", department_id="water")]
    order = workorders.fold("Y1", created, categories)
    # Consultation, Wed 2026-12-30: 1 wd is Thu 12-31 (2026 is known) → 2027-01-01 00:00;
    # 3 wd needs 2027-01-01, which the installed calendar does not describe → unknown.
    got = {lim.kind: (lim.due_at, lim.outcome, lim.reason) for lim in workorders.limits(
        order, categories, Calendars(), SHANGHAI, L(12, 30, 11))}
    assert got == {"response": (L(1, 1, year=2027), "pending", None),
                   "completion": (None, "unknown", "calendar_unknown")}
    # The calendar file describes 2027 (New Year's Day off): 12-31 (1), Mon 01-04 (2), Tue
    # 01-05 (3) → 2027-01-06 00:00.
    path = tmp_path / "c.yaml"
    path.write_text("city:\n  years: [2027]\n  holidays: [2027-01-01]\n", encoding="utf-8")
    described = {lim.kind: (lim.due_at, lim.reason) for lim in workorders.limits(
        order, categories, load_calendars(path), SHANGHAI, L(12, 30, 11))}
    assert described["completion"] == (L(1, 6, year=2027), None)


async def test_an_unknown_year_in_the_feed_does_not_stop_the_sink(
        database_url: str, schema: str, db: Conn, tmp_path: Path) -> None:
    await deliver(database_url, schema, settings_with(tmp_path), [[
        ev("Y1", "created", L(12, 30, 10), category="consultation"),
        ev("Y2", "created", L(1, 4, 10, year=2027), category="urgent")]])
    # Y1's completion needs 2027 (unknown); Y2 is urgent: clock limits need no calendar.
    assert db.execute("SELECT order_id, kind, outcome, reason FROM work_order_limits"
                      " WHERE outcome <> 'pending' ORDER BY 1, 2").fetchall() == [
        ("Y1", "completion", "unknown", "calendar_unknown"), ("Y1", "response", "breached", None)]
    assert db.execute("SELECT count(*) FROM hotline_events").fetchone() == (2,)


def test_db_facts_derives_again_once_the_calendar_file_describes_the_year(
        database_url: str, schema: str, db: Conn, tmp_path: Path) -> None:
    """The operator's way out of "calendar_unknown": describe the year, run the command."""
    import asyncio

    asyncio.run(deliver(database_url, schema, settings_with(tmp_path), [[
        ev("Y1", "created", L(12, 30, 10), category="consultation")]]))
    assert db.execute("SELECT due_at, outcome FROM work_order_limits WHERE order_id = 'Y1'"
                      " AND kind = 'completion'").fetchone() == (None, "unknown")
    described = tmp_path / "calendar-2027.yaml"
    described.write_text("city:\n  years: [2027]\n  holidays: [2027-01-01]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["db", "facts", "--family", "hotline", "-o", "json"], env={
        "CITYBRAIN_DATABASE_URL": database_url, "CITYBRAIN_DATABASE_SCHEMA": schema,
        "CITYBRAIN_WORK_CALENDAR_FILE": str(described), "CITYBRAIN_TIMEZONE": "Asia/Shanghai"})
    assert result.exit_code == 0, result.output
    assert '"hotline":1' in result.output.replace(" ", "")
    # 3 working days after Wed 2026-12-30 with 2027-01-01 off: 12-31, 01-04, 01-05 → 01-06 00:00.
    assert db.execute("SELECT due_at, reason FROM work_order_limits WHERE order_id = 'Y1'"
                      " AND kind = 'completion'").fetchone() == (L(1, 6, year=2027), None)
    refused = CliRunner().invoke(app, ["db", "facts", "--family", "iot"], env={
        "CITYBRAIN_DATABASE_URL": database_url, "CITYBRAIN_DATABASE_SCHEMA": schema})
    assert refused.exit_code == 2 and "iot" in refused.output


async def test_the_facts_are_the_same_whatever_the_batching_and_the_order_of_delivery(
        database_url: str, tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    rng = random.Random(18)
    shuffled = list(EVENTS)
    rng.shuffle(shuffled)
    deliveries: dict[str, list[list[tuple[Any, ...]]]] = {
        "one batch": [EVENTS],
        "one event per batch, newest first": [[e] for e in reversed(EVENTS)],
        "random batches, shuffled": [shuffled[i:i + n] for i, n in zip(range(0, len(shuffled), 5),
                                                                         itertools.repeat(5), strict=False)],
        "replayed twice, odd sizes": [EVENTS[i:i + 7] for i in range(0, len(EVENTS), 7)] + [shuffled[:13]],
    }
    seen: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for name, batches in deliveries.items():
        with fresh_schema(database_url) as schema, store.connect(database_url, schema, autocommit=True) as db:
            _outage(db)
            await deliver(database_url, schema, settings, batches)
            seen[name] = facts(db)
    first = seen["one batch"]
    assert first["orders"] and first["limits"]
    for name, got in seen.items():
        assert got == first, name


def _outage(db: Conn) -> int:
    """An open incident on cam-1 since 2026-03-20 08:00 local (M1 and M2 are about it)."""
    row = db.execute(
        "INSERT INTO incidents (fingerprint, rule_id, title, severity, status, key, department_id, asset_id,"
        " opened_at, last_seen_at, response_due_at, resolution_due_at, next_escalation_at)"
        " VALUES ('offline:cam-1', 'camera_offline', 'cam-1 offline', 'II', 'triggered', 'infrastructure',"
        " 'water', 'cam-1', %s, %s, %s, %s, %s) RETURNING incident_id",
        (L(3, 20, 8), L(3, 20, 8), L(3, 20, 8, 30), L(3, 20, 12), L(3, 20, 8, 10))).fetchone()
    assert row is not None
    return int(row[0])


async def test_many_calls_about_one_outage_raise_it_once_and_page_nobody(
        database_url: str, schema: str, db: Conn, tmp_path: Path) -> None:
    # No packaged detection rule reads the hotline family: work orders never open incidents.
    assert "hotline" not in {rule.source for rule in load_rules()}
    incident = _outage(db)
    before = db.execute("SELECT count(*), max(next_escalation_at), max(escalation_step) FROM incidents"
                        ).fetchone()
    calls = [ev(f"N{n}", "created", L(3, 20, 9, n), category="help", subject_asset_id="cam-1")
             for n in range(5)]
    # ... and one about cam-1 before the outage began (07:00): not linked.
    calls.append(ev("N-early", "created", L(3, 20, 7), category="help", subject_asset_id="cam-1"))
    settings = settings_with(tmp_path, hotline_incident_calls=3)
    await deliver(database_url, schema, settings, [calls[:2], calls[2:4], calls[4:]])
    assert db.execute("SELECT count(*), max(next_escalation_at), max(escalation_step) FROM incidents"
                      ).fetchone() == before
    assert db.execute("SELECT order_id FROM work_order_incidents ORDER BY 1").fetchall() == [
        (f"N{n}",) for n in range(5)]
    # One timeline entry, at the third call (09:02), and no notification of any kind.
    assert db.execute("SELECT incident_id, at, actor, kind, detail FROM incident_events").fetchall() == [
        (incident, L(3, 20, 9, 2), "system", "hotline.calls", {"calls": 3, "order_id": "N2"})]


def test_a_categories_file_is_checked_with_clear_errors(tmp_path: Path) -> None:
    from schemas.workorder_categories import CategoriesFileError

    bad = tmp_path / "bad.yaml"
    bad.write_text("categories:\n  urgent:\n    name_zh: 紧急\n    name_en: Urgent\n"
                   "    response: {minutes: 30, hours: 1}\n", encoding="utf-8")
    with pytest.raises(CategoriesFileError) as refused:
        load_categories(bad)
    # It names the file, the entry and the field, and what is allowed (zh-CN by default).
    said = str(refused.value)
    assert "bad.yaml" in said and "categories.urgent.response" in said
    assert "minutes、hours、working_days" in said
    good = tmp_path / "good.yaml"
    good.write_text("categories:\n  urgent:\n    name_zh: 紧急\n    name_en: Urgent\n"
                    "    completion: {hours: 12}\n", encoding="utf-8")
    loaded = load_categories(good)
    assert list(loaded.by_id) == ["urgent"]
    assert loaded.by_id["urgent"].limits().keys() == {"completion"}

"""好差评 facts: per rating, its level and whether a bad one was rectified and visited in time.

A rating's events (schemas/events.py RatingEvent: ``rated``, ``rectified``,
``return_visit``) arrive in any order, in any batches, and again on a replay. The fact
step recomputes every rating a batch touched from ALL its stored events (``fold``, a pure
function of the set of events), so the row in rating_facts (migration 028) is the same
whatever the delivery.

The rules (the README's 好差评 section says the same):

- The rating of record is the first ``rated`` event (occurred_at, then event_id); a later
  one (a resend under a new id, a revision) does not change it. Levels 1–2 (不满意,
  非常不满意) are bad ratings (差评), 3–5 (基本满意, 满意, 非常满意) good (GB/T 39735-2020,
  国办发〔2019〕51号).
- A bad rating is due for rectification at the close (local midnight) of the N-th working
  day after its local day, N = the department's limit or the city's
  (``Settings.rating_rectification_days``); working days on the official calendar with
  the city's and the department's own days (citybrain/kernel/workdays.py), in the city's
  zone. The first ``rectified`` event settles it: on time when before the due moment,
  late otherwise; none yet: pending (overdue or not is the reader's question, asked
  against their own clock: nothing stored depends on when it was derived).
- After the rectification the person is visited again: the first return visit at or after
  the rectification that reached them (``satisfied`` not None) counts, within
  ``rating_return_visit_days`` working days of the rectification. A visit before the
  rectification is the verification call (回访核实), not this one.
- A deadline in a year the work calendar does not know is stored as NULL with reason
  ``calendar_unknown``; no problem of one rating ever raises out of the fact step (the
  sink would retry the batch forever): its row says what went wrong instead.

Concurrency: two workers may write events of one rating at the same time. Each batch first
upserts the rows of its ratings in rating_id order (locking them until it commits), then
reads the events: a second batch waits for the first to commit, and its read — a new
statement — sees the first one's events.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from citybrain.kernel import workdays
from citybrain.kernel.settings import Settings
from citybrain.kernel.workdays import Calendars, CalendarUnknown
from streams.facts import FactDeriver

log = logging.getLogger(__name__)

# Levels 1 and 2 are bad ratings (差评); 3, 4 and 5 good (好评).
BAD_UP_TO = 2
CITY_ZONE = ZoneInfo("Asia/Shanghai")  # the settings' default zone
LEVELS: Mapping[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


@dataclass(frozen=True)
class Limits:
    """The time limits of bad ratings, in working days, and the calendars they count on."""

    rectification_days: int = 5
    by_department: Mapping[str, int] = dataclasses.field(default_factory=dict)
    return_visit_days: int = 3
    calendars: Calendars = dataclasses.field(default_factory=Calendars)
    tz: ZoneInfo = CITY_ZONE

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """From the settings; the calendar file is read (and refused, with the reason) here."""
        return cls(settings.rating_rectification_days,
                   dict(settings.rating_rectification_days_by_department),
                   settings.rating_return_visit_days,
                   workdays.load(settings.work_calendar_file), settings.tz)

    def rectification(self, department: str | None) -> int:
        return self.by_department.get(department or "", self.rectification_days)


@dataclass(frozen=True)
class Event:
    """One stored rating event (the columns the facts are folded from)."""

    occurred_at: datetime
    event_id: str
    action: str
    transaction_id: str | None = None
    service_id: str | None = None
    department_id: str | None = None
    channel: str | None = None
    level: int | None = None
    tags: tuple[str, ...] = ()
    satisfied: bool | None = None


EVENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Event))


@dataclass(frozen=True)
class Fact:
    """One row of rating_facts (migration 028 says what each column means)."""

    rating_id: str
    rated_at: datetime | None = None
    level: int | None = None
    bad: bool | None = None
    channel: str | None = None
    department_id: str | None = None
    service_id: str | None = None
    transaction_id: str | None = None
    tags: tuple[str, ...] = ()
    rectification_days: int | None = None
    rectification_due: datetime | None = None
    rectified_at: datetime | None = None
    rectification: str | None = None
    rectification_judged_at: datetime | None = None
    return_visit_days: int | None = None
    return_visit_due: datetime | None = None
    return_visit_at: datetime | None = None
    return_visit_attempts: int = 0
    return_visit_within: bool | None = None
    return_visit_judged_at: datetime | None = None
    satisfied: bool | None = None
    reason: str | None = None
    events: int = 0


FACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Fact))


def _deadline(limits: Limits, department: str | None, start: datetime, days: int) -> datetime | None:
    """The due moment, or None when the calendar does not know the years it needs."""
    try:
        return limits.calendars.of(department).deadline(start, days, limits.tz)
    except CalendarUnknown:
        return None


def fold(rating_id: str, events: Iterable[Event], limits: Limits) -> Fact:
    """The facts of one rating from all its stored events, in whatever order given."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    rated = next((e for e in ordered if e.action == "rated" and e.level is not None), None)
    if rated is None:
        return Fact(rating_id, reason="not_rated", events=len(ordered))
    assert rated.level is not None
    bad = rated.level <= BAD_UP_TO
    fact = Fact(rating_id, rated_at=rated.occurred_at, level=rated.level, bad=bad,
                channel=rated.channel, department_id=rated.department_id,
                service_id=rated.service_id, transaction_id=rated.transaction_id,
                tags=tuple(rated.tags), events=len(ordered))
    if not bad:
        return fact
    reasons: list[str] = []
    dept = rated.department_id
    days = limits.rectification(dept)
    due = _deadline(limits, dept, rated.occurred_at, days)
    rectified = next((e.occurred_at for e in ordered if e.action == "rectified"), None)
    if due is None:
        reasons.append("calendar_unknown")
        status, judged = ("pending" if rectified is None else "unknown"), None
    elif rectified is None:
        status, judged = "pending", due
    elif rectified < due:
        status, judged = "on_time", rectified
    else:
        status, judged = "late", due
    fact = dataclasses.replace(fact, rectification_days=days, rectification_due=due,
                               rectified_at=rectified, rectification=status,
                               rectification_judged_at=judged)
    if rectified is not None:
        visits = [e for e in ordered if e.action == "return_visit" and e.occurred_at >= rectified]
        reached = next((e for e in visits if e.satisfied is not None), None)
        visit_due = _deadline(limits, dept, rectified, limits.return_visit_days)
        if visit_due is None and "calendar_unknown" not in reasons:
            reasons.append("calendar_unknown")
        at = reached.occurred_at if reached else None
        fact = dataclasses.replace(
            fact, return_visit_days=limits.return_visit_days, return_visit_due=visit_due,
            return_visit_at=at, return_visit_attempts=len(visits),
            return_visit_within=None if at is None or visit_due is None else at < visit_due,
            return_visit_judged_at=(None if visit_due is None
                                    else at if at is not None and at < visit_due else visit_due),
            satisfied=reached.satisfied if reached else None)
    return dataclasses.replace(fact, reason=",".join(reasons) or None)


def _fold_safely(rating_id: str, events: Sequence[Event], limits: Limits) -> Fact:
    try:
        return fold(rating_id, events, limits)
    except Exception:  # one rating's problem must never stop the family's ingest
        log.exception("cannot derive the facts of rating %s; stored with reason derivation_error",
                      rating_id)
        return Fact(rating_id, reason="derivation_error", events=len(events))


_LOCK = sql.SQL(
    "INSERT INTO rating_facts (rating_id) SELECT r FROM unnest(%s::text[]) AS r ORDER BY r"
    " ON CONFLICT (rating_id) DO UPDATE SET rating_id = excluded.rating_id")
_READ = sql.SQL("SELECT rating_id, {} FROM rating_events WHERE rating_id = ANY(%s::text[])").format(
    sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS)))
_WRITE = sql.SQL("UPDATE rating_facts SET {} WHERE rating_id = %s").format(
    sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in FACT_COLUMNS[1:]))


async def derive_ratings(cur: psycopg.AsyncCursor[Any], rating_ids: Iterable[str],
                         limits: Limits) -> list[Fact]:
    """Recompute and store the facts of ``rating_ids`` from all their stored events."""
    ids = sorted(set(rating_ids))
    if not ids:
        return []
    await cur.execute(_LOCK, (ids,))
    await cur.execute(_READ, (ids,))
    events: dict[str, list[Event]] = {r: [] for r in ids}
    for rating_id, *columns in await cur.fetchall():
        row = dict(zip(EVENT_COLUMNS, columns, strict=True))
        row["tags"] = tuple(row["tags"] or ())
        events[rating_id].append(Event(**row))
    facts = [_fold_safely(r, events[r], limits) for r in ids]
    unknown = sum(1 for f in facts if f.reason and "calendar_unknown" in f.reason)
    if unknown:
        log.warning("%d rating(s) need a year the work calendar does not know: their deadlines are "
                    "stored as NULL (reason calendar_unknown); add the year to the calendar file "
                    "(CITYBRAIN_WORK_CALENDAR_FILE) or update chinesecalendar, then derive them again",
                    unknown)
    await cur.executemany(_WRITE, [_row(f) for f in facts])
    return facts


def _row(fact: Fact) -> tuple[Any, ...]:
    """The UPDATE's parameters: every column but the id, then the id."""
    values = [list(fact.tags) if c == "tags" else getattr(fact, c) for c in FACT_COLUMNS[1:]]
    return (*values, fact.rating_id)


async def rederive_all(cur: psycopg.AsyncCursor[Any], limits: Limits, *, chunk: int = 1000) -> int:
    """Every stored rating's facts again (after a change of limits or calendar); returns how
    many ratings. Run it in one transaction, as the fact step does."""
    await cur.execute("SELECT DISTINCT rating_id FROM rating_events ORDER BY 1")
    ids = [r[0] for r in await cur.fetchall()]
    for n in range(0, len(ids), chunk):
        await derive_ratings(cur, ids[n:n + chunk], limits)
    return len(ids)


def deriver(settings: Settings) -> FactDeriver:
    """The rating family's fact step (streams/facts.py), with the limits of ``settings``."""
    limits = Limits.of(settings)

    async def derive(cur: psycopg.AsyncCursor[Any], stage: str) -> None:
        await cur.execute(sql.SQL("SELECT DISTINCT rating_id FROM {}").format(sql.Identifier(stage)))
        await derive_ratings(cur, [r[0] for r in await cur.fetchall()], limits)

    return derive

"""The 12345 work-order facts: each order's state and its time limits, met or breached.

The hotline family's fact step (``streams/facts.py``) runs in the sink's transaction. For
every order the batch touched — and every order with a pending limit that ran out before
the feed's watermark — it reads all the order's stored events and writes its facts again
(tables ``work_orders`` and ``work_order_limits``, migration 027). The facts are therefore
a function of the stored events alone: the same whatever the batching, the order in which
the events arrived, or a replay.

The clocks (the README's "12345 work orders" says the same):
- Every limit of the order's category (``schemas/workorder_categories.yaml``) runs from
  the order's creation (受理, the first ``created`` event). Returning (退单) and
  reassigning (改派) do not restart it: the citizen has waited since the call.
- Response stops at the first ``responded``, ``fed_back`` or ``completed`` step (a reply
  is a response); first feedback at the first ``fed_back`` or ``completed``; completion
  at the last ``completed`` step, unless the order was reopened (重办) after it: a
  reopened order is open again and its completion clock runs on from creation.
- A working-day limit is counted on the calendar of the department holding the order
  (the last ``dispatched``/``reassigned``), the city's when none; clock limits (minutes,
  hours) run around the clock.
- Outcome: met when done at or before the due time; breached when done after it, or not
  done while the hotline feed's watermark (the latest ``occurred_at`` stored) is past it;
  pending otherwise. The watermark, not the wall clock, decides, so a replay judges
  alike; a quiet feed records a running-out limit at its next event.
- A limit whose due time cannot be computed — a year neither the calendar package nor the
  calendar file describes, an unknown category, no created event — is stored with due_at
  NULL and a reason, never raised: the sink would retry the batch forever.
- An order merged into another (并单) leaves the rates: it has no limits, and the
  surviving order counts it (``merged_orders``).

Incidents: an order whose subject asset had an incident open when the order was created
is linked to it (view ``work_order_incidents``, computed when read). When an open
incident's linked orders reach ``hotline_incident_calls``, the incident gets one
``hotline.calls`` timeline entry (at the creation of the order that reached it). It
opens no incident and pages nobody: the alert pipeline never reads work orders.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.settings import Settings
from citybrain.kernel.workdays import Calendars, CalendarUnknown
from citybrain.kernel.workdays import load as load_calendars
from schemas.workorder_categories import LIMIT_KINDS, Categories
from schemas.workorder_categories import load as load_categories
from streams.facts import FactDeriver

log = logging.getLogger(__name__)

# The step an action leaves the order at (a return visit changes nothing).
_STATE: dict[str, str] = {
    "created": "created", "dispatched": "dispatched", "reassigned": "dispatched",
    "accepted": "accepted", "responded": "responded", "fed_back": "fed_back",
    "completed": "completed", "returned": "returned", "reopened": "reopened", "merged": "merged",
}
_EVENT_COLUMNS = ("occurred_at", "event_id", "action", "category", "department_id", "subject_asset_id",
                  "service_id", "district_id", "channel", "satisfaction", "merged_into")
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id", "category", "department_id", "subject_asset_id", "service_id", "district_id", "channel",
    "state", "created_at", "responded_at", "fed_back_at", "first_completed_at", "completed_at",
    "first_reopened_at", "reopen_count", "return_count", "return_visits", "satisfaction", "merged_into",
    "merged_at", "last_event_at", "events", "problem",
)
LIMIT_COLUMNS: tuple[str, ...] = (
    "order_id", "kind", "category", "department_id", "created_at", "due_at", "done_at", "outcome", "reason",
)


@dataclass(frozen=True)
class Event:
    occurred_at: datetime
    event_id: str
    action: str
    category: str | None = None
    department_id: str | None = None
    subject_asset_id: str | None = None
    service_id: str | None = None
    district_id: str | None = None
    channel: str | None = None
    satisfaction: str | None = None
    merged_into: str | None = None


@dataclass(frozen=True)
class Order:
    order_id: str
    category: str | None
    department_id: str | None
    subject_asset_id: str | None
    service_id: str | None
    district_id: str | None
    channel: str | None
    state: str
    created_at: datetime | None
    responded_at: datetime | None
    fed_back_at: datetime | None
    first_completed_at: datetime | None
    completed_at: datetime | None
    first_reopened_at: datetime | None
    reopen_count: int
    return_count: int
    return_visits: int
    satisfaction: str | None
    merged_into: str | None
    merged_at: datetime | None
    last_event_at: datetime
    events: int
    problem: str | None

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in ORDER_COLUMNS)


@dataclass(frozen=True)
class Limit:
    order_id: str
    kind: str
    category: str | None
    department_id: str | None
    created_at: datetime | None
    due_at: datetime | None
    done_at: datetime | None
    outcome: str            # met | breached | pending | unknown
    reason: str | None

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in LIMIT_COLUMNS)


def _first(events: Iterable[Event], actions: set[str]) -> datetime | None:
    return next((e.occurred_at for e in events if e.action in actions), None)


def _first_value(events: Iterable[Event], name: str) -> str | None:
    return next((v for v in (getattr(e, name) for e in events) if v is not None), None)


def fold(order_id: str, events: Sequence[Event], categories: Categories) -> Order:
    """An order's facts from all its events (any order: they are sorted here)."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    created = next((e for e in ordered if e.action == "created"), None)
    handled = [e for e in ordered if e.action in ("dispatched", "reassigned") and e.department_id]
    department = handled[-1].department_id if handled else (created.department_id if created else None)
    completions = [e.occurred_at for e in ordered if e.action == "completed"]
    reopens = [e.occurred_at for e in ordered if e.action == "reopened"]
    # The final reply stands only when no reopening came after it.
    standing = completions and not (reopens and reopens[-1] >= completions[-1])
    completed_at = completions[-1] if standing else None
    visits = [e for e in ordered if e.action == "return_visit"]
    merges = [e for e in ordered if e.action == "merged"]
    steps = [e for e in ordered if e.action in _STATE]
    state = "merged" if merges else (_STATE[steps[-1].action] if steps else "unknown")
    category = created.category if created else None
    problem = ("no_created_event" if created is None
               else "category_unknown" if categories.get(category) is None else None)
    return Order(
        order_id=order_id, category=category, department_id=department,
        subject_asset_id=_first_value(ordered, "subject_asset_id"),
        service_id=_first_value(ordered, "service_id"), district_id=_first_value(ordered, "district_id"),
        channel=created.channel if created else None, state=state,
        created_at=created.occurred_at if created else None,
        responded_at=_first(ordered, {"responded", "fed_back", "completed"}),
        fed_back_at=_first(ordered, {"fed_back", "completed"}),
        first_completed_at=completions[0] if completions else None, completed_at=completed_at,
        first_reopened_at=reopens[0] if reopens else None, reopen_count=len(reopens),
        return_count=sum(1 for e in ordered if e.action in ("returned", "reassigned")),
        return_visits=len(visits), satisfaction=visits[-1].satisfaction if visits else None,
        merged_into=merges[-1].merged_into if merges else None,
        merged_at=merges[-1].occurred_at if merges else None,
        last_event_at=ordered[-1].occurred_at, events=len(ordered), problem=problem,
    )


def limits(order: Order, categories: Categories, calendars: Calendars, tz: ZoneInfo,
           watermark: datetime) -> list[Limit]:
    """The order's limits judged against the feed's ``watermark``; none once merged."""
    if order.merged_into is not None:
        return []
    category = categories.get(order.category)
    if order.problem is not None or category is None or order.created_at is None:
        why = order.problem or "category_unknown"
        return [Limit(order.order_id, kind, order.category, order.department_id, order.created_at,
                      None, None, "unknown", why) for kind in LIMIT_KINDS]
    done = {"response": order.responded_at, "feedback": order.fed_back_at, "completion": order.completed_at}
    calendar = calendars.of(order.department_id)
    out = []
    for kind, limit in category.limits().items():
        due: datetime | None = None
        reason: str | None = None
        try:
            due = limit.due(order.created_at, calendar, tz)
        except CalendarUnknown:
            reason = "calendar_unknown"
        except (CitybrainError, ValueError, OverflowError) as exc:
            # Anything else about one order's deadline is that order's problem, stored with
            # it; raising would stop the feed (the sink retries a failed batch forever).
            log.warning("work order %s: no %s deadline: %s", order.order_id, kind, exc)
            reason = "limit_error"
        finished = done[kind]
        if due is None:
            outcome = "unknown"
        elif finished is not None:
            outcome = "met" if finished <= due else "breached"
        else:
            outcome = "breached" if watermark > due else "pending"
        out.append(Limit(order.order_id, kind, order.category, order.department_id, order.created_at,
                         due, finished, outcome, reason))
    return out


# --- the fact step ------------------------------------------------------------------------

_TOUCHED = """
SELECT order_id FROM {stage}
UNION SELECT merged_into FROM {stage} WHERE merged_into IS NOT NULL
UNION SELECT order_id FROM work_order_limits WHERE outcome = 'pending' AND due_at < %(watermark)s
"""

_CALLS = """
WITH linked AS (
    SELECT DISTINCT incident_id FROM work_order_incidents WHERE order_id = ANY(%(orders)s)
), counted AS (
    SELECT l.incident_id, o.order_id, o.created_at,
           row_number() OVER (PARTITION BY l.incident_id ORDER BY o.created_at, o.order_id) AS n
      FROM work_order_incidents l JOIN work_orders o USING (order_id)
     WHERE l.incident_id IN (SELECT incident_id FROM linked)
)
INSERT INTO incident_events (incident_id, at, actor, kind, detail)
SELECT c.incident_id, c.created_at, 'system', 'hotline.calls',
       jsonb_build_object('calls', c.n, 'order_id', c.order_id)
  FROM counted c JOIN incidents i USING (incident_id)
 WHERE c.n = %(threshold)s AND i.status IN ('triggered', 'acknowledged')
ON CONFLICT (incident_id) WHERE kind = 'hotline.calls' DO NOTHING
"""


async def refresh(cur: psycopg.AsyncCursor[Any], stage: str, *, categories: Categories,
                  calendars: Calendars, tz: ZoneInfo, calls_threshold: int) -> int:
    """Write again the facts of the orders ``stage`` touched (and of those whose pending
    limit ran out before the watermark); returns how many orders."""
    await cur.execute("SELECT max(occurred_at) FROM hotline_events")
    found = await cur.fetchone()
    watermark: datetime | None = found[0] if found else None
    if watermark is None:
        return 0
    await cur.execute(sql.SQL(_TOUCHED).format(stage=sql.Identifier(stage)), {"watermark": watermark})
    touched = sorted({r[0] for r in await cur.fetchall()})
    await cur.execute(
        sql.SQL("SELECT order_id, {cols} FROM hotline_events WHERE order_id = ANY(%s)"
                " ORDER BY order_id, occurred_at, event_id").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, _EVENT_COLUMNS))), (touched,))
    by_order: dict[str, list[Event]] = {}
    for r in await cur.fetchall():
        by_order.setdefault(r[0], []).append(Event(*r[1:]))
    # The surviving orders whose count of merged orders may change: those the touched ones
    # were merged into, before and after.
    await cur.execute("SELECT DISTINCT merged_into FROM work_orders"
                      " WHERE order_id = ANY(%s) AND merged_into IS NOT NULL", (touched,))
    survivors = {r[0] for r in await cur.fetchall()}
    orders = [fold(order_id, events, categories) for order_id, events in sorted(by_order.items())]
    survivors |= {o.merged_into for o in orders if o.merged_into is not None}
    await cur.execute("DELETE FROM work_orders WHERE order_id = ANY(%s)", (touched,))
    if orders:
        await cur.executemany(_insert("work_orders", ORDER_COLUMNS), [o.row() for o in orders])
        rows = [lim.row() for o in orders for lim in limits(o, categories, calendars, tz, watermark)]
        if rows:
            await cur.executemany(_insert("work_order_limits", LIMIT_COLUMNS), rows)
    await cur.execute(
        "UPDATE work_orders w SET merged_orders ="
        " (SELECT count(*) FROM work_orders m WHERE m.merged_into = w.order_id)"
        " WHERE w.order_id = ANY(%s)", (sorted(survivors | set(touched)),))
    await cur.execute(_CALLS, {"orders": touched, "threshold": calls_threshold})
    return len(orders)


def _insert(table: str, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("INSERT INTO {table} ({cols}) VALUES ({values})").format(
        table=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)))


def deriver(settings: Settings) -> FactDeriver:
    """The hotline fact step with the categories, the calendars and the zone of
    ``settings`` (a file that cannot be used fails here, at start, not per batch)."""
    categories = load_categories(settings.workorder_categories_file)
    calendars = load_calendars(settings.work_calendar_file)
    tz, threshold = settings.tz, settings.hotline_incident_calls

    async def derive(cur: psycopg.AsyncCursor[Any], stage: str) -> None:
        await refresh(cur, stage, categories=categories, calendars=calendars, tz=tz,
                      calls_threshold=threshold)

    return derive

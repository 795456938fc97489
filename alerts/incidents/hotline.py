"""Citizens' 12345 calls about an incident: the work orders linked to it.

An order is linked to an incident when its subject asset is the incident's asset or one of
its affected assets and the order was created while the incident was open (view
``work_order_incidents``, migration 027, computed when read from the stored orders and
incidents; the orders' facts come from ``streams/workorders.py``). Calls never open an
incident nor page anyone; what they change is how visible the incident is: the on-call
list shows "市民来电 N" and puts open incidents with calls first, and the incident page
and the API's incident detail list them (count, categories, the latest few with whether
their limits were met).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg

Connection = psycopg.Connection[Any]
LATEST = 5          # the newest linked orders a page lists one by one


@dataclass(frozen=True)
class LinkedOrder:
    order_id: str
    category: str | None
    department_id: str | None
    state: str
    created_at: datetime | None
    # met | breached | pending | unknown; None when the category has no such limit.
    response: str | None
    completion: str | None


@dataclass(frozen=True)
class Calls:
    count: int
    categories: tuple[tuple[str, int], ...]    # (category, orders), most first
    latest: tuple[LinkedOrder, ...]             # newest first, at most LATEST
    breached: int                               # linked orders with a breached limit

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "categories": dict(self.categories), "breached": self.breached,
                "latest": [{**asdict(o), "created_at": o.created_at.isoformat() if o.created_at else None}
                           for o in self.latest]}


_LINKED = """
SELECT o.order_id, o.category, o.department_id, o.state, o.created_at,
       (SELECT outcome FROM work_order_limits l WHERE l.order_id = o.order_id AND l.kind = 'response'),
       (SELECT outcome FROM work_order_limits l WHERE l.order_id = o.order_id AND l.kind = 'completion'),
       EXISTS (SELECT 1 FROM work_order_limits l WHERE l.order_id = o.order_id AND l.outcome = 'breached')
  FROM work_order_incidents w JOIN work_orders o USING (order_id)
 WHERE w.incident_id = %s
 ORDER BY o.created_at DESC NULLS LAST, o.order_id DESC
"""


def calls(conn: Connection, incident_id: int) -> Calls:
    """The work orders linked to one incident."""
    rows = conn.execute(_LINKED, (incident_id,)).fetchall()
    by_category: dict[str, int] = {}
    for r in rows:
        by_category[r[1] or "(none)"] = by_category.get(r[1] or "(none)", 0) + 1
    return Calls(
        count=len(rows),
        categories=tuple(sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))),
        latest=tuple(LinkedOrder(*r[:7]) for r in rows[:LATEST]),
        breached=sum(1 for r in rows if r[7]),
    )


def counts(conn: Connection, incident_ids: Iterable[int]) -> dict[int, int]:
    """Linked work orders per incident (incidents without any left out)."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    rows = conn.execute("SELECT incident_id, count(*) FROM work_order_incidents"
                        " WHERE incident_id = ANY(%s) GROUP BY incident_id", (ids,)).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}

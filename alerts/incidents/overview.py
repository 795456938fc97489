"""The incidents at a glance: open ones counted, the newest of them, response compliance.

What an operator's overview (the console's ``/console/overview``) reads, as small named
queries over the ``incidents`` table. Every function takes the department it is limited
to (None: the whole city) and the time from its caller.

Response compliance follows the 30-minute mechanism as ``alerts.incidents.sla`` records
its breaches: the clock runs from ``opened_at`` to ``acknowledged_at`` (an ack, or a
person resolving without acking first) against the incident's own ``response_due_at``
(fixed at opening from ``Settings.incident_response_minutes``, 30 minutes by default).
Of the incidents opened in a window, each is

* **met**: responded at or before its deadline;
* **missed**: responded after it, or not responded with the deadline passed while it was
  still unresolved then (what ``sla.record_breaches`` stores as a response breach);
* **pending**: not responded, deadline not yet reached, still unresolved: not judged yet;
* **not due**: resolved by itself before its deadline with nobody responding (an
  auto-resolution leaves nothing to respond to): not judged.

A response or resolution after ``now`` is not known at ``now`` (a page over a past
moment does not change later).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from alerts.incidents import store
from alerts.incidents.lifecycle import OPEN_STATUSES, OPEN_STATUSES_SQL
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current

Connection = psycopg.Connection[Any]


@dataclass(frozen=True)
class OpenCount:
    """Open incidents of one severity and owning department (None: no department)."""

    severity: str
    department_id: str | None
    count: int


def open_counts(conn: Connection, *, department: str | None) -> list[OpenCount]:
    """Open incidents (triggered or acknowledged) per (severity, department)."""
    try:
        rows = conn.execute(
            "SELECT severity, department_id, count(*) FROM incidents"
            f" WHERE status IN {OPEN_STATUSES_SQL}"
            "   AND (%(dept)s::text IS NULL OR department_id = %(dept)s)"
            " GROUP BY 1, 2 ORDER BY 1, 2", {"dept": department}).fetchall()
    except psycopg.Error as exc:
        raise StoreError(_("cannot count incidents: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    return [OpenCount(str(r[0]), r[1], int(r[2])) for r in rows]


def newest_open(conn: Connection, *, department: str | None, limit: int = 5) -> list[store.Incident]:
    """The ``limit`` most recently opened open incidents, newest first."""
    found = [i for status in OPEN_STATUSES
             for i in store.list_incidents(conn, store.Filters(status=status, department_id=department,
                                                               limit=limit))]
    found.sort(key=lambda i: (i.opened_at, i.incident_id), reverse=True)
    return found[:limit]


@dataclass(frozen=True)
class ResponseCompliance:
    """Incidents opened in [start, now) by their response outcome (module docstring)."""

    start: datetime
    now: datetime
    met: int
    missed: int
    pending: int
    not_due: int

    @property
    def opened(self) -> int:
        return self.met + self.missed + self.pending + self.not_due

    @property
    def judged(self) -> int:
        return self.met + self.missed

    @property
    def rate(self) -> float | None:
        """Met / judged in percent; None when nothing can be judged yet (no data, not 0 or 100)."""
        return 100.0 * self.met / self.judged if self.judged else None


_COMPLIANCE = """
WITH known AS (
    SELECT response_due_at AS due,
           CASE WHEN acknowledged_at <= %(now)s THEN acknowledged_at END AS responded,
           CASE WHEN resolved_at <= %(now)s THEN resolved_at END AS resolved
      FROM incidents
     WHERE opened_at >= %(start)s AND opened_at < %(now)s
       AND (%(dept)s::text IS NULL OR department_id = %(dept)s)
), judged AS (
    SELECT CASE WHEN responded IS NOT NULL
                    THEN CASE WHEN responded <= due THEN 'met' ELSE 'missed' END
                WHEN resolved IS NOT NULL AND resolved <= due THEN 'not_due'
                WHEN due <= %(now)s THEN 'missed'
                ELSE 'pending' END AS outcome
      FROM known
)
SELECT count(*) FILTER (WHERE outcome = 'met'), count(*) FILTER (WHERE outcome = 'missed'),
       count(*) FILTER (WHERE outcome = 'pending'), count(*) FILTER (WHERE outcome = 'not_due')
  FROM judged
"""


def response_compliance(conn: Connection, *, start: datetime, now: datetime,
                        department: str | None) -> ResponseCompliance:
    """The response outcomes of the incidents opened in [start, now) (module docstring)."""
    try:
        row = conn.execute(_COMPLIANCE, {"start": start, "now": now, "dept": department}).fetchone()
    except psycopg.Error as exc:
        raise StoreError(_("cannot count incidents: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    assert row is not None
    return ResponseCompliance(start, now, int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def open_incident_of(conn: Connection, asset_ids: Iterable[str]) -> Mapping[str, int]:
    """Per asset, its newest open incident (as the incident's asset or an affected one);
    assets without an open incident are left out."""
    wanted = sorted(set(asset_ids))
    if not wanted:
        return {}
    try:
        rows = conn.execute(
            "SELECT DISTINCT ON (x.asset_id) x.asset_id, x.incident_id FROM ("
            "   SELECT i.asset_id, i.incident_id, i.opened_at FROM incidents i"
            f"   WHERE i.status IN {OPEN_STATUSES_SQL} AND i.asset_id = ANY(%(assets)s)"
            "   UNION ALL"
            "   SELECT a.asset_id, i.incident_id, i.opened_at FROM incident_assets a"
            "   JOIN incidents i ON i.incident_id = a.incident_id"
            f"   WHERE i.status IN {OPEN_STATUSES_SQL} AND a.asset_id = ANY(%(assets)s)"
            " ) x ORDER BY x.asset_id, x.opened_at DESC, x.incident_id DESC", {"assets": wanted}).fetchall()
    except psycopg.Error as exc:
        raise StoreError(_("cannot count incidents: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    return {str(r[0]): int(r[1]) for r in rows}

"""The 30-minute response mechanism: deadlines per incident and breaches as stored facts.

The response clock starts when the platform opens the incident (``opened_at``, the
detection) and stops at the first human response (``acknowledged_at``: an ack, or a
person resolving without acking first). Deadlines are fixed at opening from
``Settings.incident_response_minutes`` (30 for every severity by default) and
``incident_resolution_minutes`` (I 2 h, II 4 h, III 24 h, IV 72 h); a reopened incident
keeps them, since it is the same incident.

A breach is a fact recorded once per (incident, kind) in ``sla_breaches``:
- response: nobody responded by ``response_due_at`` while the incident was still
  unresolved then (an auto-resolution before the deadline leaves nothing to respond to);
- resolution: not resolved by ``resolution_due_at``.
A late response is still a breach; it is recorded when the check runs after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from alerts.model import Severity
from citybrain.kernel.errors import StoreError
from citybrain.kernel.settings import Settings


@dataclass(frozen=True)
class Deadlines:
    response_due_at: datetime
    resolution_due_at: datetime


def deadlines(settings: Settings, severity: Severity, opened_at: datetime) -> Deadlines:
    level = Severity(severity).value
    return Deadlines(
        response_due_at=opened_at + timedelta(minutes=settings.incident_response_minutes[level]),
        resolution_due_at=opened_at + timedelta(minutes=settings.incident_resolution_minutes[level]),
    )


@dataclass(frozen=True)
class Breach:
    incident_id: int
    kind: str            # response | resolution
    department_id: str | None
    severity: Severity
    opened_at: datetime
    due_at: datetime
    breached_at: datetime


# Both kinds in one statement: candidates past their deadline, not yet recorded; the
# primary key (incident_id, kind) and ON CONFLICT make concurrent checkers record once.
_RECORD = """
WITH candidates AS (
    SELECT incident_id, 'response' AS kind, department_id, severity, opened_at,
           response_due_at AS due_at
      FROM incidents
     WHERE response_due_at <= %(now)s
       AND (acknowledged_at IS NULL OR acknowledged_at > response_due_at)
       AND (resolved_at IS NULL OR resolved_at > response_due_at)
       AND (%(incident)s::bigint IS NULL OR incident_id = %(incident)s)
    UNION ALL
    SELECT incident_id, 'resolution', department_id, severity, opened_at, resolution_due_at
      FROM incidents
     WHERE resolution_due_at <= %(now)s
       AND (resolved_at IS NULL OR resolved_at > resolution_due_at)
       AND (%(incident)s::bigint IS NULL OR incident_id = %(incident)s)
), fresh AS (
    INSERT INTO sla_breaches (incident_id, kind, department_id, severity, opened_at, due_at,
                              breached_at)
    SELECT c.incident_id, c.kind, c.department_id, c.severity, c.opened_at, c.due_at, %(now)s
      FROM candidates c
     WHERE %(kinds)s::text[] @> ARRAY[c.kind]
       AND NOT EXISTS (SELECT 1 FROM sla_breaches b
                        WHERE b.incident_id = c.incident_id AND b.kind = c.kind)
    ON CONFLICT (incident_id, kind) DO NOTHING
    RETURNING incident_id, kind, department_id, severity, opened_at, due_at, breached_at
), timeline AS (
    INSERT INTO incident_events (incident_id, at, actor, kind, detail)
    SELECT incident_id, %(now)s, 'system', 'sla.breach',
           jsonb_build_object('breach', kind, 'due_at', due_at)
      FROM fresh
)
SELECT incident_id, kind, department_id, severity, opened_at, due_at, breached_at
  FROM fresh ORDER BY incident_id, kind
"""


def record_breaches(conn: psycopg.Connection[Any], now: datetime, *, incident_id: int | None = None,
                    kinds: tuple[str, ...] = ("response", "resolution")) -> list[Breach]:
    """Store every breach due by ``now`` not stored yet (each once); return the new ones.

    Each new breach also gets an ``sla.breach`` timeline entry on its incident.
    """
    try:
        with conn.transaction():
            rows = conn.execute(_RECORD, {"now": now, "incident": incident_id,
                                          "kinds": list(kinds)}).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"cannot record SLA breaches: {exc}; run `citybrain db migrate`") from exc
    return [Breach(r[0], r[1], r[2], Severity(r[3]), r[4], r[5], r[6]) for r in rows]


def breaches(conn: psycopg.Connection[Any], *, incident_id: int | None = None) -> list[Breach]:
    rows = conn.execute(
        "SELECT incident_id, kind, department_id, severity, opened_at, due_at, breached_at"
        " FROM sla_breaches WHERE %(id)s::bigint IS NULL OR incident_id = %(id)s"
        " ORDER BY incident_id, kind",
        {"id": incident_id},
    ).fetchall()
    return [Breach(r[0], r[1], r[2], Severity(r[3]), r[4], r[5], r[6]) for r in rows]

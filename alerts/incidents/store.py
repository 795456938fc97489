"""The incident store: alerts open, repeat and auto-resolve incidents; people work them.

``apply`` folds one ``Alert`` into the store: the first firing of a fingerprint opens
an incident (one open incident per fingerprint: the unique partial index plus
``INSERT … ON CONFLICT DO NOTHING``, so two workers racing on the same fingerprint open
one and count the other as a repeat); later firings count repeats; a clearing alert
auto-resolves the open incident (actor ``system``). Opening freezes the department's
escalation policy onto the incident and fixes its SLA deadlines.

People act through ``ack``, ``resolve``, ``assign``, ``comment``, ``close`` and
``reopen``: each checks the transition table (``alerts.incidents.lifecycle``), writes a timeline
entry (``incident_events``) and an audit entry (``audit_log``) in the same transaction
as the change. Every function takes ``now`` from its caller.

What a person is told when an action fails (``IncidentError``, the database errors of
listing and reading) is in the current language (``use_language``: the CLI's command,
the API's request). The alerter's own failures are for its log and stay English; so
does what is stored (timeline and audit details).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from alerts.incidents import escalation_policy, lifecycle, sla
from alerts.incidents.lifecycle import OPEN_STATUSES_SQL, IncidentError, IncidentStatus
from alerts.model import Alert, Severity
from citybrain.kernel import audit
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import N_, Catalogue, use_language
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current

Connection = psycopg.Connection[Any]

SYSTEM = audit.Actor(id="system", role=None)
log = logging.getLogger(__name__)


class IncidentNotFound(IncidentError):
    """No incident with that id."""


class IncidentConflict(IncidentError):
    """The action clashes with the incident's state (other than the transition table)."""


class IncidentInputError(IncidentError):
    """The action's input is unusable (an empty note, an empty assignee)."""


def _not_found(incident_id: int) -> IncidentNotFound:
    return IncidentNotFound(_("no incident {number}; list them with `citybrain incidents list`").format(
        number=incident_id))


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Incident:
    incident_id: int
    fingerprint: str
    rule_id: str
    title: str
    severity: Severity
    status: IncidentStatus
    key: str | None
    department_id: str | None
    asset_id: str | None
    source_event_at: datetime | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assigned_to: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    auto_resolved: bool
    closed_at: datetime | None
    reopened_count: int
    repeat_count: int
    last_seen_at: datetime
    response_due_at: datetime
    resolution_due_at: datetime
    escalation_policy: dict[str, Any]
    escalation_step: int
    next_escalation_at: datetime | None
    details: dict[str, Any]
    assets: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = field(default=())

    def as_dict(self, *, with_timeline: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "timeline":
                if with_timeline:
                    out["timeline"] = [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor,
                                        "kind": e.kind, "detail": e.detail} for e in value]
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat()
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value.value if isinstance(value, StrEnum) else value
        return out


_COLUMNS = [f.name for f in fields(Incident) if f.name not in ("assets", "timeline")]
_SELECT = sql.SQL("SELECT {cols}, ARRAY(SELECT asset_id FROM incident_assets a"
                  " WHERE a.incident_id = i.incident_id ORDER BY asset_id) FROM incidents i").format(
    cols=sql.SQL(", ").join(sql.Identifier("i", c) for c in _COLUMNS))


def _incident(row: tuple[Any, ...], timeline: tuple[TimelineEntry, ...] = ()) -> Incident:
    values = dict(zip(_COLUMNS, row[:-1], strict=True))
    values["severity"] = Severity(values["severity"])
    values["status"] = IncidentStatus(values["status"])
    return Incident(**values, assets=tuple(row[-1] or ()), timeline=timeline)


class ChangeKind(StrEnum):
    opened = "opened"
    repeated = "repeated"
    auto_resolved = "auto_resolved"
    unmatched = "unmatched"      # a clearing alert with no open incident: nothing to do


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    incident_id: int | None
    status: IncidentStatus | None
    new_assets: tuple[str, ...] = ()


def _event(conn: Connection, incident_id: int, at: datetime, actor: str, kind: str,
           detail: dict[str, Any]) -> None:
    conn.execute("INSERT INTO incident_events (incident_id, at, actor, kind, detail)"
                 " VALUES (%s, %s, %s, %s, %s)", (incident_id, at, actor, kind, Jsonb(detail)))


def _add_assets(conn: Connection, incident_id: int, assets: list[str]) -> tuple[str, ...]:
    if not assets:
        return ()
    rows = conn.execute(
        "INSERT INTO incident_assets (incident_id, asset_id) SELECT %s, unnest(%s::text[])"
        " ON CONFLICT DO NOTHING RETURNING asset_id", (incident_id, assets)).fetchall()
    return tuple(sorted(r[0] for r in rows))


def apply(conn: Connection, alert: Alert, *, now: datetime, settings: Settings) -> Change:
    """Fold one alert into the store (one transaction); ``now`` is processing time."""
    try:
        with conn.transaction():
            if alert.firing:
                return _fire(conn, alert, now, settings)
            return _clear(conn, alert, now)
    except psycopg.Error as exc:
        raise StoreError(f"cannot store the alert {alert.fingerprint!r}: {exc}; "
                         "check the database and `citybrain db migrate`") from exc


def _repeat(conn: Connection, alert: Alert, now: datetime) -> Change | None:
    row = conn.execute(
        "UPDATE incidents SET repeat_count = repeat_count + 1, last_seen_at = greatest(last_seen_at, %s)"
        " WHERE fingerprint = %s AND status IN " + OPEN_STATUSES_SQL +
        " RETURNING incident_id, status", (now, alert.fingerprint)).fetchone()
    if row is None:
        return None
    added = _add_assets(conn, row[0], _assets_of(alert))
    if added:
        # A repeat is counted, not logged (a condition re-firing every minute would bury
        # the timeline); a storm that grows is worth an entry.
        _event(conn, row[0], now, "system", "assets.added", {"assets": list(added)})
    return Change(ChangeKind.repeated, row[0], IncidentStatus(row[1]), added)


def _assets_of(alert: Alert) -> list[str]:
    found = ([alert.asset_id] if alert.asset_id else []) + list(alert.affected)
    return list(dict.fromkeys(found))


def _fire(conn: Connection, alert: Alert, now: datetime, settings: Settings) -> Change:
    repeated = _repeat(conn, alert, now)
    if repeated is not None:
        return repeated
    department, key = alert.department_id, alert.key
    if alert.asset_id is not None and (department is None or key is None):
        row = conn.execute("SELECT department_id, key FROM assets WHERE asset_id = %s",
                           (alert.asset_id,)).fetchone()
        if row is not None:
            department, key = department or row[0], key or row[1]
    # A refused policy's reason is logged and stored with the incident: in English, as
    # every log line and stored note of the alerter.
    with use_language("en"):
        frozen = escalation_policy.policy_for(conn, department, settings)
    due = sla.deadlines(settings, alert.severity, now)
    row = conn.execute(
        "INSERT INTO incidents (fingerprint, rule_id, title, severity, status, key, department_id,"
        " asset_id, source_event_at, opened_at, last_seen_at, response_due_at, resolution_due_at,"
        " escalation_policy, escalation_step, next_escalation_at, details)"
        " VALUES (%s, %s, %s, %s, 'triggered', %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s)"
        " ON CONFLICT (fingerprint) WHERE status IN " + OPEN_STATUSES_SQL + " DO NOTHING"
        " RETURNING incident_id",
        (alert.fingerprint, alert.rule_id, alert.title, alert.severity.value, key, department,
         alert.asset_id, alert.event_at, now, now, due.response_due_at, due.resolution_due_at,
         Jsonb(frozen.snapshot()), now, Jsonb(alert.details)),
    ).fetchone()
    if row is None:
        # Another worker opened it between our UPDATE and INSERT; it committed (the
        # insert waited for it), so this occurrence is a repeat of that incident.
        again = _repeat(conn, alert, now)
        if again is None:
            raise IncidentConflict(f"fingerprint {alert.fingerprint!r} conflicted but has no open incident")
        return again
    incident_id = int(row[0])
    added = _add_assets(conn, incident_id, _assets_of(alert))
    _event(conn, incident_id, now, "system", "opened", {
        "rule_id": alert.rule_id, "fingerprint": alert.fingerprint, "severity": alert.severity.value,
        "department_id": department, "asset_id": alert.asset_id, "event_at": alert.event_at.isoformat(),
        "assets": len(added), "policy": frozen.source,
        "response_due_at": due.response_due_at.isoformat(),
        "resolution_due_at": due.resolution_due_at.isoformat(),
    })
    if frozen.refused is not None:
        # The department's own ladder cannot run; the incident still pages, by the default one.
        detail = {"warning": f"{frozen.refused}; the default policy was frozen instead",
                  "department_id": department}
        _event(conn, incident_id, now, SYSTEM.id, "escalation.warning", detail)
        audit.record(conn, SYSTEM, "incident.policy_refused", str(incident_id), detail, at=now)
        log.error("incident %s: %s", incident_id, detail["warning"])
    return Change(ChangeKind.opened, incident_id, IncidentStatus.triggered, added)


def _clear(conn: Connection, alert: Alert, now: datetime) -> Change:
    row = conn.execute(_SELECT + sql.SQL(" WHERE fingerprint = %s AND status IN " + OPEN_STATUSES_SQL +
                                         " FOR UPDATE"), (alert.fingerprint,)).fetchone()
    if row is None:
        return Change(ChangeKind.unmatched, None, None)
    incident = _incident(row)
    lifecycle.check(incident.status, IncidentStatus.resolved, incident_id=incident.incident_id,
                    action="auto-resolve")
    conn.execute(
        "UPDATE incidents SET status = 'resolved', resolved_at = %s, resolved_by = 'system',"
        " auto_resolved = true, next_escalation_at = NULL, last_seen_at = greatest(last_seen_at, %s)"
        " WHERE incident_id = %s", (now, now, incident.incident_id))
    detail = {"from": incident.status.value, "to": "resolved", "auto": True,
              "event_at": alert.event_at.isoformat(), "rule_id": alert.rule_id}
    _event(conn, incident.incident_id, now, SYSTEM.id, "resolved", detail)
    audit.record(conn, SYSTEM, "incident.auto_resolve", str(incident.incident_id), detail, at=now)
    return Change(ChangeKind.auto_resolved, incident.incident_id, IncidentStatus.resolved)


# --- people's actions -------------------------------------------------------------------

def _lock(conn: Connection, incident_id: int) -> Incident:
    row = conn.execute(_SELECT + sql.SQL(" WHERE i.incident_id = %s FOR UPDATE OF i"),
                       (incident_id,)).fetchone()
    if row is None:
        raise _not_found(incident_id)
    return _incident(row)


def _act(conn: Connection, incident_id: int, actor: audit.Actor, now: datetime, *, action: str,
         kind: str, target: IncidentStatus | None,
         sets: dict[str, Any] | Callable[[Incident], dict[str, Any]], detail: dict[str, Any],
         precheck: Callable[[Incident], None] | None = None) -> Incident:
    try:
        with conn.transaction():
            current = _lock(conn, incident_id)
            if target is not None:
                lifecycle.check(current.status, target, incident_id=incident_id, action=action)
                detail = {"from": current.status.value, "to": target.value, **detail}
            if precheck is not None:
                precheck(current)
            changes = dict(sets(current) if callable(sets) else sets)
            if changes:
                conn.execute(
                    sql.SQL("UPDATE incidents SET {} WHERE incident_id = %(_id)s").format(
                        sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c))
                                           for c in changes)),
                    {**changes, "_id": incident_id})
            _event(conn, incident_id, now, actor.id, kind, detail)
            audit.record(conn, actor, f"incident.{action}", str(incident_id), detail, at=now)
    except psycopg.errors.UniqueViolation as exc:
        raise IncidentConflict(_(
            "incident {number} cannot be reopened: another incident with its fingerprint is open;"
            " work on that one").format(number=incident_id)) from exc
    except psycopg.Error as exc:
        raise StoreError(_("cannot {action} incident {number}: {error}").format(
            action=lifecycle.action_text(action), number=incident_id, error=exc)) from exc
    return show(conn, incident_id)


def _text(value: str | None, empty: str) -> str:
    """``value`` stripped; ``empty`` (marked N_) says what is missing when there is nothing."""
    text = (value or "").strip()
    if not text:
        raise IncidentInputError(_(empty))
    return text


def ack(conn: Connection, incident_id: int, actor: audit.Actor, *, now: datetime,
        note: str | None = None) -> Incident:
    """Acknowledge: the first human response (stops the response clock and the escalation)."""
    def sets(current: Incident) -> dict[str, Any]:
        # A reopened incident keeps its first response: the SLA measures the first one.
        return {"status": "acknowledged", "acknowledged_at": current.acknowledged_at or now,
                "acknowledged_by": current.acknowledged_by or actor.id, "next_escalation_at": None}
    detail = {"note": note.strip()} if note and note.strip() else {}
    return _act(conn, incident_id, actor, now, action="ack", kind="acknowledged",
                target=IncidentStatus.acknowledged, sets=sets, detail=detail)


def resolve(conn: Connection, incident_id: int, actor: audit.Actor, note: str, *, now: datetime) -> Incident:
    """Resolve with a note; resolving without an ack counts as the first response (a person did it)."""
    text = _text(note, N_("a resolution note must not be empty"))

    def sets(current: Incident) -> dict[str, Any]:
        return {"status": "resolved", "resolved_at": now, "resolved_by": actor.id, "auto_resolved": False,
                "next_escalation_at": None, "acknowledged_at": current.acknowledged_at or now,
                "acknowledged_by": current.acknowledged_by or actor.id}
    return _act(conn, incident_id, actor, now, action="resolve", kind="resolved",
                target=IncidentStatus.resolved, sets=sets, detail={"note": text})


def _must_be_open(current: Incident) -> None:
    if not current.status.is_open:
        raise IncidentConflict(_(
            "incident {number} is {status}; only an open incident (awaiting response or acknowledged) can"
            " be assigned (reopen it first)").format(number=current.incident_id,
                                                      status=lifecycle.status_text(current.status)))


def assign(conn: Connection, incident_id: int, actor: audit.Actor, assignee: str, *,
           now: datetime) -> Incident:
    who = _text(assignee, N_("the assignee must not be empty"))
    return _act(conn, incident_id, actor, now, action="assign", kind="assigned", target=None,
                sets={"assigned_to": who}, detail={"assignee": who}, precheck=_must_be_open)


def comment(conn: Connection, incident_id: int, actor: audit.Actor, text: str, *, now: datetime) -> Incident:
    body = _text(text, N_("a comment must not be empty"))
    return _act(conn, incident_id, actor, now, action="comment", kind="comment", target=None,
                sets={}, detail={"text": body})


def close(conn: Connection, incident_id: int, actor: audit.Actor, *, now: datetime,
          note: str | None = None) -> Incident:
    detail = {"note": note.strip()} if note and note.strip() else {}
    return _act(conn, incident_id, actor, now, action="close", kind="closed", target=IncidentStatus.closed,
                sets={"status": "closed", "closed_at": now}, detail=detail)


def reopen(conn: Connection, incident_id: int, actor: audit.Actor, *, now: datetime,
           note: str | None = None) -> Incident:
    """Back to triggered (counted); the frozen ladder starts again from its first step."""
    detail = {"note": note.strip()} if note and note.strip() else {}
    return _act(conn, incident_id, actor, now, action="reopen", kind="reopened",
                target=IncidentStatus.triggered, detail=detail,
                sets=lambda cur: {"status": "triggered", "reopened_count": cur.reopened_count + 1,
                                  "resolved_at": None, "resolved_by": None, "auto_resolved": False,
                                  "escalation_step": 0, "next_escalation_at": now})


# --- reading ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    status: IncidentStatus | None = None
    severity: Severity | None = None
    department_id: str | None = None
    asset_id: str | None = None
    opened_from: datetime | None = None     # opened_at >= from
    opened_to: datetime | None = None       # opened_at < to
    limit: int = 100


def list_incidents(conn: Connection, filters: Filters = Filters()) -> list[Incident]:
    """Newest first; ``asset_id`` matches the incident's asset or any affected asset."""
    query = _SELECT + sql.SQL(
        " WHERE (%(status)s::text IS NULL OR i.status = %(status)s)"
        " AND (%(severity)s::text IS NULL OR i.severity = %(severity)s)"
        " AND (%(dept)s::text IS NULL OR i.department_id = %(dept)s)"
        " AND (%(asset)s::text IS NULL OR i.asset_id = %(asset)s OR EXISTS (SELECT 1 FROM incident_assets x"
        "      WHERE x.incident_id = i.incident_id AND x.asset_id = %(asset)s))"
        " AND (%(from)s::timestamptz IS NULL OR i.opened_at >= %(from)s)"
        " AND (%(to)s::timestamptz IS NULL OR i.opened_at < %(to)s)"
        " ORDER BY i.opened_at DESC, i.incident_id DESC LIMIT %(limit)s")
    params = {"status": filters.status.value if filters.status else None,
              "severity": filters.severity.value if filters.severity else None,
              "dept": filters.department_id, "asset": filters.asset_id,
              "from": filters.opened_from, "to": filters.opened_to, "limit": filters.limit}
    try:
        rows = conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        raise StoreError(_("cannot list incidents: {error}; run `citybrain db migrate`").format(
            error=exc)) from exc
    return [_incident(r) for r in rows]


def timeline(conn: Connection, incident_id: int) -> tuple[TimelineEntry, ...]:
    rows = conn.execute("SELECT id, at, actor, kind, detail FROM incident_events"
                        " WHERE incident_id = %s ORDER BY at, id", (incident_id,)).fetchall()
    return tuple(TimelineEntry(*r) for r in rows)


def show(conn: Connection, incident_id: int) -> Incident:
    """One incident with its affected assets and its timeline."""
    try:
        row = conn.execute(_SELECT + sql.SQL(" WHERE i.incident_id = %s"), (incident_id,)).fetchone()
        if row is None:
            raise _not_found(incident_id)
        return _incident(row, timeline(conn, incident_id))
    except psycopg.Error as exc:
        raise StoreError(_("cannot read incident {number}: {error}").format(number=incident_id,
                                                                           error=exc)) from exc

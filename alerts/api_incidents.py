"""The on-call API: incidents (list, show, ack, resolve, assign, comment, close, reopen)
and the departments' escalation policies. Mounted under ``/api/v1``.

Who may do what: every role reads (a department-limited token reads its department
only); ``oncall`` acts on its own department's incidents only, ``operator`` on all
(unless its token is limited to a department), ``evaluator`` never acts, ``admin``
does everything and alone replaces escalation policies. Errors: unknown incident 404,
an action the incident's status does not allow 409 (the message names from, to and
what is allowed), unusable input 422.

There is no GET acknowledge link: acknowledging changes state, so it is a POST with a
token, like every other action (notifications carry the POST address and the CLI command).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field

from alerts import escalation_policy, incidents
from alerts.incidents import IncidentConflict, IncidentInputError, IncidentNotFound
from alerts.lifecycle import IllegalTransition, IncidentError, IncidentStatus
from alerts.model import Severity
from citybrain.api.deps import ANY_ROLE, Connection, Principal, connection, require, scoped_department
from citybrain.api.deps import settings as settings_dep
from citybrain.api.tokens import Role
from citybrain.settings import Settings

router = APIRouter(tags=["incidents"])

Conn = Annotated[Connection, Depends(connection)]
Reader = Annotated[Principal, Depends(require(*ANY_ROLE))]
Actor = Annotated[Principal, Depends(require(Role.oncall, Role.operator))]
Admin = Annotated[Principal, Depends(require())]


def clock(request: Request) -> datetime:
    """Processing time for an action: the app's clock (tests freeze it), else the wall clock."""
    frozen: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return frozen() if frozen is not None else datetime.now(UTC)


Now = Annotated[datetime, Depends(clock)]


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=4000)


class Resolution(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="what was done; required")


class Assignment(BaseModel):
    assignee: str = Field(min_length=1, max_length=200)


class Comment(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


def _http(exc: IncidentError) -> HTTPException:
    if isinstance(exc, IncidentNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, IllegalTransition | IncidentConflict):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    if isinstance(exc, IncidentInputError):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


def _visible(conn: Connection, who: Principal, incident_id: int) -> incidents.Incident:
    try:
        found = incidents.show(conn, incident_id)
    except IncidentError as exc:
        raise _http(exc) from exc
    if not who.may_see(found.department_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"this token is limited to department {who.department!r}; "
                            f"incident {incident_id} belongs to {found.department_id!r}")
    return found


def _may_act(conn: Connection, who: Principal, incident_id: int) -> None:
    found = _visible(conn, who, incident_id)
    if who.role is Role.oncall and (who.department is None or found.department_id != who.department):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"an oncall token acts only on its own department's incidents; incident {incident_id} belongs "
            f"to {found.department_id!r}, this token to {who.department or 'no department'!r}")


def _act(conn: Connection, who: Principal, incident_id: int,
         action: Callable[[], incidents.Incident]) -> dict[str, Any]:
    _may_act(conn, who, incident_id)
    try:
        return action().as_dict()
    except IncidentError as exc:
        raise _http(exc) from exc


@router.get("/incidents", summary="Incidents, newest first")
def list_incidents(
    who: Reader, conn: Conn,
    status_: Annotated[IncidentStatus | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    department: str | None = None,
    asset: Annotated[str | None, Query(description="the incident's asset or any affected asset")] = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from", description="opened at or after")] = None,
    to: Annotated[AwareDatetime | None, Query(description="opened before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    filters = incidents.Filters(status=status_, severity=severity,
                                department_id=scoped_department(who, department), asset_id=asset,
                                opened_from=from_, opened_to=to, limit=limit)
    found = incidents.list_incidents(conn, filters)
    return {"incidents": [i.as_dict(with_timeline=False) for i in found], "count": len(found)}


@router.get("/incidents/{incident_id}", summary="One incident with its assets and timeline")
def show_incident(incident_id: int, who: Reader, conn: Conn) -> dict[str, Any]:
    return _visible(conn, who, incident_id).as_dict()


@router.post("/incidents/{incident_id}/ack", summary="Acknowledge (the first response; stops escalation)")
def ack(incident_id: int, who: Actor, conn: Conn, now: Now, body: Note | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return _act(conn, who, incident_id,
                lambda: incidents.ack(conn, incident_id, who.actor, now=now, note=note))


@router.post("/incidents/{incident_id}/resolve", summary="Resolve with a note")
def resolve(incident_id: int, body: Resolution, who: Actor, conn: Conn, now: Now) -> dict[str, Any]:
    return _act(conn, who, incident_id,
                lambda: incidents.resolve(conn, incident_id, who.actor, body.note, now=now))


@router.post("/incidents/{incident_id}/assign", summary="Assign to a person")
def assign(incident_id: int, body: Assignment, who: Actor, conn: Conn, now: Now) -> dict[str, Any]:
    return _act(conn, who, incident_id,
                lambda: incidents.assign(conn, incident_id, who.actor, body.assignee, now=now))


@router.post("/incidents/{incident_id}/comment", summary="Add a comment to the timeline")
def comment(incident_id: int, body: Comment, who: Actor, conn: Conn, now: Now) -> dict[str, Any]:
    return _act(conn, who, incident_id,
                lambda: incidents.comment(conn, incident_id, who.actor, body.text, now=now))


@router.post("/incidents/{incident_id}/close", summary="Close a resolved incident")
def close(incident_id: int, who: Actor, conn: Conn, now: Now, body: Note | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return _act(conn, who, incident_id,
                lambda: incidents.close(conn, incident_id, who.actor, now=now, note=note))


@router.post("/incidents/{incident_id}/reopen", summary="Reopen a resolved incident (escalation restarts)")
def reopen(incident_id: int, who: Actor, conn: Conn, now: Now, body: Note | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return _act(conn, who, incident_id,
                lambda: incidents.reopen(conn, incident_id, who.actor, now=now, note=note))


@router.get("/escalation-policies/{department_id}",
            summary="The policy a new incident of this department would freeze")
def get_policy(department_id: str, who: Reader, conn: Conn,
               settings: Annotated[Settings, Depends(settings_dep)]) -> dict[str, Any]:
    scoped_department(who, department_id)
    try:
        return escalation_policy.policy_for(conn, department_id, settings).snapshot()
    except escalation_policy.PolicyError as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from exc


@router.put("/escalation-policies/{department_id}", summary="Replace a department's policy (admin)")
def put_policy(department_id: str, body: dict[str, Any], who: Admin, conn: Conn, now: Now) -> dict[str, Any]:
    try:
        policy = escalation_policy.parse_policy(body)
        escalation_policy.replace_policy(conn, department_id, policy, who.actor, now=now)
    except escalation_policy.PolicyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return {"source": "database", **policy.model_dump(mode="json")}


@router.delete("/escalation-policies/{department_id}",
               summary="Drop a stored policy (back to the YAML file or the default)")
def delete_policy(department_id: str, who: Admin, conn: Conn, now: Now) -> dict[str, Any]:
    if not escalation_policy.remove_policy(conn, department_id, who.actor, now=now):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no stored policy for {department_id!r}")
    return {"removed": department_id}

"""The on-call pages: my incidents and my departments' open ones, an incident's page, and
its actions (acknowledge, assign, comment, resolve, close, reopen).

The same rules and functions as the API (``alerts.incidents.api``): the access table
admits the session (``access.CONSOLE_INCIDENTS``, the API's grants), ``within`` keeps an
on-call person to their own department's incidents, and every action is the store's own
(``alerts.incidents.store``), which writes the timeline entry and the audit entry in the
same transaction, under the person's actor (``token:<id>``, ``code:<name>``,
``link:<name>``). An action the status does not allow shows the page again with the
store's reason (409); a done action goes back to the page saying so (303, ``?done=``),
so a reload never repeats it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import Response

from alerts.incidents import store as incidents
from alerts.incidents.lifecycle import OPEN_STATUSES, IncidentError, IncidentStatus
from alerts.incidents.store import IncidentInputError, IncidentNotFound
from alerts.model import Severity
from alerts.notifiers.message import MESSAGES as ALERTS
from alerts.notifiers.message import severity_label, status_label
from citybrain.console import incident_view
from citybrain.console.auth import ConsoleError, Viewer, redirect
from citybrain.console.pages import PREFIX, language_of_request, render, settings_of
from citybrain.kernel import audit
from citybrain.kernel.http.access import admit, rule_for, scoped_department, sees_contacts, within
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal
from citybrain.kernel.i18n import Catalogue, Language, use_language
from schemas.names import localized

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

LIMIT = 200              # rows of the department list
MINE = 50                # rows of "my incidents"
MAX_NOTE = 4000          # as the API's notes and comments
MAX_ASSIGNEE = 200
_STATUSES: dict[str, tuple[IncidentStatus, ...]] = {
    "open": OPEN_STATUSES, "all": tuple(IncidentStatus), **{s.value: (s,) for s in IncidentStatus}}
_MINE = (IncidentStatus.triggered, IncidentStatus.acknowledged, IncidentStatus.resolved)

Text = Annotated[str, Form()]     # bounded by the request guard; lengths are checked below


def _number(incident_id: str) -> int:
    if not incident_id.isdigit() or len(incident_id) > 15:
        raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no incident #{number}.").format(
            number=incident_id[:20]))
    return int(incident_id)


def _refused(exc: HTTPException) -> ConsoleError:
    return ConsoleError(exc.status_code, str(exc.detail))


def _visible(conn: Connection, who: Principal, incident_id: str) -> incidents.Incident:
    number = _number(incident_id)
    try:
        found = incidents.show(conn, number)
    except IncidentNotFound:
        raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no incident #{number}.").format(
            number=number)) from None
    if not who.may_see(found.department_id):
        raise ConsoleError(status.HTTP_403_FORBIDDEN, _(
            "Incident #{number} belongs to another department; you see your department's incidents "
            "only.").format(number=number))
    return found


def may_act(who: Principal, department: str | None) -> bool:
    """Whether this person may act on an incident of ``department`` (the actions' row)."""
    try:
        within(admit(who, rule_for("POST", f"{PREFIX}/incidents/{{incident_id}}/ack")), department)
    except HTTPException:
        return False
    return True


# --- the list ---------------------------------------------------------------------------

def _departments(conn: Connection, language: Language) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT department_id, name, name_zh FROM departments"
                        " ORDER BY department_id").fetchall()
    return [(i, localized(n, z, language, i)) for i, n, z in rows]


@router.get(PREFIX + "/incidents")
def list_page(request: Request, session: Viewer, conn: Conn, now: Now, severity: str = "",
              department: str = "") -> Response:
    """My incidents (assigned to me, acknowledged by me) and the department's, newest first.
    Filters are checked here, so a bad value is a page saying so (not the API's JSON)."""
    who = session.principal
    language = language_of_request(request)
    status_ = request.query_params.get("status", "open") or "open"
    with use_language(language):
        statuses = _STATUSES.get(status_)
        if statuses is None:
            raise ConsoleError(status.HTTP_422_UNPROCESSABLE_CONTENT, _(
                "Unknown status {value}: choose one from the list.").format(value=repr(status_[:40])))
        if severity and severity not in {s.value for s in Severity}:
            raise ConsoleError(status.HTTP_422_UNPROCESSABLE_CONTENT, _(
                "Unknown severity {value}: choose one from the list.").format(value=repr(severity[:40])))
        known = _departments(conn, language)
        if department and department not in {i for i, _name in known}:
            raise ConsoleError(status.HTTP_422_UNPROCESSABLE_CONTENT, _(
                "Unknown department {value}: choose one from the list.").format(value=repr(department[:40])))
        try:
            scope = scoped_department(who, department or None)
        except HTTPException as exc:
            raise _refused(exc) from None
    found = incident_view.rows(conn, statuses=statuses, severity=severity or None, department=scope,
                               limit=LIMIT + 1)
    mine = incident_view.rows(conn, statuses=_MINE, severity=None, department=who.department, limit=MINE,
                              mine=(who.person or "", who.actor.id))
    a = ALERTS.translator(language)
    return render(request, "incidents.html", {
        "mine": incident_view.listed(conn, language, mine, now),
        "listed": incident_view.listed(conn, language, found[:LIMIT], now),
        "truncated": len(found) > LIMIT, "limit": LIMIT,
        "status": status_, "severity": severity, "department": department,
        "statuses": [(s.value, status_label(a, s.value)) for s in IncidentStatus],
        "severities": [(s.value, severity_label(a, s)) for s in Severity],
        "departments": known if who.department is None else [],
        "own_department": next((name for i, name in known if i == who.department), who.department),
    })


# --- one incident -----------------------------------------------------------------------

def _page(request: Request, conn: Connection, who: Principal, found: incidents.Incident, now: Any, *,
          problem: str | None = None, status_code: int = 200, done: str | None = None,
          form: dict[str, str] | None = None) -> Response:
    language = language_of_request(request)
    view = incident_view.page(conn, language, found, now, contacts=sees_contacts(who, found.department_id),
                              settings=settings_of(request))
    return render(request, "incident.html", {
        "view": view, "found": found, "may_act": may_act(who, found.department_id),
        "done": done if done in incident_view.ACTIONS else None, "problem": problem, "form": form or {},
        "max_note": MAX_NOTE, "max_assignee": MAX_ASSIGNEE,
    }, status_code=status_code)


@router.get(PREFIX + "/incidents/{incident_id}")
def incident_page(request: Request, incident_id: str, session: Viewer, conn: Conn, now: Now) -> Response:
    with use_language(language_of_request(request)):
        found = _visible(conn, session.principal, incident_id)
    return _page(request, conn, session.principal, found, now, done=request.query_params.get("done"))


Action = Callable[[int, audit.Actor], incidents.Incident]


def _act(request: Request, session: Any, conn: Connection, now: Any, incident_id: str, action: str,
         run: Action, form: dict[str, str]) -> Response:
    """As the API's ``_act``: visible, within reach, then the store's function; its
    refusal is the page again, with the reason and what was typed."""
    who: Principal = session.principal
    with use_language(language_of_request(request)):
        found = _visible(conn, who, incident_id)
        try:
            within(who, found.department_id, _("incident #{number}").format(number=found.incident_id))
        except HTTPException as exc:
            raise _refused(exc) from None
        too_long = next((k for k, v in form.items() if len(v) > _most(k)), None)
        try:
            if too_long is not None:
                raise IncidentInputError(_("Keep it under {count} characters.").format(count=_most(too_long)))
            run(found.incident_id, who.actor)
        except IncidentNotFound:
            raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no incident #{number}.").format(
                number=found.incident_id)) from None
        except IncidentInputError as exc:
            return _page(request, conn, who, found, now, problem=str(exc), form=form,
                         status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        except IncidentError as exc:
            current = incidents.show(conn, found.incident_id)
            return _page(request, conn, who, current, now, problem=str(exc), form=form,
                         status_code=status.HTTP_409_CONFLICT)
    return redirect(f"{PREFIX}/incidents/{found.incident_id}?done={action}")


def _most(field: str) -> int:
    return MAX_ASSIGNEE if field == "assignee" else MAX_NOTE


def _note(text: str) -> str | None:
    return text.strip() or None


@router.post(PREFIX + "/incidents/{incident_id}/ack")
def ack(request: Request, incident_id: str, session: Viewer, conn: Conn, now: Now,
        note: Text = "") -> Response:
    return _act(request, session, conn, now, incident_id, "ack",
                lambda number, actor: incidents.ack(conn, number, actor, now=now, note=_note(note)),
                {"ack_note": note})


@router.post(PREFIX + "/incidents/{incident_id}/assign")
def assign(request: Request, incident_id: str, session: Viewer, conn: Conn, now: Now,
           assignee: Text = "", other: Text = "") -> Response:
    # The roster's choice, or a name typed in (someone not on the roster).
    chosen = other.strip() or assignee.strip()
    return _act(request, session, conn, now, incident_id, "assign",
                lambda number, actor: incidents.assign(conn, number, actor, chosen, now=now),
                {"assignee": chosen})


@router.post(PREFIX + "/incidents/{incident_id}/comment")
def comment(request: Request, incident_id: str, session: Viewer, conn: Conn, now: Now,
            text: Text = "") -> Response:
    return _act(request, session, conn, now, incident_id, "comment",
                lambda number, actor: incidents.comment(conn, number, actor, text, now=now), {"text": text})


@router.post(PREFIX + "/incidents/{incident_id}/resolve")
def resolve(request: Request, incident_id: str, session: Viewer, conn: Conn, now: Now,
            note: Text = "") -> Response:
    return _act(request, session, conn, now, incident_id, "resolve",
                lambda number, actor: incidents.resolve(conn, number, actor, note, now=now),
                {"resolve_note": note})


@router.post(PREFIX + "/incidents/{incident_id}/close")
def close(request: Request, incident_id: str, session: Viewer, conn: Conn, now: Now,
          note: Text = "") -> Response:
    return _act(request, session, conn, now, incident_id, "close",
                lambda number, actor: incidents.close(conn, number, actor, now=now, note=_note(note)),
                {"close_note": note})


@router.post(PREFIX + "/incidents/{incident_id}/reopen")
def reopen(request: Request, incident_id: str, session: Viewer, conn: Conn, now: Now,
           note: Text = "") -> Response:
    return _act(request, session, conn, now, incident_id, "reopen",
                lambda number, actor: incidents.reopen(conn, number, actor, now=now, note=_note(note)),
                {"reopen_note": note})

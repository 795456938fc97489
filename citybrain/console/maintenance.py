"""Maintenance windows and silences in the console (``/console/maintenance``).

* ``GET``: the windows running now, those to come and those that have ended (not
  removed), each with its target by name, its times in the city's local time, its reason,
  who added it and, for a window an admin approved as retroactive, who approved it,
  when and why — what the API's ``GET /api/v1/maintenance`` lists. Every role reads
  them (they explain maintenance-adjusted figures).
* ``POST``: add a window or a silence (``kind``): scope and target, local start and end,
  an optional RFC 5545 recurrence rule with its last start, the reason. The same checks
  as the API's ``add_window``: ``alerts.maintenance.windows.make_spec`` validates every
  field at once, ``alerts.maintenance.api.authorise`` keeps on-call staff to asset and
  department windows of their own department (and a department-limited session to its
  department), ``windows.create`` stores it with its audit entry. Only an admin may let
  a window's declared past count (a retroactive reason).
* ``POST /{id}/delete``: remove a window as the API's ``remove_window`` does (past
  periods stay on record, future ones go), audited by ``windows.remove``.

A form the domain refuses comes back with every problem named by its field and the
values typed kept (422); a refusal of who may do it is a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import Response

from alerts.maintenance import windows as maintenance
from alerts.maintenance.api import authorise
from alerts.maintenance.cli import KIND_LABELS, SCOPE_LABELS
from citybrain.console.auth import MAX_FIELD, ConsoleError, Viewer, redirect
from citybrain.console.pages import PREFIX, language_of_request, render, settings_of
from citybrain.kernel import audit
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal, Reach
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import N_, Catalogue, Language, Translator, use_language
from schemas.names import Names, load_names

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

PAGE = PREFIX + "/maintenance"
ENDED_SHOWN = 50
Field = Annotated[str, Form(max_length=MAX_FIELD)]

# The form's fields by the names the domain's problems use (the API's field names).
FIELD_LABELS: Mapping[str, str] = {
    "kind": N_("Kind"), "scope": N_("Scope"), "target": N_("Target"), "starts_at": N_("Starts"),
    "ends_at": N_("Ends"), "recurrence": N_("Repeats (RRULE)"), "until": N_("Last start"),
    "timezone": N_("Time zone"), "reason": N_("Reason"),
    "retroactive_reason": N_("Count its past too, because"),
    "window_id": N_("Window"),
}


FORM_FIELDS = ("kind", "scope", "target", "starts_at", "ends_at", "recurrence", "until", "reason",
               "retroactive_reason")


@dataclass(frozen=True)
class Row:
    """One window as the page shows it."""

    window: maintenance.MaintenanceWindow
    kind: str
    scope: str
    target: str
    removable: bool



def target_text(names: Names, w: maintenance.MaintenanceWindow) -> str:
    """'1号水泵 (pump-1)': a registry target by its name, with the id one acts on."""
    if not w.target:
        return ""
    lookup: Mapping[str, Callable[[str | None], str | None]] = {
        "asset": names.asset, "department": names.department, "district": names.district}
    name = lookup[w.scope](w.target) if w.scope in lookup else None
    return w.target if not name or name == w.target else f"{name} ({w.target})"


def may_change(conn: Connection, who: Principal, scope: str, target: str | None) -> bool:
    """Whether ``who`` may add or remove a window of this scope (``authorise``'s rule)."""
    if who.role is Role.evaluator:
        return False
    try:
        authorise(conn, _as_editor(who), scope, target)
    except HTTPException:
        return False
    return True


def _as_editor(who: Principal) -> Principal:
    """The reach the write routes give this role (the page itself is read with ``scoped``)."""
    return replace(who, reach=Reach.own if who.role is Role.oncall else Reach.scoped)


def _rows(conn: Connection, who: Principal, windows: Sequence[maintenance.MaintenanceWindow],
          names: Names, t: Translator) -> list[Row]:
    def label(labels: Mapping[str, str], value: str) -> str:
        found = labels.get(value)
        return t.gettext(found) if found else value

    # An ended window has nothing left to remove (its periods stay on record either way).
    return [Row(w, label(KIND_LABELS, w.kind), label(SCOPE_LABELS, w.scope), target_text(names, w),
                w.next_start is not None and may_change(conn, who, w.scope, w.target)) for w in windows]


def _page(request: Request, conn: Connection, who: Principal, now: datetime, *,
          form: Mapping[str, str] | None = None, problems: Sequence[tuple[str, str]] = (),
          done: str | None = None, status_code: int = 200) -> Response:
    language: Language = language_of_request(request)
    windows = maintenance.listing(conn, now=now)
    names = load_names(conn, language, [w.target for w in windows if w.scope == "asset" and w.target])
    t = maintenance.MESSAGES.translator(language)
    current = [w for w in windows if w.next_start is not None and w.next_start <= now]
    upcoming = sorted((w for w in windows if w.next_start is not None and w.next_start > now),
                      key=lambda w: (w.next_start or now, w.window_id))
    ended = sorted((w for w in windows if w.next_start is None),
                   key=lambda w: (w.ends_at, w.window_id), reverse=True)
    writer = who.role is not Role.evaluator and not (who.role is Role.oncall and who.department is None)
    # On-call staff and department-limited sessions: asset and department windows only.
    any_scope = who.role is not Role.oncall and who.department is None
    scopes = [s for s in maintenance.SCOPES if writer and (any_scope or s in ("asset", "department"))]
    mine = MESSAGES.translator(language)
    return render(request, "maintenance.html", {
        "current": _rows(conn, who, current, names, t),
        "upcoming": _rows(conn, who, upcoming, names, t),
        "ended": _rows(conn, who, ended[:ENDED_SHOWN], names, t),
        "ended_total": len(ended),
        # Who added or approved a window, as a person reads it (the token's holder's name).
        "people": audit.people(conn, [a for w in windows for a in (w.created_by, w.retroactive_by)]),
        "writer": writer,
        "admin": who.role is Role.admin,
        "kinds": [(k, t.gettext(KIND_LABELS[k])) for k in maintenance.KINDS],
        "scopes": [(s, t.gettext(SCOPE_LABELS[s])) for s in scopes],
        "form": {**dict.fromkeys(FORM_FIELDS, ""), "kind": "maintenance", **_default_target(who),
                 **(form or {})},
        "problems": [(mine.gettext(FIELD_LABELS[f]) if f in FIELD_LABELS else f, m) for f, m in problems],
        "done": done,
        "now": now,
    }, status_code=status_code)


def _default_target(who: Principal) -> dict[str, str]:
    """A department's own staff most often plan work on their department or its assets;
    nobody gets a city-wide window by default."""
    if who.department is not None:
        return {"scope": "department", "target": who.department}
    return {"scope": "asset", "target": ""}


@router.get(PAGE)
def windows_page(request: Request, session: Viewer, conn: Conn, now: Now,
                 added: int | None = None, removed: int | None = None) -> Response:
    done = None
    if added is not None:
        done = _("Window {number} was added.").format(number=added)
    elif removed is not None:
        done = _("Window {number} was removed.").format(number=removed)
    return _page(request, conn, session.principal, now, done=done)


def _blank(value: str) -> str | None:
    return value.strip() or None


@router.post(PAGE)
def add_window(request: Request, session: Viewer, conn: Conn, now: Now, kind: Field = "maintenance",
               scope: Field = "", target: Field = "", starts_at: Field = "", ends_at: Field = "",
               recurrence: Field = "", until: Field = "", reason: Field = "",
               retroactive_reason: Field = "") -> Response:
    """Add a window or a silence through the API's checks (module docstring)."""
    who = session.principal
    settings = settings_of(request)
    typed = {"kind": kind, "scope": scope, "target": target, "starts_at": starts_at, "ends_at": ends_at,
             "recurrence": recurrence, "until": until, "reason": reason,
             "retroactive_reason": retroactive_reason}
    past = _blank(retroactive_reason)
    with use_language(language_of_request(request)):
        if past is not None and who.role is not Role.admin:
            raise ConsoleError(status.HTTP_403_FORBIDDEN, _(
                "Only an admin may let a window count time before it was added."))
        try:
            spec = maintenance.make_spec(
                kind=kind, scope=scope, target=_blank(target) if scope != "all" else None,
                starts_at=starts_at, ends_at=ends_at, timezone=settings.timezone, reason=reason,
                recurrence=_blank(recurrence), until=_blank(until))
            try:
                authorise(conn, who, spec.scope, spec.target)
            except HTTPException as exc:
                raise ConsoleError(exc.status_code, str(exc.detail)) from None
            window = maintenance.create(conn, spec, who.actor, now=now,
                                        horizon_days=settings.maintenance_horizon_days,
                                        retroactive_reason=past)
        except maintenance.MaintenanceError as exc:
            return _page(request, conn, who, now, form=typed, problems=exc.problems,
                         status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        except CitybrainError as exc:
            raise ConsoleError(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return redirect(f"{PAGE}?added={window.window_id}")


@router.post(PAGE + "/{window_id}/delete")
def remove_window(request: Request, window_id: int, session: Viewer, conn: Conn, now: Now) -> Response:
    """Remove a window as the API's ``remove_window`` does (module docstring)."""
    who = session.principal
    with use_language(language_of_request(request)):
        row = conn.execute("SELECT scope, target, removed_at FROM maintenance_windows WHERE window_id = %s",
                           (window_id,)).fetchone()
        if row is None:
            raise ConsoleError(status.HTTP_404_NOT_FOUND, _("There is no window {number}.").format(
                number=window_id))
        if row[2] is not None:
            raise ConsoleError(status.HTTP_409_CONFLICT, _("Window {number} was removed already.").format(
                number=window_id))
        try:
            authorise(conn, who, row[0], row[1])
        except HTTPException as exc:
            raise ConsoleError(exc.status_code, str(exc.detail)) from None
        try:
            maintenance.remove(conn, window_id, who.actor, now=now)
        except maintenance.WindowNotFound as exc:
            raise ConsoleError(status.HTTP_409_CONFLICT, str(exc)) from exc
        except CitybrainError as exc:
            raise ConsoleError(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return redirect(f"{PAGE}?removed={window_id}")


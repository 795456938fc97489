"""HTTP API for maintenance windows and silences: ``GET/POST /maintenance``,
``DELETE /maintenance/{id}``, ``POST /maintenance/{id}/retroactive`` (the app mounts
``router`` under ``/api/v1``).

Who may do what (the rows of the access table, ``citybrain.kernel.http.access``):

* every role reads (evaluators need the windows to explain maintenance-adjusted
  availability; windows are operational facts, not department secrets);
* operators and admins add and remove windows of any scope;
* on-call staff add and remove windows scoped to one asset or one department only —
  a district, tag or city-wide window affects other departments' services — and only
  for their token's department (an oncall token without one changes no window);
* a token limited to a department (any role) stays inside it: asset windows of its
  department's assets and its own department's window;
* a window's time counts from its creation (the server's clock); only an admin may let
  its declared past count too, with a reason — ``retroactive_reason`` when adding it, or
  ``POST /maintenance/{id}/retroactive`` later (README, "Maintenance and the past").

A window the server cannot use — an unknown time zone, a bad RRULE, an unknown scope
target, an end before the start — is a 422 naming every field at fault. Every refusal
says why in the current language (``use_language``, the request's: Settings.language).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from alerts.maintenance import windows as maintenance
from citybrain.kernel.http.access import Caller
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal, Reach, settings
from citybrain.kernel.http.errors import problem
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current

router = APIRouter(tags=["maintenance"])



# One admission for every route (the access table); the names say what the route does.
Reader = Caller
Editor = Caller
Admin = Caller
Config = Annotated[Settings, Depends(settings)]


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["maintenance", "silence"] = "maintenance"
    scope: Literal["all", "asset", "department", "district", "tag"]
    # Bounded text: every field is stored and shown to every reader (maintenance.MAX_*).
    target: str | None = Field(default=None, max_length=maintenance.MAX_TARGET_CHARS,
                               description="asset, department or district id, or tag")
    starts_at: str = Field(max_length=64, description="ISO 8601, 1970–2199; without an offset: local time "
                                                      "in `timezone`")
    ends_at: str = Field(max_length=64, description="end of the first occurrence")
    recurrence: str | None = Field(
        default=None, max_length=maintenance.MAX_RULE_CHARS,
        description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU. At most hourly: FREQ=HOURLY (INTERVAL "
                    "dividing 24), DAILY, WEEKLY, MONTHLY or YEARLY, starts at least an hour apart; no "
                    "BYEASTER")
    until: str | None = Field(default=None, max_length=64, description="last start of a recurring window")
    timezone: str | None = Field(default=None, max_length=64,
                                 description="IANA zone (default: CITYBRAIN_TIMEZONE)")
    reason: str = Field(min_length=1, max_length=maintenance.MAX_REASON_CHARS)
    retroactive_reason: str | None = Field(
        default=None, max_length=maintenance.MAX_REASON_CHARS,
        description="admin only: count the window's time before its creation too, and why "
                    "(audited; reports list the window)")


class RetroactiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=maintenance.MAX_REASON_CHARS,
                        description="why the window's time before its creation should count")


def _admin_for_the_past(who: Principal) -> None:
    if who.role is not Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, _(
            "role {role} may not let a window count time before its creation (needs admin)").format(
                role=who.role.value))


def _no_window(window_id: int) -> str:
    return _("no maintenance window {number}").format(number=window_id)


def _unprocessable(exc: maintenance.MaintenanceError) -> HTTPException:
    # The API's one error shape (citybrain.kernel.http.errors): the fields at fault, as for any 422.
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         [problem(["body", f], m) for f, m in exc.problems])


def _department_of(conn: Connection, scope: str, target: str | None) -> str | None:
    if scope == "department":
        return target
    if scope == "asset":
        row = conn.execute("SELECT department_id FROM assets WHERE asset_id = %s", (target,)).fetchone()
        return None if row is None else str(row[0])
    return None


def authorise(conn: Connection, who: Principal, scope: str, target: str | None) -> None:
    """Raise 403 unless the caller may add or remove a window of this scope."""
    narrow = scope in ("asset", "department")
    # Reach.own (on-call): the admission already refused a token without a department,
    # so the department check below always applies to it.
    if who.reach is Reach.own and not narrow:
        raise HTTPException(status.HTTP_403_FORBIDDEN, _(
            "on-call tokens may only add or remove asset or department windows, not {scope}; ask an"
            " operator").format(scope=scope))
    if who.department is None:
        return
    owner = _department_of(conn, scope, target)
    if not narrow or owner != who.department:
        raise HTTPException(status.HTTP_403_FORBIDDEN, _(
            "this token is limited to department {department}: only windows on its assets or on the"
            " department itself").format(department=repr(who.department)))


@router.get("/maintenance")
def list_windows(who: Reader, conn: Conn, now: Now, include_removed: bool = False,
                 kind: Literal["maintenance", "silence"] | None = None) -> list[dict[str, Any]]:
    """Windows with their next (or current) period."""
    return [w.as_dict() for w in maintenance.listing(conn, now=now, include_removed=include_removed,
                                                        kind=kind)]


@router.post("/maintenance", status_code=status.HTTP_201_CREATED)
def add_window(body: WindowIn, who: Editor, conn: Conn, now: Now, config: Config) -> dict[str, Any]:
    """Add a one-off or recurring window; its periods are expanded at once. Its time
    counts from now unless an admin gives ``retroactive_reason``."""
    if body.retroactive_reason is not None:
        _admin_for_the_past(who)
    try:
        spec = maintenance.make_spec(
            kind=body.kind, scope=body.scope, target=body.target, starts_at=body.starts_at,
            ends_at=body.ends_at, timezone=body.timezone or config.timezone, reason=body.reason,
            recurrence=body.recurrence, until=body.until)
        authorise(conn, who, spec.scope, spec.target)
        window = maintenance.create(conn, spec, who.actor, now=now,
                                    horizon_days=config.maintenance_horizon_days,
                                    retroactive_reason=body.retroactive_reason)
    except maintenance.MaintenanceError as exc:
        raise _unprocessable(exc) from exc
    return window.as_dict()


@router.delete("/maintenance/{window_id}")
def remove_window(window_id: int, who: Editor, conn: Conn, now: Now) -> dict[str, Any]:
    """Remove a window: past periods stay on record, future ones are dropped."""
    row = conn.execute("SELECT scope, target, removed_at FROM maintenance_windows WHERE window_id = %s",
                       (window_id,)).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _no_window(window_id))
    if row[2] is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, _("window {number} was removed at {time}").format(
            number=window_id, time=row[2].isoformat()))
    authorise(conn, who, row[0], row[1])
    try:
        window = maintenance.remove(conn, window_id, who.actor, now=now)
    except maintenance.WindowNotFound as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return window.as_dict()


@router.post("/maintenance/{window_id}/retroactive")
def approve_retroactive(window_id: int, body: RetroactiveIn, who: Admin, conn: Conn,
                        now: Now) -> dict[str, Any]:
    """Admin: let a window's declared time before its creation count (audited)."""
    row = conn.execute("SELECT scope, target FROM maintenance_windows WHERE window_id = %s",
                       (window_id,)).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _no_window(window_id))
    authorise(conn, who, row[0], row[1])
    try:
        window = maintenance.approve_retroactive(conn, window_id, who.actor, body.reason, now=now)
    except maintenance.WindowNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except maintenance.MaintenanceError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return window.as_dict()

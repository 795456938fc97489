"""Escalation policies: each department's, where it comes from, editing it as YAML.

The page is the API's ``/escalation-policies/{department_id}`` in a browser: the same
reading (``policy_for``: stored, the department's YAML file, or the default), the same
disclosure (group credentials redacted for everyone, ``policy_shown``), the same checks
and audit entries on saving (``parse_policy``, ``with_stored_addresses``,
``replace_policy``) and removing (``remove_policy``). The edit box holds the policy as
shown, so a robot's address comes back redacted and means "keep the stored one": a
credential is typed once and never read back.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Form, Path, Request, status
from fastapi.responses import Response

from alerts.incidents import disclosure, escalation_policy
from alerts.incidents.escalation_policy import FrozenPolicy, PolicyError
from citybrain.console.admin import (
    ADMIN,
    TARGETS,
    Department,
    allowed,
    department,
    departments,
    page_language,
)
from citybrain.console.auth import ConsoleError, Viewer, redirect
from citybrain.console.pages import render
from citybrain.kernel.http.access import sees_contacts
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal
from citybrain.kernel.http.deps import settings as settings_dep
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

POLICIES = ADMIN + "/policies"
DepartmentId = Annotated[str, Path(max_length=200)]
SettingsDep = Annotated[Settings, Depends(settings_dep)]
# A policy of MAX_STEPS steps and MAX_GROUPS robots with long addresses stays far below.
MAX_POLICY_CHARS = 200_000


def _source(frozen: FrozenPolicy) -> str:
    """database, file or default: where the policy a new incident would freeze comes from."""
    if frozen.source == "database":
        return "database"
    return "default" if frozen.source == "default.yaml" else "file"


def _read(conn: Connection, department_id: str, settings: Settings) -> tuple[FrozenPolicy | None, str | None]:
    """The department's policy, or why none can be read (the default itself is broken)."""
    try:
        return escalation_policy.policy_for(conn, department_id, settings), None
    except PolicyError as exc:
        return None, str(exc)


def _as_yaml(policy: dict[str, Any]) -> str:
    """The policy as an admin edits it: whole minutes without ``.0``, defaults left out."""
    steps = [{"after_minutes": int(m) if (m := s["after_minutes"]) == int(m) else m, "notify": s["notify"],
              **({"record_breach": True} if s.get("record_breach") else {})} for s in policy["steps"]]
    return yaml.safe_dump({**policy, "steps": steps}, allow_unicode=True, sort_keys=False, width=1000)


def _stored_by(conn: Connection, department_id: str) -> tuple[Any, ...] | None:
    return conn.execute("SELECT updated_by, updated_at FROM escalation_policies WHERE department_id = %s",
                        (department_id,)).fetchone()


@router.get(POLICIES)
def policy_list(request: Request, session: Viewer, conn: Conn, settings: SettingsDep) -> Response:
    rows = []
    with page_language(request) as language:
        for found in departments(conn, session.principal, language):
            frozen, broken = _read(conn, found.department_id, settings)
            rows.append({"department": found, "source": _source(frozen) if frozen else None,
                         "file": frozen.source if frozen else None,
                         "refused": frozen.refused if frozen else broken,
                         "steps": len(frozen.policy.steps) if frozen else 0})
    return render(request, "admin_policies.html", {"rows": rows})


def _page(request: Request, conn: Connection, who: Principal, found: Department, settings: Settings, *,
          text: str | None = None, problem: str | None = None, notice: str | None = None,
          status_code: int = 200) -> Response:
    frozen, broken = _read(conn, found.department_id, settings)
    shown = (disclosure.policy_shown(frozen.policy.model_dump(mode="json"),
                                     contacts=sees_contacts(who, found.department_id))
             if frozen is not None else None)
    return render(request, "admin_policy.html", {
        "department": found, "policy": shown, "source": _source(frozen) if frozen else None,
        "file": frozen.source if frozen else None, "refused": frozen.refused if frozen else broken,
        "stored": _stored_by(conn, found.department_id),
        "text": text if text is not None else (_as_yaml(shown) if shown is not None else ""),
        "problem": problem, "notice": notice, "targets": TARGETS}, status_code=status_code)


def _department(request: Request, conn: Connection, who: Principal, department_id: str) -> Department:
    with page_language(request) as language:
        found = department(conn, department_id, language)
        allowed(who, department_id, _("the escalation policy of {department}").format(department=found.name))
    return found


@router.get(POLICIES + "/{department_id}")
def policy_page(request: Request, department_id: DepartmentId, session: Viewer, conn: Conn,
                settings: SettingsDep, done: str | None = None) -> Response:
    found = _department(request, conn, session.principal, department_id)
    notice = {"saved": _("The policy is stored; incidents opened from now on use it."),
              "removed": _("The stored policy is removed; the department uses its YAML file or the default "
                           "again.")}.get(done or "")
    with page_language(request):
        return _page(request, conn, session.principal, found, settings, notice=notice)


def _parsed(text: str) -> object:
    """The YAML of the edit box; anchors and aliases refused (a few lines of them can
    expand to millions of nodes)."""
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise PolicyError(_("The policy may not use YAML anchors and aliases (& and *); write each "
                                "step out."))
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(_("The policy is not valid YAML: {error}").format(error=exc)) from exc


@router.post(POLICIES + "/{department_id}")
def save_policy(request: Request, department_id: DepartmentId, session: Viewer, conn: Conn, now: Now,
                settings: SettingsDep,
                policy: Annotated[str, Form(max_length=MAX_POLICY_CHARS)] = "") -> Response:
    who = session.principal
    found = _department(request, conn, who, department_id)
    with page_language(request):
        try:
            parsed = escalation_policy.with_stored_addresses(
                conn, department_id, escalation_policy.parse_policy(_parsed(policy)), settings)
            escalation_policy.replace_policy(conn, department_id, parsed, who.actor, now=now)
        except PolicyError as exc:
            return _page(request, conn, who, found, settings, text=policy, problem=str(exc), status_code=422)
    return redirect(f"{POLICIES}/{department_id}?done=saved")


@router.post(POLICIES + "/{department_id}/delete")
def delete_policy(request: Request, department_id: DepartmentId, session: Viewer, conn: Conn, now: Now,
                  settings: SettingsDep, confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    who = session.principal
    found = _department(request, conn, who, department_id)
    with page_language(request):
        if confirm != "yes":
            return _page(request, conn, who, found, settings, status_code=422, problem=_(
                "Tick the box to confirm: removing the stored policy also forgets its robots' addresses."))
        if not escalation_policy.remove_policy(conn, department_id, who.actor, now=now):
            raise ConsoleError(status.HTTP_404_NOT_FOUND, _(
                "{department} has no stored policy to remove.").format(department=found.name))
    return redirect(f"{POLICIES}/{department_id}?done=removed")

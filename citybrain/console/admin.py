"""The admin pages: tokens, escalation policies, on-call rosters (``/console/admin``).

Admins only (the access table's ``_ADMIN`` rows). An admin whose token is limited to a
department works on that department only — its tokens, its policy, its roster — as the
API's policy routes do with ``within``. Every change goes through the same domain
functions as the API and the CLI (``tokens``, ``escalation_policy``, ``schemas.contacts``)
and is audited in the same transaction.

The pages live in ``admin_tokens``, ``admin_policies`` and ``admin_contacts``; this
module holds the index and what they share.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from citybrain.console.auth import ConsoleError, Viewer
from citybrain.console.pages import PREFIX, language_of_request, render
from citybrain.kernel.http.access import within
from citybrain.kernel.http.deps import Conn, Connection, Principal
from citybrain.kernel.i18n import N_, Catalogue, Language, use_language
from schemas.names import localized

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

ADMIN = PREFIX + "/admin"

# The roles of a roster's people, as the pages name them.
CONTACT_ROLES: Mapping[str, str] = {
    "first_responsible": N_("first responsible"), "oncall": N_("on call"), "lead": N_("lead"),
    "duty_supervisor": N_("duty supervisor")}
# Whom an escalation step pages: a roster's roles, or the policy's group robots.
TARGETS: Mapping[str, str] = {**CONTACT_ROLES, "group": N_("group robots")}


@dataclass(frozen=True)
class Department:
    department_id: str
    name: str


@contextmanager
def page_language(request: Request) -> Iterator[Language]:
    """The domain's messages (a refused policy, a bad e-mail) in the page's language."""
    with use_language(language_of_request(request)) as language:
        yield language


def allowed(who: Principal, department_id: str | None, what: str) -> None:
    """``within`` as a console page: a 403 page unless ``department_id`` is in reach."""
    try:
        within(who, department_id, what)
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from None


def departments(conn: Connection, who: Principal, language: Language) -> list[Department]:
    """The departments this admin works on: all, or its token's own."""
    rows = conn.execute(
        "SELECT department_id, name, name_zh FROM departments"
        " WHERE %(own)s::text IS NULL OR department_id = %(own)s ORDER BY department_id",
        {"own": who.department}).fetchall()
    return [Department(i, localized(n, z, language, i)) for i, n, z in rows]


def department(conn: Connection, department_id: str, language: Language) -> Department:
    """A department by id; a 404 page when the registry has none."""
    row = conn.execute("SELECT name, name_zh FROM departments WHERE department_id = %s",
                       (department_id,)).fetchone()
    if row is None:
        raise ConsoleError(status.HTTP_404_NOT_FOUND, _(
            "There is no department {department} in the registry.").format(department=repr(department_id)))
    return Department(department_id, localized(row[0], row[1], language, department_id))


@router.get(ADMIN)
def index(request: Request, session: Viewer, conn: Conn) -> Response:
    """Links to the admin pages; the rosters are per department, so each is listed."""
    with page_language(request) as language:
        found = departments(conn, session.principal, language)
    return render(request, "admin.html", {"departments": found})

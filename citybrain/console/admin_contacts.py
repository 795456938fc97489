"""A department's on-call roster: who its escalation pages and who may sign in with a code.

The page lists the people (addresses to those ``sees_contacts`` allows) and edits them as
a plain table form — one row per person, a few empty rows to add one, a row left blank
is dropped — stored by ``schemas.contacts.replace`` (validated, audited with names and
roles only). A refused roster comes back as typed, with what is wrong (422).
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, status
from fastapi.responses import Response

from citybrain.console.admin import ADMIN, CONTACT_ROLES, Department, allowed, department, page_language
from citybrain.console.auth import ConsoleError, Viewer, redirect
from citybrain.console.pages import render
from citybrain.kernel.http.access import sees_contacts
from citybrain.kernel.http.deps import Conn, Connection, Now, Principal
from citybrain.kernel.i18n import Catalogue
from schemas import contacts

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current
router = APIRouter(include_in_schema=False)

CONTACTS = ADMIN + "/contacts"
DepartmentId = Annotated[str, Path(max_length=200)]
FIELDS = ("role", "name", "email", "phone", "im")
EMPTY_ROWS = 1   # one person added per save keeps the phone form short; saving shows a new empty row
MAX_ROWS = contacts.MAX_CONTACTS + EMPTY_ROWS + 10
Column = Annotated[list[Annotated[str, Form(max_length=320)]], Form()]


def _blank(row: dict[str, str]) -> bool:
    # The IM id rides in a hidden field: a row whose visible fields are cleared is removed.
    return not any(row.get(f, "").strip() for f in ("name", "email", "phone"))


def _rows(stored: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The form's rows: each stored person's fields as text, then empty rows to add people."""
    rows = [{f: str(c.get(f) or "") for f in FIELDS} for c in stored]
    return rows + [{f: "" for f in FIELDS} | {"role": "oncall"} for _ in range(EMPTY_ROWS)]


def _department(request: Request, conn: Connection, who: Principal, department_id: str) -> Department:
    with page_language(request) as language:
        found = department(conn, department_id, language)
        allowed(who, department_id, _("the roster of {department}").format(department=found.name))
    return found


def _page(request: Request, conn: Connection, who: Principal, found: Department, *,
          rows: list[dict[str, str]] | None = None, problems: tuple[str, ...] = (),
          notice: str | None = None, status_code: int = 200) -> Response:
    stored = contacts.stored(conn, found.department_id) or []
    people = [{f: str(c.get(f) or "") for f in FIELDS} for c in stored]
    return render(request, "admin_contacts.html", {
        "department": found, "people": people, "sees": sees_contacts(who, found.department_id),
        "rows": rows if rows is not None else _rows(stored), "roles": CONTACT_ROLES,
        "problems": problems, "notice": notice}, status_code=status_code)


@router.get(CONTACTS + "/{department_id}")
def roster_page(request: Request, department_id: DepartmentId, session: Viewer, conn: Conn,
                done: str | None = None) -> Response:
    found = _department(request, conn, session.principal, department_id)
    notice = (_("The roster is stored; the next escalation step pages these people.") if done == "saved"
              else None)
    return _page(request, conn, session.principal, found, notice=notice)


@router.post(CONTACTS + "/{department_id}")
def save_roster(request: Request, department_id: DepartmentId, session: Viewer, conn: Conn, now: Now,
                role: Column = [], name: Column = [], email: Column = [],  # noqa: B006 (FastAPI copies defaults)
                phone: Column = [], im: Column = []) -> Response:  # noqa: B006
    who = session.principal
    found = _department(request, conn, who, department_id)
    columns = (role, name, email, phone, im)
    if max(len(c) for c in columns) > MAX_ROWS:
        raise ConsoleError(status.HTTP_422_UNPROCESSABLE_CONTENT, _(
            "A roster holds at most {most} people.").format(most=contacts.MAX_CONTACTS))
    typed = [dict(zip(FIELDS, (v or "" for v in values), strict=True))
             for values in zip_longest(*columns, fillvalue="")]
    kept = [row for row in typed if not _blank(row)]
    with page_language(request):
        try:
            contacts.replace(conn, department_id, [{k: v for k, v in row.items() if v.strip() or k in
                                                    ("role", "name", "email")} for row in kept],
                             who.actor, now=now)
        except contacts.ContactsError as exc:
            return _page(request, conn, who, found, rows=kept + _rows([])[:EMPTY_ROWS],
                         problems=exc.problems, status_code=422)
    return redirect(f"{CONTACTS}/{department_id}?done=saved")

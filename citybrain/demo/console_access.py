"""The demo's last step: the browser console on the demo's data, ready to sign in to.

It creates one token per role (the on-call one for the first department with people on
its roster), opens the console in-process on the demo's database (the same app ``citybrain
api`` serves: ``make console``), signs in with each token as a browser would and opens the
page that role starts on — so a console that cannot show the demo's data fails the demo —
and prints the address and the tokens to sign in with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from citybrain.api.app import create_app
from citybrain.console.pages import MESSAGES as CONSOLE
from citybrain.console.pages import ROLE_LABELS
from citybrain.kernel import audit
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings
from schemas.names import names_for

MESSAGES = Catalogue.of_package(__name__)
_FORM = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass(frozen=True)
class Opened:
    role: Role
    department: str | None
    token: str
    page: str          # the page the role starts on
    status: int        # its HTTP status after signing in


def _oncall_department(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(
        "SELECT department_id FROM departments d WHERE EXISTS"
        " (SELECT 1 FROM jsonb_array_elements(d.contacts) c WHERE c->>'role' = 'oncall')"
        " ORDER BY department_id LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def open_console(conn: psycopg.Connection[Any], settings: Settings, database_url: str) -> list[Opened]:
    """Tokens for every role, each signed in to the console and its first page opened."""
    t = MESSAGES.translator(settings.language)
    roles = CONSOLE.translator(settings.language)
    actor = audit.Actor(id="cli:citybrain-demo", role="admin")
    wanted = [(Role.operator, None), (Role.oncall, _oncall_department(conn)), (Role.evaluator, None),
              (Role.admin, None)]
    made = []
    for role, department in wanted:
        token, clear = tokens.create(conn, role, department=department, created_by=actor.id,
                                     name=t.gettext("demo {role}").format(
                                         role=roles.gettext(ROLE_LABELS[role.value])))
        audit.record(conn, actor, "token.create", token.token_id,
                     {"role": role.value, "department": department, "name": token.name, "expires_at": None})
        made.append((role, department, clear))
    conn.commit()
    opened = []
    with TestClient(create_app(settings, database_url), base_url="http://127.0.0.1") as client:
        for role, department, clear in made:
            client.cookies.clear()
            found = _FORM.search(client.get("/console/sign-in").text)
            form = {"token": clear, "form_token": found.group(1) if found else ""}
            signed = client.post("/console/sign-in", data=form, follow_redirects=True)
            opened.append(Opened(role, department, clear, signed.url.path, signed.status_code))
    return opened


def print_console(console: Console, conn: psycopg.Connection[Any], opened: list[Opened],
                  settings: Settings) -> bool:
    t = MESSAGES.translator(settings.language)
    roles = CONSOLE.translator(settings.language)
    names = names_for(conn, settings.language, department_ids=[o.department for o in opened if o.department])
    table = Table("", t.gettext("role"), t.gettext("department"), t.gettext("first page"), t.gettext("token"),
                  title=t.gettext("Console: sign in at {url}/ (make console)").format(
                      url=settings.public_url.rstrip("/")))
    for o in opened:
        mark = "[green]✓[/green]" if o.status == 200 else "[bold red]✗[/bold red]"
        department = names.department(o.department) if o.department else t.gettext("all")
        role = escape(f"{roles.gettext(ROLE_LABELS[o.role.value])} [{o.role.value}]")
        table.add_row(mark, role, department, f"{o.page} ({o.status})", o.token)
    console.print(table)
    return all(o.status == 200 for o in opened)

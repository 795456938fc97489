"""Who may call which route: the one access table, and the checks built from it.

Every route of the API has one row in ``RULES``: the roles admitted and how far each
reaches (``Reach``). ``Caller``, the dependency every route declares, looks up the row
of the route being served, so a route cannot be mounted with its own idea of who may
call it; ``check_routes`` (run by ``create_app``) refuses to start an app with a route
the table does not name, or a row no route serves. The README's table is
``markdown_table()`` verbatim (a test compares them).

Departments: a token may be limited to one department. ``within`` decides whether the
caller may read or act on something of a department, by the reach of its admission:
``scoped`` any department for an unlimited token and its own for a limited one; ``own``
only its token's department (on-call staff act for their department only, so an oncall
token without a department acts on nothing); ``city`` only unlimited tokens.

Personal contacts (e-mail addresses and other contact fields of the people paged) are
shown by ``sees_contacts`` to those who page or administer that department: admins and
operators within their reach, on-call staff of that department; evaluators never.
Credentials (robot webhook keys) are shown to nobody, whatever the role
(``alerts.incidents.disclosure``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, routing, status

from citybrain.kernel.http.deps import Principal, Reach, principal
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

PREFIX = "/api/v1"

_EVERYONE = {Role.operator: Reach.scoped, Role.oncall: Reach.scoped, Role.evaluator: Reach.scoped,
             Role.admin: Reach.scoped}
_RESPONDERS = {Role.operator: Reach.scoped, Role.oncall: Reach.own, Role.admin: Reach.scoped}
_ADMIN = {Role.admin: Reach.scoped}


@dataclass(frozen=True)
class Rule:
    method: str
    path: str                       # as mounted, e.g. /api/v1/incidents/{incident_id}
    grants: Mapping[Role, Reach]    # a role not listed is refused (403)
    department: str                 # where the department the reach applies to comes from
    audited: bool = False           # every call writes an audit entry in its own transaction
    note: str = ""
    # A console route a notification link's session may use (its one incident's page and
    # actions, the home page and signing out); every other route refuses such a session.
    incident_session: bool = False

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


# What a responder does to an incident, in the API and in the console alike.
INCIDENT_ACTIONS = ("ack", "resolve", "assign", "comment", "close", "reopen")


def _incident_actions(base: str, *, incident_session: bool = False) -> tuple[Rule, ...]:
    return tuple(Rule("POST", f"{base}/incidents/{{incident_id}}/{verb}", _RESPONDERS, "the incident",
                      audited=True, incident_session=incident_session) for verb in INCIDENT_ACTIONS)


CONSOLE = "/console"

# The browser console (citybrain/console): the same roles and reaches, with a session
# instead of a token. Each page module's rows are kept in its own block.
CONSOLE_BASE: tuple[Rule, ...] = (
    Rule("GET", f"{CONSOLE}/", _EVERYONE, "—", incident_session=True, note="goes to the role's page"),
    Rule("POST", f"{CONSOLE}/sign-out", _EVERYONE, "—", audited=True, incident_session=True),
    Rule("GET", f"{CONSOLE}/account", _EVERYONE, "—", incident_session=True,
         note="the session's own details"),
)
CONSOLE_INCIDENTS: tuple[Rule, ...] = (
    Rule("GET", f"{CONSOLE}/incidents", _EVERYONE, "`department=`", note="mine and my departments'"),
    Rule("GET", f"{CONSOLE}/incidents/{{incident_id}}", _EVERYONE, "the incident", incident_session=True),
    *_incident_actions(CONSOLE, incident_session=True),
)
CONSOLE_OVERVIEW: tuple[Rule, ...] = (
    Rule("GET", f"{CONSOLE}/overview", _EVERYONE, "the session's",
         note="the city at a glance (a limited session: its department's figures)"),
    Rule("GET", f"{CONSOLE}/maintenance", _EVERYONE, "—",
         note="every window, as GET /api/v1/maintenance"),
    Rule("POST", f"{CONSOLE}/maintenance", _RESPONDERS, "the window's scope", audited=True,
         note="as POST /api/v1/maintenance; oncall: asset or department windows only"),
    Rule("POST", f"{CONSOLE}/maintenance/{{window_id}}/delete", _RESPONDERS, "the window's scope",
         audited=True, note="as DELETE /api/v1/maintenance/{window_id}"),
)
CONSOLE_REPORTS: tuple[Rule, ...] = (
    Rule("GET", f"{CONSOLE}/reports", _EVERYONE, "`department=`",
         note="the report form and the export history (a limited session: its department's)"),
    Rule("POST", f"{CONSOLE}/reports/download", _EVERYONE, "`department=`", audited=True,
         note="as GET /api/v1/reports; kept in the export history"),
    Rule("GET", f"{CONSOLE}/reports/exports/{{export_id}}", _EVERYONE, "the export", audited=True,
         note="a past export byte for byte, after its SHA-256 is checked"),
    Rule("GET", f"{CONSOLE}/indicators", _EVERYONE, "—", note="definitions only"),
)
CONSOLE_ADMIN: tuple[Rule, ...] = (
    Rule("GET", f"{CONSOLE}/admin", _ADMIN, "—", note="links to the admin pages"),
    Rule("GET", f"{CONSOLE}/admin/tokens", _ADMIN, "the token's", note="never a secret"),
    Rule("POST", f"{CONSOLE}/admin/tokens", _ADMIN, "the form", audited=True,
         note="the new token's clear text is shown once"),
    Rule("GET", f"{CONSOLE}/admin/tokens/{{token_id}}/revoke", _ADMIN, "the token's", note="asks to confirm"),
    Rule("POST", f"{CONSOLE}/admin/tokens/{{token_id}}/revoke", _ADMIN, "the token's", audited=True),
    Rule("GET", f"{CONSOLE}/admin/policies", _ADMIN, "—", note="every department in reach"),
    Rule("GET", f"{CONSOLE}/admin/policies/{{department_id}}", _ADMIN, "the path"),
    Rule("POST", f"{CONSOLE}/admin/policies/{{department_id}}", _ADMIN, "the path", audited=True),
    Rule("POST", f"{CONSOLE}/admin/policies/{{department_id}}/delete", _ADMIN, "the path", audited=True),
    Rule("GET", f"{CONSOLE}/admin/contacts/{{department_id}}", _ADMIN, "the path"),
    Rule("POST", f"{CONSOLE}/admin/contacts/{{department_id}}", _ADMIN, "the path", audited=True),
)

# Assessed indicators (citybrain/assessments): what no sensor measures, scored by a person.
# Evaluators enter scores and review one another's; an admin may be the second person who
# reviews, but never enters one (the operating company's administrators must not author
# figures it is paid by); operators read what they are assessed on; on-call staff have no
# part in it. A department-limited token reaches its department's series (and reads the
# city's); a city-wide series needs an unlimited token to enter or review.
_ASSESSMENT_READERS = {Role.operator: Reach.scoped, Role.evaluator: Reach.scoped, Role.admin: Reach.scoped}
_ASSESSORS = {Role.evaluator: Reach.scoped}
_ASSESSMENT_REVIEWERS = {Role.evaluator: Reach.scoped, Role.admin: Reach.scoped}
ASSESSMENTS: tuple[Rule, ...] = (
    Rule("GET", f"{PREFIX}/assessments", _ASSESSMENT_READERS, "`department=`",
         note="a limited token: its department's and the city's"),
    Rule("POST", f"{PREFIX}/assessments", _ASSESSORS, "the body's `department`", audited=True,
         note="a new version; null department: the city (unlimited token)"),
    Rule("POST", f"{PREFIX}/assessments/{{version_id}}/review", _ASSESSMENT_REVIEWERS, "the assessment",
         audited=True, note="never by the version's assessor"),
    Rule("GET", f"{PREFIX}/assessments/{{version_id}}/evidence/{{position}}", _ASSESSMENT_READERS,
         "the assessment", audited=True, note="after its SHA-256 is checked"),
)
CONSOLE_EVALUATION: tuple[Rule, ...] = (
    Rule("GET", f"{CONSOLE}/evaluation", _ASSESSMENT_READERS, "`department=`",
         note="the whole evaluation table: telemetry and assessed figures, labelled"),
    Rule("GET", f"{CONSOLE}/evaluation/items/{{item_id}}", _ASSESSMENT_READERS, "`department=`",
         note="an assessed item's rubric, versions and forms"),
    Rule("POST", f"{CONSOLE}/evaluation/assessments", _ASSESSORS, "the form's `department`", audited=True,
         note="as POST /api/v1/assessments"),
    Rule("POST", f"{CONSOLE}/evaluation/assessments/{{version_id}}/review", _ASSESSMENT_REVIEWERS,
         "the assessment", audited=True, note="as POST /api/v1/assessments/{version_id}/review"),
    Rule("GET", f"{CONSOLE}/evaluation/assessments/{{version_id}}/evidence/{{position}}", _ASSESSMENT_READERS,
         "the assessment", audited=True),
)

RULES: tuple[Rule, ...] = (
    Rule("GET", f"{PREFIX}/indicators", _EVERYONE, "—", note="definitions only"),
    Rule("GET", f"{PREFIX}/indicators/{{indicator_id}}", _EVERYONE, "`department=`", audited=True),
    Rule("GET", f"{PREFIX}/reports", _EVERYONE, "`department=`", audited=True),
    Rule("GET", f"{PREFIX}/incidents", _EVERYONE, "`department=`"),
    Rule("GET", f"{PREFIX}/incidents/{{incident_id}}", _EVERYONE, "the incident"),
    *_incident_actions(PREFIX),
    Rule("GET", f"{PREFIX}/escalation-policies/{{department_id}}", _EVERYONE, "the path"),
    Rule("PUT", f"{PREFIX}/escalation-policies/{{department_id}}", _ADMIN, "the path", audited=True),
    Rule("DELETE", f"{PREFIX}/escalation-policies/{{department_id}}", _ADMIN, "the path", audited=True),
    Rule("GET", f"{PREFIX}/maintenance", _EVERYONE, "—",
         note="every window: they explain maintenance-adjusted figures"),
    Rule("POST", f"{PREFIX}/maintenance", _RESPONDERS, "the window's scope", audited=True,
         note="oncall: asset or department windows only"),
    Rule("DELETE", f"{PREFIX}/maintenance/{{window_id}}", _RESPONDERS, "the window's scope", audited=True,
         note="oncall: asset or department windows only"),
    Rule("POST", f"{PREFIX}/maintenance/{{window_id}}/retroactive", _ADMIN, "the window's scope",
         audited=True),
    *ASSESSMENTS,
    Rule("GET", "/metrics", {Role.operator: Reach.city, Role.admin: Reach.city}, "—",
         note="city-wide figures; Prometheus scrapes the metrics port instead"),
    *CONSOLE_BASE, *CONSOLE_INCIDENTS, *CONSOLE_OVERVIEW, *CONSOLE_REPORTS, *CONSOLE_ADMIN,
    *CONSOLE_EVALUATION,
)

# Served without a token, and why. Nothing else is.
PUBLIC: Mapping[str, str] = {
    f"GET {PREFIX}/incidents/{{incident_id}}/ack-link":
        "the signed acknowledge link is the credential (a confirmation page only)",
    f"POST {PREFIX}/incidents/{{incident_id}}/ack-link":
        "the signed acknowledge link is the credential; a link acts once",
    "GET /healthz": "liveness probe; says nothing but ok",
    "GET /": "goes to the console",
    f"GET {CONSOLE}/sign-in": "the sign-in page",
    f"POST {CONSOLE}/sign-in": "signs in with a token (the form's double-submit value guards it)",
    f"POST {CONSOLE}/sign-in/code": "e-mails a one-time code to a roster contact",
    f"POST {CONSOLE}/sign-in/code/verify": "signs in with the code",
    f"GET {CONSOLE}/language": "picks the console's language (a cookie)",
    f"GET {CONSOLE}/static/{{name}}": "the console's stylesheet and script",
    f"GET {CONSOLE}/link/{{incident_id}}":
        "a notification's signed link is the credential; the page signs nobody in",
    f"POST {CONSOLE}/link/{{incident_id}}":
        "signs the link's person in, for that incident only (the signature, re-verified, and the origin)",
    f"POST {CONSOLE}/link/{{incident_id}}/who":
        "a group's link: e-mails a one-time code to the roster person chosen (signature re-verified)",
    f"POST {CONSOLE}/link/{{incident_id}}/verify":
        "a group's link: the code signs that person in, for that incident only",
    "GET /docs/static/{name}": "the description pages' own scripts and styles (no CDN)",
    "GET /openapi.json": "the API's description",
    "GET /docs": "the API's description",
}

# Who sees the personal contacts (e-mail, phone) of the people a department pages.
CONTACTS: Mapping[Role, Reach] = {Role.admin: Reach.scoped, Role.operator: Reach.scoped,
                                  Role.oncall: Reach.own}

_BY_ROUTE = {rule.route: rule for rule in RULES}


def rule_for(method: str, path: str) -> Rule | None:
    return _BY_ROUTE.get(f"{method} {path}")


def _refuse(message: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, message)


def admit(who: Principal, rule: Rule | None) -> Principal:
    """The caller admitted by ``rule``, carrying its reach; 403 otherwise."""
    if rule is None:
        # A route without a row (check_routes keeps this from happening): refuse, never open.
        raise _refuse(_("this route has no access rule; nobody may call it"))
    reach = rule.grants.get(who.role)
    if reach is None:
        names = ", ".join(r.value for r in Role if r in rule.grants)
        raise _refuse(_("role {role} may not do this ({route} needs one of: {roles})").format(
            role=who.role.value, route=rule.route, roles=names))
    if reach is Reach.own and who.department is None:
        raise _refuse(_("an {role} token acts only on its own department, and this token has "
                        "none; create one with --department").format(role=who.role.value))
    if reach is Reach.city and who.department is not None:
        raise _refuse(_("{route} shows city-wide figures; this token is limited to department "
                        "{department}").format(route=rule.route, department=repr(who.department)))
    return replace(who, reach=reach)


def caller(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """The dependency of every route: authenticated, then admitted by the route's row."""
    method = "GET" if request.method == "HEAD" else request.method
    path = _mounted_paths(request.app).get((method, id(request.scope.get("route"))))
    return admit(who, None if path is None else rule_for(method, path))


Caller = Annotated[Principal, Depends(caller)]


def _department(department: str | None) -> str:
    return repr(department) if department else _("no department")


def within(who: Principal, department: str | None, what: str | None = None) -> None:
    """403 unless the caller's reach includes ``department`` (None: no department).
    ``what`` names the thing acted on, in the current language (``_("incident 42")``)."""
    thing = what if what is not None else _("this")
    if who.reach is Reach.own:
        if who.department is None or department != who.department:
            raise _refuse(_("an {role} token acts only on its own department's {what}; it belongs "
                            "to {department}, this token to {own}").format(
                role=who.role.value, what=thing, department=_department(department),
                own=_department(who.department)))
        return
    if not who.may_see(department):
        raise _refuse(_("this token is limited to department {own}; {what} belongs to "
                        "{department}").format(own=repr(who.department), what=thing,
                                               department=_department(department)))


def scoped_department(who: Principal, asked: str | None) -> str | None:
    """The department a read is limited to: the token's own, or what was asked for."""
    if who.department is None:
        return asked
    if asked is not None and asked != who.department:
        raise _refuse(_("this token is limited to department {department}").format(
            department=repr(who.department)))
    return who.department


def sees_contacts(who: Principal, department: str | None) -> bool:
    """Whether the caller may see the contacts of the people ``department`` pages."""
    reach = CONTACTS.get(who.role)
    if reach is None:
        return False
    if reach is Reach.own:
        return who.department is not None and department == who.department
    return who.may_see(department)


def _routes(app: FastAPI) -> Iterator[tuple[str, str, object]]:
    """(method, path as mounted, the route object a request's scope names) of every route."""
    # FastAPI keeps an included router's routes unprefixed and resolves the prefix per
    # request; iter_route_contexts gives each with the path it is served at. Versions
    # without it copied routes into app.routes with their prefixes.
    flatten: Any = getattr(routing, "iter_route_contexts", None)
    for ctx in (flatten(app.routes) if flatten is not None else app.routes):
        original: object = getattr(ctx, "original_route", ctx)
        path = str(getattr(ctx, "path_format", None) or getattr(ctx, "path", ""))
        for method in sorted(getattr(ctx, "methods", None) or ()):
            if method != "HEAD":
                yield method, path, original


def _mounted_paths(app: FastAPI) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] | None = getattr(app.state, "access_paths", None)
    if found is None:
        found = {(method, id(route)): path for method, path, route in _routes(app)}
        app.state.access_paths = found
    return found


def served_routes(app: FastAPI) -> list[str]:
    """``METHOD path`` of every route the app serves."""
    return [f"{method} {path}" for method, path, _ in _routes(app)]


def check_routes(app: FastAPI) -> None:
    """Refuse an app whose routes and access table disagree (a route nobody decided on)."""
    served = set(served_routes(app))
    unruled = sorted(served - set(_BY_ROUTE) - set(PUBLIC))
    unserved = sorted(set(_BY_ROUTE) - served)
    if unruled or unserved:
        raise RuntimeError("the access table and the routes disagree: "
                           f"routes without a row {unruled}, rows without a route {unserved}; "
                           "add the route to citybrain/kernel/http/access.py RULES (and the README table)")


_CELL = {Reach.scoped: "yes", Reach.own: "own dept", Reach.city: "city token"}


def markdown_table() -> str:
    """The README's access table, generated from ``RULES``."""
    roles = list(Role)
    lines = ["| route | " + " | ".join(r.value for r in roles) + " | department from | notes |",
             "|---" * (len(roles) + 3) + "|"]
    for rule in RULES:
        cells = [_CELL[rule.grants[r]] if r in rule.grants else "—" for r in roles]
        notes = "; ".join(n for n in (("audited" if rule.audited else ""), rule.note) if n)
        lines.append(f"| `{rule.route}` | " + " | ".join(cells) + f" | {rule.department} | {notes} |")
    for route, why in PUBLIC.items():
        if route.startswith(f"GET {PREFIX}") or route.startswith(f"POST {PREFIX}"):
            lines.append(f"| `{route}` | " + " | ".join("no token" for _ in roles) + f" | — | {why} |")
    return "\n".join(lines)


"""The access table's console rows, checked against the app with sessions: every route ×
role × department scope, as ``tests/citybrain/api/test_access.py`` does for the API's rows
with tokens — and a notification link's session, which reaches its incident's page and
actions only.

A session is opened with a token of the role (limited to ``roads``, to no department, to
``water``) and sends the route's request on something of department ``water``, with the
session's anti-forgery value on a POST. Refusals are sent first (a removed window or a
revoked token must still be refused as such, not be missing). What the table admits must
be neither 401/403 nor the sign-in page; what it refuses must be 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.incidents import store as incidents
from alerts.maintenance import windows as maintenance
from citybrain.api.app import create_app
from citybrain.indicators.evaluation import period_of
from citybrain.indicators.model import ReportWindow
from citybrain.kernel import audit
from citybrain.kernel.http import access, sessions, tokens
from citybrain.kernel.http.deps import Reach
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from citybrain.reports import exports
from schemas.assets import import_registry
from tests.alerts.incidents.conftest import REGISTRY, alert
from tests.citybrain.api.test_access import admitted as token_admitted
from tests.citybrain.assessments.support import SHANGHAI, water_version
from tests.citybrain.console.support import sign_in_with

SCOPES = ("roads", None, "water")
ADMIN = audit.Actor(id="cli:test", role="admin")
CONSOLE = [rule for rule in access.RULES if rule.path.startswith(access.CONSOLE)]
# Pages that show what the session's department holds rather than refuse another's: a
# limited session is admitted and sees its own department's share.
OWN_SHARE = {"GET /console/overview", "GET /console/incidents", "GET /console/reports",
             "GET /console/admin/tokens", "GET /console/admin/policies"}


@dataclass
class Place:
    incident: int
    window: int
    export: int
    token: str
    now: datetime
    assessment: int = 0     # a pending assessment of water (tests/citybrain/assessments/support.py)


@dataclass(frozen=True)
class Call:
    url: str
    form: dict[str, str] = field(default_factory=dict)


def _calls(place: Place) -> dict[str, Call]:
    inc = f"/console/incidents/{place.incident}"
    start = (place.now + timedelta(days=1)).astimezone(UTC)
    day = place.now.date().isoformat()
    return {
        "GET /console/": Call("/console/"),
        "POST /console/sign-out": Call("/console/sign-out"),
        "GET /console/account": Call("/console/account"),
        "GET /console/incidents": Call("/console/incidents"),
        "GET /console/incidents/{incident_id}": Call(inc),
        "POST /console/incidents/{incident_id}/ack": Call(f"{inc}/ack"),
        "POST /console/incidents/{incident_id}/assign": Call(f"{inc}/assign", {"assignee": "Li Na"}),
        "POST /console/incidents/{incident_id}/comment": Call(f"{inc}/comment", {"text": "looking"}),
        "POST /console/incidents/{incident_id}/resolve": Call(f"{inc}/resolve", {"note": "fixed"}),
        "POST /console/incidents/{incident_id}/close": Call(f"{inc}/close"),
        "POST /console/incidents/{incident_id}/reopen": Call(f"{inc}/reopen"),
        "GET /console/overview": Call("/console/overview"),
        "GET /console/maintenance": Call("/console/maintenance"),
        "POST /console/maintenance": Call("/console/maintenance", {
            "kind": "maintenance", "scope": "department", "target": "water",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "reason": "pump overhaul"}),
        "POST /console/maintenance/{window_id}/delete": Call(f"/console/maintenance/{place.window}/delete"),
        "GET /console/reports": Call("/console/reports"),
        "POST /console/reports/download": Call("/console/reports/download", {
            "from": day, "to": day, "department": "water", "lang": "en", "format": "json"}),
        "GET /console/reports/exports/{export_id}": Call(f"/console/reports/exports/{place.export}"),
        "GET /console/indicators": Call("/console/indicators"),
        "GET /console/admin": Call("/console/admin"),
        "GET /console/admin/tokens": Call("/console/admin/tokens"),
        "POST /console/admin/tokens": Call("/console/admin/tokens", {
            "name": "new", "role": "oncall", "department": "water", "lifetime": "12h"}),
        "GET /console/admin/tokens/{token_id}/revoke": Call(f"/console/admin/tokens/{place.token}/revoke"),
        "POST /console/admin/tokens/{token_id}/revoke": Call(f"/console/admin/tokens/{place.token}/revoke"),
        "GET /console/admin/policies": Call("/console/admin/policies"),
        "GET /console/admin/policies/{department_id}": Call("/console/admin/policies/water"),
        "POST /console/admin/policies/{department_id}": Call("/console/admin/policies/water", {
            "policy": "name: water\nsteps:\n  - after_minutes: 0\n    notify: [oncall]\n"}),
        "POST /console/admin/policies/{department_id}/delete": Call("/console/admin/policies/water/delete",
                                                                      {"confirm": "yes"}),
        "GET /console/admin/contacts/{department_id}": Call("/console/admin/contacts/water"),
        "POST /console/admin/contacts/{department_id}": Call("/console/admin/contacts/water", {
            "role": "first_responsible", "name": "Chen Jie", "email": "chen@water.example"}),
        **_evaluation_calls(place),
    }


def _evaluation_calls(place: Place) -> dict[str, Call]:
    version = f"/console/evaluation/assessments/{place.assessment}"
    first, _last = period_of("year", place.now.astimezone(SHANGHAI).date())
    return {
        "GET /console/evaluation": Call("/console/evaluation?department=water"),
        "GET /console/evaluation/items/{item_id}": Call(
            "/console/evaluation/items/mechanism.coordination?department=water"),
        "POST /console/evaluation/assessments": Call("/console/evaluation/assessments", {
            "item": "mechanism.coordination", "department": "water", "period": first.isoformat(),
            "level": "working", "score": "76", "comment": "纪要齐全"}),
        "POST /console/evaluation/assessments/{version_id}/review": Call(f"{version}/review",
                                                                         {"decision": "approved"}),
        "GET /console/evaluation/assessments/{version_id}/evidence/{position}": Call(f"{version}/evidence/1"),
    }


@pytest.fixture
def place(db: psycopg.Connection[Any], database_url: str, schema: str, tmp_path: Path) -> Place:
    import_registry(db, REGISTRY)
    now = datetime.now(UTC)
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    iid = incidents.apply(db, alert("pump-1", at=now), now=now, settings=settings).incident_id
    assert iid is not None
    spec = maintenance.make_spec(kind="maintenance", scope="department", target="water",
                                 starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=1),
                                 timezone="Asia/Shanghai", reason="valve")
    window = maintenance.create(db, spec, ADMIN, now=now, horizon_days=30)
    made = exports.produce(db, ReportWindow(now - timedelta(days=1), now, settings.tz), department="water",
                           fmt="json", language="en", actor=ADMIN, at=now, settings=settings)
    export = exports.record(db, made, ADMIN, at=now)
    token, _ = tokens.create(db, Role.oncall, department="water", name="to revoke", created_by="test")
    assessment = water_version(db, now).version_id
    return Place(iid, window.window_id, export.export_id, token.token_id, now, assessment)


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with TestClient(create_app(settings, database_url), headers={"Accept-Language": "en"}) as c:
        yield c


def admitted(rule: access.Rule, role: Role, department: str | None) -> bool:
    """What the table says for a session of ``role`` limited to ``department``: as for a
    token (the API's matrix), and a page of ``OWN_SHARE`` admits any scoped session."""
    return token_admitted(rule, role, department) or (
        rule.grants.get(role) is Reach.scoped and rule.route in OWN_SHARE)


def _send(client: TestClient, rule: access.Rule, call: Call, csrf: str) -> Any:
    if rule.method == "GET":
        return client.get(call.url, follow_redirects=False)
    return client.post(call.url, data={**call.form, "csrf": csrf}, follow_redirects=False)


def _is_sign_in(reply: Any) -> bool:
    return bool(reply.status_code == 401 or reply.headers.get("location", "").startswith("/console/sign-in"))


def test_every_console_row_has_a_request() -> None:
    assert set(_calls(Place(1, 1, 1, "x", datetime.now(UTC)))) == {rule.route for rule in CONSOLE}


@pytest.mark.parametrize("rule", CONSOLE, ids=lambda r: r.route)
def test_the_console_enforces_the_table(client: TestClient, db: psycopg.Connection[Any], place: Place,
                                        rule: access.Rule) -> None:
    call = _calls(place)[rule.route]
    cases = [(role, department) for role in Role for department in SCOPES]
    cases.sort(key=lambda case: admitted(rule, *case))          # refusals first
    for role, department in cases:
        _, clear = tokens.create(db, role, department=department, name="matrix", created_by="test")
        client.cookies.clear()
        csrf = sign_in_with(client, clear)
        reply = _send(client, rule, call, csrf)
        case = f"{rule.route} as {role.value} of {department or 'all departments'}: {reply.status_code}"
        if admitted(rule, role, department):
            assert reply.status_code not in (401, 403), f"{case} {reply.text[:300]}"
            assert not _is_sign_in(reply), case
        else:
            assert reply.status_code == 403, f"{case} {reply.text[:300]}"


@pytest.mark.parametrize("rule", CONSOLE, ids=lambda r: r.route)
def test_a_link_session_reaches_its_incident_only(client: TestClient, db: psycopg.Connection[Any],
                                                  place: Place, rule: access.Rule) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    session, clear = sessions.start(db, actor_id="link:Li Na", person="Li Na", role=Role.oncall,
                                    department="water", signed_in_with="link", now=place.now,
                                    settings=settings, incident=place.incident)
    client.cookies.clear()
    client.cookies.set(sessions.COOKIE, clear)
    reply = _send(client, rule, _calls(place)[rule.route], session.csrf)
    if rule.incident_session and Role.oncall in rule.grants:
        assert reply.status_code not in (401, 403) and not _is_sign_in(reply), reply.text[:300]
    else:
        assert reply.status_code == 403, f"{rule.route}: {reply.status_code} {reply.text[:300]}"


@pytest.mark.parametrize("rule", CONSOLE, ids=lambda r: r.route)
def test_without_a_session_every_row_asks_to_sign_in(client: TestClient, place: Place,
                                                     rule: access.Rule) -> None:
    reply = _send(client, rule, _calls(place)[rule.route], "none")
    assert _is_sign_in(reply), f"{rule.route}: {reply.status_code}"

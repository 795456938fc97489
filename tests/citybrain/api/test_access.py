"""The access table, checked against the whole app: every route × role × department scope.

For each row of ``citybrain.kernel.http.access.RULES`` and each role, a request on something of
department ``water`` is sent with a token limited to another department (``roads``),
with an unlimited token and with a ``water`` token — in that order, so a refusal is
checked before an admitted call changes the thing (a removed window, an acknowledged
incident). What the table admits must not be 401/403; what it refuses must be 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from alerts.incidents import store as incidents
from alerts.maintenance import windows as maintenance
from citybrain.api.app import create_app
from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.evaluation import period_of
from citybrain.kernel import audit
from citybrain.kernel.http import access, tokens
from citybrain.kernel.http.deps import Reach
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from tests.alerts.incidents.conftest import REGISTRY, alert
from tests.citybrain.assessments.support import SHANGHAI, water_version

ROOT = Path(__file__).resolve().parents[3]
# The console's rows are checked with sessions (tests/citybrain/console/test_access.py).
API = [rule for rule in access.RULES if not rule.path.startswith(access.CONSOLE)]
SCOPES = ("roads", None, "water")       # refusals first: see the module's docstring
ADMIN = audit.Actor(id="cli:test", role="admin")


@dataclass
class Place:
    incident: int
    window: int
    now: datetime
    assessment: int = 0     # a pending assessment of water (tests/citybrain/assessments/support.py)


@dataclass(frozen=True)
class Call:
    url: str
    json: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)


def _calls(place: Place) -> dict[str, Call]:
    """One request per row of the table, on department water's things."""
    inc = f"/api/v1/incidents/{place.incident}"
    win = f"/api/v1/maintenance/{place.window}"
    day = place.now.date().isoformat()
    window = {"from": day, "to": day, "tz": "Asia/Shanghai", "department": "water"}
    start = (place.now + timedelta(days=1)).replace(microsecond=0)
    policy = {"name": "water", "steps": [{"after_minutes": 0, "notify": ["oncall"]}]}
    return {
        "GET /api/v1/indicators": Call("/api/v1/indicators"),
        "GET /api/v1/indicators/{indicator_id}": Call(f"/api/v1/indicators/{load_catalogue()[0].id}",
                                                      params=window),
        "GET /api/v1/reports": Call("/api/v1/reports", params={**window, "format": "json"}),
        "GET /api/v1/incidents": Call("/api/v1/incidents", params={"department": "water"}),
        "GET /api/v1/incidents/{incident_id}": Call(inc),
        "POST /api/v1/incidents/{incident_id}/ack": Call(f"{inc}/ack"),
        "POST /api/v1/incidents/{incident_id}/resolve": Call(f"{inc}/resolve", {"note": "fixed"}),
        "POST /api/v1/incidents/{incident_id}/assign": Call(f"{inc}/assign", {"assignee": "Li Na"}),
        "POST /api/v1/incidents/{incident_id}/comment": Call(f"{inc}/comment", {"text": "looking"}),
        "POST /api/v1/incidents/{incident_id}/close": Call(f"{inc}/close"),
        "POST /api/v1/incidents/{incident_id}/reopen": Call(f"{inc}/reopen"),
        "GET /api/v1/escalation-policies/{department_id}": Call("/api/v1/escalation-policies/water"),
        "PUT /api/v1/escalation-policies/{department_id}": Call("/api/v1/escalation-policies/water", policy),
        "DELETE /api/v1/escalation-policies/{department_id}": Call("/api/v1/escalation-policies/water"),
        "GET /api/v1/maintenance": Call("/api/v1/maintenance"),
        "POST /api/v1/maintenance": Call("/api/v1/maintenance", {
            "scope": "department", "target": "water", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(), "reason": "pump overhaul"}),
        "DELETE /api/v1/maintenance/{window_id}": Call(win),
        "POST /api/v1/maintenance/{window_id}/retroactive": Call(f"{win}/retroactive",
                                                                {"reason": "declared late"}),
        "GET /metrics": Call("/metrics"),
        **_assessment_calls(place),
    }


def _assessment_calls(place: Place) -> dict[str, Call]:
    first, last = period_of("year", place.now.astimezone(SHANGHAI).date())
    version = f"/api/v1/assessments/{place.assessment}"
    return {
        "GET /api/v1/assessments": Call("/api/v1/assessments", params={"department": "water"}),
        "POST /api/v1/assessments": Call("/api/v1/assessments", {
            "item": "mechanism.coordination", "department": "water", "period_from": first.isoformat(),
            "period_to": last.isoformat(), "level": "working", "score": 76, "comment": "纪要齐全",
            "evidence": [{"file_name": "minutes.txt", "content_type": "text/plain",
                          "content_base64": "5Lya6K6u57qq6KaB"}]}),
        "POST /api/v1/assessments/{version_id}/review": Call(f"{version}/review", {"decision": "approved"}),
        "GET /api/v1/assessments/{version_id}/evidence/{position}": Call(f"{version}/evidence/1"),
    }


@pytest.fixture
def place(db: psycopg.Connection[Any], database_url: str, schema: str) -> Place:
    import_registry(db, REGISTRY)
    now = datetime.now(UTC)
    settings = Settings(database_url=database_url, database_schema=schema)
    iid = incidents.apply(db, alert("pump-1", at=now), now=now, settings=settings).incident_id
    assert iid is not None
    spec = maintenance.make_spec(kind="maintenance", scope="department", target="water",
                                 starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=1),
                                 timezone="Asia/Shanghai", reason="valve")
    window = maintenance.create(db, spec, ADMIN, now=now, horizon_days=30)
    return Place(iid, window.window_id, now, water_version(db, now).version_id)


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    # The refusals read below are English (test_language.py checks the default, Chinese).
    with TestClient(create_app(settings, database_url), headers={"Accept-Language": "en"}) as c:
        yield c


def _send(client: TestClient, method: str, call: Call, headers: dict[str, str]) -> Any:
    return client.request(method, call.url, params=call.params, json=call.json, headers=headers)


def admitted(rule: access.Rule, role: Role, department: str | None) -> bool:
    """What the table says for a token of ``role`` limited to ``department`` (None: all),
    on something of department water."""
    reach = rule.grants.get(role)
    if reach is None:
        return False
    if reach is Reach.own:
        return department == "water"
    if reach is Reach.city:
        return department is None
    return department in (None, "water") or rule.department == "—"


def test_every_served_route_has_one_row_and_every_row_a_request(client: TestClient, place: Place) -> None:
    served = set(access.served_routes(client.app))  # type: ignore[arg-type]
    assert served == {r.route for r in access.RULES} | set(access.PUBLIC)
    assert set(_calls(place)) == {r.route for r in API}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("rule", API, ids=lambda r: r.route)
def test_the_table_is_what_the_app_enforces(client: TestClient, db: psycopg.Connection[Any], place: Place,
                                           rule: access.Rule, role: Role) -> None:
    call = _calls(place)[rule.route]
    for department in SCOPES:
        _, clear = tokens.create(db, role, department=department, name="matrix", created_by="test")
        reply = _send(client, rule.method, call, {"Authorization": f"Bearer {clear}"})
        case = f"{rule.route} as {role.value} of {department or 'all departments'}: {reply.status_code}"
        if admitted(rule, role, department):
            assert reply.status_code not in (401, 403), f"{case} {reply.text[:300]}"
        else:
            assert reply.status_code == 403, f"{case} {reply.text[:300]}"


@pytest.mark.parametrize("rule", API, ids=lambda r: r.route)
def test_every_route_refuses_a_missing_or_expired_token(client: TestClient, db: psycopg.Connection[Any],
                                                         place: Place, rule: access.Rule) -> None:
    call = _calls(place)[rule.route]
    missing = _send(client, rule.method, call, {})
    assert missing.status_code == 401 and "missing token" in missing.json()["detail"]
    _, clear = tokens.create(db, Role.admin, department=None, name="old", created_by="test",
                             expires_at=place.now - timedelta(minutes=1))
    expired = _send(client, rule.method, call, {"Authorization": f"Bearer {clear}"})
    assert expired.status_code == 401 and expired.json()["detail"].startswith("token expired")


def test_a_route_without_a_row_is_refused_at_start() -> None:
    router = APIRouter()

    @router.get("/secret-figures")
    def figures() -> dict[str, str]:
        return {}

    app = FastAPI(docs_url=None, redoc_url=None)   # as create_app: /docs is its own route
    app.include_router(router, prefix="/api/v1")
    with pytest.raises(RuntimeError, match=r"routes without a row \['GET /api/v1/secret-figures'\]"):
        access.check_routes(app)


def test_the_readme_shows_the_table() -> None:
    assert access.markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8")

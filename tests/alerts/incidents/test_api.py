"""The on-call API through FastAPI's TestClient against the real database, on a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from alerts import incidents
from alerts.api_incidents import router
from citybrain import audit
from citybrain.api import tokens
from citybrain.api.tokens import Role
from citybrain.settings import Settings
from tests.alerts.incidents.conftest import T0, alert

M = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(database_url: str, inc_settings: Settings, city: psycopg.Connection[Any],
           clock: Clock) -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            database_url, kwargs={"options": f"-c search_path={inc_settings.database_schema}"},
            min_size=1, max_size=2, open=False)
        pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(lifespan=lifespan)
    app.state.settings = inc_settings
    app.state.clock = clock
    app.include_router(router, prefix="/api/v1")
    with TestClient(app) as c:
        yield c


def token(conn: psycopg.Connection[Any], role: Role,
          department: str | None = None) -> tuple[str, dict[str, str]]:
    made, clear = tokens.create(conn, role, department=department, name=f"test-{role.value}",
                                created_by="test")
    return made.token_id, {"Authorization": f"Bearer {clear}"}


@pytest.fixture
def water_incident(city: psycopg.Connection[Any], inc_settings: Settings) -> int:
    iid = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    return iid


def test_no_token_is_401(client: TestClient, water_incident: int) -> None:
    assert client.get("/api/v1/incidents").status_code == 401
    reply = client.post(f"/api/v1/incidents/{water_incident}/ack")
    assert reply.status_code == 401 and "missing token" in reply.json()["detail"]
    bad = client.get("/api/v1/incidents", headers={"Authorization": "Bearer cbt_nope_nope"})
    assert bad.status_code == 401


def test_evaluator_reads_but_may_not_ack(client: TestClient, city: psycopg.Connection[Any],
                                         water_incident: int) -> None:
    _, evaluator = token(city, Role.evaluator)
    listed = client.get("/api/v1/incidents", headers=evaluator)
    assert listed.status_code == 200
    assert [i["incident_id"] for i in listed.json()["incidents"]] == [water_incident]
    reply = client.post(f"/api/v1/incidents/{water_incident}/ack", headers=evaluator)
    assert reply.status_code == 403 and "role evaluator may not do this" in reply.json()["detail"]
    assert incidents.show(city, water_incident).status.value == "triggered"


def test_oncall_of_another_department_is_403(client: TestClient, city: psycopg.Connection[Any],
                                             water_incident: int) -> None:
    _, roads = token(city, Role.oncall, "roads")
    reply = client.post(f"/api/v1/incidents/{water_incident}/ack", headers=roads)
    assert reply.status_code == 403 and "limited to department 'roads'" in reply.json()["detail"]
    assert client.get(f"/api/v1/incidents/{water_incident}", headers=roads).status_code == 403
    assert client.get("/api/v1/incidents?department=water", headers=roads).status_code == 403
    assert client.get("/api/v1/incidents", headers=roads).json()["incidents"] == []   # scoped to roads
    _, nowhere = token(city, Role.oncall)          # an oncall token without a department acts on none
    reply = client.post(f"/api/v1/incidents/{water_incident}/ack", headers=nowhere)
    assert reply.status_code == 403 and "acts only on its own department" in reply.json()["detail"]


def test_unknown_incident_404_illegal_transition_409_bad_input_422(
        client: TestClient, city: psycopg.Connection[Any], water_incident: int) -> None:
    _, operator = token(city, Role.operator)
    assert client.get("/api/v1/incidents/987654", headers=operator).status_code == 404
    missing = client.post("/api/v1/incidents/987654/ack", headers=operator)
    assert missing.status_code == 404 and "no incident 987654" in missing.json()["detail"]
    assert client.post(f"/api/v1/incidents/{water_incident}/ack", headers=operator).status_code == 200
    again = client.post(f"/api/v1/incidents/{water_incident}/ack", headers=operator)
    assert again.status_code == 409
    assert again.json()["detail"] == (f"incident {water_incident} cannot go from acknowledged to acknowledged"
                                      " (ack); allowed from acknowledged: resolved")
    no_note = client.post(f"/api/v1/incidents/{water_incident}/resolve", headers=operator, json={})
    assert no_note.status_code == 422 and no_note.json()["detail"][0]["loc"] == ["body", "note"]
    blank = client.post(f"/api/v1/incidents/{water_incident}/resolve", headers=operator, json={"note": "  "})
    assert blank.status_code == 422 and blank.json()["detail"] == "a resolution note must not be empty"
    naive = client.get("/api/v1/incidents?from=2026-03-02T00:00:00", headers=operator)
    assert naive.status_code == 422 and "timezone" in naive.json()["detail"][0]["msg"]
    assert client.get("/api/v1/incidents?status=open", headers=operator).status_code == 422


def test_oncall_happy_path_with_timeline_and_audit(client: TestClient, city: psycopg.Connection[Any],
                                                   clock: Clock, water_incident: int) -> None:
    token_id, oncall = token(city, Role.oncall, "water")
    base = f"/api/v1/incidents/{water_incident}"
    clock.now = T0 + 6 * M
    acked = client.post(f"{base}/ack", headers=oncall, json={"note": "on my way"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_at"] == (T0 + 6 * M).isoformat()
    clock.now = T0 + 7 * M
    assert client.post(f"{base}/assign", headers=oncall, json={"assignee": "Li Na"}).status_code == 200
    assert client.post(f"{base}/comment", headers=oncall, json={"text": "breaker tripped"}).status_code == 200
    clock.now = T0 + 25 * M
    done = client.post(f"{base}/resolve", headers=oncall, json={"note": "breaker reset"})
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    shown = client.get(base, headers=oncall).json()
    assert [e["kind"] for e in shown["timeline"]] == [
        "opened", "acknowledged", "assigned", "comment", "resolved"]
    assert {e["actor"] for e in shown["timeline"][1:]} == {f"token:{token_id}"}
    assert shown["assigned_to"] == "Li Na" and shown["assets"] == ["pump-1"]
    entries = [e for e in reversed(audit.entries(city)) if e.subject == str(water_incident)]
    assert [(e.action, e.actor, e.role, e.at) for e in entries] == [
        ("incident.ack", f"token:{token_id}", "oncall", T0 + 6 * M),
        ("incident.assign", f"token:{token_id}", "oncall", T0 + 7 * M),
        ("incident.comment", f"token:{token_id}", "oncall", T0 + 7 * M),
        ("incident.resolve", f"token:{token_id}", "oncall", T0 + 25 * M),
    ]
    assert entries[0].details == {"from": "triggered", "to": "acknowledged", "note": "on my way"}


def test_list_filters_over_http(client: TestClient, city: psycopg.Connection[Any], inc_settings: Settings,
                                water_incident: int) -> None:
    roads = incidents.apply(city, alert("cam-9"), now=T0 + 30 * M, settings=inc_settings).incident_id
    _, operator = token(city, Role.operator)

    def ids(query: str) -> list[int]:
        reply = client.get(f"/api/v1/incidents{query}", headers=operator)
        assert reply.status_code == 200, reply.text
        return [i["incident_id"] for i in reply.json()["incidents"]]

    assert ids("") == [roads, water_incident]
    assert ids("?department=water") == [water_incident]
    assert ids("?asset=cam-9") == [roads]
    assert ids("?status=triggered&severity=III") == [roads, water_incident]
    assert ids("?from=2026-03-02T09:10:00%2B08:00") == [roads]   # local time with its offset
    assert ids("?to=2026-03-02T01:10:00Z") == [water_incident]


def test_only_admin_replaces_a_policy_and_the_edit_is_audited(client: TestClient,
                                                              city: psycopg.Connection[Any]) -> None:
    _, operator = token(city, Role.operator)
    admin_id, admin = token(city, Role.admin)
    body = {"name": "water-fast", "steps": [{"after_minutes": 0, "notify": ["oncall", "lead"]}]}
    assert client.put("/api/v1/escalation-policies/water", headers=operator, json=body).status_code == 403
    bad = client.put("/api/v1/escalation-policies/water", headers=admin, json={"name": "x", "steps": []})
    assert bad.status_code == 422 and "steps" in bad.json()["detail"]
    assert client.put("/api/v1/escalation-policies/water", headers=admin, json=body).status_code == 200
    shown = client.get("/api/v1/escalation-policies/water", headers=operator).json()
    assert (shown["source"], shown["name"]) == ("database", "water-fast")
    assert [(e.actor, e.subject) for e in audit.entries(city, action="escalation_policy.replace")] == [
        (f"token:{admin_id}", "water")]
    assert client.delete("/api/v1/escalation-policies/water", headers=admin).status_code == 200
    reverted = client.get("/api/v1/escalation-policies/water", headers=operator).json()
    assert reverted["source"] == "default.yaml"

"""The on-call API through FastAPI's TestClient against the real database, on a frozen clock.

Requests ask for English (``Accept-Language``, as the app reads it: ``RequestLanguage``)
where a test checks what an answer says; one test checks the server's default, Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.incidents import store as incidents
from alerts.incidents.api import ID_CHARS, router
from alerts.incidents.escalation import run_due
from citybrain.kernel import audit
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, ConnFactory, Pager, alert
from tests.router_app import router_app

M = timedelta(minutes=1)
ENGLISH = {"Accept-Language": "en"}


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
    app = router_app(database_url, inc_settings, router, clock, error_answers=True,
                     request_language=True)
    with TestClient(app) as c:
        yield c


def token(conn: psycopg.Connection[Any], role: Role,
          department: str | None = None) -> tuple[str, dict[str, str]]:
    """The token's id and the headers of a request with it (asking for English answers)."""
    made, clear = tokens.create(conn, role, department=department, name=f"test-{role.value}",
                                created_by="test")
    return made.token_id, {"Authorization": f"Bearer {clear}", **ENGLISH}


@pytest.fixture
def water_incident(city: psycopg.Connection[Any], inc_settings: Settings) -> int:
    iid = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    return iid


def test_no_token_is_401(client: TestClient, water_incident: int) -> None:
    assert client.get("/api/v1/incidents").status_code == 401
    reply = client.post(f"/api/v1/incidents/{water_incident}/ack", headers=ENGLISH)
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
                                      " (acknowledge); allowed from acknowledged: resolved")
    no_note = client.post(f"/api/v1/incidents/{water_incident}/resolve", headers=operator, json={})
    assert no_note.status_code == 422 and no_note.json()["detail"][0]["loc"] == ["body", "note"]
    blank = client.post(f"/api/v1/incidents/{water_incident}/resolve", headers=operator, json={"note": "  "})
    assert blank.status_code == 422 and blank.json()["detail"] == "a resolution note must not be empty"
    naive = client.get("/api/v1/incidents?from=2026-03-02T00:00:00", headers=operator)
    assert naive.status_code == 422 and "timezone" in naive.json()["detail"][0]["msg"]
    assert client.get("/api/v1/incidents?status=open", headers=operator).status_code == 422


def test_answers_are_in_the_servers_language_unless_the_request_asks(
        client: TestClient, city: psycopg.Connection[Any], water_incident: int) -> None:
    _, english = token(city, Role.operator)
    default = {k: v for k, v in english.items() if k != "Accept-Language"}   # zh-CN, the server's
    missing = client.post("/api/v1/incidents/987654/ack", headers=default)
    assert missing.json()["detail"] == "未找到事件 987654；可用 `citybrain incidents list` 列出事件"
    missing = client.post("/api/v1/incidents/987654/ack", headers=english)
    assert missing.json()["detail"] == "no incident 987654; list them with `citybrain incidents list`"
    client.post(f"/api/v1/incidents/{water_incident}/resolve", headers=default, json={"note": "done"})
    again = client.post(f"/api/v1/incidents/{water_incident}/ack", headers=default)
    assert again.status_code == 409
    assert again.json()["detail"] == (f"事件 {water_incident} 无法从“已恢复”变为“已确认”（确认）；"
                                      "“已恢复”状态只能变为：已关闭、待响应")
    _, roads = token(city, Role.oncall, "roads")
    del roads["Accept-Language"]
    refused = client.post(f"/api/v1/incidents/{water_incident}/comment", headers=roads, json={"text": "x"})
    assert refused.status_code == 403 and f"事件 {water_incident}" in refused.json()["detail"]


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


@pytest.mark.parametrize("name", ["department", "asset"])
def test_an_over_long_filter_is_422_without_echoing_it(client: TestClient, city: psycopg.Connection[Any],
                                                       water_incident: int, name: str) -> None:
    _, operator = token(city, Role.operator)
    longest = "w" * ID_CHARS           # as long as an id may be: looked for, nothing found
    reply = client.get("/api/v1/incidents", params={name: longest}, headers=operator)
    assert reply.status_code == 200 and reply.json()["incidents"] == []
    too_long = "w" * ID_CHARS + "-NOT-AN-ID"
    reply = client.get("/api/v1/incidents", params={name: too_long}, headers=operator)
    assert reply.status_code == 422
    [problem] = reply.json()["detail"]
    assert problem["loc"] == ["query", name] and problem["type"] == "string_too_long"
    assert "NOT-AN-ID" not in reply.text and longest not in reply.text


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


ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0f1e2d3c-SECRET-KEY-4b5a69788796"
SHOWN_ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"


def test_a_department_admin_edits_only_its_own_departments_policy(
        client: TestClient, city: psycopg.Connection[Any]) -> None:
    _, roads_admin = token(city, Role.admin, "roads")
    body = {"name": "mine-now", "steps": [{"after_minutes": 0, "notify": ["lead"]}]}
    assert client.get("/api/v1/escalation-policies/water", headers=roads_admin).status_code == 403
    put = client.put("/api/v1/escalation-policies/water", headers=roads_admin, json=body)
    assert put.status_code == 403 and "limited to department 'roads'" in put.json()["detail"]
    _, city_admin = token(city, Role.admin)
    assert client.put("/api/v1/escalation-policies/water", headers=city_admin, json=body).status_code == 200
    assert client.delete("/api/v1/escalation-policies/water", headers=roads_admin).status_code == 403
    assert city.execute("SELECT policy->>'name' FROM escalation_policies").fetchall() == [("mine-now",)]
    assert audit.entries(city, action="escalation_policy.remove") == []
    assert client.put("/api/v1/escalation-policies/roads", headers=roads_admin, json=body).status_code == 200


def stored_address(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute("SELECT policy #>> '{groups,0,address}' FROM escalation_policies").fetchone()
    return None if row is None else str(row[0])


def test_a_robot_credential_is_stored_once_and_shown_to_nobody(
        client: TestClient, city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    _, admin = token(city, Role.admin)
    body = {"name": "water-robot", "steps": [{"after_minutes": 0, "notify": ["oncall", "group"]}],
            "groups": [{"name": "water-room", "channel": "wecom", "address": ROBOT}]}
    put = client.put("/api/v1/escalation-policies/water", headers=admin, json=body)
    assert put.status_code == 200 and "SECRET-KEY" not in put.text
    assert put.json()["groups"][0]["address"] == SHOWN_ROBOT
    # Stored in full (the alerter pages with it); the audit entry keeps what changed, not the key.
    assert stored_address(city) == ROBOT
    (entry,) = audit.entries(city, action="escalation_policy.replace")
    assert "SECRET-KEY" not in str(entry.details) and SHOWN_ROBOT in str(entry.details)
    iid = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
    for role, department in ((Role.admin, None), (Role.operator, None), (Role.oncall, "water"),
                             (Role.evaluator, None)):
        _, who = token(city, role, department)
        for url in ("/api/v1/escalation-policies/water", f"/api/v1/incidents/{iid}", "/api/v1/incidents"):
            reply = client.get(url, headers=who)
            assert reply.status_code == 200 and "SECRET-KEY" not in reply.text, (role, url)
            assert SHOWN_ROBOT in reply.text, (role, url)
    # An admin edits the policy it read: the redacted address keeps the stored one.
    shown = client.get("/api/v1/escalation-policies/water", headers=admin).json()
    edited = {"name": shown["name"], "groups": shown["groups"],
              "steps": [{"after_minutes": 0, "notify": ["group"]}]}
    assert client.put("/api/v1/escalation-policies/water", headers=admin, json=edited).status_code == 200
    assert city.execute("SELECT policy #>> '{groups,0,address}', policy #>> '{steps,0,notify,0}'"
                        " FROM escalation_policies").fetchone() == (ROBOT, "group")
    # A redacted address of another robot stands for nothing stored: refused, not stored as is.
    elsewhere = {**edited, "groups": [{"name": "x", "channel": "wecom",
                                       "address": "https://other.example/hook/abcd…?key=…"}]}
    refused = client.put("/api/v1/escalation-policies/water", headers=admin, json=elsewhere)
    assert refused.status_code == 422 and "give the full address" in refused.json()["detail"]
    assert stored_address(city) == ROBOT


def test_contacts_of_the_people_paged_only_for_who_pages_or_administers(
        client: TestClient, city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory,
        pager: Pager) -> None:
    _, admin = token(city, Role.admin)
    policy = {"name": "water", "steps": [{"after_minutes": 0, "notify": ["oncall"]}],
              "groups": [{"name": "water-list", "channel": "email", "address": "duty-list@water.example"}]}
    assert client.put("/api/v1/escalation-policies/water", headers=admin, json=policy).status_code == 200
    iid = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
    run_due(connect, T0, pager.notify, settings=inc_settings)
    assert pager.recipients() == [("lina@water.example",)]
    readers = {"admin": (Role.admin, None), "operator": (Role.operator, None),
               "water oncall": (Role.oncall, "water"), "water admin": (Role.admin, "water"),
               "evaluator": (Role.evaluator, None), "water evaluator": (Role.evaluator, "water")}
    for label, (role, department) in readers.items():
        _, who = token(city, role, department)
        incident = client.get(f"/api/v1/incidents/{iid}", headers=who)
        listed = client.get("/api/v1/incidents", headers=who)
        policy_read = client.get("/api/v1/escalation-policies/water", headers=who)
        assert {incident.status_code, listed.status_code, policy_read.status_code} == {200}, label
        sees = role is not Role.evaluator
        assert ("lina@water.example" in incident.text) is sees, label          # the page's timeline
        assert ("duty-list@water.example" in listed.text) is sees, label        # the frozen policy
        assert ("duty-list@water.example" in policy_read.text) is sees, label
        if not sees:
            assert "***@water.example" in incident.text and "***@water.example" in policy_read.text
    # An oncall token without a department reads every incident, but pages for none: no contacts.
    _, unplaced = token(city, Role.oncall)
    incident = client.get(f"/api/v1/incidents/{iid}", headers=unplaced)
    assert incident.status_code == 200 and "lina@water.example" not in incident.text
    _, roads_oncall = token(city, Role.oncall, "roads")
    assert client.get("/api/v1/escalation-policies/water", headers=roads_oncall).status_code == 403

"""The maintenance API through FastAPI's TestClient against the real database, frozen clock.

Requests ask for English answers (``Accept-Language``) where a test checks their words;
one test checks the server's default language, Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.maintenance.api import router
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.alerts.registry import load
from tests.router_app import router_app

NOW = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)
WINDOW = {"scope": "asset", "target": "pump-1", "starts_at": "2026-03-27T02:00",
          "ends_at": "2026-03-27T04:00", "timezone": "Europe/Berlin", "reason": "firmware"}


@pytest.fixture
def client(database_url: str, schema: str, db: psycopg.Connection[Any]) -> Iterator[TestClient]:
    load(db)
    settings = Settings(database_url=database_url, database_schema=schema)
    app = router_app(database_url, settings, router, lambda: NOW, request_language=True)
    with TestClient(app) as c:
        yield c


def auth(conn: psycopg.Connection[Any], role: Role, department: str | None = None,
         language: str | None = "en") -> dict[str, str]:
    """The headers of a request with a new token (asking for English answers, unless
    ``language`` says otherwise; None: the server's language)."""
    _, clear = tokens.create(conn, role, department=department, name=f"t-{role.value}", created_by="test")
    return {"Authorization": f"Bearer {clear}", **({"Accept-Language": language} if language else {})}


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"recurrence": "FREQ=SOMETIMES"}, "recurrence", "invalid RRULE"),
    ({"recurrence": "FREQ=DAILY;UNTIL=20270101T000000Z"}, "recurrence", "until"),
    ({"timezone": "Europe/Atlantis"}, "timezone", "unknown IANA time zone"),
    ({"target": "pump-404"}, "target", "unknown asset 'pump-404'"),
    ({"scope": "district", "target": None}, "target", "needs a target"),
    ({"ends_at": "2026-03-27T01:00"}, "ends_at", "must be after starts_at"),
    ({"starts_at": "2026-02-01T02:00", "ends_at": "2026-02-01T04:00"}, "ends_at", "no period after now"),
])
def test_bad_windows_are_422_naming_the_field(client: TestClient, db: psycopg.Connection[Any],
                                              change: dict[str, Any], field: str, words: str) -> None:
    reply = client.post("/api/v1/maintenance", json={**WINDOW, **change}, headers=auth(db, Role.operator))
    assert reply.status_code == 422, reply.text
    problems = reply.json()["detail"]
    assert any(p["loc"] == ["body", field] and words in p["msg"] for p in problems), problems
    assert db.execute("SELECT count(*) FROM maintenance_windows").fetchone() == (0,)


def test_refusals_are_in_the_servers_language_unless_the_request_asks(
        client: TestClient, db: psycopg.Connection[Any]) -> None:
    bad = {**WINDOW, "recurrence": "FREQ=SOMETIMES", "timezone": "Europe/Atlantis"}
    chinese = client.post("/api/v1/maintenance", json=bad, headers=auth(db, Role.operator, language=None))
    said = {tuple(p["loc"]): p["msg"] for p in chinese.json()["detail"]}
    assert said[("body", "timezone")] == ("未知的 IANA 时区 'Europe/Atlantis'"
                                          "（例如 Asia/Shanghai、Europe/Berlin）")
    assert said[("body", "recurrence")].startswith("RRULE 无效：")
    english = client.post("/api/v1/maintenance", json=bad, headers=auth(db, Role.operator, language="en-GB"))
    said = {tuple(p["loc"]): p["msg"] for p in english.json()["detail"]}
    assert said[("body", "timezone")] == ("unknown IANA time zone 'Europe/Atlantis' (e.g. Asia/Shanghai,"
                                          " Europe/Berlin)")
    late = {**WINDOW, "retroactive_reason": "filed late"}
    refused = client.post("/api/v1/maintenance", json=late, headers=auth(db, Role.operator, language=None))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "角色 operator 无权将窗口登记之前的时间计入（需要管理员）"


def test_a_scope_outside_the_schema_is_422(client: TestClient, db: psycopg.Connection[Any]) -> None:
    reply = client.post("/api/v1/maintenance", json={**WINDOW, "scope": "planet"},
                        headers=auth(db, Role.admin))
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["body", "scope"]


def test_who_may_add_and_remove(client: TestClient, db: psycopg.Connection[Any]) -> None:
    assert client.post("/api/v1/maintenance", json=WINDOW).status_code == 401
    reply = client.post("/api/v1/maintenance", json=WINDOW, headers=auth(db, Role.evaluator))
    assert reply.status_code == 403 and "needs one of" in reply.json()["detail"]
    oncall = auth(db, Role.oncall, "water")
    reply = client.post("/api/v1/maintenance", json={**WINDOW, "scope": "district", "target": "east"},
                        headers=oncall)
    assert reply.status_code == 403 and "asset or department windows" in reply.json()["detail"]
    reply = client.post("/api/v1/maintenance", json={**WINDOW, "target": "cam-9"}, headers=oncall)
    assert reply.status_code == 403 and "limited to department 'water'" in reply.json()["detail"]
    mine = client.post("/api/v1/maintenance", json=WINDOW, headers=oncall)
    assert mine.status_code == 201, mine.text
    body = mine.json()
    assert body["next_start"] == "2026-03-27T01:00:00+00:00" and body["created_by"].startswith("token:")
    district = client.post("/api/v1/maintenance", json={**WINDOW, "scope": "district", "target": "west",
                                                        "kind": "silence"}, headers=auth(db, Role.operator))
    assert district.status_code == 201
    # Everyone reads, evaluators included.
    listed = client.get("/api/v1/maintenance", headers=auth(db, Role.evaluator)).json()
    assert [w["window_id"] for w in listed] == [body["window_id"], district.json()["window_id"]]
    assert client.get("/api/v1/maintenance?kind=silence", headers=oncall).json()[0]["scope"] == "district"
    # The on-call token may not remove the district silence; it may remove its own window.
    reply = client.delete(f"/api/v1/maintenance/{district.json()['window_id']}", headers=oncall)
    assert reply.status_code == 403
    reply = client.delete(f"/api/v1/maintenance/{body['window_id']}", headers=oncall)
    assert reply.status_code == 200 and reply.json()["removed_at"] == NOW.isoformat()
    assert client.delete(f"/api/v1/maintenance/{body['window_id']}", headers=oncall).status_code == 409
    assert client.delete("/api/v1/maintenance/999", headers=oncall).status_code == 404
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
    assert actions == ["maintenance.add", "silence.add", "maintenance.remove"]


def test_only_an_admin_lets_a_window_count_its_past(client: TestClient, db: psycopg.Connection[Any]) -> None:
    # 12:00–14:00 Berlin (11:00–13:00 UTC) posted at 12:00 UTC: counts from the post.
    late = {**WINDOW, "starts_at": "2026-03-26T12:00", "ends_at": "2026-03-26T14:00"}
    operator = auth(db, Role.operator)
    reply = client.post("/api/v1/maintenance", json={**late, "retroactive_reason": "filed late"},
                        headers=operator)
    assert reply.status_code == 403 and "needs admin" in reply.json()["detail"]
    posted = client.post("/api/v1/maintenance", json=late, headers=operator)
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert (body["starts_at"], body["counts_from"], body["retroactive_by"]) == (
        "2026-03-26T11:00:00+00:00", NOW.isoformat(), None)
    path = f"/api/v1/maintenance/{body['window_id']}/retroactive"
    assert client.post(path, json={"reason": "crew log"}, headers=operator).status_code == 403
    admin = auth(db, Role.admin)
    approved = client.post(path, json={"reason": "crew log"}, headers=admin)
    assert approved.status_code == 200, approved.text
    assert approved.json()["counts_from"] == "2026-03-26T11:00:00+00:00"
    assert approved.json()["retroactive_reason"] == "crew log"
    assert client.post(path, json={"reason": "again"}, headers=admin).status_code == 409
    assert client.post("/api/v1/maintenance/999/retroactive", json={"reason": "x"},
                       headers=admin).status_code == 404
    # An admin records a window that is over, with its reason, in one request.
    past = {**WINDOW, "starts_at": "2026-03-25T12:00", "ends_at": "2026-03-25T14:00"}
    reply = client.post("/api/v1/maintenance", json={**past, "retroactive_reason": "paper permit"},
                        headers=admin)
    assert reply.status_code == 201, reply.text
    assert reply.json()["counts_from"] == reply.json()["starts_at"] == "2026-03-25T11:00:00+00:00"
    assert client.post("/api/v1/maintenance", json=past, headers=admin).status_code == 422
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
    assert actions == ["maintenance.add", "maintenance.retroactive", "maintenance.add",
                       "maintenance.retroactive"]


def test_an_oncall_token_without_a_department_changes_no_window(client: TestClient,
                                                                db: psycopg.Connection[Any]) -> None:
    unplaced = auth(db, Role.oncall)
    for body in (WINDOW, {**WINDOW, "scope": "department", "target": "water"},
                 {**WINDOW, "scope": "department", "target": "roads"}):
        reply = client.post("/api/v1/maintenance", json=body, headers=unplaced)
        assert reply.status_code == 403 and "acts only on its own department" in reply.json()["detail"]
    window = client.post("/api/v1/maintenance", json=WINDOW, headers=auth(db, Role.operator)).json()
    reply = client.delete(f"/api/v1/maintenance/{window['window_id']}", headers=unplaced)
    assert reply.status_code == 403
    assert client.get("/api/v1/maintenance", headers=unplaced).status_code == 200     # it still reads
    assert [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()] == [
        "maintenance.add"]

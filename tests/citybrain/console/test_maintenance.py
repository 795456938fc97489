"""Maintenance windows and silences in the console: list, add, remove, who may.

The clock stands at 2026-03-02 10:00 in Asia/Shanghai (02:00Z); the registry is the
incident tests' (``water`` 市水务局 with 1号水泵 pump-1, ``roads`` with cam-9).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.maintenance import windows as maintenance
from citybrain.api.app import create_app
from citybrain.kernel import audit
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from tests.alerts.incidents.conftest import REGISTRY
from tests.citybrain.console.support import section, sign_in, text_of

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)            # 10:00 in Asia/Shanghai
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with TestClient(create_app(settings, database_url, clock=lambda: NOW), headers=ENGLISH) as c:
        yield c


@pytest.fixture
def city(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    import_registry(db, REGISTRY)
    return db


def form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf": csrf, "kind": "maintenance", "scope": "asset", "target": "pump-1",
            "starts_at": "2026-03-02T22:00", "ends_at": "2026-03-03T02:00", "recurrence": "", "until": "",
            "reason": "更换水泵轴承", **fields}


def audited(db: psycopg.Connection[Any], action: str) -> list[tuple[Any, ...]]:
    return db.execute("SELECT actor, role, subject, details FROM audit_log WHERE action = %s ORDER BY id",
                      (action,)).fetchall()


def test_an_operator_adds_a_window_in_local_time_and_removes_it_audited(
        client: TestClient, db: psycopg.Connection[Any], city: Any) -> None:
    csrf = sign_in(client, db, Role.operator, name="王芳")
    added = client.post("/console/maintenance", data=form(csrf), follow_redirects=False)
    assert added.status_code == 303, added.text
    (actor, role, subject, details), = audited(db, "maintenance.add")
    assert role == "operator" and actor.startswith("token:")
    # 22:00 local is 14:00Z: the local date-time was read in the city's zone.
    assert details["starts_at"] == "2026-03-02T14:00:00+00:00"
    assert details["target"] == "pump-1" and details["reason"] == "更换水泵轴承"
    page = client.get(added.headers["location"])
    assert page.status_code == 200
    assert f"Window {subject} was added." in text_of(page.text)
    upcoming = text_of(section(page.text, "upcoming"))
    assert "Pump 1 (pump-1)" in upcoming
    assert "2026-03-02 22:00 CST to 2026-03-03 02:00 CST" in upcoming
    assert "更换水泵轴承" in upcoming
    removed = client.post(f"/console/maintenance/{subject}/delete", data={"csrf": csrf},
                          follow_redirects=False)
    assert removed.status_code == 303, removed.text
    assert [r[2] for r in audited(db, "maintenance.remove")] == [subject]
    assert db.execute("SELECT removed_by FROM maintenance_windows WHERE window_id = %s",
                      (int(subject),)).fetchone() == (actor,)
    after = client.get("/console/maintenance")
    assert "Pump 1 (pump-1)" not in after.text
    again = client.post(f"/console/maintenance/{subject}/delete", data={"csrf": csrf})
    assert again.status_code == 409
    assert f"Window {subject} was removed already." in text_of(again.text)


def test_a_silence_is_added_as_a_silence(client: TestClient, db: psycopg.Connection[Any], city: Any) -> None:
    csrf = sign_in(client, db, Role.operator)
    done = client.post("/console/maintenance", data=form(csrf, kind="silence", scope="department",
                                                         target="water"), follow_redirects=False)
    assert done.status_code == 303, done.text
    (_, _, subject, details), = audited(db, "silence.add")
    assert details["scope"] == "department"
    upcoming = text_of(section(client.get("/console/maintenance").text, "upcoming"))
    assert f"#{subject} silence · department: Water Authority (water)" in upcoming


def test_an_oncall_is_refused_another_departments_window(
        client: TestClient, db: psycopg.Connection[Any], city: Any) -> None:
    csrf = sign_in(client, db, Role.oncall, department="water")
    other = client.post("/console/maintenance", data=form(csrf, target="cam-9"))
    assert other.status_code == 403
    assert "limited to department 'water'" in text_of(other.text)
    city_wide = client.post("/console/maintenance", data=form(csrf, scope="all", target=""))
    assert city_wide.status_code == 403
    assert "only add or remove asset or department windows" in text_of(city_wide.text)
    assert audited(db, "maintenance.add") == []
    own = client.post("/console/maintenance", data=form(csrf), follow_redirects=False)
    assert own.status_code == 303
    # A window of roads made by an operator: the water on-call may not remove it.
    roads = maintenance.create(db, maintenance.make_spec(
        kind="maintenance", scope="asset", target="cam-9", starts_at="2026-03-03T01:00",
        ends_at="2026-03-03T02:00", timezone="Asia/Shanghai", reason="镜头清洁"),
        audit.Actor("token:op", "operator"), now=NOW, horizon_days=30)
    page = client.get("/console/maintenance")
    assert f'action="/console/maintenance/{roads.window_id}/delete"' not in page.text
    refused = client.post(f"/console/maintenance/{roads.window_id}/delete", data={"csrf": csrf})
    assert refused.status_code == 403
    assert audited(db, "maintenance.remove") == []


def test_an_evaluator_reads_but_may_not_add(client: TestClient, db: psycopg.Connection[Any],
                                            city: Any) -> None:
    csrf = sign_in(client, db, Role.evaluator)
    page = client.get("/console/maintenance")
    assert page.status_code == 200
    assert 'id="add"' not in page.text
    refused = client.post("/console/maintenance", data=form(csrf))
    assert refused.status_code == 403
    assert audited(db, "maintenance.add") == []


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"ends_at": "2026-03-02T21:00"}, "Ends", "must be after starts_at"),
    ({"recurrence": "FREQ=MINUTELY"}, "Repeats (RRULE)", "recurs at most hourly"),
    ({"recurrence": "NOT A RULE"}, "Repeats (RRULE)", "invalid RRULE"),
    ({"starts_at": "tomorrow"}, "Starts", "not a usable ISO 8601 time"),
    ({"target": "pump-404"}, "Target", "unknown asset 'pump-404'"),
    ({"reason": "  "}, "Reason", "say why"),
])
def test_bad_input_comes_back_with_the_message_and_what_was_typed(
        client: TestClient, db: psycopg.Connection[Any], city: Any,
        fields: dict[str, str], field: str, message: str) -> None:
    csrf = sign_in(client, db, Role.operator)
    page = client.post("/console/maintenance", data=form(csrf, **fields))
    assert page.status_code == 422, page.text
    problems = text_of(page.text.split('class="problem"')[1].split("</div>")[0])
    assert f"{field}: " in problems and message in problems, problems
    for value in fields.values():
        if value.strip():
            assert f'value="{value}"' in page.text or f">{value}<" in page.text
    assert audited(db, "maintenance.add") == []


def test_only_an_admin_counts_a_windows_past_and_the_approval_is_shown(
        client: TestClient, db: psycopg.Connection[Any], city: Any) -> None:
    csrf = sign_in(client, db, Role.operator)
    past = form(csrf, starts_at="2026-03-02T08:00", ends_at="2026-03-02T12:00",
                retroactive_reason="抢修 08:00 开始，10:00 才登记")
    refused = client.post("/console/maintenance", data=past)
    assert refused.status_code == 403
    client.cookies.clear()
    csrf = sign_in(client, db, Role.admin, name="管理员")
    done = client.post("/console/maintenance", data={**past, "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert len(audited(db, "maintenance.retroactive")) == 1
    current = text_of(section(client.get("/console/maintenance").text, "current"))
    assert "Counts from its declared start 2026-03-02 08:00 CST" in current
    assert "抢修 08:00 开始，10:00 才登记" in current


def test_forms_without_the_anti_forgery_value_are_refused(
        client: TestClient, db: psycopg.Connection[Any], city: Any) -> None:
    sign_in(client, db, Role.operator)
    refused = client.post("/console/maintenance", data={k: v for k, v in form("").items() if k != "csrf"})
    assert refused.status_code == 403
    assert audited(db, "maintenance.add") == []


def test_the_page_is_chinese_first(client: TestClient, db: psycopg.Connection[Any], city: Any) -> None:
    csrf = sign_in(client, db, Role.operator)
    client.post("/console/maintenance", data=form(csrf))
    page = client.get("/console/maintenance", headers={"Accept-Language": "zh-CN"})
    words = text_of(page.text)
    assert "1号水泵 (pump-1)" in words
    assert "运维窗口" in words

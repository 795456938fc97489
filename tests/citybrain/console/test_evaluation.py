"""The evaluation pages: the whole Table 8 for a window, measured and assessed figures
labelled apart; an evaluator enters an assessment with evidence through the form, a second
person approves it, the assessor is offered no review; the evidence downloads audited; bad
input is a 4xx page saying why; on-call staff are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.assessments import store
from citybrain.indicators.evaluation import load_table
from citybrain.kernel import audit
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.api.test_api import city  # noqa: F401  (two departments, one device each)
from tests.citybrain.assessments.support import MINUTES, NOW
from tests.citybrain.console.support import section, sign_in, text_of
from tests.helpers import MovableClock

PAGE = "/console/evaluation"
ITEM = "/console/evaluation/items/mechanism.coordination"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path,
           city: psycopg.Connection[Any]) -> Iterator[TestClient]:  # noqa: F811
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with TestClient(create_app(settings, database_url, clock=MovableClock(NOW))) as c:
        yield c


def enter(client: TestClient, csrf: str, **fields: Any) -> Any:
    form = {"csrf": csrf, "item": "mechanism.coordination", "department": "", "period": "2026-01-01",
            "level": "working", "score": "78.5", "comment": "例会每月召开，有纪要", **fields}
    return client.post("/console/evaluation/assessments", data=form, follow_redirects=False,
                       files=[("evidence", (MINUTES.file_name, MINUTES.content, "application/pdf"))])


def test_the_page_shows_the_whole_table_with_both_kinds_labelled(client: TestClient,
                                                                 db: psycopg.Connection[Any]) -> None:
    csrf = sign_in(client, db, Role.evaluator, name="李娜")
    assert enter(client, csrf).status_code == 303
    page = client.get(PAGE, params=MARCH)
    assert page.status_code == 200, page.text
    html = page.text
    for row in load_table().rows:
        assert f'id="row-{row.id}"' in html, row.id
    infra = text_of(section(html, "row-content.infrastructure"))
    assert "测量 视频监控设备完好率 无数据" in infra
    mechanism = text_of(section(html, "row-mechanism.coordination"))
    # The pending entry is shown, labelled, with its status, version and assessor; it does not count yet.
    assert "评估 协调机制" in mechanism and "78.5 / 100" in mechanism and "待审核" in mechanism
    assert "第 1 版" in mechanism and "李娜" in mechanism and "计入结果" not in mechanism
    assert MINUTES.file_name in mechanism
    team = text_of(section(html, "row-capability.team"))
    assert "评估" in team and "该统计周期暂无评估" in team


def test_an_assessment_is_entered_and_approved_by_a_second_person(client: TestClient,
                                                                  db: psycopg.Connection[Any]) -> None:
    csrf = sign_in(client, db, Role.evaluator, name="李娜")
    made = enter(client, csrf)
    assert made.status_code == 303 and made.headers["location"].startswith(ITEM)
    (version,) = store.versions(db)
    mine = client.get(ITEM)
    assert f'id="version-{version.version_id}"' in mine.text
    assert "/review" not in mine.text and "等待另一人" in mine.text   # the assessor gets no review form
    refused = client.post(f"/console/evaluation/assessments/{version.version_id}/review",
                          data={"csrf": csrf, "decision": "approved"})
    assert refused.status_code == 403 and "不能审核该版本" in refused.text
    client.cookies.clear()
    csrf = sign_in(client, db, Role.admin, name="王强")
    page = client.get(ITEM)
    assert f'action="/console/evaluation/assessments/{version.version_id}/review"' in page.text
    done = client.post(f"/console/evaluation/assessments/{version.version_id}/review",
                       data={"csrf": csrf, "decision": "approved", "comment": "证据齐全"},
                       follow_redirects=False)
    assert done.status_code == 303
    shown = text_of(section(client.get(PAGE, params=MARCH).text, "row-mechanism.coordination"))
    assert "已通过" in shown and "计入结果" in shown and "王强" in shown
    link = re.search(r'href="(/console/evaluation/assessments/\d+/evidence/1)"', client.get(ITEM).text)
    assert link is not None
    got = client.get(link.group(1))
    assert got.status_code == 200 and got.content == MINUTES.content
    assert [e.action for e in audit.entries(db) if e.action.startswith("assessment.")] == [
        "assessment.evidence", "assessment.review", "assessment.enter"]


def test_a_new_version_keeps_the_evidence_it_is_asked_to(client: TestClient,
                                                         db: psycopg.Connection[Any]) -> None:
    csrf = sign_in(client, db, Role.evaluator, name="李娜")
    enter(client, csrf)
    (first,) = store.versions(db)
    form = client.get(ITEM, params={"base": first.version_id})
    assert f'value="{MINUTES.sha256}"' in form.text and "第 1 版的新版本" in form.text
    again = client.post("/console/evaluation/assessments", follow_redirects=False, data={
        "csrf": csrf, "item": "mechanism.coordination", "department": "", "period": "2026-01-01",
        "level": "sound", "score": "88", "comment": "补充了考核记录", "keep": [MINUTES.sha256]})
    assert again.status_code == 303, again.text
    newest = store.versions(db)[0]
    assert (newest.version, [e.sha256 for e in newest.evidence]) == (2, [MINUTES.sha256])
    assert [v.status for v in store.versions(db)] == ["pending", "superseded"]


@pytest.mark.parametrize(("fields", "said"), [
    ({"score": "84", "level": "sound"}, "不在等级 sound 内"),
    ({"period": "2026-02-01"}, "须为完整的自然周期"),
    ({"period": "soon"}, "请选择周期"),
    ({"comment": " "}, "说明为必填项"),
])
def test_bad_input_is_a_page_saying_why(client: TestClient, db: psycopg.Connection[Any],
                                        fields: dict[str, str], said: str) -> None:
    csrf = sign_in(client, db, Role.evaluator, name="李娜")
    reply = enter(client, csrf, **fields)
    assert reply.status_code == 422, reply.text[:300]
    assert said in text_of(reply.text)
    assert store.versions(db) == []


def test_who_sees_what(client: TestClient, db: psycopg.Connection[Any]) -> None:
    sign_in(client, db, Role.oncall, department="water")
    assert client.get(PAGE).status_code == 403
    client.cookies.clear()
    csrf = sign_in(client, db, Role.operator)
    page = client.get(ITEM)
    assert page.status_code == 200 and 'id="enter"' not in page.text        # operators read only
    assert enter(client, csrf).status_code == 403
    client.cookies.clear()
    sign_in(client, db, Role.evaluator, department="water")
    assert client.get(PAGE, params={"department": "traffic"}).status_code == 403
    assert client.get("/console/evaluation/items/mechanism.none").status_code == 404

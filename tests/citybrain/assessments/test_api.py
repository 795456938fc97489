"""The assessments API: an evaluator enters, a second person reviews, operators read, on-call
staff nothing; the evidence comes back byte for byte and audited; input the server cannot
use is a 4xx naming it; a body larger than the evidence limit is a 413 before anything."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.kernel import audit
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.assessments.support import MINUTES, NOW, Conn
from tests.citybrain.indicators.city import department
from tests.helpers import MovableClock

URL = "/api/v1/assessments"


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path, db: Conn) -> Iterator[TestClient]:
    department(db, "water", "roads")
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path,
                        assessment_evidence_max_bytes=4096)
    with TestClient(create_app(settings, database_url, clock=MovableClock(NOW)),
                    headers={"Accept-Language": "en"}) as c:
        yield c


def bearer(db: Conn, role: Role, name: str, department: str | None = None) -> dict[str, str]:
    _, clear = tokens.create(db, role, department=department, name=name, created_by="test")
    return {"Authorization": f"Bearer {clear}"}


def body(**change: Any) -> dict[str, Any]:
    return {"item": "mechanism.coordination", "department": "water", "period_from": "2026-01-01",
            "period_to": "2026-12-31", "level": "working", "score": 78.5, "comment": "例会每月召开",
            "evidence": [{"file_name": MINUTES.file_name, "content_type": "application/pdf",
                          "content_base64": base64.b64encode(MINUTES.content).decode()}], **change}


def test_enter_review_read_and_download(client: TestClient, db: Conn) -> None:
    li, wang = bearer(db, Role.evaluator, "李娜"), bearer(db, Role.admin, "王强")
    made = client.post(URL, json=body(), headers=li)
    assert made.status_code == 201, made.text
    v = made.json()
    assert (v["version"], v["status"], v["assessor"]["name"], v["score"]) == (1, "pending", "李娜", 78.5)
    assert v["evidence"][0]["sha256"] == hashlib.sha256(MINUTES.content).hexdigest()
    own = client.post(f"{URL}/{v['version_id']}/review", json={"decision": "approved"}, headers=li)
    assert own.status_code == 403 and "may not review it" in own.json()["detail"]
    done = client.post(f"{URL}/{v['version_id']}/review", json={"decision": "approved", "comment": "齐全"},
                       headers=wang)
    assert done.status_code == 200 and done.json()["review"]["reviewer"]["name"] == "王强"
    again = client.post(f"{URL}/{v['version_id']}/review", json={"decision": "rejected", "comment": "x"},
                        headers=bearer(db, Role.evaluator, "周七"))
    assert again.status_code == 409
    listed = client.get(URL, params={"status": "approved"}, headers=bearer(db, Role.operator, "赵六"))
    assert [a["version_id"] for a in listed.json()["assessments"]] == [v["version_id"]]
    got = client.get(v["evidence"][0]["href"], headers=bearer(db, Role.operator, "赵六"))
    assert got.status_code == 200 and got.content == MINUTES.content
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-citybrain-file-sha256"] == v["evidence"][0]["sha256"]
    assert "attachment" in got.headers["content-disposition"]
    actions = [e.action for e in audit.entries(db) if e.action.startswith("assessment.")]
    assert actions == ["assessment.evidence", "assessment.review", "assessment.enter"]


@pytest.mark.parametrize(("role", "method", "path"), [
    (Role.oncall, "GET", URL), (Role.oncall, "POST", URL), (Role.operator, "POST", URL),
    (Role.admin, "POST", URL),
])
def test_who_may_not(client: TestClient, db: Conn, role: Role, method: str, path: str) -> None:
    reply = client.request(method, path, json=body() if method == "POST" else None,
                           headers=bearer(db, role, "someone", "water"))
    assert reply.status_code == 403, reply.text


def test_a_limited_token_stays_in_its_department(client: TestClient, db: Conn) -> None:
    roads = bearer(db, Role.evaluator, "李娜", "roads")
    assert client.post(URL, json=body(), headers=roads).status_code == 403
    assert client.post(URL, json=body(department=None), headers=roads).status_code == 403   # the city's
    assert client.post(URL, json=body(department="roads"), headers=roads).status_code == 201
    assert client.get(URL, params={"department": "water"}, headers=roads).status_code == 403
    water = client.post(URL, json=body(), headers=bearer(db, Role.evaluator, "王强")).json()
    seen = client.get(URL, headers=roads).json()["assessments"]
    assert [a["department"] for a in seen] == ["roads"]
    assert client.get(water["evidence"][0]["href"], headers=roads).status_code == 403


@pytest.mark.parametrize(("change", "code", "said"), [
    ({"score": 84, "level": "sound"}, 422, "is not in level sound"),
    ({"score": "1e400"}, 422, "score"),
    ({"period_to": "2026-06-30"}, 422, "a period from 2026-01-01 runs to 2026-12-31"),
    ({"item": "mechanism.none"}, 422, "there is no assessed item"),
    ({"department": "nowhere"}, 404, "no department 'nowhere'"),
    ({"comment": ""}, 422, "comment"),
    ({"evidence": [{"file_name": "x.pdf", "content_base64": "!!!!"}]}, 422, "is not base64"),
    ({"evidence": [{"file_name": "x.pdf", "content_type": "application/pdf",
                    "content_base64": base64.b64encode(b"MZ\x90").decode()}]}, 422, "not a file of an"),
    ({"evidence": [{"file_name": "big.txt", "content_type": "text/plain",
                    "content_base64": base64.b64encode(b"a" * 5000).decode()}]}, 422, "larger than 4096"),
    ({"keep_evidence": ["z" * 64]}, 422, "keep_evidence"),
    ({"surprise": 1}, 422, "surprise"),
])
def test_bad_input_is_a_4xx_naming_it(client: TestClient, db: Conn, change: dict[str, Any], code: int,
                                      said: str) -> None:
    reply = client.post(URL, json=body(**change), headers=bearer(db, Role.evaluator, "李娜"))
    assert reply.status_code == code, reply.text
    assert said in reply.text
    assert client.get(URL, headers=bearer(db, Role.evaluator, "李娜")).json()["assessments"] == []


def test_a_body_larger_than_the_evidence_limit_is_refused_before_anything(client: TestClient,
                                                                          db: Conn) -> None:
    # 4096 bytes of files may take 4/3 × 4096 in base64, plus the ordinary 65536 for the rest.
    huge = body(evidence=[{"file_name": "big.txt", "content_type": "text/plain",
                           "content_base64": "a" * 80_000}])
    reply = client.post(URL, json=huge, headers=bearer(db, Role.evaluator, "李娜"))
    assert reply.status_code == 413 and "CITYBRAIN_ASSESSMENT_EVIDENCE_MAX_BYTES" in reply.json()["detail"]
    # Every other route keeps the ordinary limit.
    other = client.post(f"{URL}/1/review", json={"decision": "approved", "comment": "a" * 70_000},
                        headers=bearer(db, Role.admin, "王强"))
    assert other.status_code == 413


def test_unknown_versions_and_files_are_404(client: TestClient, db: Conn) -> None:
    admin = bearer(db, Role.admin, "王强")
    assert client.post(f"{URL}/999/review", json={"decision": "approved"}, headers=admin).status_code == 404
    made = client.post(URL, json=body(), headers=bearer(db, Role.evaluator, "李娜")).json()
    assert client.get(f"{URL}/{made['version_id']}/evidence/2", headers=admin).status_code == 404
    assert client.get(f"{URL}/{made['version_id']}/evidence/0", headers=admin).status_code == 404
    bad = client.post(f"{URL}/{made['version_id']}/review", json={"decision": "maybe"}, headers=admin)
    assert bad.status_code == 422

"""The HTTP API through FastAPI's test client, against the real database."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.incidents import store as incidents
from citybrain.api.app import create_app
from citybrain.indicators.catalogue import load_catalogue
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import use_language
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import alert

WINDOW = {"from": "2026-03-02", "to": "2026-03-02", "tz": "Asia/Shanghai"}
# The error sentences these tests read are English: the API answers in the request's
# language (test_language.py checks the default and the choice).
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def city(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """Two departments, one IoT device each; water's device is offline 6 h of its day."""
    for dep in ("water", "roads"):
        db.execute("INSERT INTO departments (department_id, name) VALUES (%s, %s)", (dep, dep.title()))
    db.execute("INSERT INTO districts (district_id, name) VALUES ('d1', 'North')")
    for asset, dep in (("w-1", "water"), ("r-1", "roads")):
        db.execute(
            "INSERT INTO assets (asset_id, kind, key, department_id, district_id, expected_interval_s,"
            " registered_at) VALUES (%s, 'iot_device', 'infrastructure', %s, 'd1', 60,"
            " '2026-01-01T00:00:00Z')", (asset, dep))
    # 2026-03-02 in Asia/Shanghai is [2026-03-01T16:00Z, 2026-03-02T16:00Z).
    rows = [
        ("r-1", "online", "2026-03-01T00:00Z", None),
        ("w-1", "online", "2026-03-01T00:00Z", "2026-03-02T04:00Z"),
        ("w-1", "offline", "2026-03-02T04:00Z", "2026-03-02T10:00Z"),
        ("w-1", "online", "2026-03-02T10:00Z", None),
    ]
    for asset, state, start, end in rows:
        db.execute("INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
                   " VALUES (%s, %s, %s, %s, 'test')", (asset, state, start, end))
    return db


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Any) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with TestClient(create_app(settings, database_url), headers=ENGLISH) as c:
        yield c


def bearer(db: psycopg.Connection[Any], role: Role, department: str | None = None) -> dict[str, str]:
    _, clear = tokens.create(db, role, department=department, name="test", created_by="test")
    return {"Authorization": f"Bearer {clear}"}


def test_requests_without_a_valid_token_are_refused(client: TestClient, city: Any) -> None:
    assert client.get("/api/v1/indicators").status_code == 401
    bad = client.get("/api/v1/indicators", headers={"Authorization": "Bearer cbt_nope_nope"})
    assert bad.status_code == 401
    assert "unknown or revoked" in bad.json()["detail"]
    token, clear = tokens.create(city, Role.operator, department=None, name="x", created_by="test")
    assert tokens.revoke(city, token.token_id)
    revoked = client.get("/api/v1/indicators", headers={"Authorization": f"Bearer {clear}"})
    assert revoked.status_code == 401


def test_catalogue_lists_every_indicator(client: TestClient, city: Any) -> None:
    got = client.get("/api/v1/indicators", headers=bearer(city, Role.evaluator))
    assert got.status_code == 200
    assert [i["id"] for i in got.json()] == [i.id for i in load_catalogue()]
    assert {"formula", "unit", "target", "version", "name_zh"} <= set(got.json()[0])


def test_indicator_figure_with_breakdowns(client: TestClient, city: Any) -> None:
    got = client.get("/api/v1/indicators/infra.device_online_rate",
                     params={**WINDOW, "group_by": "department"}, headers=bearer(city, Role.operator))
    assert got.status_code == 200, got.text
    body = got.json()
    # Two devices × 86,400 s known; water was offline 6 h = 21,600 s.
    assert body["numerator"] == pytest.approx(2 * 86_400 - 21_600)
    assert body["denominator"] == pytest.approx(2 * 86_400)
    assert {b["dimension"] for b in body["breakdowns"]} == {"department"}
    water = next(b for b in body["breakdowns"] if b["member"] == "water")
    assert water["numerator"] == pytest.approx(86_400 - 21_600)
    assert body["window"] == {"from": "2026-03-01T16:00:00+00:00", "to": "2026-03-02T16:00:00+00:00",
                              "timezone": "Asia/Shanghai"}
    # The window has ended (the request's clock is later) and no feed has a watermark.
    end = "2026-03-02T16:00:00+00:00"
    assert body["as_of"] == {"at": end, "feeds": {"iot": end, "probe": end, "video": end}}


def test_department_token_sees_its_department_only(client: TestClient, city: Any) -> None:
    headers = bearer(city, Role.oncall, department="roads")
    own = client.get("/api/v1/indicators/infra.device_online_rate", params=WINDOW, headers=headers)
    assert own.status_code == 200
    assert own.json()["department"] == "roads"
    assert own.json()["numerator"] == pytest.approx(86_400)
    other = client.get("/api/v1/indicators/infra.device_online_rate",
                       params={**WINDOW, "department": "water"}, headers=headers)
    assert other.status_code == 403
    assert "limited to department 'roads'" in other.json()["detail"]


@pytest.mark.parametrize(("params", "status", "message"), [
    ({**WINDOW, "group_by": "colour"}, 422, "unknown group_by colour"),
    ({**WINDOW, "from": "yesterday"}, 422, "neither a date"),
    ({**WINDOW, "tz": "Mars/Olympus"}, 422, "unknown time zone"),
    ({"from": "2026-03-03", "to": "2026-03-01"}, 422, "window is empty"),
])
def test_bad_requests_get_a_4xx_with_a_message(client: TestClient, city: Any, params: dict[str, str],
                                               status: int, message: str) -> None:
    got = client.get("/api/v1/indicators/infra.device_online_rate", params=params,
                     headers=bearer(city, Role.operator))
    assert got.status_code == status
    assert message in got.json()["detail"]
    missing = client.get("/api/v1/indicators/infra.nothing", params=WINDOW,
                         headers=bearer(city, Role.operator))
    assert missing.status_code == 404


def test_report_export_is_audited_and_matches_its_hash(client: TestClient, city: Any) -> None:
    headers = bearer(city, Role.evaluator)
    got = client.get("/api/v1/reports", params={**WINDOW, "format": "xlsx", "lang": "en"}, headers=headers)
    assert got.status_code == 200, got.text
    workbook = openpyxl.load_workbook(io.BytesIO(got.content))
    assert {"Summary", "Definitions", "Provenance"} <= set(workbook.sheetnames)
    digest = got.headers["X-Citybrain-Data-SHA256"]
    row = city.execute("SELECT actor, role, details FROM audit_log WHERE action = 'report.export'").fetchone()
    assert row is not None
    actor, role, details = row
    assert actor.startswith("token:") and role == "evaluator"
    assert details["data_sha256"] == digest
    assert details["format"] == "xlsx"
    assert details["timezone"] == "Asia/Shanghai"
    again = client.get("/api/v1/reports", params={**WINDOW, "format": "json"}, headers=headers)
    assert again.json()["provenance"]["data_sha256"] == digest


def test_openapi_is_served(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/indicators", "/api/v1/indicators/{indicator_id}", "/api/v1/reports"} <= set(paths)


def test_tokens_create_prints_a_token_that_authenticates(database_url: str, schema: str,
                                                        city: psycopg.Connection[Any]) -> None:
    env = {**os.environ, "CITYBRAIN_DATABASE_URL": database_url, "CITYBRAIN_DATABASE_SCHEMA": schema,
           "CITYBRAIN_LANGUAGE": "zh-CN"}
    done = subprocess.run([sys.executable, "-m", "citybrain", "tokens", "create", "--role", "oncall",
                           "--department", "water", "--name", "li-na"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    clear = done.stdout.strip()
    token = tokens.authenticate(city, clear)
    assert token is not None
    assert (token.role, token.department, token.name) == (Role.oncall, "water", "li-na")
    row = city.execute("SELECT actor, subject FROM audit_log WHERE action = 'token.create'").fetchone()
    assert row is not None and row[0].startswith("cli:") and row[1] == token.token_id
    unknown = subprocess.run([sys.executable, "-m", "citybrain", "tokens", "create", "--role", "oncall",
                              "--department", "nowhere"],
                             env=env, capture_output=True, text=True, timeout=60, check=False)
    assert unknown.returncode == 1
    assert "未知部门 'nowhere'" in unknown.stderr   # the CLI speaks CITYBRAIN_LANGUAGE, zh-CN by default
    listed = subprocess.run([sys.executable, "-m", "citybrain", "tokens", "list"],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0, listed.stderr
    # Headers and roles translated; the department by name with its id; the token id as it is.
    assert "到期时间" in listed.stdout and "值班人员 [oncall]" in listed.stdout
    assert "Water [water]" in listed.stdout and token.token_id in listed.stdout


def test_an_indicator_read_is_audited(client: TestClient, city: Any) -> None:
    headers = bearer(city, Role.evaluator, department="water")
    got = client.get("/api/v1/indicators/infra.device_online_rate", params=WINDOW, headers=headers)
    assert got.status_code == 200, got.text
    row = city.execute("SELECT actor, role, subject, details FROM audit_log WHERE action = 'indicator.read'"
                       ).fetchone()
    assert row is not None
    actor, role, subject, details = row
    assert actor.startswith("token:") and (role, subject) == ("evaluator", "infra.device_online_rate")
    assert details["department"] == "water" and details["timezone"] == "Asia/Shanghai"
    assert details["from"] == "2026-03-01T16:00:00+00:00" and details["to"] == "2026-03-02T16:00:00+00:00"


# A commit that fails for real: a deferred constraint trigger on the audit log raises when
# the transaction commits, after every statement of the request has succeeded.
REFUSE_COMMIT = """
CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'commit refused (test)'; END $$;
CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();
"""


@pytest.fixture
def lenient(database_url: str, schema: str, tmp_path: Any) -> Iterator[TestClient]:
    """The app with server errors as answers (as a client sees them), not raised in the test."""
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with TestClient(create_app(settings, database_url), raise_server_exceptions=False, headers=ENGLISH) as c:
        yield c


@pytest.mark.parametrize("url", ["/api/v1/reports", "/api/v1/indicators/infra.device_online_rate"])
def test_an_export_whose_audit_entry_does_not_commit_is_not_delivered(lenient: TestClient, city: Any,
                                                                      url: str) -> None:
    headers = bearer(city, Role.evaluator)
    city.execute(REFUSE_COMMIT)
    got = lenient.get(url, params={**WINDOW, "format": "json"}, headers=headers)
    assert got.status_code == 503, got.text[:300]
    assert "could not be recorded in the audit log, so nothing is delivered" in got.json()["detail"]
    assert "numerator" not in got.text and "provenance" not in got.text
    assert "X-Citybrain-Data-SHA256" not in got.headers
    city.execute("DROP TRIGGER refuse_commit ON audit_log")
    assert city.execute("SELECT count(*) FROM audit_log WHERE action <> 'token.create'").fetchone() == (0,)


def test_a_change_whose_commit_fails_is_not_answered_as_done(lenient: TestClient, city: Any,
                                                             database_url: str, schema: str) -> None:
    settings = Settings(database_url=database_url, database_schema=schema)
    iid = incidents.apply(city, alert("w-1"), now=datetime.now(UTC), settings=settings).incident_id
    city.execute(REFUSE_COMMIT)
    got = lenient.post(f"/api/v1/incidents/{iid}/ack", headers=bearer(city, Role.operator))
    assert got.status_code == 500 and "acknowledged" not in got.text
    assert city.execute("SELECT status FROM incidents WHERE incident_id = %s", (iid,)).fetchone() == (
        "triggered",)


def test_an_expired_token_is_401(client: TestClient, city: Any) -> None:
    _, clear = tokens.create(city, Role.operator, department=None, name="x", created_by="test",
                             expires_at=datetime.now(UTC) - timedelta(seconds=1))
    got = client.get("/api/v1/indicators", headers={"Authorization": f"Bearer {clear}"})
    assert got.status_code == 401 and got.json()["detail"].startswith("token expired")
    _, live = tokens.create(city, Role.operator, department=None, name="y", created_by="test",
                            expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert client.get("/api/v1/indicators", headers={"Authorization": f"Bearer {live}"}).status_code == 200


@pytest.mark.parametrize(("text", "hours"), [("90d", 90 * 24), ("12h", 12), (" 1D ", 24)])
def test_a_lifetime_is_days_or_hours(text: str, hours: int) -> None:
    assert tokens.parse_lifetime(text) == timedelta(hours=hours)


@pytest.mark.parametrize("text", ["90", "0d", "2w", "-1d", "1.5h", ""])
def test_a_lifetime_that_is_not_days_or_hours_is_refused(text: str) -> None:
    with use_language("en"), pytest.raises(tokens.TokenError, match=r"e\.g\. 90d or 12h"):
        tokens.parse_lifetime(text)
    with pytest.raises(tokens.TokenError, match=r"无法识别有效期.*如 90d 或 12h"):
        tokens.parse_lifetime(text)


def test_tokens_create_with_an_expiry_and_list_shows_it(database_url: str, schema: str,
                                                        city: psycopg.Connection[Any]) -> None:
    env = {**os.environ, "CITYBRAIN_DATABASE_URL": database_url, "CITYBRAIN_DATABASE_SCHEMA": schema,
           "CITYBRAIN_LANGUAGE": "en"}

    def citybrain(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "citybrain", *args], env=env, capture_output=True,
                              text=True, timeout=60, check=False)

    done = citybrain("tokens", "create", "--role", "evaluator", "--name", "audit-2026", "--expires-in", "90d")
    assert done.returncode == 0, done.stderr
    token = tokens.authenticate(city, done.stdout.strip())
    assert token is not None and token.expires_at is not None
    lifetime = token.expires_at - token.created_at
    assert abs(lifetime.total_seconds() - 90 * 86_400) < 60
    listed = citybrain("tokens", "list")
    assert listed.returncode == 0, listed.stderr
    shown = f"{token.expires_at.astimezone(UTC):%Y-%m-%d %H:%MZ}"
    assert "expires" in listed.stdout and shown in listed.stdout
    no_department = citybrain("tokens", "create", "--role", "oncall")
    assert no_department.returncode == 1 and "oncall token needs --department" in no_department.stderr
    bad = citybrain("tokens", "create", "--role", "evaluator", "--expires-in", "3 months")
    assert bad.returncode == 1 and "e.g. 90d or 12h" in bad.stderr

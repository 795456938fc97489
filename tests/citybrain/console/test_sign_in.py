"""Signing in to the console: tokens, one-time codes, cookies, forgery, expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from citybrain.api.app import create_app
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.console.oncall import Box, box
from tests.citybrain.console.support import form_token, sign_in, sign_in_with
from tests.helpers import MovableClock

__all__ = ["box"]   # the on-call tests' fixture: a real SMTP server on loopback

ENGLISH = {"Accept-Language": "en"}
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


Clock = MovableClock


@pytest.fixture
def registry(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    contacts = [{"role": "oncall", "name": "李娜", "email": "lina@water.example"},
                {"role": "duty_supervisor", "name": "赵强", "email": "zhao@centre.example"},
                {"role": "group", "name": "机器人", "email": "robot@water.example"}]
    db.execute("INSERT INTO departments (department_id, name, contacts) VALUES ('water', 'Water', %s)",
               (Jsonb(contacts),))
    return db




@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def _settings(database_url: str, schema: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path, **extra)


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path, clock: Clock, box: Box,
           registry: Any) -> Iterator[TestClient]:
    settings = _settings(database_url, schema, tmp_path, smtp_host="127.0.0.1", smtp_port=box.port)
    with TestClient(create_app(settings, database_url, clock=clock), headers=ENGLISH) as c:
        yield c


def _audit(db: psycopg.Connection[Any], action: str) -> list[tuple[Any, ...]]:
    return db.execute("SELECT actor, role, subject, details FROM audit_log WHERE action = %s ORDER BY id",
                      (action,)).fetchall()


def test_the_root_goes_to_the_console_and_an_anonymous_page_to_the_sign_in(client: TestClient) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 303 and root.headers["location"] == "/console/"
    page = client.get("/console/account", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?next=/console/account"
    sign_in_page = client.get(page.headers["location"])
    assert sign_in_page.status_code == 200
    assert 'name="next" value="/console/account"' in sign_in_page.text


def test_a_token_signs_in_with_a_cookie_script_cannot_read(client: TestClient, db: Any) -> None:
    _, clear = tokens.create(db, Role.operator, department=None, name="王伟", created_by="test")
    done = client.post("/console/sign-in", data={"token": clear, "form_token": form_token(client),
                                                 "next": "/console/account"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/console/account"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie   # plain http on loopback: a Secure cookie would never come back
    mine = client.get("/console/account")
    assert "王伟" in mine.text
    actor, role, _subject, details = _audit(db, "console.sign_in")[0]
    assert (actor, role, details["with"], details["person"]) == (f"token:{clear.split('_')[1]}", "operator",
                                                                  "token", "王伟")
    # Only the digest of the session's cookie is stored.
    stored = db.execute("SELECT session_sha256 FROM console_sessions").fetchone()[0]
    assert done.cookies.get("citybrain_session") not in bytes(stored).hex()


def test_https_gets_a_secure_host_only_cookie(database_url: str, schema: str, tmp_path: Path, clock: Clock,
                                              db: Any) -> None:
    settings = _settings(database_url, schema, tmp_path, public_url="https://citybrain.example.gov.cn")
    _, clear = tokens.create(db, Role.evaluator, department=None, name="x", created_by="test")
    with TestClient(create_app(settings, database_url, clock=clock), base_url="https://citybrain.example.gov.cn",
                    headers=ENGLISH) as c:
        done = c.post("/console/sign-in", data={"token": clear, "form_token": form_token(c)},
                      follow_redirects=False)
        assert done.status_code == 303
        cookie = done.headers["set-cookie"]
        assert cookie.startswith("__Host-citybrain_session=") and "Secure" in cookie
        assert c.get("/console/account").status_code == 200


def test_bad_tokens_are_refused_with_a_reason(client: TestClient, db: Any, clock: Clock) -> None:
    unknown = client.post("/console/sign-in",
                          data={"token": "cbt_nope_nope", "form_token": form_token(client)})
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.text
    _, clear = tokens.create(db, Role.operator, department=None, name="x", created_by="test",
                             expires_at=START - timedelta(seconds=1))
    old = client.post("/console/sign-in", data={"token": clear, "form_token": form_token(client)})
    assert old.status_code == 401 and "expired" in old.text
    assert db.execute("SELECT count(*) FROM console_sessions").fetchone()[0] == 0


def test_a_sign_in_form_from_elsewhere_is_refused(client: TestClient, db: Any) -> None:
    _, clear = tokens.create(db, Role.operator, department=None, name="x", created_by="test")
    token = form_token(client)
    forged = client.post("/console/sign-in", data={"token": clear, "form_token": "x" * 32})
    assert forged.status_code == 403
    cross = client.post("/console/sign-in", data={"token": clear, "form_token": token},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert db.execute("SELECT count(*) FROM console_sessions").fetchone()[0] == 0


def test_every_session_form_needs_its_anti_forgery_value(client: TestClient, db: Any) -> None:
    csrf = sign_in(client, db, Role.operator)
    refused = client.post("/console/sign-out", data={})
    assert refused.status_code == 403 and "anti-forgery" in refused.text
    wrong = client.post("/console/sign-out", data={"csrf": csrf[:-2] + "xx"})
    assert wrong.status_code == 403
    other_site = client.post("/console/sign-out", data={"csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403
    assert client.get("/console/account").status_code == 200   # still signed in
    out = client.post("/console/sign-out", data={"csrf": csrf})
    assert out.status_code == 200 and "You are signed out" in out.text
    assert client.get("/console/account", follow_redirects=False).status_code == 303
    assert [a[0] for a in _audit(db, "console.sign_out")] == [_audit(db, "console.sign_in")[0][0]]


def test_a_session_ends_when_it_expires_or_idles(client: TestClient, db: Any, clock: Clock) -> None:
    sign_in(client, db, Role.operator)
    clock.now += timedelta(minutes=59)
    assert client.get("/console/account").status_code == 200           # active: the idle clock restarts
    clock.now += timedelta(minutes=61)
    idle = client.get("/console/account", follow_redirects=False)
    assert idle.status_code == 401 and "without activity" in idle.text
    again = client.get("/console/account", follow_redirects=False)   # the browser dropped the cookie
    assert again.status_code == 303
    sign_in(client, db, Role.operator)
    for _ in range(13):                                                 # active all along, past 12 h
        clock.now += timedelta(minutes=59)
        last = client.get("/console/account", follow_redirects=False)
    assert last.status_code == 401 and "Your session has expired" in last.text
    ended = db.execute("SELECT count(*) FROM console_sessions WHERE ended_at IS NOT NULL").fetchone()[0]
    assert ended == 2


def test_a_post_after_expiry_shows_why(client: TestClient, db: Any, clock: Clock) -> None:
    csrf = sign_in(client, db, Role.operator)
    clock.now += timedelta(hours=13)
    late = client.post("/console/sign-out", data={"csrf": csrf})
    assert late.status_code == 401 and "Your session has expired" in late.text


def test_a_revoked_token_ends_its_sessions(client: TestClient, db: Any) -> None:
    token, clear = tokens.create(db, Role.operator, department=None, name="x", created_by="test")
    sign_in_with(client, clear)
    assert tokens.revoke(db, token.token_id)
    gone = client.get("/console/account", follow_redirects=True)
    assert "revoked or expired" in gone.text


def test_a_roster_contact_signs_in_with_a_code(client: TestClient, db: Any, box: Box) -> None:
    token = form_token(client)
    asked = client.post("/console/sign-in/code", data={"email": "LiNa@water.example", "form_token": token})
    assert asked.status_code == 200, asked.text
    request = csrf_request = asked.text.split('name="code_request" value="')[1].split('"')[0]
    code = box.code_for("lina@water.example")
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/console/sign-in/code/verify",
                          data={"code": wrong, "code_request": request, "form_token": token})
    assert refused.status_code == 401 and "not right" in refused.text
    assert db.execute("SELECT attempts FROM sign_in_codes").fetchone()[0] == 1   # counted, though refused
    done = client.post("/console/sign-in/code/verify", data={"code": code, "code_request": csrf_request,
                                                             "form_token": token}, follow_redirects=False)
    assert done.status_code == 303
    mine = client.get("/console/account")
    assert "李娜" in mine.text and "code:李娜" in mine.text
    row = db.execute("SELECT role, department_id, signed_in_with FROM console_sessions").fetchone()
    assert row == ("oncall", "water", "code")
    used = client.post("/console/sign-in/code/verify",
                       data={"code": code, "code_request": request, "form_token": token})
    assert used.status_code == 401 and "used already" in used.text


def test_a_duty_supervisor_signs_in_as_a_city_wide_operator(client: TestClient, db: Any, box: Box) -> None:
    token = form_token(client)
    asked = client.post("/console/sign-in/code", data={"email": "zhao@centre.example", "form_token": token})
    request = asked.text.split('name="code_request" value="')[1].split('"')[0]
    client.post("/console/sign-in/code/verify", data={"code": box.code_for("zhao@centre.example"),
                                                      "code_request": request, "form_token": token})
    assert db.execute("SELECT role, department_id FROM console_sessions").fetchone() == ("operator", None)


def test_an_address_off_the_roster_gets_the_same_page_and_no_mail(client: TestClient, box: Box,
                                                                  db: Any) -> None:
    token = form_token(client)
    for address in ("nobody@example.com", "robot@water.example"):   # a group's address is no person
        page = client.post("/console/sign-in/code", data={"email": address, "form_token": token})
        assert page.status_code == 200 and "a six-digit code is on its way" in page.text
    assert box.messages == []
    assert db.execute("SELECT count(*) FROM sign_in_codes").fetchone()[0] == 0


def test_too_many_wrong_codes_use_the_code_up(client: TestClient, db: Any, box: Box) -> None:
    token = form_token(client)
    asked = client.post("/console/sign-in/code", data={"email": "lina@water.example", "form_token": token})
    request = asked.text.split('name="code_request" value="')[1].split('"')[0]
    code = box.code_for("lina@water.example")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post("/console/sign-in/code/verify", data={"code": wrong, "code_request": request,
                                                          "form_token": token})
    late = client.post("/console/sign-in/code/verify", data={"code": code, "code_request": request,
                                                             "form_token": token})
    assert late.status_code == 401 and "expired or was tried too often" in late.text


def test_pages_are_served_with_a_strict_policy_and_chinese_by_default(client: TestClient, db: Any) -> None:
    page = client.get("/console/sign-in", headers={"Accept-Language": ""})
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="zh-CN">' in page.text and "登录" in page.text
    switched = client.get("/console/language?to=en&next=/console/sign-in", follow_redirects=True,
                          headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in switched.text
    assert client.get("/console/language?to=en&next=https://evil.example/",
                      follow_redirects=False).headers["location"] == "/console/"


def test_the_api_description_loads_nothing_from_elsewhere(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    assert "/docs/static/swagger-ui-bundle.js" in docs.text
    bundle = client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    assert client.get("/docs/static/../../etc/passwd").status_code == 404
    assert client.get("/redoc").status_code == 404

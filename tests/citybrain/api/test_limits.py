"""Bounded work and bad input: every request of any token stays within the API's limits,
and input the server cannot use is a 4xx in the one error shape, never a 5xx."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.kernel import store
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.api.test_api import WINDOW, bearer

FIGURE = "/api/v1/indicators/infra.device_online_rate"
POLICY = {"name": "water", "steps": [{"after_minutes": 0, "notify": ["oncall"]}]}
# A window next month: the API reads the wall clock, and a window must lie ahead of it.
NEXT_MONTH = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
WINDOW_IN = {"scope": "department", "target": "water", "starts_at": f"{NEXT_MONTH}T02:00",
             "ends_at": f"{NEXT_MONTH}T04:00", "timezone": "Asia/Shanghai", "reason": "pumps"}


@contextmanager
def serving(database_url: str, schema: str, tmp_path: Any, **limits: Any) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path, **limits)
    # The answers read below are English (test_language.py checks the default, Chinese).
    with TestClient(create_app(settings, database_url), raise_server_exceptions=False,
                    headers={"Accept-Language": "en"}) as client:
        yield client


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Any) -> Iterator[TestClient]:
    with serving(database_url, schema, tmp_path) as c:
        yield c


def error_of(reply: Any, status: int) -> Any:
    """The answer's ``detail`` once the status and the one error shape are checked."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"detail"}, body
    return body["detail"]


# --- finding 1: one long window must not fill the database server's disk --------------

@pytest.mark.parametrize("path", [FIGURE, "/api/v1/reports"])
def test_a_window_longer_than_the_limit_is_refused_naming_it(client: TestClient, city: Any,
                                                             path: str) -> None:
    headers = bearer(city, Role.evaluator, department="water")
    detail = error_of(client.get(path, params={**WINDOW, "from": "1990-01-01", "to": "2100-12-31"},
                                 headers=headers), 422)
    assert "at most 366 days" in detail and "CITYBRAIN_API_MAX_WINDOW_DAYS" in detail


def test_a_calendar_year_fits_leap_and_dst_included(client: TestClient, city: Any) -> None:
    headers = bearer(city, Role.evaluator)
    for tz in ("Europe/Berlin", "Asia/Shanghai"):
        got = client.get(FIGURE, params={"from": "2028-01-01", "to": "2028-12-31", "tz": tz}, headers=headers)
        assert got.status_code == 200, got.text
    just_over = {"from": "2028-01-01", "to": "2029-01-01", "tz": "Europe/Berlin"}
    assert client.get(FIGURE, params=just_over, headers=headers).status_code == 422


def test_api_connections_carry_the_statement_timeout_and_temp_file_limit(
        database_url: str, schema: str, tmp_path: Any) -> None:
    with serving(database_url, schema, tmp_path, api_statement_timeout_seconds=7,
                 api_temp_file_limit_mb=5) as c:
        app: FastAPI = c.app  # type: ignore[assignment]
        with app.state.pool.connection() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("7s",)
            assert conn.execute("SHOW temp_file_limit").fetchone() == ("5MB",)


@contextmanager
def locked(database_url: str, schema: str, table: str) -> Iterator[None]:
    """Hold an exclusive lock on ``table``: a request reading it waits until released."""
    with store.connect(database_url, schema) as holder:
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.rollback()


def waiting_for_a_lock(conn: psycopg.Connection[Any]) -> None:
    """Return once some backend waits for a lock (the slow request is under way)."""
    for _ in range(1000):
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                           " AND datname = current_database()").fetchone()
        if row is not None and row[0] > 0:
            return
        time.sleep(0.01)
    raise AssertionError("the request never waited for the lock")


def test_a_query_stopped_by_the_statement_timeout_is_a_503_naming_it(
        database_url: str, schema: str, tmp_path: Any, city: Any) -> None:
    headers = bearer(city, Role.evaluator)
    with serving(database_url, schema, tmp_path, api_statement_timeout_seconds=0.3) as c, \
            locked(database_url, schema, "state_intervals"):
        detail = error_of(c.get(FIGURE, params=WINDOW, headers=headers), 503)
        assert "0.3 s" in detail and "CITYBRAIN_API_STATEMENT_TIMEOUT_SECONDS" in detail
        # The connection went back to the pool in a usable state.
        assert c.get("/api/v1/maintenance", headers=headers).status_code == 200


# --- finding 2: a slow request must not starve the others ---------------------------

def test_the_pool_serves_other_requests_while_a_slow_one_runs(
        database_url: str, schema: str, tmp_path: Any, city: Any) -> None:
    headers = bearer(city, Role.evaluator)
    with serving(database_url, schema, tmp_path, api_pool_size=2) as c:
        slow: dict[str, Any] = {}
        with locked(database_url, schema, "state_intervals"):
            worker = threading.Thread(target=lambda: slow.setdefault(
                "reply", c.get(FIGURE, params=WINDOW, headers=headers)))
            worker.start()
            waiting_for_a_lock(city)
            for _ in range(5):
                assert c.get("/api/v1/maintenance", headers=headers).status_code == 200
                assert c.get("/api/v1/indicators", headers=headers).status_code == 200
            assert worker.is_alive() and "reply" not in slow   # still waiting for the lock
        worker.join(timeout=30)
        assert slow["reply"].status_code == 200, slow["reply"].text


def test_every_connection_busy_is_a_503_not_a_500(database_url: str, schema: str, tmp_path: Any,
                                                  city: Any) -> None:
    headers = bearer(city, Role.evaluator)
    with serving(database_url, schema, tmp_path, api_pool_size=1, api_pool_timeout_seconds=0.3) as c:
        with locked(database_url, schema, "state_intervals"):
            worker = threading.Thread(target=lambda: c.get(FIGURE, params=WINDOW, headers=headers))
            worker.start()
            waiting_for_a_lock(city)
            detail = error_of(c.get("/api/v1/maintenance", headers=headers), 503)
            assert "database connections of the API stayed busy for 0.3 s" in detail
        worker.join(timeout=30)


# --- finding 8: sizes are bounded before anything else ------------------------------

def test_a_large_body_is_413_before_the_token_is_checked(client: TestClient, city: Any) -> None:
    huge = b"x" * (65_536 + 1)
    detail = error_of(client.post("/api/v1/maintenance", content=huge,
                                  headers={"Content-Type": "application/json"}), 413)
    assert "65536 bytes" in detail and "CITYBRAIN_API_MAX_BODY_BYTES" in detail

    def chunks() -> Iterator[bytes]:   # streamed: no Content-Length to go by
        for _ in range(100):
            yield b" " * 4096

    error_of(client.post("/api/v1/maintenance", content=chunks(),
                         headers={"Content-Type": "application/json"}), 413)
    # Within the limit, the token is what is refused.
    error_of(client.post("/api/v1/maintenance", json=WINDOW_IN), 401)


def test_long_text_is_refused_and_never_echoed(client: TestClient, city: Any) -> None:
    admin = bearer(city, Role.admin)
    reason = "r" * 50_000
    reply = client.post("/api/v1/maintenance", json={**WINDOW_IN, "reason": reason}, headers=admin)
    problems = error_of(reply, 422)
    assert problems == [{"loc": ["body", "reason"], "msg": "String should have at most 2000 characters",
                         "type": "string_too_long"}]
    assert len(reply.content) < 1000
    assert city.execute("SELECT count(*) FROM maintenance_windows").fetchone() == (0,)


# --- findings 3 and 7: input the server cannot use is a 4xx -------------------------

@pytest.mark.parametrize(("method", "path", "kwargs", "where"), [
    ("GET", FIGURE, {"params": {**WINDOW, "department": "wa\x00ter"}}, ["query", "department"]),
    ("GET", "/api/v1/escalation-policies/wa%00ter", {}, ["path"]),
    ("POST", "/api/v1/maintenance", {"json": {**WINDOW_IN, "reason": "nul \x00 here"}}, ["body", "reason"]),
    ("POST", "/api/v1/maintenance", {"content": b'{"scope": "all", "reason": "\\ud800", "starts_at": "x",'
                                                b' "ends_at": "y"}'}, ["body", "reason"]),
    ("PUT", "/api/v1/escalation-policies/water",
     {"content": b'{"name": "w", "steps": [{"after_minutes": Infinity, "notify": ["oncall"]}]}'}, ["body"]),
    ("PUT", "/api/v1/escalation-policies/water",
     {"content": b'{"name": "w", "steps": [{"after_minutes": NaN, "notify": ["oncall"]}]}'}, ["body"]),
    ("PUT", "/api/v1/escalation-policies/water",
     {"content": b'{"name": "w", "steps": [{"after_minutes": 1e400, "notify": ["oncall"]}]}'}, ["body"]),
])
def test_unusable_characters_and_numbers_are_422(client: TestClient, city: Any, method: str, path: str,
                                                 kwargs: dict[str, Any], where: list[str]) -> None:
    headers = {**bearer(city, Role.admin), "Content-Type": "application/json"}
    problems = error_of(client.request(method, path, headers=headers, **kwargs), 422)
    assert problems[0]["loc"] == where, problems


def test_an_escaped_character_pair_is_a_character(client: TestClient, city: Any) -> None:
    headers = {**bearer(city, Role.admin), "Content-Type": "application/json"}
    body = (f'{{"scope": "department", "target": "water", "starts_at": "{NEXT_MONTH}T02:00", '
            f'"ends_at": "{NEXT_MONTH}T04:00", "reason": "pump \\ud83d\\udd27"}}').encode()
    reply = client.post("/api/v1/maintenance", content=body, headers=headers)
    assert reply.status_code == 201, reply.text
    assert reply.json()["reason"] == "pump \U0001f527"


@pytest.mark.parametrize(("params", "words"), [
    ({"from": "0001-01-01", "to": "0001-01-02"}, "outside 1970-01-01 to 2200-01-01"),
    ({"from": "9999-12-30", "to": "9999-12-31"}, "outside 1970-01-01 to 2200-01-01"),
    ({"from": "0001-01-01T00:00", "to": "0001-01-01T10:00"}, "outside"),
])
def test_far_dates_in_a_window_are_422(client: TestClient, city: Any, params: dict[str, str],
                                       words: str) -> None:
    detail = error_of(client.get(FIGURE, params={**params, "tz": "Asia/Shanghai"},
                                 headers=bearer(city, Role.evaluator)), 422)
    assert words in detail


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"starts_at": "", "ends_at": ""}, "starts_at", "required"),
    ({"starts_at": "0001-01-01T00:00", "ends_at": "0001-01-01T02:00"}, "starts_at", "outside"),
    ({"starts_at": "9999-12-31T22:00", "ends_at": "9999-12-31T23:00", "timezone": "America/New_York"},
     "starts_at", "outside"),
    ({"recurrence": "FREQ=SECONDLY"}, "recurrence", "at most hourly"),
])
def test_bad_window_times_are_422_naming_the_field(client: TestClient, city: Any, change: dict[str, Any],
                                                   field: str, words: str) -> None:
    problems = error_of(client.post("/api/v1/maintenance", json={**WINDOW_IN, **change},
                                    headers=bearer(city, Role.admin)), 422)
    assert any(p["loc"] == ["body", field] and words in p["msg"] for p in problems), problems


@pytest.mark.parametrize(("policy", "words"), [
    ({**POLICY, "steps": [{"after_minutes": 1e300, "notify": ["oncall"]}]}, "after_minutes must be"),
    ({**POLICY, "steps": [{"after_minutes": n, "notify": ["oncall"]} for n in range(21)]}, "at most 20"),
    ({**POLICY, "groups": [{"name": "g", "channel": "telegram", "address": "https://x.example"}]},
     "channel"),
])
def test_policies_the_server_cannot_use_are_422(client: TestClient, city: Any, policy: dict[str, Any],
                                                words: str) -> None:
    detail = error_of(client.put("/api/v1/escalation-policies/water", json=policy,
                                 headers=bearer(city, Role.admin)), 422)
    assert words in str(detail)
    assert city.execute("SELECT count(*) FROM escalation_policies").fetchone() == (0,)


# --- the error model ------------------------------------------------------------------

def test_an_unexpected_error_is_a_500_with_a_reference_and_no_trace(
        database_url: str, schema: str, tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    with serving(database_url, schema, tmp_path) as c:
        app: FastAPI = c.app  # type: ignore[assignment]

        def boom() -> None:
            raise RuntimeError("secret internals")

        app.add_api_route("/boom", boom)
        reply = c.get("/boom")
    detail = error_of(reply, 500)
    assert detail.startswith("internal error (reference ") and "secret" not in reply.text
    reference = detail.split("reference ")[1].split(" ")[0]
    assert any(reference in r.getMessage() for r in caplog.records)


def test_openapi_documents_the_error_model_on_every_route(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert set(doc["components"]["schemas"]["ErrorBody"]["properties"]) == {"detail"}
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "404", "409", "413", "422", "429", "503"} <= codes, (method, path)
            # The acknowledge link's own refusals are HTML pages for a browser; a request the
            # API itself refuses (a malformed one) gets the JSON error on every route.
            answers = operation["responses"]["422"]["content"]
            assert answers["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"}
    link = doc["paths"]["/api/v1/incidents/{incident_id}/ack-link"]
    assert set(link["get"]["responses"]["403"]["content"]) == {"text/html"}
    assert set(link["post"]["responses"]["422"]["content"]) == {"text/html", "application/json"}
    window_to = next(p for p in doc["paths"]["/api/v1/reports"]["get"]["parameters"] if p["name"] == "to")
    assert "CITYBRAIN_API_MAX_WINDOW_DAYS" in window_to["description"]


def test_psycopg_refuses_what_the_guard_refuses(db: psycopg.Connection[Any]) -> None:
    # Why NUL and lone surrogates are refused at the door: the store cannot take them.
    with pytest.raises(psycopg.DataError):
        db.execute("SELECT %s::text", ("a\x00b",))
    with pytest.raises(UnicodeEncodeError):
        db.execute("SELECT %s::text", ("\ud800",))


def test_a_405_names_every_method_served_at_the_path(client: TestClient) -> None:
    # Starlette alone names the first route's methods only (Allow: GET).
    got = client.options("/api/v1/maintenance")
    assert got.status_code == 405 and got.headers["allow"] == "GET, POST"
    assert got.json() == {"detail": "Method Not Allowed"}
    assert client.patch("/api/v1/escalation-policies/water").headers["allow"] == "GET, PUT, DELETE"


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday"])
def test_a_number_is_not_a_date_time(client: TestClient, city: Any, value: str) -> None:
    # pydantic alone reads a number as seconds since 1970; the document says date-time.
    got = client.get("/api/v1/incidents", params={"to": value}, headers=bearer(city, Role.operator))
    assert got.status_code == 422, got.text
    assert got.json()["detail"][0]["loc"] == ["query", "to"]
    ok = client.get("/api/v1/incidents", params={"to": "2026-03-02T09:00:00+08:00"},
                    headers=bearer(city, Role.operator))
    assert ok.status_code == 200, ok.text

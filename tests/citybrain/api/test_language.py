"""The API's language: each request's error sentences in its ``Accept-Language`` (zh or en,
q-values respected), else in the server's CITYBRAIN_LANGUAGE; ids, ``loc`` and ``type``
the same in both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.kernel.http.language import accepted_language
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Language
from citybrain.kernel.settings import Settings
from tests.citybrain.api.test_api import WINDOW, bearer

FIGURE = "/api/v1/indicators/infra.device_online_rate"


@pytest.mark.parametrize(("header", "default", "chosen"), [
    (None, "zh-CN", "zh-CN"),
    (None, "en", "en"),
    ("", "en", "en"),
    ("en", "zh-CN", "en"),
    ("en-US,en;q=0.9", "zh-CN", "en"),
    ("zh-CN", "en", "zh-CN"),
    ("zh", "en", "zh-CN"),
    ("zh-Hans-CN", "en", "zh-CN"),
    ("ZH-cn", "en", "zh-CN"),
    ("en;q=0.5, zh-CN;q=0.9", "en", "zh-CN"),     # the highest q wins, wherever it is listed
    ("zh-CN;q=0.5, en;q=0.9", "zh-CN", "en"),
    ("en, zh", "zh-CN", "en"),                     # equal q: the first listed
    ("fr-FR, de;q=0.9, en;q=0.1", "zh-CN", "en"),  # languages we do not speak are passed over
    ("fr, de", "en", "en"),                         # none of ours: the server's
    ("*", "en", "en"),
    ("en;q=0, zh;q=0.1", "en", "zh-CN"),           # q=0: not this one
    ("en;q=0", "zh-CN", "zh-CN"),
    ("en;q=abc, zh;q=0.2", "en", "zh-CN"),         # an unreadable q counts as 0
    ("en;q=2, zh;q=0.2", "en", "zh-CN"),           # so does one out of range
    ("en;q=nan", "zh-CN", "zh-CN"),
    (" , ;q=1, en ", "zh-CN", "en"),
])
def test_accept_language_is_read_simply(header: str | None, default: Language, chosen: Language) -> None:
    assert accepted_language(header, default) == chosen


def _client(database_url: str, schema: str, tmp_path: Path, language: Language) -> TestClient:
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path,
                        language=language)
    return TestClient(create_app(settings, database_url), raise_server_exceptions=False)


@pytest.fixture
def chinese_server(database_url: str, schema: str, tmp_path: Path) -> Iterator[TestClient]:
    """The default setting: CITYBRAIN_LANGUAGE unset is zh-CN."""
    assert Settings(database_url=database_url).language == "zh-CN"
    with _client(database_url, schema, tmp_path, "zh-CN") as c:
        yield c


@pytest.fixture
def english_server(database_url: str, schema: str, tmp_path: Path) -> Iterator[TestClient]:
    with _client(database_url, schema, tmp_path, "en") as c:
        yield c


def test_without_accept_language_the_errors_are_in_the_servers_language(
        chinese_server: TestClient, english_server: TestClient) -> None:
    zh = chinese_server.get("/api/v1/indicators")
    assert zh.status_code == 401 and zh.json() == {"detail": "缺少令牌：请发送 Authorization: Bearer <令牌>"}
    en = english_server.get("/api/v1/indicators")
    assert en.status_code == 401
    assert en.json() == {"detail": "missing token: send Authorization: Bearer <token>"}


def test_accept_language_chooses(chinese_server: TestClient, english_server: TestClient, city: Any) -> None:
    for client in (chinese_server, english_server):
        zh = client.get("/api/v1/indicators", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
        assert zh.json()["detail"].startswith("缺少令牌")
        en = client.get("/api/v1/indicators", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert en.json()["detail"].startswith("missing token")
    # A sentence with ids in it: the ids are the same in both.
    headers = bearer(city, Role.oncall, department="roads")
    asked = {**WINDOW, "department": "water"}
    refused = {lang: chinese_server.get(FIGURE, params=asked, headers={**headers, "Accept-Language": lang})
               for lang in ("zh-CN", "en")}
    assert refused["zh-CN"].status_code == refused["en"].status_code == 403
    assert refused["zh-CN"].json()["detail"] == "该令牌仅限部门 'roads'"
    assert refused["en"].json()["detail"] == "this token is limited to department 'roads'"


def test_a_domains_error_follows_the_request(chinese_server: TestClient, city: Any) -> None:
    headers = bearer(city, Role.operator)
    params = {**WINDOW, "tz": "Mars/Olympus"}
    zh = chinese_server.get(FIGURE, params=params, headers=headers)
    en = chinese_server.get(FIGURE, params=params, headers={**headers, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["detail"] == "未知时区 'Mars/Olympus'；请使用 IANA 名称，如 Asia/Shanghai"
    assert en.json()["detail"] == "unknown time zone 'Mars/Olympus'; use an IANA name such as Asia/Shanghai"


def test_a_422_keeps_loc_and_type_and_translates_msg(chinese_server: TestClient, city: Any) -> None:
    headers = bearer(city, Role.operator)
    params = {"from": "2026-03-02", "tz": "x" * 65}
    zh = chinese_server.get(FIGURE, params=params, headers=headers)
    en = chinese_server.get(FIGURE, params=params, headers={**headers, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["detail"] == [
        {"loc": ["query", "to"], "msg": "缺少必填字段", "type": "missing"},
        {"loc": ["query", "tz"], "msg": "字符串最多 64 个字符", "type": "string_too_long"}]
    assert en.json()["detail"] == [
        {"loc": ["query", "to"], "msg": "Field required", "type": "missing"},
        {"loc": ["query", "tz"], "msg": "String should have at most 64 characters",
         "type": "string_too_long"}]


def test_the_request_guard_and_the_router_answer_in_the_language_too(chinese_server: TestClient) -> None:
    huge = b"x" * (65_536 + 1)
    zh = chinese_server.post("/api/v1/maintenance", content=huge,
                             headers={"Content-Type": "application/json"})
    assert zh.status_code == 413
    assert zh.json()["detail"] == "请求体超过 65536 字节（CITYBRAIN_API_MAX_BODY_BYTES）"
    en = chinese_server.post("/api/v1/maintenance", content=huge,
                             headers={"Content-Type": "application/json", "Accept-Language": "en"})
    assert en.json()["detail"] == (
        "the request body is larger than 65536 bytes (CITYBRAIN_API_MAX_BODY_BYTES)")
    assert chinese_server.get("/api/v1/nothing-here").json() == {"detail": "未找到"}
    assert chinese_server.get("/api/v1/nothing-here", headers={"Accept-Language": "en"}).json() == {
        "detail": "Not Found"}
    assert chinese_server.options("/api/v1/maintenance").json() == {"detail": "不允许该请求方法"}


def test_an_unexpected_error_is_said_in_the_language_too(chinese_server: TestClient) -> None:
    app: FastAPI = chinese_server.app  # type: ignore[assignment]

    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", boom)
    zh = chinese_server.get("/boom")
    en = chinese_server.get("/boom", headers={"Accept-Language": "en;q=0.8, fr"})
    assert zh.status_code == en.status_code == 500
    assert zh.json()["detail"].startswith("内部错误（参考编号 ") and "secret" not in zh.text
    assert en.json()["detail"].startswith("internal error (reference ")


def test_the_openapi_description_says_how_the_language_is_chosen(chinese_server: TestClient) -> None:
    description = chinese_server.get("/openapi.json").json()["info"]["description"]
    assert "Accept-Language" in description and "CITYBRAIN_LANGUAGE" in description

"""``GET /api/v1/reports``: the report's language (``lang``, default the request's:
``Accept-Language``, else the settings') and a file name in the window's local dates."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path) -> Iterator[TestClient]:
    from citybrain.api.app import create_app  # the whole app (every domain) for these tests only

    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path,
                        language="zh-CN")
    with TestClient(create_app(settings, database_url)) as c:
        yield c


@pytest.fixture
def headers(db: psycopg.Connection[Any]) -> dict[str, str]:
    _, clear = tokens.create(db, Role.evaluator, department=None, name="test", created_by="test")
    db.commit()
    return {"Authorization": f"Bearer {clear}"}


@pytest.mark.usefixtures("city")
def test_the_language_and_the_file_name(client: TestClient, headers: dict[str, str],
                                        db: psycopg.Connection[Any]) -> None:
    db.execute("UPDATE departments SET name_zh = '水务局' WHERE department_id = 'water'")
    db.commit()
    # November in Shanghai starts on 10-31 in UTC: the file is named by its local dates.
    november = {"from": "2026-11-01", "to": "2026-11-30", "tz": "Asia/Shanghai", "department": "water"}
    got = {lang: client.get("/api/v1/reports", params={**november, "format": "xlsx", **lang_param},
                            headers=headers)
           for lang, lang_param in (("default", {}), ("en", {"lang": "en"}), ("zh", {"lang": "zh_CN"}))}
    # Without lang, the request's language: Accept-Language when it names one of ours.
    got["accept-en"] = client.get("/api/v1/reports", params={**november, "format": "xlsx"},
                                  headers={**headers, "Accept-Language": "en-US,en;q=0.9"})
    for answer in got.values():
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-disposition"] == (
            'attachment; filename="citybrain-report-20261101-20261130-water.xlsx"')
    sheets = {lang: load_workbook(io.BytesIO(a.content)).worksheets[0] for lang, a in got.items()}
    assert sheets["default"].title == sheets["zh"].title == "汇总"
    assert sheets["en"].title == sheets["accept-en"].title == "Summary"
    scope = {lang: next(r[1] for r in ws.iter_rows(min_row=2, max_row=6, values_only=True)
                        if r[0] in ("评估范围", "Scope")) for lang, ws in sheets.items()}
    assert scope == {"default": "水务局", "zh": "水务局", "en": "Water", "accept-en": "Water"}
    # The data are the same whatever the language.
    assert len({a.headers["x-citybrain-data-sha256"] for a in got.values()}) == 1


@pytest.mark.usefixtures("city")
def test_an_unknown_language_is_a_422_naming_the_languages(client: TestClient, headers: dict[str, str],
                                                          db: psycopg.Connection[Any]) -> None:
    query = {"from": "2026-03-01", "to": "2026-03-01", "format": "csv", "lang": "fr"}
    refused = client.get("/api/v1/reports", params=query, headers={**headers, "Accept-Language": "en"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "unknown language 'fr': use one of zh-CN, en (the report's language)"
    said = client.get("/api/v1/reports", params=query, headers=headers)   # the server's language
    assert said.json()["detail"] == "未知语言 'fr'：请使用 zh-CN, en 之一（报告语言）"
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'report.export'").fetchone() == (0,)

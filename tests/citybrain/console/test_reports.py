"""The evaluators' pages: a report downloaded from the console is the one the audit log and
the export history name (file SHA-256), a past export comes back byte for byte, a damaged
stored copy is refused, department-limited sessions see their department's exports only,
the presets follow the city's calendar, and bad input is a 4xx page."""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.indicators.catalogue import load_catalogue
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.api.test_api import city  # noqa: F401  (two departments, one device each)
from tests.citybrain.console.support import csrf_of, sign_in
from tests.helpers import MovableClock

ENGLISH = {"Accept-Language": "en"}
# 2026-03-02 local (Asia/Shanghai): the day the `city` fixture has data for.
DAY = {"from": "2026-03-02", "to": "2026-03-02"}
# A non-boundary day: Tuesday 2026-03-10, 10:00 in Shanghai.
MARCH_10 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


Clock = MovableClock


@pytest.fixture
def clock() -> Clock:
    return Clock(MARCH_10)


@pytest.fixture
def client(database_url: str, schema: str, tmp_path: Path, clock: Clock,
           city: psycopg.Connection[Any]) -> Iterator[TestClient]:  # noqa: F811
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with TestClient(create_app(settings, database_url, clock=clock), headers=ENGLISH) as c:
        yield c


def pdf_available() -> None:
    from citybrain.reports.pdf import find_font

    try:
        find_font(None)
    except CitybrainError as exc:
        pytest.skip(f"no TrueType CJK font for the PDF (tools/system-packages installs one): {exc}")


def download(client: TestClient, csrf: str, **fields: str) -> Any:
    return client.post("/console/reports/download", data={"csrf": csrf, **DAY, "lang": "en",
                                                          "format": "xlsx", "department": "", **fields})


def audit(db: psycopg.Connection[Any], action: str) -> list[tuple[Any, ...]]:
    return db.execute("SELECT actor, subject, details FROM audit_log WHERE action = %s ORDER BY id",
                      (action,)).fetchall()


def history_digests(page: str) -> list[str]:
    """The full file SHA-256 of each export the history lists (in the code's title)."""
    return re.findall(r'<code title="([0-9a-f]{64})" class="file-sha256">', page)


def history_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li data-export="(\d+)">', page)]


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_a_console_download_is_the_file_the_audit_log_and_the_history_name(
        client: TestClient, db: psycopg.Connection[Any], fmt: str, tmp_path: Path) -> None:
    if fmt == "pdf":
        pdf_available()
    csrf = sign_in(client, db, Role.evaluator, name="周敏")
    got = download(client, csrf, format=fmt, department="water")
    assert got.status_code == 200, got.text[:500]
    name = f"citybrain-report-20260302-20260302-water.{fmt}"
    assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
    body = got.content
    digest = hashlib.sha256(body).hexdigest()
    if fmt == "xlsx":
        assert "Summary" in openpyxl.load_workbook(io.BytesIO(body)).sheetnames
    else:
        assert got.headers["content-type"] == "application/pdf" and body.startswith(b"%PDF-")
    assert got.headers["x-citybrain-file-sha256"] == digest

    # The audit log names the bytes delivered, and the history row holds them.
    [(actor, subject, details)] = audit(db, "report.export")
    assert actor.startswith("token:") and subject == name
    assert details["file_sha256"] == digest and details["bytes"] == len(body)
    assert details["data_sha256"] == got.headers["x-citybrain-data-sha256"]
    assert details["format"] == fmt and details["department"] == "water"
    stored = db.execute("SELECT export_id, file_sha256, data_sha256, requested_by, language, window_from,"
                        " window_to, timezone, content FROM report_exports").fetchall()
    assert len(stored) == 1
    export_id, file_sha, data_sha, by, language, lo, hi, tz, content = stored[0]
    assert details["export_id"] == export_id
    assert (file_sha, data_sha, by, language) == (digest, details["data_sha256"], actor, "en")
    assert (lo, hi, tz) == ("2026-03-02T00:00:00+08:00", "2026-03-03T00:00:00+08:00", "Asia/Shanghai")
    assert bytes(content) == body

    # The history shows who (the person, not the token), when, the window and both digests.
    page = client.get("/console/reports")
    assert page.status_code == 200
    assert history_digests(page.text) == [digest]
    row = page.text[page.text.index(f'<li data-export="{export_id}">'):]
    assert f'<td title="{actor}">周敏</td>' in row     # the person; the audit name on hover
    assert "2026-03-10 10:00:00 CST" in row          # the frozen clock, local time
    assert "2026-03-02 to 2026-03-02 (Asia/Shanghai)" in row
    assert "Water" in row and f'title="{data_sha}"' in row
    assert f'href="/console/reports/exports/{export_id}"' in row

    # Download again: the same bytes, the same name, audited.
    again = client.get(f"/console/reports/exports/{export_id}")
    assert again.status_code == 200
    assert again.content == body
    assert again.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert again.headers["content-type"] == got.headers["content-type"]
    assert again.headers["x-citybrain-file-sha256"] == digest
    [(re_actor, re_subject, re_details)] = audit(db, "report.redownload")
    assert (re_actor, re_subject, re_details["export_id"], re_details["file_sha256"]) == (
        actor, name, export_id, digest)


def test_a_damaged_stored_copy_is_refused_and_never_served(client: TestClient,
                                                           db: psycopg.Connection[Any]) -> None:
    csrf = sign_in(client, db, Role.evaluator)
    got = download(client, csrf, format="csv")
    assert got.status_code == 200
    [(export_id,)] = db.execute("SELECT export_id FROM report_exports").fetchall()
    db.execute("UPDATE report_exports SET content = content || '\\x00'::bytea")
    refused = client.get(f"/console/reports/exports/{export_id}")
    assert refused.status_code == 500
    assert refused.headers["content-type"].startswith("text/html")
    text = html.unescape(refused.text)
    assert f"the stored copy of export {export_id}" in text and "is damaged" in text
    assert got.text not in refused.text and "content-disposition" not in refused.headers
    [(_actor, subject, details)] = audit(db, "report.damaged")
    assert subject == str(export_id) and "damaged" in details["error"]
    assert audit(db, "report.redownload") == []


def test_a_department_limited_evaluator_sees_its_department_only(client: TestClient,
                                                                 db: psycopg.Connection[Any]) -> None:
    csrf = sign_in(client, db, Role.evaluator, name="全市评估员")
    for department in ("water", "roads", ""):
        assert download(client, csrf, format="json", department=department).status_code == 200
    ids = dict(db.execute("SELECT coalesce(department_id, 'city'), export_id FROM report_exports").fetchall())
    assert sorted(history_ids(client.get("/console/reports").text)) == sorted(ids.values())

    client.cookies.clear()
    csrf = sign_in(client, db, Role.evaluator, department="roads", name="道路评估员")
    page = client.get("/console/reports")
    assert page.status_code == 200
    assert history_ids(page.text) == [ids["roads"]]
    # The form offers the session's department only.
    select = page.text.split('name="department"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', select) == ["roads"]
    assert client.get(f"/console/reports/exports/{ids['roads']}").status_code == 200
    for other in ("water", "city"):
        refused = client.get(f"/console/reports/exports/{ids[other]}")
        assert refused.status_code == 403
        assert "limited to department 'roads'" in html.unescape(refused.text)
    assert client.get("/console/reports/exports/999999").status_code == 404
    assert client.get("/console/reports/exports/abc").status_code == 404
    # Asking for another department's report is refused too; its own is made.
    assert download(client, csrf, department="water").status_code == 403
    own = download(client, csrf, format="csv", department="roads")
    assert own.status_code == 200 and own.headers["content-disposition"].endswith('-roads.csv"')
    assert len(audit(db, "report.redownload")) == 1


def preset_links(page: str) -> dict[str, tuple[str, str]]:
    found = re.findall(r'<a class="button" href="/console/reports\?([^"]+)" data-preset="([^"]+)">', page)
    out = {}
    for query, key in found:
        params = dict(p.split("=", 1) for p in html.unescape(query).split("&"))
        out[key] = (params["from"], params["to"])
    return out


@pytest.mark.parametrize(("now", "expected"), [
    # Half an hour into 2026 in Shanghai, still 2025-12-31 in UTC: the presets follow the city.
    (datetime(2025, 12, 31, 16, 30, tzinfo=UTC), {
        "last-month": ("2025-12-01", "2025-12-31"), "last-quarter": ("2025-10-01", "2025-12-31"),
        "last-year": ("2025-01-01", "2025-12-31"), "this-month": ("2026-01-01", "2026-01-01")}),
    (MARCH_10, {
        "last-month": ("2026-02-01", "2026-02-28"), "last-quarter": ("2025-10-01", "2025-12-31"),
        "last-year": ("2025-01-01", "2025-12-31"), "this-month": ("2026-03-01", "2026-03-10")}),
    # 2026-08-15 local: last quarter is Q2, last month July.
    (datetime(2026, 8, 15, 4, 0, tzinfo=UTC), {
        "last-month": ("2026-07-01", "2026-07-31"), "last-quarter": ("2026-04-01", "2026-06-30"),
        "last-year": ("2025-01-01", "2025-12-31"), "this-month": ("2026-08-01", "2026-08-15")}),
])
def test_presets_are_whole_periods_of_the_city_calendar(client: TestClient, db: psycopg.Connection[Any],
                                                        clock: Clock, now: datetime,
                                                        expected: dict[str, tuple[str, str]]) -> None:
    clock.now = now
    sign_in(client, db, Role.evaluator)
    page = client.get("/console/reports")
    assert page.status_code == 200
    assert preset_links(page.text) == expected
    # The form starts on last month; a preset's link fills the form with its dates.
    first, last = expected["last-month"]
    assert f'name="from" value="{first}"' in page.text and f'name="to" value="{last}"' in page.text
    q_first, q_last = expected["last-quarter"]
    filled = client.get("/console/reports", params={"from": q_first, "to": q_last, "format": "pdf"})
    assert f'name="from" value="{q_first}"' in filled.text and f'name="to" value="{q_last}"' in filled.text
    assert '<option value="pdf" selected>' in filled.text
    # The presets' windows are ones the download accepts (a year is within the limit).
    chinese = client.get("/console/reports", headers={"Accept-Language": "zh-CN"})
    assert "上月" in chinese.text and "上季度" in chinese.text and "去年" in chinese.text


def test_a_download_without_the_forms_value_is_refused(client: TestClient,
                                                       db: psycopg.Connection[Any]) -> None:
    sign_in(client, db, Role.evaluator)
    forged = client.post("/console/reports/download", data={**DAY, "format": "xlsx", "lang": "en"})
    assert forged.status_code == 403
    assert "anti-forgery" in html.unescape(forged.text)
    wrong = client.post("/console/reports/download", data={**DAY, "format": "xlsx", "csrf": "x" * 32})
    assert wrong.status_code == 403
    assert db.execute("SELECT count(*) FROM report_exports").fetchone() == (0,)
    assert audit(db, "report.export") == []


def test_an_api_export_is_in_the_history_with_its_holder(client: TestClient,
                                                         db: psycopg.Connection[Any]) -> None:
    _, clear = tokens.create(db, Role.evaluator, department=None, name="第三方评估机构", created_by="test")
    got = client.get("/api/v1/reports", params={**DAY, "format": "xlsx"},
                     headers={"Authorization": f"Bearer {clear}"})
    assert got.status_code == 200, got.text
    digest = hashlib.sha256(got.content).hexdigest()
    assert got.headers["x-citybrain-file-sha256"] == digest
    assert audit(db, "report.export")[0][2]["file_sha256"] == digest
    sign_in(client, db, Role.evaluator, name="周敏")
    page = client.get("/console/reports").text
    assert history_digests(page) == [digest]
    assert "第三方评估机构" in page
    export_id = history_ids(page)[0]
    assert client.get(f"/console/reports/exports/{export_id}").content == got.content


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"from": "2026-13-01"}, 422, "neither a date"),
    ({"from": ""}, 422, "Choose the first and the last day of the window."),
    ({"from": "2026-03-05", "to": "2026-03-01"}, 422, "the window is empty"),
    ({"from": "2024-01-01", "to": "2025-12-31"}, 422, "at most 366 days"),
    ({"format": "docx"}, 422, "Choose a format"),
    ({"lang": "fr"}, 422, "unknown language 'fr'"),
    ({"department": "nowhere"}, 404, "There is no department 'nowhere' in the registry."),
])
def test_bad_input_is_a_4xx_page_saying_why(client: TestClient, db: psycopg.Connection[Any],
                                            fields: dict[str, str], status: int, message: str) -> None:
    csrf = sign_in(client, db, Role.evaluator)
    got = download(client, csrf, **fields)
    assert got.status_code == status
    assert got.headers["content-type"].startswith("text/html")
    assert message in html.unescape(got.text)
    # The form comes back as it was filled in, with a fresh anti-forgery value.
    assert csrf_of(got.text) == csrf
    assert db.execute("SELECT count(*) FROM report_exports").fetchone() == (0,)


def test_the_indicator_definitions_with_their_sql(client: TestClient, db: psycopg.Connection[Any]) -> None:
    sign_in(client, db, Role.evaluator)
    page = client.get("/console/indicators")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for ind in load_catalogue():
        entry = text[text.index(f'<li id="{ind.id}">'):]
        entry = entry[:entry.index("</li>")]
        assert ind.name_zh in entry and ind.name_en in entry
        assert entry.index(ind.name_zh) < entry.index(ind.name_en)   # Chinese first
        assert ind.formula in entry and ind.formula_zh in entry
        assert f"<td>{ind.version}</td>" in entry
        assert f"<pre>{ind.sql}</pre>" in entry

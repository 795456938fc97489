"""An evaluator in Debian's Chromium (Playwright): picks a preset, downloads an XLSX and a
PDF report, and finds each file's SHA-256 in the audit log and the export history; a past
export downloaded again is the same file. Screenshots of the report page and the indicator
definitions at phone and desk sizes: docs/screens/console-reports-*.png,
console-indicators-*.png."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.api.test_api import city  # noqa: F401  (two departments, one device each)
from tests.citybrain.console.browser import SCREENS, LiveConsole, page_for, screenshot, serve
from tests.helpers import MovableClock

MARCH_10 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)   # 10:00 in Shanghai


@pytest.fixture
def console(database_url: str, schema: str, city: psycopg.Connection[Any],  # noqa: F811
            tmp_path: Path) -> Iterator[LiveConsole]:
    city.execute("UPDATE departments SET name_zh = CASE department_id WHEN 'water' THEN '水务局'"
                 " ELSE '交通运输局' END")
    clock = MovableClock(MARCH_10)
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with serve(settings, database_url, clock) as url:
        yield LiveConsole(url, clock, settings.model_copy(update={"public_url": url}))


def first_screen(page: Any, name: str) -> None:
    """docs/screens/console-<name>.png of the window only: the whole catalogue, SQL and
    all, would be a picture tens of thousands of pixels tall."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"console-{name}.png"), full_page=False)


def sign_in(page: Any, console: LiveConsole, clear: str) -> None:
    page.goto(f"{console.url}/console/reports")
    page.fill("#token-form input[name=token]", clear)
    page.click("#token-form button[type=submit]")
    page.wait_for_load_state()


def take(page: Any, fmt: str, tmp_path: Path) -> bytes:
    page.select_option("#report-form select[name=format]", fmt)
    with page.expect_download() as info:
        page.click("#report-form button[type=submit]")
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    body: bytes = target.read_bytes()
    return body


def test_an_evaluator_downloads_reports_whose_digests_the_audit_log_holds(
        browser: Any, console: LiveConsole, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    from citybrain.reports.pdf import find_font

    try:
        find_font(None)
        formats = ["xlsx", "pdf"]
    except CitybrainError:
        formats = ["xlsx"]
        print("NO CJK FONT: the PDF download was not tried in the browser")
    clear = tokens.create(db, Role.evaluator, department=None, name="周敏", created_by="test")[1]
    page = page_for(browser, phone=True)
    sign_in(page, console, clear)
    assert page.url.endswith("/console/reports")
    # A preset is a link that fills the form in; the window of the data is then typed in.
    page.click("a[data-preset=last-month]")
    assert page.input_value("#report-form input[name=from]") == "2026-02-01"
    assert page.input_value("#report-form input[name=to]") == "2026-02-28"
    page.fill("#report-form input[name=from]", "2026-03-02")
    page.fill("#report-form input[name=to]", "2026-03-02")
    page.select_option("#report-form select[name=department]", "water")
    got = {fmt: take(page, fmt, tmp_path) for fmt in formats}
    audited = {d["format"]: d["file_sha256"] for (d,) in db.execute(
        "SELECT details FROM audit_log WHERE action = 'report.export'")}
    assert audited == {fmt: hashlib.sha256(body).hexdigest() for fmt, body in got.items()}

    page.reload()
    history = page.locator("#history").inner_text()
    assert "周敏" in history and "水务局" in history
    titles = page.locator("#history code.file-sha256").evaluate_all("els => els.map(e => e.title)")
    assert sorted(titles) == sorted(audited.values())
    screenshot(page, "reports-phone")

    # Download again: the stored copy, byte for byte.
    first = page.locator("#history li").last
    with page.expect_download() as info:
        first.locator("a.button").click()
    again = tmp_path / "again.bin"
    info.value.save_as(str(again))
    assert again.read_bytes() == got[formats[0]]
    page.context.close()

    desk = page_for(browser, phone=False)
    sign_in(desk, console, clear)
    screenshot(desk, "reports-desktop")
    desk.goto(f"{console.url}/console/indicators")
    assert "指标定义" in desk.inner_text("h1")
    desk.locator("details").first.click()   # the first indicator's SQL, opened
    first_screen(desk, "indicators-desktop")
    desk.context.close()
    phone = page_for(browser, phone=True)
    sign_in(phone, console, clear)
    phone.goto(f"{console.url}/console/indicators")
    first_screen(phone, "indicators-phone")
    phone.context.close()

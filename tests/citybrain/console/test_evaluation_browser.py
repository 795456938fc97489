"""The evaluation table in Debian's Chromium (Playwright), on a phone and at a desk: an
evaluator enters an assessment with an evidence file through the form, a second person
approves it, and the whole table shows it labelled 评估 beside the measured figures.
Screenshots: docs/screens/console-evaluation-{phone,desktop}.png and
console-evaluation-item-{phone,desktop}.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from citybrain.assessments import store
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.api.test_api import city  # noqa: F401  (two departments, one device each)
from tests.citybrain.assessments.support import MINUTES, NOW, enter, person
from tests.citybrain.console.browser import LiveConsole, page_for, screenshot, serve
from tests.helpers import MovableClock

MARCH = "/console/evaluation?from=2026-03-01&to=2026-03-31"


@pytest.fixture
def console(database_url: str, schema: str, city: psycopg.Connection[Any],  # noqa: F811
            tmp_path: Path) -> Iterator[LiveConsole]:
    city.execute("UPDATE departments SET name_zh = CASE department_id WHEN 'water' THEN '水务局'"
                 " ELSE '交通运输局' END")
    # The team's 2026 score, approved; the water department's interface standards, pending.
    team = enter(city, person(city, Role.evaluator, "陈静"), item="capability.team_fit", level="matched",
                 score="80")
    store.review(city, team.version_id, decision="approved", comment="人员配置到位",
                 actor=person(city, Role.admin, "王强"), now=NOW)
    enter(city, person(city, Role.evaluator, "陈静"), item="content.interface_standardisation",
          department="water", level="basic", score="72")
    clock = MovableClock(NOW)
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with serve(settings, database_url, clock) as url:
        yield LiveConsole(url, clock, settings.model_copy(update={"public_url": url}))


def sign_in(page: Any, console: LiveConsole, clear: str, going: str) -> None:
    page.goto(f"{console.url}{going}")
    page.fill("#token-form input[name=token]", clear)
    page.click("#token-form button[type=submit]")
    page.wait_for_load_state()


def test_enter_approve_and_see_the_whole_table(browser: Any, console: LiveConsole,
                                               db: psycopg.Connection[Any], tmp_path: Path) -> None:
    evidence = tmp_path / MINUTES.file_name
    evidence.write_bytes(MINUTES.content)
    li = tokens.create(db, Role.evaluator, department=None, name="李娜", created_by="test")[1]
    wang = tokens.create(db, Role.admin, department=None, name="王强", created_by="test")[1]
    page = page_for(browser, phone=True)
    sign_in(page, console, li, "/console/evaluation/items/mechanism.coordination")
    form = page.locator("#assessment-form")
    form.locator("select[name=level]").select_option("working")
    form.locator("input[name=score]").fill("78.5")
    form.locator("textarea[name=comment]").fill("协调例会每月召开，纪要齐全")
    form.locator("input[name=evidence]").set_input_files(str(evidence))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "待审核" in page.inner_text("#versions")
    assert page.locator("#versions form.review").count() == 0      # not the assessor's to review
    page.context.close()

    for phone in (True, False):
        page = page_for(browser, phone=phone)
        sign_in(page, console, wang, "/console/evaluation/items/mechanism.coordination")
        if phone:
            page.locator("#versions form.review textarea[name=comment]").fill("证据齐全")
            page.locator("#versions form.review button[value=approved]").click()
            page.wait_for_load_state()
        versions = page.inner_text("#versions")
        assert "已通过" in versions and "计入结果" in versions and MINUTES.file_name in versions
        screenshot(page, f"evaluation-item-{'phone' if phone else 'desktop'}")
        page.goto(console.url + MARCH)
        page.wait_for_load_state()
        main = page.inner_text("main")
        assert "评估表" in main and "运营机制" in main and "运营成效" in main
        coordination = page.inner_text("#row-mechanism\\.coordination")
        assert "评估" in coordination and "78.5 / 100" in coordination and "李娜" in coordination
        assert "测量" in page.inner_text("#row-content\\.infrastructure")
        # Phone: one column, nothing wider than the screen.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], width
        screenshot(page, f"evaluation-{'phone' if phone else 'desktop'}")
        page.context.close()

"""The console in Debian's Chromium (Playwright): what on-call staff, operators and
evaluators do with it, on a phone and at a desk, with screenshots in docs/screens/."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from alerts.incidents import ack_link
from alerts.incidents import store as incidents
from alerts.incidents.escalation import run_due
from alerts.model import Recipient
from citybrain.kernel import store
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from streams import facts
from streams.sink import Batch, EventSink
from tests.alerts.incidents.conftest import REGISTRY, T0, Pager, alert, pager
from tests.alerts.incidents.loopback import Mail, smtp_server
from tests.citybrain.console.browser import LiveConsole, page_for, screenshot, serve
from tests.citybrain.console.support import code_for
from tests.helpers import MovableClock

SECRET = "a-deployment-secret-of-at-least-32-characters"
__all__ = ["pager"]   # the incident tests' fixture: escalation's real e-mail path to loopback


@pytest.fixture
def mails() -> Iterator[tuple[int, list[Mail]]]:
    with smtp_server() as found:
        yield found


@pytest.fixture
def console(database_url: str, schema: str, db: psycopg.Connection[Any], tmp_path: Path,
            mails: tuple[int, list[Mail]]) -> Iterator[LiveConsole]:
    import_registry(db, REGISTRY)
    clock = MovableClock(T0)
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path,
                        operations_centre_department="ops-centre", ack_link_secret=SecretStr(SECRET),
                        smtp_host="127.0.0.1", smtp_port=mails[0])
    with serve(settings, database_url, clock) as url:
        yield LiveConsole(url, clock, settings.model_copy(update={"public_url": url}))


def token(db: psycopg.Connection[Any], role: Role, department: str | None = None, name: str = "王伟") -> str:
    return tokens.create(db, role, department=department, name=name, created_by="test")[1]


def sign_in(page: Any, console: LiveConsole, clear: str, going: str = "/console/") -> None:
    page.goto(f"{console.url}{going}")
    page.fill("#token-form input[name=token]", clear)
    page.click("#token-form button[type=submit]")
    page.wait_for_load_state()


def test_sign_in_with_a_token_on_a_phone_and_at_a_desk(browser: Any, console: LiveConsole, db: Any) -> None:
    for phone in (True, False):
        page = page_for(browser, phone=phone)
        page.goto(console.url + "/")
        assert page.url.endswith("/console/sign-in?next=/console/")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert "登录城市大脑控制台" in page.inner_text("h1")
        screenshot(page, f"sign-in-{'phone' if phone else 'desktop'}")
        sign_in(page, console, token(db, Role.operator), "/console/account")
        assert page.url.endswith("/console/account")
        assert "王伟" in page.inner_text("main")
        page.context.close()


def test_a_form_without_its_anti_forgery_value_is_refused(browser: Any, console: LiveConsole,
                                                          db: Any) -> None:
    page = page_for(browser, phone=False)
    sign_in(page, console, token(db, Role.operator), "/console/account")
    # The browser's own cookie, a form from this origin, but no csrf field: refused.
    refused = page.request.post(f"{console.url}/console/sign-out", form={"x": "1"},
                                headers={"Origin": console.url})
    assert refused.status == 403
    assert "防伪校验值" in refused.text()
    page.reload()
    assert page.url.endswith("/console/account")   # still signed in
    page.context.close()


def test_an_expired_session_goes_back_to_the_sign_in_page(browser: Any, console: LiveConsole,
                                                          db: Any) -> None:
    page = page_for(browser, phone=True)
    clear = token(db, Role.operator)
    sign_in(page, console, clear, "/console/account")
    console.clock.now += timedelta(hours=2)          # past the idle limit (60 min)
    page.reload()
    assert "由于较长时间没有操作" in page.inner_text("main")
    screenshot(page, "session-ended-phone")
    page.fill("#token-form input[name=token]", clear)
    page.click("#token-form button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/console/account")     # back where it was going
    page.context.close()


def test_the_api_description_renders_on_an_intranet(browser: Any, console: LiveConsole) -> None:
    page = page_for(browser, phone=False)
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(console.url):
            route.continue_()
        else:                       # an intranet: nothing outside answers
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(f"{console.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Citybrain" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 10          # the operations are listed
    assert elsewhere == []
    screenshot(page, "api-docs-desktop")
    page.context.close()


# --- on call: a notification's link on a phone ---------------------------------------------

def _incident(db: psycopg.Connection[Any], console: LiveConsole) -> int:
    iid = incidents.apply(db, alert("pump-1"), now=T0, settings=console.settings).incident_id
    assert iid is not None
    return iid


def _mailed_ack_link(mails: list[Mail], address: str) -> str:
    for mail in mails:
        if address in mail.to:
            parsed = email.message_from_string(mail.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            body = parsed.get_body(("plain",))
            assert body is not None
            found = re.search(r"^确认接单：(\S+)$", body.get_content(), re.MULTILINE)
            assert found, body.get_content()
            return found[1]
    raise AssertionError(f"no page to {address}")


def _citizens_call(database_url: str, schema: str, settings: Settings, minutes: int, order: str) -> None:
    """A 12345 work order about pump-1, stored by the real sink with its fact step (in a
    thread of its own: this thread's event loop belongs to the sync browser driver)."""
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    rows = [(at, f"{order}-c", "hotline-12345", order, "created", "complaint", None, "pump-1", None, None,
             "phone", None, None),
            (at, f"{order}-d", "hotline-12345", order, "dispatched", None, "water", None, None, None, None,
             None, None)]

    async def deliver() -> None:
        sink = EventSink(database_url, schema, "hotline", facts=facts.deriver("hotline", settings))
        try:
            await sink.write(Batch("hotline", rows=rows))
        finally:
            await sink.close()

    worker = threading.Thread(target=asyncio.run, args=(deliver(),))
    worker.start()
    worker.join()


def test_a_notification_link_on_a_phone_acknowledges_comments_and_resolves(
        browser: Any, console: LiveConsole, db: Any, database_url: str, schema: str, pager: Pager) -> None:
    iid = _incident(db, console)
    # Two citizens call 12345 about the outage: the page shows them; nobody is paged for them.
    for minutes, order in ((2, "WO-1"), (3, "WO-2")):
        _citizens_call(database_url, schema, console.settings, minutes, order)
    # Escalation's first step pages Li Na by e-mail, as the alerter does, with her own link.
    (run,) = run_due(lambda: store.connect(database_url, schema), T0, pager.notify, settings=console.settings)
    assert run.incident_id == iid
    link = _mailed_ack_link(pager.mails, "lina@water.example")
    assert link.startswith(f"{console.url}/console/link/{iid}?")
    page = page_for(browser, phone=True)
    console.clock.now = T0 + timedelta(minutes=4)
    page.goto(link)
    assert "Li Na" in page.inner_text("#link")
    assert db.execute("SELECT count(*) FROM console_sessions").fetchone()[0] == 0   # a GET signs nobody in
    screenshot(page, "link-phone")
    page.click("#link-form button[type=submit]")
    page.wait_for_url(f"{console.url}/console/incidents/{iid}")
    assert page.is_visible("#ack-form") and page.is_visible("#response-clock")
    calls = page.inner_text("#calls")
    assert "WO-1" in calls and "WO-2" in calls
    # (test_screens_of_every_page draws the plain incident page as incident-phone)
    screenshot(page, "incident-calls-phone")
    page.click("#ack-form button[type=submit]")
    page.wait_for_load_state()
    console.clock.now = T0 + timedelta(minutes=9)
    page.fill("#comment-form textarea[name=text]", "已到现场，正在更换水泵电源")
    page.click("#comment-form button[type=submit]")
    page.wait_for_load_state()
    console.clock.now = T0 + timedelta(minutes=40)
    page.fill("#resolve-form textarea[name=note]", "更换电源模块，设备恢复在线")
    page.click("#resolve-form button[type=submit]")
    page.wait_for_load_state()
    screenshot(page, "incident-resolved-phone")
    done = incidents.show(db, iid)
    assert done.status.value == "resolved" and done.acknowledged_by == "link:Li Na"
    actions = db.execute("SELECT action, actor FROM audit_log WHERE subject = %s"
                         " AND action LIKE 'incident.%%' ORDER BY id", (str(iid),)).fetchall()
    assert actions == [("incident.ack", "link:Li Na"), ("incident.comment", "link:Li Na"),
                       ("incident.resolve", "link:Li Na")]
    timeline = page.inner_text("#timeline")
    assert "已到现场" in timeline and "Li Na" in timeline
    # The link's session opens this incident only.
    page.goto(f"{console.url}/console/overview")
    assert "只能查看事件" in page.inner_text("main")
    page.context.close()


def test_a_group_link_asks_who_is_acting(browser: Any, console: LiveConsole, db: Any,
                                         mails: tuple[int, list[Mail]]) -> None:
    iid = _incident(db, console)
    group = Recipient(name="水务值班群", role="group", channel="wecom", address="https://robot.example/key")
    signed = ack_link.sign(SECRET, iid, group, expires_at=T0 + ack_link.LIFETIME)
    page = page_for(browser, phone=True)
    page.goto(ack_link.url(console.url, iid, signed))
    assert page.is_visible("#who-form")
    assert "@water.example" not in page.content()      # names only, never addresses
    screenshot(page, "link-group-phone")
    page.select_option("#who-form select[name=person]", "Li Na")
    page.click("#who-form button[type=submit]")
    page.wait_for_load_state()
    page.fill("#code-form input[name=code]", code_for(mails[1], "lina@water.example"))
    screenshot(page, "link-code-phone")
    page.click("#code-form button[type=submit]")
    page.wait_for_url(f"{console.url}/console/incidents/{iid}")
    page.click("#ack-form button[type=submit]")
    page.wait_for_load_state()
    assert incidents.show(db, iid).acknowledged_by == "code:Li Na"   # a person, not the group
    page.context.close()


def test_an_evaluator_is_refused_the_on_call_actions(browser: Any, console: LiveConsole, db: Any) -> None:
    iid = _incident(db, console)
    page = page_for(browser, phone=False)
    sign_in(page, console, token(db, Role.evaluator, name="考核组 刘洋"), f"/console/incidents/{iid}")
    assert page.url.endswith(f"/console/incidents/{iid}")
    assert page.locator("#ack-form").count() == 0 and page.locator("#resolve-form").count() == 0
    page.goto(f"{console.url}/console/account")
    csrf = page.get_attribute("input[name=csrf]", "value")
    forged = page.request.post(f"{console.url}/console/incidents/{iid}/ack", form={"csrf": csrf or ""},
                               headers={"Origin": console.url})
    assert forged.status == 403
    assert incidents.show(db, iid).acknowledged_at is None
    page.context.close()


# --- every page, on a phone and at a desk -----------------------------------------------------

PAGES = {
    "overview": "/console/overview",
    "incidents": "/console/incidents",
    "maintenance": "/console/maintenance",
    "admin": "/console/admin",
    "admin-tokens": "/console/admin/tokens",
    "admin-policies": "/console/admin/policies",
    "admin-policy": "/console/admin/policies/water",
    "admin-contacts": "/console/admin/contacts/water",
    "account": "/console/account",
}


def test_screens_of_every_page(browser: Any, console: LiveConsole, db: Any) -> None:
    iid = _incident(db, console)
    incidents.apply(db, alert("cam-9", rule="camera-offline"), now=T0, settings=console.settings)
    console.clock.now = T0 + timedelta(minutes=12)
    clear = token(db, Role.admin, name="值班长 王伟")
    for phone in (True, False):
        page = page_for(browser, phone=phone)
        sign_in(page, console, clear, "/console/account")
        for name, path in {**PAGES, "incident": f"/console/incidents/{iid}"}.items():
            reply = page.goto(console.url + path)
            assert reply is not None and reply.status == 200, (path, reply and reply.status)
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            screenshot(page, f"{name}-{'phone' if phone else 'desktop'}")
        page.context.close()

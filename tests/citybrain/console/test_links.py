"""A notification's signed link signs its recipient in for that incident only: a person's
link with one button, a group's link by asking who acts and e-mailing that person a code
(a real SMTP server on loopback). Opening a link (GET) signs nobody in; expired and
altered links are refused in the reader's language; the old acknowledge links still work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from fastapi.testclient import TestClient

from alerts.incidents import ack_link, urls
from alerts.incidents import store as incidents
from alerts.model import Recipient
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, alert
from tests.alerts.incidents.test_ack_link import LI_NA, SECRET, H, M
from tests.citybrain.console.oncall import (  # noqa: F401
    Box,
    Clock,
    app_client,
    audited,
    box,
    city,
    client,
    clock,
    console_settings,
    inc_settings,
    link_settings,
    sessions,
    water_incident,
)
from tests.citybrain.console.support import csrf_of, sign_in

GROUP = Recipient(name="水务值班群", role="group", channel="wecom",
                  address="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-secret")


def _link(incident_id: int, recipient: Recipient = LI_NA, expires_at: datetime = T0 + 24 * H) -> str:
    signed = ack_link.sign(SECRET, incident_id, recipient, expires_at=expires_at)
    return ack_link.url("https://citybrain.test", incident_id, signed)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _fields(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_links_point_at_the_console() -> None:
    assert urls.incident_url("https://citybrain.test/", 42) == "https://citybrain.test/console/incidents/42"
    assert _link(42).startswith("https://citybrain.test/console/link/42?who=Li+Na%7Cemail%7C")


def test_a_persons_link_signs_in_for_that_incident_only(
        client: TestClient, city: psycopg.Connection[Any], console_settings: Settings,  # noqa: F811
        water_incident: int, clock: Clock) -> None:  # noqa: F811
    other = incidents.apply(city, alert("pump-2"), now=T0, settings=console_settings).incident_id
    link = _link(water_incident)
    for _ in range(3):        # a chat app's preview, a mail scanner, the person
        page = client.get(_path(link))
        assert page.status_code == 200, page.text
        assert "citybrain_session" not in page.headers.get("set-cookie", "")
    assert sessions(city) == []                                   # opening a link signs nobody in
    html = page.text
    assert f"以 Li Na 的身份打开事件 #{water_incident}" in html and "pump-1 offline" in html
    assert "市水务局" in html and "1号水泵 (pump-1)" in html and "2026-03-02 09:30 CST" in html
    assert f'action="/console/link/{water_incident}"' in html and "改用个人令牌登录" in html

    clock.now = T0 + 3 * M
    signed_in = client.post(f"/console/link/{water_incident}", data=_fields(link), follow_redirects=False)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == f"/console/incidents/{water_incident}"
    # The session ends with the console's session hours, or the link's expiry if sooner.
    expiry = datetime.fromtimestamp(int(_fields(link)["exp"]), UTC)
    ends = min(expiry, clock.now + console_settings.console_session_hours * H)
    assert sessions(city) == [("link:Li Na", "Li Na", "oncall", "water", water_incident, "link", ends)]
    ((actor, session_id, details),) = audited(city, "console.sign_in")
    assert actor == "link:Li Na" and details["incident"] == water_incident and details["with"] == "link"
    assert city.execute("SELECT session_id FROM console_sessions").fetchall() == [(session_id,)]

    page = client.get(f"/console/incidents/{water_incident}")
    assert page.status_code == 200 and 'id="ack-form"' in page.text
    acked = client.post(f"/console/incidents/{water_incident}/ack", data={"csrf": csrf_of(page.text)},
                        follow_redirects=False)
    assert acked.status_code == 303
    found = incidents.show(city, water_incident)
    assert (found.status.value, found.acknowledged_by) == ("acknowledged", "link:Li Na")
    assert [a for a, s, _ in audited(city, "incident.ack") if s == str(water_incident)] == ["link:Li Na"]
    # That session reaches this incident only.
    for elsewhere in (f"/console/incidents/{other}", "/console/incidents", "/console/overview"):
        refused = client.get(elsewhere)
        assert refused.status_code == 403 and f"只能查看事件 #{water_incident}" in refused.text, elsewhere
    assert other is not None
    csrf = csrf_of(page.text)
    assert client.post(f"/console/incidents/{other}/ack", data={"csrf": csrf}).status_code == 403
    assert incidents.show(city, other).status.value == "triggered"


def test_expired_and_altered_links_are_refused(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                               water_incident: int, clock: Clock) -> None:  # noqa: F811
    good = _fields(_link(water_incident, expires_at=T0 + H))
    base = f"/console/link/{water_incident}"
    altered = [
        {**good, "who": good["who"].replace("Li Na", "Mallory")},
        {**good, "exp": str(int(good["exp"]) + 86400)},
        {**good, "sig": ("A" if good["sig"][0] != "A" else "B") + good["sig"][1:]},
        {k: v for k, v in good.items() if k != "sig"},
        _fields(_link(water_incident + 1)),                 # another incident's link
    ]
    for fields in altered:
        page = client.get(base, params=fields)
        assert page.status_code == 403 and "pump-1" not in page.text, fields
        assert "无效" in page.text or "不完整" in page.text
        assert client.post(base, data=fields).status_code == 403
    clock.now = T0 + H
    expired = client.get(base, params=good)
    assert expired.status_code == 403 and "该链接已过期" in expired.text and "个人令牌" in expired.text
    assert client.post(base, data=good).status_code == 403
    english = client.get(base, params=good, headers={"Accept-Language": "en"})
    assert english.status_code == 403 and "This link has expired" in english.text
    assert sessions(city) == [] and audited(city, "console.sign_in") == []


def test_a_post_from_another_site_signs_nobody_in(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                                  water_incident: int) -> None:  # noqa: F811
    fields = _fields(_link(water_incident))
    refused = client.post(f"/console/link/{water_incident}", data=fields,
                          headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and sessions(city) == []


def test_a_group_link_asks_who_and_a_code_names_the_person(
        client: TestClient, city: psycopg.Connection[Any], water_incident: int, box: Box,  # noqa: F811
        clock: Clock) -> None:  # noqa: F811
    link = _link(water_incident, GROUP)
    fields = _fields(link)
    page = client.get(_path(link))
    assert page.status_code == 200 and f"谁在处置事件 #{water_incident}？" in page.text
    html = page.text
    # The roster: people with an e-mail address, by name and role — no address, no robot key.
    for name in ("Chen Jie", "Li Na", "Zhao Min"):
        assert f'value="{name}"' in html, name
    assert "Sun Hao" not in html and "@water.example" not in html and "robot-secret" not in html
    assert sessions(city) == []
    # The group's link does not sign in by itself.
    assert client.post(f"/console/link/{water_incident}", data=fields).status_code == 403
    stranger = client.post(f"/console/link/{water_incident}/who", data={**fields, "person": "Mallory"})
    assert stranger.status_code == 422 and "请从名单中选择" in stranger.text
    assert box.messages == []

    clock.now = T0 + 2 * M
    asked = client.post(f"/console/link/{water_incident}/who", data={**fields, "person": "Li Na"})
    assert asked.status_code == 200 and "请输入发给 Li Na 的验证码" in asked.text
    assert [m.to for m in box.messages] == [("lina@water.example",)]
    code = box.code_for("lina@water.example")
    request_value = asked.text.split('name="code_request" value="', 1)[1].split('"', 1)[0]
    form = {**fields, "person": "Li Na", "code_request": request_value}
    wrong = client.post(f"/console/link/{water_incident}/verify",
                        data={**form, "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 401 and 'name="code"' in wrong.text and request_value in wrong.text
    attempts = city.execute("SELECT attempts, incident_id, person FROM sign_in_codes").fetchall()
    assert attempts == [(1, water_incident, "Li Na")]
    assert sessions(city) == []

    clock.now = T0 + 4 * M
    done = client.post(f"/console/link/{water_incident}/verify", data={**form, "code": code},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/console/incidents/{water_incident}"
    ((actor, person, role, department, incident, how, _),) = sessions(city)
    assert (actor, person, role, department, incident, how) == ("code:Li Na", "Li Na", "oncall", "water",
                                                               water_incident, "code")
    page = client.get(f"/console/incidents/{water_incident}")
    acked = client.post(f"/console/incidents/{water_incident}/ack", data={"csrf": csrf_of(page.text)},
                        follow_redirects=False)
    assert acked.status_code == 303
    assert incidents.show(city, water_incident).acknowledged_by == "code:Li Na"
    assert [a for a, s, _ in audited(city, "incident.ack")] == ["code:Li Na"]
    timeline = client.get(f"/console/incidents/{water_incident}").text
    assert '<b title="code:Li Na">Li Na</b>' in timeline
    # The code works once.
    client.cookies.clear()
    again = client.post(f"/console/link/{water_incident}/verify", data={**form, "code": code})
    assert again.status_code == 401 and "已使用" in again.text


def test_the_old_acknowledge_links_still_work(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                              water_incident: int) -> None:  # noqa: F811
    fields = _fields(_link(water_incident))
    old = f"/api/v1/incidents/{water_incident}/ack-link"
    assert client.get(old, params=fields).status_code == 200
    done = client.post(old, data=fields)
    assert done.status_code == 200, done.text
    assert incidents.show(city, water_incident).acknowledged_by == "link:Li Na"


def test_a_token_session_is_not_limited_by_a_link(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                                  water_incident: int) -> None:  # noqa: F811
    sign_in(client, city, Role.operator, None, name="王芳")
    assert client.get("/console/incidents").status_code == 200
    page = client.get(_path(_link(water_incident)))
    assert page.status_code == 200 and 'href="/console/sign-in?next=/console/incidents/' in page.text

"""Signed acknowledge links: signing and verifying on a given clock, the links escalation puts
into each recipient's page (through the real notifiers to loopback receivers), and the
confirmation page and its POST through FastAPI's TestClient against the real database."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from alerts.incidents import ack_link, escalation_policy
from alerts.incidents import store as incidents
from alerts.incidents.ack_link import LinkExpired, LinkInvalid
from alerts.incidents.api import router
from alerts.incidents.escalation import run_due
from alerts.incidents.escalation_policy import parse_policy
from alerts.model import Recipient
from citybrain.kernel import audit
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, ConnFactory, Pager, alert
from tests.alerts.incidents.loopback import WebhookReceiver
from tests.router_app import router_app

SECRET = "k" * 16 + "-test-ack-link-secret-0123456789"
OTHER_SECRET = "o" * 40
LI_NA = Recipient(name="Li Na", role="oncall", channel="email", address="lina@water.example")
ZHAO = Recipient(name="Zhao Min", role="lead", channel="email", address="zhao@water.example")
ADMIN = audit.Actor(id="token:ad00", role="admin")
M = timedelta(minutes=1)
H = timedelta(hours=1)


# --- sign / verify ------------------------------------------------------------------------

def _fields(link: ack_link.AckLink) -> tuple[str, str, str]:
    return link.who, str(link.exp), link.sig


def test_a_good_link_verifies_until_it_expires() -> None:
    link = ack_link.sign(SECRET, 42, LI_NA, expires_at=T0 + 24 * H)
    signer = ack_link.verify(SECRET, 42, *_fields(link), now=T0 + 23 * H)
    expiry = int((T0 + 24 * H).timestamp())
    assert (signer.name, signer.channel, signer.expires_at) == ("Li Na", "email", expiry)
    assert "lina@water.example" not in link.query()      # the address is only a keyed tag
    with pytest.raises(LinkExpired, match="expired"):
        ack_link.verify(SECRET, 42, *_fields(link), now=T0 + 24 * H)   # the expiry itself is past


def test_a_tampered_or_foreign_link_is_invalid() -> None:
    link = ack_link.sign(SECRET, 42, LI_NA, expires_at=T0 + 24 * H)
    later = T0 + H
    with pytest.raises(LinkInvalid, match="not valid for incident 43"):
        ack_link.verify(SECRET, 43, *_fields(link), now=later)                           # another incident
    with pytest.raises(LinkInvalid):
        ack_link.verify(SECRET, 42, link.who.replace("Li Na", "Zhao Min"), str(link.exp), link.sig, now=later)
    zhao = ack_link.sign(SECRET, 42, ZHAO, expires_at=T0 + 24 * H)
    with pytest.raises(LinkInvalid):
        ack_link.verify(SECRET, 42, zhao.who, str(link.exp), link.sig, now=later)      # another recipient
    with pytest.raises(LinkInvalid):
        ack_link.verify(SECRET, 42, link.who, str(link.exp + 86400), link.sig, now=later)   # longer life
    with pytest.raises(LinkInvalid):
        ack_link.verify(OTHER_SECRET, 42, *_fields(link), now=later)                   # wrong secret
    with pytest.raises(LinkInvalid, match="malformed"):
        ack_link.verify(SECRET, 42, link.who, "soon", link.sig, now=later)
    with pytest.raises(LinkInvalid, match="malformed"):
        ack_link.verify(SECRET, 42, link.who, str(link.exp), link.sig[:-1] + "é", now=later)
    # A tampered expiry in the past still reads as tampered, not as merely old.
    with pytest.raises(LinkInvalid):
        ack_link.verify(SECRET, 42, link.who, str(link.exp - 86400 * 2), link.sig, now=later)


def test_the_same_name_at_another_address_is_another_signer() -> None:
    elsewhere = Recipient(name="Li Na", role="oncall", channel="email", address="lina@other.example")
    link = ack_link.sign(SECRET, 42, LI_NA, expires_at=T0 + H)
    assert ack_link.identity(SECRET, elsewhere) != link.who
    with pytest.raises(LinkInvalid):
        ack_link.verify(SECRET, 42, ack_link.identity(SECRET, elsewhere), str(link.exp), link.sig, now=T0)


def test_a_short_secret_is_refused_by_the_settings() -> None:
    with pytest.raises(ValidationError, match="ack_link_secret"):
        Settings(ack_link_secret=SecretStr("too-short"))


# --- fixtures: settings with a key, the app on a frozen clock --------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def link_settings(inc_settings: Settings) -> Settings:
    return inc_settings.model_copy(update={"ack_link_secret": SecretStr(SECRET)})


@pytest.fixture
def client(database_url: str, link_settings: Settings, city: psycopg.Connection[Any],
           clock: Clock) -> Iterator[TestClient]:
    with TestClient(router_app(database_url, link_settings, router, clock)) as c:
        yield c


@pytest.fixture
def water_incident(city: psycopg.Connection[Any], link_settings: Settings) -> int:
    iid = incidents.apply(city, alert("pump-1"), now=T0, settings=link_settings).incident_id
    assert iid is not None
    return iid


def _plain(content: str) -> str:
    parsed = email.message_from_string(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _mailed_links(pager: Pager) -> dict[str, tuple[str, str | None]]:
    """Per addressee: (incident link, acknowledge link or None) from the plain-text part of the mail."""
    found = {}
    for mail in pager.mails:
        text = _plain(mail.content)
        incident = re.search(r"^查看事件：(\S+)$", text, re.MULTILINE)
        ack = re.search(r"^确认接单：(\S+)$", text, re.MULTILINE)
        assert incident, text
        found[mail.to[0]] = (incident[1], ack[1] if ack else None)
    return found


def _local(url: str) -> str:
    # The links carry the public address; the test client talks to the app directly.
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _form(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _link(incident_id: int, recipient: Recipient = LI_NA, *, expires_at: datetime = T0 + 24 * H) -> str:
    # The address older notifications carry (new ones open the console: tests/citybrain/console).
    signed = ack_link.sign(SECRET, incident_id, recipient, expires_at=expires_at)
    return f"https://citybrain.test/api/v1/incidents/{incident_id}/ack-link?{signed.query()}"


def _acks(city: psycopg.Connection[Any], incident_id: int) -> list[tuple[str, str | None, datetime]]:
    return [(e.actor, e.role, e.at) for e in audit.entries(city, action="incident.ack")
            if e.subject == str(incident_id)]


# --- escalation puts a signed link per recipient into the pages -----------------------------

def test_each_recipient_gets_its_own_signed_link(city: psycopg.Connection[Any], link_settings: Settings,
                                                 connect: ConnFactory, pager: Pager) -> None:
    with WebhookReceiver() as robot:
        policy = parse_policy({
            "name": "group", "steps": [{"after_minutes": 0, "notify": ["group", "oncall"]}],
            "groups": [{"name": "water-hook", "channel": "webhook", "address": robot.url}]})
        escalation_policy.replace_policy(city, "water", policy, ADMIN, now=T0)
        iid = incidents.apply(city, alert(), now=T0, settings=link_settings).incident_id
        assert iid is not None
        (run,) = run_due(connect, T0, pager.notify, settings=link_settings)
    assert all(d.outcome.delivered for d in run.deliveries)
    hook = robot.requests[0].body
    incident_link, mailed = _mailed_links(pager)["lina@water.example"]
    assert incident_link == hook["incident_url"] == f"https://citybrain.test/console/incidents/{iid}"
    assert mailed is not None and mailed.startswith(f"https://citybrain.test/console/link/{iid}?who=")
    assert hook["ack_url"].startswith(f"https://citybrain.test/console/link/{iid}?who=")
    assert robot.url not in hook["ack_url"] and "lina@water.example" not in mailed
    signers = {ack_link.verify(SECRET, iid, f["who"], f["exp"], f["sig"], now=T0).name: f["exp"]
               for f in (_form(mailed), _form(hook["ack_url"]))}
    expiry = str(int((T0 + ack_link.LIFETIME).timestamp()))
    assert signers == {"Li Na": expiry, "water-hook": expiry}
    assert "一键确认" not in hook["message"] and "citybrain " not in hook["message"]


def test_without_a_secret_the_page_carries_no_ack_link(city: psycopg.Connection[Any], inc_settings: Settings,
                                                        connect: ConnFactory, pager: Pager) -> None:
    assert inc_settings.ack_link_secret is None
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    (run,) = run_due(connect, T0, pager.notify, settings=inc_settings)
    assert [d.outcome.delivered for d in run.deliveries] == [True]
    incident_link, ack = _mailed_links(pager)["lina@water.example"]
    # No acknowledge link that could not work: the incident link, and where to acknowledge.
    assert ack is None and incident_link == f"https://citybrain.test/console/incidents/{iid}"
    text = _plain(pager.mails[0].content)
    assert "本服务器未启用一键确认链接：请在事件页面确认接单，或请运行中心值班人员代为确认。" in text
    assert "ack-link" not in text and "citybrain incidents" not in text and "`" not in text


def test_without_a_secret_the_routes_refuse(database_url: str, inc_settings: Settings,
                                            city: psycopg.Connection[Any], clock: Clock) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    signed = _link(iid)     # signed with a key this server does not have
    with TestClient(router_app(database_url, inc_settings, router, clock)) as c:
        page = c.get(_local(signed))
        assert page.status_code == 403 and "未启用确认链接" in page.text
        assert "请在事件页面确认接单" in page.text and "citybrain incidents" not in page.text
        posted = c.post(f"/api/v1/incidents/{iid}/ack-link", data=_form(signed))
        assert posted.status_code == 403
    assert incidents.show(city, iid).status.value == "triggered"


# --- the confirmation page and its POST ----------------------------------------------------

def test_get_shows_the_page_and_does_not_acknowledge(client: TestClient, city: psycopg.Connection[Any],
                                                     water_incident: int) -> None:
    link = _link(water_incident)
    for _ in range(3):      # a chat app's preview, a mail scanner, the person
        page = client.get(_local(link))
        assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert '<html lang="zh-CN">' in html
    assert f"确认接单：事件 #{water_incident}？" in html and "pump-1 offline" in html
    assert "III级(较大)" in html and "待响应" in html
    assert "市水务局 (water)" in html and "1号水泵 (pump-1)" in html
    assert "2026-03-02 09:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)" in html   # T0 in the settings' zone
    assert "2026-03-02 09:30:00 中国标准时间" in html                              # the response due time
    assert '<form method="post" action="ack-link">' in html
    assert '<button type="submit">确认接单</button>' in html
    fields = _form(link)
    assert f'name="sig" value="{fields["sig"]}"' in html and "<b>Li Na</b>（电子邮件）" in html
    found = incidents.show(city, water_incident)
    assert found.status.value == "triggered" and found.acknowledged_at is None
    assert [e.kind for e in found.timeline] == ["opened"]
    assert _acks(city, water_incident) == []


def test_post_acknowledges_once_with_the_link_actor(client: TestClient, city: psycopg.Connection[Any],
                                                    link_settings: Settings, connect: ConnFactory,
                                                    pager: Pager, clock: Clock, water_incident: int) -> None:
    run_due(connect, T0, pager.notify, settings=link_settings)          # the page to Li Na
    _, mailed = _mailed_links(pager)["lina@water.example"]
    old_page = f"/api/v1/incidents/{water_incident}/ack-link"      # the page of older notifications' links
    assert mailed is not None and client.get(old_page, params=_form(mailed)).status_code == 200
    clock.now = T0 + 6 * M
    done = client.post(f"/api/v1/incidents/{water_incident}/ack-link",
                       data={**_form(mailed), "note": "on my way"})
    assert done.status_code == 200, done.text
    assert f"事件 #{water_incident} 已确认" in done.text and "升级通知已停止" in done.text
    assert "2026-03-02 09:06:00 中国标准时间 (Asia/Shanghai" in done.text
    found = incidents.show(city, water_incident)
    assert (found.status.value, found.acknowledged_by, found.acknowledged_at) == (
        "acknowledged", "link:Li Na", T0 + 6 * M)
    assert found.next_escalation_at is None                               # the ladder stopped
    (acked,) = [e for e in found.timeline if e.kind == "acknowledged"]
    note = "acknowledged with the link sent to Li Na by email: on my way"
    assert (acked.actor, acked.at, acked.detail) == ("link:Li Na", T0 + 6 * M, {
        "from": "triggered", "to": "acknowledged", "note": note})
    (entry,) = [e for e in audit.entries(city, action="incident.ack") if e.subject == str(water_incident)]
    assert (entry.actor, entry.role, entry.at) == ("link:Li Na", "oncall", T0 + 6 * M)
    assert entry.details == {"from": "triggered", "to": "acknowledged", "note": note}
    # Again (a double click, the lead's link): the earlier acknowledgement is reported, nothing changes.
    clock.now = T0 + 9 * M
    lead_link = _form(_link(water_incident, ZHAO))
    again = client.post(f"/api/v1/incidents/{water_incident}/ack-link", data=lead_link)
    assert again.status_code == 200
    assert f"事件 #{water_incident} 已被确认" in again.text and "link:Li Na" in again.text
    assert "2026-03-02 09:06:00 中国标准时间 (Asia/Shanghai" in again.text
    shown = client.get(old_page, params=_form(mailed))
    assert shown.status_code == 200 and "已被确认" in shown.text and "<form" not in shown.text
    assert len(_acks(city, water_incident)) == 1
    assert [e.kind for e in incidents.show(city, water_incident).timeline].count("acknowledged") == 1


def test_expired_and_tampered_links_are_403(client: TestClient, city: psycopg.Connection[Any], clock: Clock,
                                            water_incident: int) -> None:
    base = f"/api/v1/incidents/{water_incident}/ack-link"
    good = _form(_link(water_incident, expires_at=T0 + H))
    tampered = [
        {**good, "who": good["who"].replace("Li Na", "Mallory")},
        {**good, "exp": str(int(good["exp"]) + 86400)},
        {**good, "sig": ("A" if good["sig"][0] != "A" else "B") + good["sig"][1:]},
        {k: v for k, v in good.items() if k != "sig"},
        _form(_link(water_incident + 1)),                      # another incident's link
    ]
    for fields in tampered:
        page = client.get(base, params=fields)
        assert page.status_code == 403 and "链接无效" in page.text, fields
        posted = client.post(base, data=fields)
        assert posted.status_code == 403 and "链接无效" in posted.text, fields
        assert "pump-1" not in page.text                        # nothing about the incident leaks
    clock.now = T0 + H
    expired_page = client.get(base, params=good)
    assert expired_page.status_code == 403 and "该确认链接已过期" in expired_page.text
    assert "citybrain incidents" not in expired_page.text
    expired_post = client.post(base, data=good)
    assert expired_post.status_code == 403 and "该确认链接已过期" in expired_post.text
    assert incidents.show(city, water_incident).status.value == "triggered"
    assert _acks(city, water_incident) == []


def test_unknown_incident_is_404(client: TestClient, water_incident: int) -> None:
    fields = _form(_link(987654))
    page = client.get("/api/v1/incidents/987654/ack-link", params=fields)
    assert page.status_code == 404 and "不存在事件 #987654" in page.text
    assert client.post("/api/v1/incidents/987654/ack-link", data=fields).status_code == 404


def test_an_incident_resolved_without_ack_is_409(client: TestClient, city: psycopg.Connection[Any],
                                                 link_settings: Settings, water_incident: int) -> None:
    incidents.apply(city, alert("pump-1", firing=False, at=T0 + M), now=T0 + M, settings=link_settings)
    assert incidents.show(city, water_incident).status.value == "resolved"
    posted = client.post(f"/api/v1/incidents/{water_incident}/ack-link", data=_form(_link(water_incident)))
    assert posted.status_code == 409 and "从未被确认" in posted.text and "已恢复" in posted.text
    assert _acks(city, water_incident) == []


def test_a_link_acts_once_even_after_the_incident_is_reopened(
        client: TestClient, city: psycopg.Connection[Any], clock: Clock, water_incident: int) -> None:
    link = _link(water_incident)
    clock.now = T0 + 5 * M
    assert client.post(f"/api/v1/incidents/{water_incident}/ack-link", data=_form(link)).status_code == 200
    incidents.resolve(city, water_incident, ADMIN, "pump restarted", now=T0 + 10 * M)
    incidents.reopen(city, water_incident, ADMIN, now=T0 + 20 * M)
    assert incidents.show(city, water_incident).status.value == "triggered"
    clock.now = T0 + 25 * M                   # the link has not expired, the incident is open again
    page = client.get(_local(link))
    assert page.status_code == 409 and "链接已使用过" in page.text and "<form" not in page.text
    assert "citybrain incidents" not in page.text
    again = client.post(f"/api/v1/incidents/{water_incident}/ack-link", data=_form(link))
    assert again.status_code == 409 and "链接已使用过" in again.text
    assert "2026-03-02 09:05:00" in again.text and "link:Li Na" in again.text
    assert incidents.show(city, water_incident).status.value == "triggered"
    assert len(_acks(city, water_incident)) == 1
    # Another recipient's link (or a fresh one from the reopened incident's pages) still acts.
    fresh = _form(_link(water_incident, ZHAO, expires_at=T0 + 48 * H))
    done = client.post(f"/api/v1/incidents/{water_incident}/ack-link", data=fresh)
    assert done.status_code == 200 and incidents.show(city, water_incident).status.value == "acknowledged"


def test_the_pages_speak_the_settings_language(database_url: str, link_settings: Settings,
                                               city: psycopg.Connection[Any], clock: Clock,
                                               water_incident: int) -> None:
    english = link_settings.model_copy(update={"language": "en"})
    base = f"/api/v1/incidents/{water_incident}/ack-link"
    good = _form(_link(water_incident, expires_at=T0 + H))
    with TestClient(router_app(database_url, english, router, clock)) as c:
        page = c.get(base, params=good)
        assert page.status_code == 200 and '<html lang="en">' in page.text
        for text in (f"Acknowledge incident #{water_incident}?", "Level III (major)", "awaiting response",
                     "Water Authority (water)", "Pump 1 (pump-1)",
                     "2026-03-02 09:00:00 China Standard Time (Asia/Shanghai, UTC+08:00)",
                     "You are acknowledging as <b>Li Na</b> (e-mail). This stops the escalation.",
                     '<button type="submit">Acknowledge</button>'):
            assert text in page.text, text
        garbled = c.get(base, params={k: v for k, v in good.items() if k != "sig"})
        assert garbled.status_code == 403 and "incomplete or garbled" in garbled.text
        clock.now = T0 + H
        expired = c.get(base, params=good)
        assert expired.status_code == 403 and "has expired" in expired.text
        assert "citybrain " not in expired.text
    unlinked = english.model_copy(update={"ack_link_secret": None})
    with TestClient(router_app(database_url, unlinked, router, clock)) as c:
        refused = c.get(base, params=good)
        assert refused.status_code == 403 and "Acknowledge links are not enabled" in refused.text
        assert "acknowledge on the incident page" in refused.text and "citybrain " not in refused.text

"""The rendered payload of every channel, in both languages: what a recipient reads.

For WeCom, DingTalk, Feishu, e-mail and the JSON webhook, in zh-CN and en: the
department's and the asset's names (Chinese in zh-CN), what happened, since when in
local time with the zone named, the 30-minute due time, the escalation step and whom
it pages, both links — and never a shell command. With a very long title, body and
names every payload stays within its channel's limit, keeps its links, and keeps the
keyword 告警 that keyword-protected DingTalk and Feishu robots look for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from alerts.model import Notification, Recipient
from alerts.notifiers import build_notifiers
from alerts.notifiers.dingtalk import MAX_TEXT_BYTES as DINGTALK_MAX_BYTES
from alerts.notifiers.dingtalk import dingtalk_body
from alerts.notifiers.email import email_message
from alerts.notifiers.feishu import MAX_BODY_BYTES as FEISHU_MAX_BYTES
from alerts.notifiers.feishu import feishu_body
from alerts.notifiers.message import KEYWORD, render
from alerts.notifiers.webhook import webhook_body
from alerts.notifiers.wecom import MAX_CONTENT_BYTES as WECOM_MAX_BYTES
from alerts.notifiers.wecom import wecom_body
from citybrain.kernel.i18n import Language
from tests.alerts.notifiers.receiver import Reply, RobotServiceStandIn
from tests.alerts.notifiers.support import (
    ACK_URL,
    INCIDENT_URL,
    NOW,
    frozen_clock,
    make_notification,
    notify_settings,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANNELS = ("wecom", "dingtalk", "feishu", "email", "webhook")
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")
# A shell command in any form a message could carry: "citybrain incidents ack 42", a
# code span, an HTML <code>. The product's name, capitalised ("Citybrain about…", the
# sender's address, a host name), is no command.
SHELL = re.compile(r"(?<![\w/.@-])citybrain\s+[a-z]|`[^`\n]*`|<code>")


@dataclass(frozen=True)
class Payload:
    """One channel's request as the service receives it, and what its limits apply to."""

    everything: str                   # every text field, as the service would see them
    limited: str                      # the field the channel's size limit applies to
    limit_bytes: int | None
    keyword_field: str                # where a keyword-protected robot looks
    markup: str | None = None         # the part a client renders as markdown or HTML
    subject: str | None = None        # an e-mail's Subject as a mail client reads it


def payload(channel: str, notification: Notification, language: Language) -> Payload:
    who = Recipient(name="王伟", role="oncall", channel=channel, address="x")
    message = render(notification, who, SHANGHAI, language)
    if channel == "wecom":
        content = wecom_body(message)["markdown"]["content"]
        return Payload(content, content, WECOM_MAX_BYTES, content, content)
    if channel == "dingtalk":
        body = dingtalk_body(message)["markdown"]
        return Payload(body["title"] + "\n" + body["text"], body["text"], DINGTALK_MAX_BYTES, body["text"],
                       body["text"])
    if channel == "feishu":
        card = feishu_body(message, secret="s3cret", now=NOW)
        request = orjson.dumps(card).decode()
        content = card["card"]["elements"][0]["text"]["content"]
        return Payload(request, request, FEISHU_MAX_BYTES, request, content)
    if channel == "email":
        raw = email_message(message, sender="citybrain@ops.example.cn", to="wangwei@dept07.example.cn",
                            now=NOW, domain="ops.example.cn").as_bytes()
        mail = message_from_bytes(raw, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        plain, html = (mail.get_body((kind,)) for kind in ("plain", "html"))
        assert plain is not None and html is not None
        subject = str(mail["Subject"])
        return Payload("\n".join([subject, plain.get_content(), html.get_content()]), plain.get_content(),
                       None, subject, html.get_content(), subject)
    assert channel == "webhook"
    text = orjson.dumps(webhook_body(message)).decode()
    return Payload(text, text, None, text)


def english(**changes: object) -> Notification:
    """Incident 42 as an English-language server builds it: the registry's English names."""
    values: dict[str, object] = {"department_name": "Big Data Bureau",
                                 "assets": (("portal-07", "Citizen Portal"),)}
    values.update(changes)
    return make_notification(**values)


NAMED: dict[Language, Callable[..., Notification]] = {"zh-CN": make_notification, "en": english}
EXPECTED: dict[Language, list[str]] = {
    "zh-CN": ["【告警】II级(重大) 市数据局 · 市政务服务网", "门户网站不可用 portal-07",
              "市政务服务网 (portal-07)",
              "市数据局 (dept-07)", "2026-03-01 18:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)",
              "2026-03-01 18:30 前（开启后 30 分钟内）", "第 1 级升级，通知值班人员、负责人、部门群",
              "王伟（值班人员）", "探测连续 3 次失败", "查看事件", "确认接单"],
    "en": ["【告警 Alert】Level II (serious) Big Data Bureau · Citizen Portal", "门户网站不可用 portal-07",
           "Citizen Portal (portal-07)", "Big Data Bureau (dept-07)",
           "2026-03-01 18:00:00 China Standard Time (Asia/Shanghai, UTC+08:00)",
           "2026-03-01 18:30 (30 min after opening)", "step 1, to on-call, team lead, department group",
           "王伟 (on-call)", "探测连续 3 次失败", "Open incident", "Acknowledge"],
}


def _unescaped(text: str) -> str:
    # JSON encodes nothing of these texts but quotes and line breaks; HTML escapes the '.
    return text.replace("\\n", "\n").replace("&#x27;", "'")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_a_payload_says_everything_in_its_language(channel: str, language: Language) -> None:
    shown = _unescaped(payload(channel, NAMED[language](), language).everything)
    missing = [part for part in EXPECTED[language] if part not in shown]
    assert missing == [], f"{channel}/{language} lacks {missing}:\n{shown}"
    assert INCIDENT_URL in shown and ACK_URL in shown
    assert SHELL.search(shown) is None
    # No label of the other language slipped through (the names and the title are data).
    foreign = (("Respond by", "Escalation", "Open incident") if language == "zh-CN"
               else ("响应时限", "升级步骤", "查看事件"))
    assert [label for label in foreign if label in shown] == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_the_keyword_is_in_every_payload(channel: str, language: Language) -> None:
    for notification in (NAMED[language](), NAMED[language](status="resolved", ack_url=None)):
        assert KEYWORD in payload(channel, notification, language).keyword_field


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_without_signed_links_the_payload_says_where_to_acknowledge(channel: str, language: Language) -> None:
    shown = _unescaped(payload(channel, NAMED[language](ack_url=None), language).everything)
    note = {"zh-CN": "本服务器未启用一键确认链接：请在事件页面确认接单",
            "en": "No one-click acknowledge link (this server signs none): acknowledge on the incident page"}
    assert note[language] in shown
    # No acknowledge link (the JSON keeps the incident URL in ack_url, as before).
    assert INCIDENT_URL in shown and ACK_URL not in shown and SHELL.search(shown) is None


def huge(language: Language) -> Notification:
    """Everything a producer or the registry could make too long, at once."""
    line = "门户网站不可用 [点此](https://phish.example) <b>x</b> " if language == "zh-CN" else "Portal down "
    return NAMED[language](
        title=line * 200 + "\nBcc: all@example.cn",
        text="\n".join(f"摄像头 cam-{i:05d} 离线 **{i}**" for i in range(3000)),
        department_name="市大数据发展管理局" * 120,
        assets=tuple((f"cam-{i:05d}", "城东片区智能杆视频监控摄像头" * 30) for i in range(20)),
        asset_count=5000,
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_very_long_content_stays_within_the_limits_and_keeps_the_links(channel: str,
                                                                       language: Language) -> None:
    sent = payload(channel, huge(language), language)
    if sent.limit_bytes is not None:
        assert len(sent.limited.encode("utf-8")) <= sent.limit_bytes, channel
    shown = _unescaped(sent.everything)
    assert INCIDENT_URL in shown and ACK_URL in shown
    assert KEYWORD in sent.keyword_field
    assert ("响应时限" if language == "zh-CN" else "Respond by") in shown     # the facts stay
    assert "…" in shown                                                        # what was cut says so
    if sent.markup is not None:                                                # still escaped
        assert "<b>x</b>" not in sent.markup
        assert channel == "email" or "](https://phish.example)" not in sent.markup
    if sent.subject is not None:
        assert "\n" not in sent.subject and "\r" not in sent.subject and "Bcc" not in sent.subject


def test_long_names_and_links_are_cut_before_the_links_are() -> None:
    # A recipient with a 200-character Chinese name makes an acknowledge link of ~2 KB
    # (percent-encoded): names and values are then cut further, the links stay whole.
    long_ack = ACK_URL + "&who=" + "%E7%8E%8B" * 200
    message = render(replace(huge("zh-CN"), ack_url=long_ack),
                     Recipient(name="王" * 200, role="oncall", channel="wecom", address="x"), SHANGHAI)
    content = wecom_body(message)["markdown"]["content"]
    assert len(content.encode("utf-8")) <= WECOM_MAX_BYTES
    assert content.endswith(f"[查看事件]({INCIDENT_URL})\u3000[确认接单]({long_ack})")
    assert "> 响应时限：2026-03-01 18:30 前（开启后 30 分钟内）" in content


def test_a_storm_names_its_first_assets_and_counts_the_rest() -> None:
    storm = make_notification(assets=(("gw-3", "城东网关 3"), ("cam-1", "摄像头 1"), ("cam-2", "摄像头 2"),
                                      ("cam-3", "摄像头 3")), asset_count=12)
    message = render(storm, Recipient("王伟", "oncall", "wecom", "x"), SHANGHAI)
    assert message.headline == "【告警】II级(重大) 市数据局 · 城东网关 3、摄像头 1、摄像头 2 等另外 9 个"
    assert ("资产", "城东网关 3 (gw-3)、摄像头 1 (cam-1)、摄像头 2 (cam-2) 等另外 9 个") in [
        (f.label, f.value) for f in message.facts]
    first = render(make_notification(step=0, targets=("oncall", "group")),
                   Recipient("运维群", "group", "wecom", "x"), SHANGHAI)
    assert ("升级步骤", "首次通知，通知值班人员、部门群") in [(f.label, f.value) for f in first.facts]
    assert ("通知对象", "运维群（部门群）") in [(f.label, f.value) for f in first.facts]


@pytest.mark.parametrize("channel", ["dingtalk", "feishu"])
def test_robot_markdown_escapes_untrusted_text(channel: str) -> None:
    hostile = make_notification(title="[点此处理](https://phish.example) <font>**x**</font>",
                                department_name="[部门](https://phish.example)", text="# 标题\n> 引用")
    sent = payload(channel, hostile, "zh-CN").markup
    assert sent is not None
    assert "](https://phish.example)" not in sent and "<font>" not in sent and "**x**" not in sent
    assert "［点此处理］(https://phish.example) ＜font＞＊＊x＊＊＜/font＞" in sent
    assert "＃ 标题" in sent and "＞ 引用" in sent


async def test_the_settings_language_reaches_every_notifier(stand_in: RobotServiceStandIn,
                                                             client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(200, {"errcode": 0, "errmsg": "ok"}), Reply(204, b""))
    async with build_notifiers(notify_settings(language="en"), clock=frozen_clock, client=client) as registry:
        for channel in ("wecom", "webhook"):
            outcome = await registry.get(channel).send(
                english(), Recipient("Wang Wei", "oncall", channel, stand_in.url(f"/{channel}?key=k")))
            assert outcome.delivered, outcome.detail
    wecom, hook = (r.json() for r in stand_in.requests)
    assert wecom["markdown"]["content"].startswith(
        "## 【告警 Alert】Level II (serious) Big Data Bureau · Citizen Portal\n")
    assert hook["language"] == "en"
    assert "Respond by: 2026-03-01 18:30 (30 min after opening)" in hook["message"]


def test_local_times_follow_the_settings_zone_and_name_it() -> None:
    who = Recipient("王伟", "oncall", "email", "x")
    message = render(make_notification(), who, ZoneInfo("Europe/Berlin"), "en")
    facts = {f.key: f.value for f in message.facts}
    assert facts["since"] == "2026-03-01 11:00:00 Central European Standard Time (Europe/Berlin, UTC+01:00)"
    assert facts["due"] == "2026-03-01 11:30 (30 min after opening)"
    summer = render(make_notification(opened_at=datetime.fromisoformat("2026-07-01T10:00:00+00:00"),
                                      response_due_at=datetime.fromisoformat("2026-07-01T10:30:00+00:00")),
                    Recipient("王伟", "oncall", "email", "x"), ZoneInfo("Europe/Berlin"), "zh-CN")
    assert {f.key: f.value for f in summer.facts}["since"] == (
        "2026-07-01 12:00:00 中欧夏令时间 (Europe/Berlin, UTC+02:00)")


def test_the_shell_pattern_finds_what_it_must() -> None:
    # The guard of the tests above, tested: a command in any of its forms is found, the
    # product's name is not.
    for text in ("run citybrain incidents ack 42", "`citybrain incidents ack`", "<code>ack 42</code>",
                 "执行 citybrain incidents ack 42"):
        assert SHELL.search(text), text
    for text in ("Citybrain #42", "by Citybrain about incident", "citybrain@ops.example.cn",
                 "https://citybrain.test/api", "本邮件由 Citybrain 城市"):
        assert SHELL.search(text) is None, text


def test_a_feishu_card_of_quotes_and_line_breaks_stays_under_20_kb() -> None:
    # JSON escapes each of these characters into two bytes: the card is measured as sent.
    n = make_notification(title='"' * 5000, text='"\\\n' * 20000, department_name='"' * 3000)
    request = orjson.dumps(feishu_body(render(n, Recipient("王伟", "oncall", "feishu", "x"), SHANGHAI),
                                       secret="s3cret", now=NOW))
    assert 12_000 < len(request) <= FEISHU_MAX_BYTES        # cut to the limit, not far below it
    assert ACK_URL.encode() in request and KEYWORD.encode() in request

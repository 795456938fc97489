"""The pictures in docs/screens/: a WeCom and an e-mail notification as recipients see them (zh-CN).

Made from the real payloads (``wecom_body``, ``email_message`` over ``render``) of one
escalation step: a level II portal outage, step 1, with a signed acknowledge link. The
WeCom message is drawn by the test-side renderer of WeCom's markdown subset into a
phone-width group chat (420 px); the e-mail's HTML part inside a mail client's frame
with subject, sender, recipient and date above. Chromium headless takes the pictures;
without it the test skips, saying the pictures were not made.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from alerts.incidents import ack_link
from alerts.incidents.urls import incident_url
from alerts.model import Notification, Recipient, Severity
from alerts.notifiers.email import email_message
from alerts.notifiers.message import render
from alerts.notifiers.wecom import MAX_CONTENT_BYTES, wecom_body
from tests.alerts.notifiers.screens import (
    mail_client_page,
    screenshot,
    wecom_chat_page,
    wecom_markdown_html,
)
from tests.alerts.notifiers.support import OPENED_AT
from tests.chromium import chromium

SCREENS = Path(__file__).resolve().parents[3] / "docs" / "screens"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PUBLIC_URL = "https://citybrain.example.gov.cn"
SECRET = "screens-only-secret-0123456789abcdef"
SENT_AT = OPENED_AT + timedelta(minutes=10)          # step 1 runs 10 minutes after opening


@pytest.fixture(scope="module")
def browser() -> str:
    found = chromium()
    if found is None:
        message = ("!! Chromium is missing: docs/screens/notification-wecom.png and notification-email.png "
                   "were NOT made; install it (tools/system-packages) and run this test again")
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    return found


def step_one(recipient: Recipient) -> Notification:
    """Incident 1287 at its first escalation, with this recipient's own signed link."""
    link = ack_link.sign(SECRET, 1287, recipient, expires_at=SENT_AT + ack_link.LIFETIME)
    return Notification(
        incident_id=1287, title="市民服务门户不可用：连续 3 次探测失败（HTTP 503）", severity=Severity.II,
        status="triggered", department_id="dsj", opened_at=OPENED_AT, text="",
        incident_url=incident_url(PUBLIC_URL, 1287), ack_url=ack_link.url(PUBLIC_URL, 1287, link),
        step=1, department_name="市大数据管理局", assets=(("portal-hk-01", "“i 海口”市民服务门户"),),
        asset_count=1, response_due_at=OPENED_AT + timedelta(minutes=30), targets=("oncall", "lead", "group"))


def test_wecom_notification_picture(browser: str) -> None:
    group = Recipient(name="城市运行值班群", role="group", channel="wecom",
                      address="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=example")
    content = wecom_body(render(step_one(group), group, SHANGHAI, "zh-CN"))["markdown"]["content"]
    assert len(content.encode("utf-8")) <= MAX_CONTENT_BYTES
    page = wecom_chat_page(content, group="城市运行值班群(18)", robot="Citybrain 告警", robot_tag="机器人",
                           time=f"{SENT_AT.astimezone(SHANGHAI):%H:%M}")
    out = SCREENS / "notification-wecom.png"
    image = screenshot(browser, page, out, width=420, margin=20)
    _looks_drawn(out, image, width=420)


def test_email_notification_picture(browser: str) -> None:
    person = Recipient(name="王伟", role="oncall", channel="email", address="wangwei@dsj.example.gov.cn")
    message = render(step_one(person), person, SHANGHAI, "zh-CN")
    mail = email_message(message, sender="citybrain@ops.example.gov.cn", to=person.address,
                         now=SENT_AT.astimezone(SHANGHAI), domain="ops.example.gov.cn")
    page = mail_client_page(mail, tz=SHANGHAI, labels={"from": "发件人", "to": "收件人", "date": "时间"})
    out = SCREENS / "notification-email.png"
    image = screenshot(browser, page, out, width=760, margin=24)
    _looks_drawn(out, image, width=760)


def _looks_drawn(out: Path, image: Image.Image, *, width: int) -> None:
    # A picture of something: the asked width, cropped to its content, many colours (text
    # anti-aliased, the severity's colour), not a blank or an error page.
    assert out.exists() and image.width == width
    assert 300 < image.height < 2400, image.height
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50


def test_the_wecom_renderer_draws_the_subset_and_shows_the_rest_literally() -> None:
    drawn = wecom_markdown_html("\n".join([
        "## 【告警】标题", "**加粗** 与 `代码`", '> 级别：<font color="warning">II级</font>',
        "> 状态：待响应", "",
        "[查看事件](https://x.example/1)", "<b>不是标签</b> [坏链接](javascript alert)"]))
    assert drawn.splitlines() == [
        '<div class="h2">【告警】标题</div>',
        '<div class="line"><b>加粗</b> 与 <code>代码</code></div>',
        '<div class="quote">级别：<span style="color:#f56c1d">II级</span><br>状态：待响应</div>',
        '<div class="gap"></div>',
        '<div class="line"><a href="https://x.example/1">查看事件</a></div>',
        '<div class="line">&lt;b&gt;不是标签&lt;/b&gt; [坏链接](javascript alert)</div>',
    ]

"""Each channel's exact request, as the (stand-in) robot service or webhook receives it.

The expected bodies are written out by hand from the formats the services document,
not produced by the code under test; signatures are recomputed on the receiving side
with an independent implementation of each service's algorithm.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from zoneinfo import ZoneInfo

import httpx

from alerts.model import Severity
from alerts.notifiers.dingtalk import DingTalkNotifier
from alerts.notifiers.feishu import FeishuNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.notifiers.wecom import WeComNotifier
from tests.alerts.notifiers.receiver import Recorded, Reply, RobotServiceStandIn
from tests.alerts.notifiers.support import (
    ACK_URL,
    INCIDENT_URL,
    NOW,
    frozen_clock,
    make_notification,
    recipient,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADLINE = "【告警】II级(重大) 市数据局 · 市政务服务网"
FACT_LINES = [
    ("事件", "#42"),
    ("级别", "II级(重大)"),
    ("状态", "待响应"),
    ("资产", "市政务服务网 (portal-07)"),
    ("部门", "市数据局 (dept-07)"),
    ("开始时间", "2026-03-01 18:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)"),
    ("响应时限", "2026-03-01 18:30 前（开启后 30 分钟内）"),
    ("升级步骤", "第 1 级升级，通知值班人员、负责人、部门群"),
    ("通知对象", "王伟（值班人员）"),
]
SUBJECT = "【告警】II级(重大) 市数据局 · 市政务服务网：门户网站不可用 portal-07（事件 #42）"


# -- generic webhook -----------------------------------------------------------------------

async def test_webhook_posts_the_notification_as_json(stand_in: RobotServiceStandIn,
                                                      client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(204, b""))
    notifier = WebhookNotifier(client, SHANGHAI)
    outcome = await notifier.send(make_notification(), recipient("webhook", stand_in.url("/hooks/itsm")))

    assert outcome.delivered and not outcome.retryable
    assert outcome.detail == "HTTP 204"
    (request,) = stand_in.requests
    assert request.path == "/hooks/itsm"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.json() == {
        "version": 1,
        "kind": "incident_notification",
        "incident_id": 42,
        "title": "门户网站不可用 portal-07",
        "severity": "II",
        "status": "triggered",
        "department": "dept-07",
        "department_name": "市数据局",
        "assets": [{"asset_id": "portal-07", "name": "市政务服务网"}],
        "asset_count": 1,
        "opened_at": "2026-03-01T10:00:00Z",
        "opened_at_local": "2026-03-01T18:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "response_due_at": "2026-03-01T10:30:00Z",
        "response_due_at_local": "2026-03-01T18:30:00+08:00",
        "text": "探测连续 3 次失败\n最近一次: HTTP 503",
        "incident_url": INCIDENT_URL,
        "ack_url": ACK_URL,
        "step": 1,
        "escalation_targets": ["oncall", "lead", "group"],
        "recipient": {"name": "王伟", "role": "oncall"},
        "language": "zh-CN",
        "subject": SUBJECT,
        "message": "\n".join([
            HEADLINE,
            "门户网站不可用 portal-07",
            "",
            *(f"{label}：{value}" for label, value in FACT_LINES),
            "",
            "探测连续 3 次失败",
            "最近一次: HTTP 503",
            "",
            f"查看事件：{INCIDENT_URL}",
            f"确认接单：{ACK_URL}",
        ]),
    }


async def test_webhook_renders_local_time_in_the_settings_zone(stand_in: RobotServiceStandIn,
                                                               client: httpx.AsyncClient) -> None:
    # 1 March is winter in New York: UTC−05:00.
    notifier = WebhookNotifier(client, ZoneInfo("America/New_York"))
    await notifier.send(make_notification(), recipient("webhook", stand_in.url("/hooks/itsm")))
    body = stand_in.requests[0].json()
    assert body["opened_at"] == "2026-03-01T10:00:00Z"
    assert body["opened_at_local"] == "2026-03-01T05:00:00-05:00"
    assert body["response_due_at_local"] == "2026-03-01T05:30:00-05:00"
    assert body["timezone"] == "America/New_York"
    assert "开始时间：2026-03-01 05:00:00 北美东部标准时间 (America/New_York, UTC-05:00)" in body["message"]
    assert "响应时限：2026-03-01 05:30 前（开启后 30 分钟内）" in body["message"]


# -- WeCom ---------------------------------------------------------------------------------

async def test_wecom_markdown_body(stand_in: RobotServiceStandIn, client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(200, {"errcode": 0, "errmsg": "ok"}))
    notifier = WeComNotifier(client, SHANGHAI)
    address = stand_in.url("/cgi-bin/webhook/send?key=693a91f6-7fe3-4bc4-97a0-0ec2sifa5aaa")
    outcome = await notifier.send(make_notification(), recipient("wecom", address))

    assert outcome.delivered
    (request,) = stand_in.requests
    assert request.path == "/cgi-bin/webhook/send"
    assert request.query == {"key": ["693a91f6-7fe3-4bc4-97a0-0ec2sifa5aaa"]}
    expected_content = "\n".join([
        f"## {HEADLINE}",
        "**门户网站不可用 portal-07**",
        "> 事件：#42",
        '> 级别：<font color="warning">II级(重大)</font>',
        "> 状态：待响应",
        "> 资产：市政务服务网 (portal-07)",
        "> 部门：市数据局 (dept-07)",
        "> 开始时间：2026-03-01 18:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)",
        "> 响应时限：2026-03-01 18:30 前（开启后 30 分钟内）",
        "> 升级步骤：第 1 级升级，通知值班人员、负责人、部门群",
        "> 通知对象：王伟（值班人员）",
        "",
        "探测连续 3 次失败",
        "最近一次: HTTP 503",
        "",
        f"[查看事件]({INCIDENT_URL})\u3000[确认接单]({ACK_URL})",
    ])
    assert request.json() == {"msgtype": "markdown", "markdown": {"content": expected_content}}


async def test_wecom_content_is_cut_to_4096_bytes_keeping_the_links(stand_in: RobotServiceStandIn,
                                                                    client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(200, {"errcode": 0, "errmsg": "ok"}))
    long_text = "\n".join(f"摄像头 cam-{i:04d} 离线" for i in range(600))     # ~13 KB of UTF-8
    notifier = WeComNotifier(client, SHANGHAI)
    await notifier.send(make_notification(text=long_text), recipient("wecom", stand_in.url("/send?key=k")))

    content = stand_in.requests[0].json()["markdown"]["content"]
    assert 4000 < len(content.encode("utf-8")) <= 4096
    assert "摄像头 cam-0000 离线" in content and "cam-0599" not in content
    assert "…" in content
    assert content.endswith(f"[查看事件]({INCIDENT_URL})\u3000[确认接单]({ACK_URL})")


async def test_robot_markdown_cannot_be_injected_through_the_title(stand_in: RobotServiceStandIn,
                                                                  client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(200, {"errcode": 0, "errmsg": "ok"}))
    hostile = make_notification(title="[点此处理](https://phish.example) <font>**x**</font>",
                                text="# 标题\n> 引用")
    await WeComNotifier(client, SHANGHAI).send(hostile, recipient("wecom", stand_in.url("/send?key=k")))

    content = stand_in.requests[0].json()["markdown"]["content"]
    assert "](https://phish.example)" not in content
    assert "<font>" not in content and "**x**" not in content
    assert "［点此处理］(https://phish.example) ＜font＞＊＊x＊＊＜/font＞" in content
    assert "\n＃ 标题\n＞ 引用\n" in content


# -- DingTalk ------------------------------------------------------------------------------

DINGTALK_SECRET = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"
DINGTALK_TEXT = "\n\n".join([
    f"### {HEADLINE}",
    "**门户网站不可用 portal-07**",
    "\n".join(f"- **{label}**：{value}" for label, value in FACT_LINES),
    "探测连续 3 次失败",
    "最近一次: HTTP 503",
    f"[查看事件]({INCIDENT_URL})  |  [确认接单]({ACK_URL})",
])


def dingtalk_service(secret: str) -> object:
    """The DingTalk robot's 加签 check: timestamp within an hour, sign = b64(HMAC(secret, ts\\nsecret))."""
    def respond(request: Recorded) -> Reply:
        timestamp = request.query.get("timestamp", [""])[0]
        sign = request.query.get("sign", [""])[0]
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()).decode()
        fresh = timestamp.isdigit() and abs(int(timestamp) - int(NOW.timestamp() * 1000)) < 3_600_000
        if not (fresh and hmac.compare_digest(sign, expected)):
            return Reply(200, {"errcode": 310000, "errmsg": "sign not match"})
        return Reply(200, {"errcode": 0, "errmsg": "ok"})
    return respond


async def test_dingtalk_unsigned_markdown_body(stand_in: RobotServiceStandIn,
                                               client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(200, {"errcode": 0, "errmsg": "ok"}))
    notifier = DingTalkNotifier(client, SHANGHAI, frozen_clock)
    outcome = await notifier.send(make_notification(),
                                  recipient("dingtalk", stand_in.url("/robot/send?access_token=abc123")))

    assert outcome.delivered
    (request,) = stand_in.requests
    assert request.query == {"access_token": ["abc123"]}
    assert request.json() == {"msgtype": "markdown", "markdown": {"title": SUBJECT, "text": DINGTALK_TEXT}}


async def test_dingtalk_signs_with_timestamp_and_sign_query_parameters(stand_in: RobotServiceStandIn,
                                                                       client: httpx.AsyncClient) -> None:
    stand_in.respond_with(dingtalk_service(DINGTALK_SECRET))  # type: ignore[arg-type]
    address = stand_in.url("/robot/send?access_token=abc123")
    notifier = DingTalkNotifier(client, SHANGHAI, frozen_clock, secrets={address: DINGTALK_SECRET})
    outcome = await notifier.send(make_notification(), recipient("dingtalk", address))

    assert outcome.delivered, outcome.detail
    (request,) = stand_in.requests
    assert request.query["access_token"] == ["abc123"]
    assert request.query["timestamp"] == ["1772359530250"]         # the frozen clock, in ms
    assert request.json()["markdown"]["text"] == DINGTALK_TEXT


async def test_dingtalk_wrong_secret_is_rejected_and_not_retryable(stand_in: RobotServiceStandIn,
                                                                   client: httpx.AsyncClient) -> None:
    stand_in.respond_with(dingtalk_service(DINGTALK_SECRET))  # type: ignore[arg-type]
    address = stand_in.url("/robot/send?access_token=abc123")
    notifier = DingTalkNotifier(client, SHANGHAI, frozen_clock, secrets={address: "SECwrong"})
    outcome = await notifier.send(make_notification(), recipient("dingtalk", address))

    assert not outcome.delivered and not outcome.retryable
    assert outcome.detail == "HTTP 200, code 310000: sign not match"


# -- Feishu --------------------------------------------------------------------------------

FEISHU_SECRET = "nIMtb7r3N9pkXyXdtAbx6e"
FEISHU_CARD = {
    "config": {"wide_screen_mode": True},
    "header": {"title": {"tag": "plain_text", "content": SUBJECT}, "template": "orange"},
    "elements": [
        {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(
            ["**门户网站不可用 portal-07**"]
            + [f"**{label}**：{value}" for label, value in FACT_LINES]
            + ["", "探测连续 3 次失败", "最近一次: HTTP 503"])}},
        {"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": "确认接单"}, "type": "primary",
             "url": ACK_URL},
            {"tag": "button", "text": {"tag": "plain_text", "content": "查看事件"}, "type": "default",
             "url": INCIDENT_URL},
        ]},
        {"tag": "note", "elements": [{"tag": "plain_text", "content": "告警 · Citybrain #42"}]},
    ],
}


def feishu_service(secret: str) -> object:
    """The Feishu bot's 签名校验: sign = b64(HMAC(key=ts\\nsecret, msg=empty)), ts in seconds."""
    def respond(request: Recorded) -> Reply:
        body = request.json()
        timestamp = str(body.get("timestamp", ""))
        expected = base64.b64encode(
            hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        fresh = timestamp.isdigit() and abs(int(timestamp) - int(NOW.timestamp())) < 3600
        if not (fresh and hmac.compare_digest(str(body.get("sign", "")), expected)):
            return Reply(200, {"code": 19021, "data": {}, "msg": "sign match fail or timestamp"
                                                                 " is not within one hour from current time"})
        return Reply(200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {},
                           "msg": "success"})
    return respond


async def test_feishu_interactive_card_body(stand_in: RobotServiceStandIn, client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(200, {"code": 0, "data": {}, "msg": "success"}))
    notifier = FeishuNotifier(client, SHANGHAI, frozen_clock)
    outcome = await notifier.send(make_notification(),
                                  recipient("feishu", stand_in.url("/open-apis/bot/v2/hook/5e3d587e-d78e")))

    assert outcome.delivered
    assert stand_in.requests[0].json() == {"msg_type": "interactive", "card": FEISHU_CARD}


async def test_feishu_signs_in_the_body(stand_in: RobotServiceStandIn, client: httpx.AsyncClient) -> None:
    stand_in.respond_with(feishu_service(FEISHU_SECRET))  # type: ignore[arg-type]
    address = stand_in.url("/open-apis/bot/v2/hook/5e3d587e-d78e")
    notifier = FeishuNotifier(client, SHANGHAI, frozen_clock, secrets={address: FEISHU_SECRET})
    outcome = await notifier.send(make_notification(), recipient("feishu", address))

    assert outcome.delivered, outcome.detail
    body = stand_in.requests[0].json()
    assert body["timestamp"] == "1772359530"                         # the frozen clock, in seconds
    assert body["msg_type"] == "interactive" and body["card"] == FEISHU_CARD


async def test_feishu_wrong_secret_is_rejected_and_not_retryable(stand_in: RobotServiceStandIn,
                                                                 client: httpx.AsyncClient) -> None:
    stand_in.respond_with(feishu_service(FEISHU_SECRET))  # type: ignore[arg-type]
    address = stand_in.url("/open-apis/bot/v2/hook/5e3d587e-d78e")
    notifier = FeishuNotifier(client, SHANGHAI, frozen_clock, secrets={address: "not-the-secret"})
    outcome = await notifier.send(make_notification(), recipient("feishu", address))

    assert not outcome.delivered and not outcome.retryable
    assert outcome.detail.startswith("HTTP 200, code 19021: sign match fail")


async def test_feishu_card_colour_follows_severity_and_resolution(stand_in: RobotServiceStandIn,
                                                                  client: httpx.AsyncClient) -> None:
    notifier = FeishuNotifier(client, SHANGHAI, frozen_clock)
    address = stand_in.url("/open-apis/bot/v2/hook/x")
    stand_in.script(*[Reply(200, {"code": 0, "msg": "success"})] * 3)
    await notifier.send(make_notification(severity=Severity.I), recipient("feishu", address))
    await notifier.send(make_notification(severity=Severity.IV), recipient("feishu", address))
    await notifier.send(make_notification(status="resolved"), recipient("feishu", address))
    templates = [r.json()["card"]["header"]["template"] for r in stand_in.requests]
    assert templates == ["red", "blue", "green"]

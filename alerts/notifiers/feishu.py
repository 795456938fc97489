"""Feishu / Lark custom bot (飞书 自定义机器人): an interactive card, optionally signed.

Format followed — Feishu open platform "自定义机器人使用指南"
(https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, the same page at
open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN) and the (legacy, still
accepted) message-card JSON of "消息卡片" (header/elements, ``div`` with ``lark_md``
text, ``action`` with ``button``s carrying a ``url``):

- address: ``https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN``;
- body: ``{"msg_type": "interactive", "card": {...}}``, at most 20 KB;
- signing (签名校验), when the bot has a secret: ``timestamp`` = now in epoch
  *seconds* (as a string), ``sign`` = Base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}",
  msg=b"")) — note the key/message order is the reverse of DingTalk's — both placed in
  the JSON body next to ``msg_type``; the timestamp must be within an hour;
- answer: HTTP 200 with ``{"code": 0, "msg": "success", ...}``; older deployments answer
  ``{"StatusCode": 0, "StatusMessage": "success"}``, so either field is read. Limits:
  100 requests a minute and 5 a second per bot.

Body codes retried: 11232 (rate limited, "system pressure"; the guide warns of it at
the full and half hour) and 99991400 (the open platform's request-frequency limit).
Not retried: 9499 bad request (malformed body), 19021 signature mismatch or stale
timestamp, 19022 IP not allowed, 19024 keyword not found, and every other code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from alerts.model import Notification, Outcome, Recipient, Severity
from alerts.notifiers.message import (
    ACK_LINK_LABEL,
    INCIDENT_LINK_LABEL,
    Message,
    fit,
    markdown_escape,
    markdown_text,
    render,
)
from alerts.notifiers.robot import robot_outcome
from alerts.notifiers.transport import post_json
from citybrain.kernel.clock import Clock

# The whole request may be 20 KB; the card's frame and facts take well under 4 KB.
MAX_TEXT_BYTES = 14_000
RETRYABLE_CODES: dict[int, str] = {
    11232: "rate limit: frequency limited",
    99991400: "rate limit: request trigger frequency limit",
}
TEMPLATES: dict[Severity, str] = {
    Severity.I: "red",
    Severity.II: "orange",
    Severity.III: "yellow",
    Severity.IV: "blue",
}


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Base64(HMAC-SHA256(key="timestamp\\nsecret", msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_card(message: Message) -> dict[str, Any]:
    n = message.notification
    template = "green" if n.status in ("resolved", "closed") else TEMPLATES.get(n.severity, "red")
    facts = "\n".join(f"**{label}**: {markdown_escape(value)}" for label, value in message.facts)

    def build(text: str) -> str:
        return f"{facts}\n\n{text}" if text else facts

    content = fit(build, markdown_text(message.text), MAX_TEXT_BYTES)
    return {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": message.subject}, "template": template},
        "elements": [
            {"tag": "div", "text": {"tag": "lark_md", "content": content}},
            {"tag": "action", "actions": [
                {"tag": "button", "text": {"tag": "plain_text", "content": ACK_LINK_LABEL},
                 "type": "primary", "url": message.ack_url},
                {"tag": "button", "text": {"tag": "plain_text", "content": INCIDENT_LINK_LABEL},
                 "type": "default", "url": message.incident_url},
            ]},
        ],
    }


def feishu_body(message: Message, *, secret: str | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if secret:
        if now is None:
            raise ValueError("signing a Feishu message needs the current time")
        timestamp_s = int(now.timestamp())
        body.update({"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s)})
    body.update({"msg_type": "interactive", "card": feishu_card(message)})
    return body


class FeishuNotifier:
    channel: str = "feishu"

    def __init__(self, client: httpx.AsyncClient, tz: ZoneInfo, clock: Clock,
                 secrets: Mapping[str, str] | None = None) -> None:
        self._client = client
        self._tz = tz
        self._clock = clock
        self._secrets = dict(secrets or {})

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        secret = self._secrets.get(recipient.address)
        # Signed afresh on every attempt: a retry minutes later needs a fresh timestamp.
        body = feishu_body(render(notification, recipient, self._tz), secret=secret,
                           now=self._clock() if secret else None)
        reply = await post_json(self._client, recipient.address, body)
        if isinstance(reply, Outcome):
            return reply
        return robot_outcome(reply, code_fields=("code", "StatusCode"),
                             message_fields=("msg", "StatusMessage"), retryable_codes=RETRYABLE_CODES)

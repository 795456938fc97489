"""Feishu / Lark custom bot (飞书 自定义机器人): an interactive card, optionally signed.

Format followed — Feishu open platform "自定义机器人使用指南"
(https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, the same page at
open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN) and the (legacy, still
accepted) message-card JSON of "消息卡片" (header/elements, ``div`` with ``lark_md``
text, ``action`` with ``button``s carrying a ``url``, ``note`` with plain text):

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
import orjson

from alerts.model import Notification, Outcome, Recipient, Severity
from alerts.notifiers.message import (
    Message,
    alert_tag,
    clip,
    fit,
    markdown_escape,
    markdown_text,
    render,
)
from alerts.notifiers.robot import robot_outcome
from alerts.notifiers.transport import post_json
from citybrain.kernel.clock import Clock
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, Language

# The whole request may be 20 KB (MAX_BODY_BYTES). The card's lark_md content is kept
# under MAX_TEXT_BYTES as it is sent (measured JSON-encoded: quotes, line breaks and
# backslashes take two bytes there); the header's title (the subject, one line of at most
# about 600 bytes), the buttons (an acknowledge link is up to ~2 KB) and the note take
# under 5 KB more, the signature under 100 bytes: a body stays under 20 KB.
MAX_BODY_BYTES = 20_000
MAX_TEXT_BYTES = 12_000
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


def json_size(text: str) -> int:
    """The bytes ``text`` takes in the request, a JSON string (quotes excluded)."""
    return len(orjson.dumps(text)) - 2


def feishu_card(message: Message) -> dict[str, Any]:
    n = message.notification
    template = "green" if n.status in ("resolved", "closed") else TEMPLATES.get(n.severity, "red")

    def build(text: str, cut: int | None) -> str:
        lines = [f"**{markdown_escape(clip(message.title, cut))}**",
                 *("**" + message.line(f"{f.label}**", markdown_escape(clip(f.value, cut)))
                   for f in message.facts)]
        return "\n".join([*lines, *(["", text] if text else [])])

    content = fit(build, markdown_text(message.text), MAX_TEXT_BYTES, size=json_size)
    # The acknowledge button first and primary: it is what the recipient is asked to do.
    buttons = ([{"tag": "button", "text": {"tag": "plain_text", "content": message.ack_link.label},
                 "type": "primary", "url": message.ack_link.url}] if message.ack_link else [])
    buttons.append({"tag": "button", "text": {"tag": "plain_text", "content": message.incident_link.label},
                    "type": "default" if message.ack_link else "primary", "url": message.incident_link.url})
    # The keyword (告警) is in the header's title, and again in the card's own text (the
    # note): a bot with custom keywords must find it whichever part of a card it reads.
    note = " · ".join([alert_tag(message.t), f"Citybrain #{n.incident_id}",
                       *([message.note] if message.note else [])])
    return {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": message.subject}, "template": template},
        "elements": [
            {"tag": "div", "text": {"tag": "lark_md", "content": content}},
            {"tag": "action", "actions": buttons},
            {"tag": "note", "elements": [{"tag": "plain_text", "content": note}]},
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
                 secrets: Mapping[str, str] | None = None, language: Language = DEFAULT_LANGUAGE) -> None:
        self._client = client
        self._tz = tz
        self._clock = clock
        self._secrets = dict(secrets or {})
        self._language = language

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        secret = self._secrets.get(recipient.address)
        # Signed afresh on every attempt: a retry minutes later needs a fresh timestamp.
        body = feishu_body(render(notification, recipient, self._tz, self._language), secret=secret,
                           now=self._clock() if secret else None)
        reply = await post_json(self._client, recipient.address, body)
        if isinstance(reply, Outcome):
            return reply
        return robot_outcome(reply, code_fields=("code", "StatusCode"),
                             message_fields=("msg", "StatusMessage"), retryable_codes=RETRYABLE_CODES)

"""WeCom group robot (企业微信 群机器人): a markdown message POSTed to the robot's webhook.

Format followed — WeCom developer documentation "群机器人配置说明"
(https://developer.work.weixin.qq.com/document/path/91770, also path/99398):

- address: ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` (the key is the
  credential; no signing exists for WeCom robots);
- body: ``{"msgtype": "markdown", "markdown": {"content": "..."}}``, content UTF-8, at
  most 4096 bytes; the markdown subset has headings, bold, links ``[text](url)``,
  inline code, quotes ``>`` and ``<font color="info|comment|warning">``; a single line
  break is a line break;
- answer: HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` on success; a failure is an
  HTTP 200 with a non-zero ``errcode``. A robot takes at most 20 messages a minute.

Body codes retried (WeCom global error codes): -1 system busy (the documentation says
retry later), 45009 API call frequency over the limit (the 20-a-minute cap),
45033 concurrent calls over the limit. Every other code is not retried: 93000 invalid
webhook URL (robot removed or key wrong), 40008 invalid message type, 44004 empty
content, 40058 invalid parameter… — the request is wrong, not the moment.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import httpx

from alerts.model import Notification, Outcome, Recipient, Severity
from alerts.notifiers.message import Fact, Message, clip, fit, markdown_escape, markdown_text, render
from alerts.notifiers.robot import robot_outcome
from alerts.notifiers.transport import post_json
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, Language

MAX_CONTENT_BYTES = 4096
RETRYABLE_CODES: dict[int, str] = {
    -1: "system busy",
    45009: "rate limit: api freq out of limit",
    45033: "rate limit: concurrent calls",
}


def _colour(message: Message) -> str:
    if message.notification.status in ("resolved", "closed"):
        return "info"
    return "warning" if message.notification.severity in (Severity.I, Severity.II) else "comment"


def wecom_markdown(message: Message) -> str:
    """The heading, what happened in bold, the facts as a quote, the text, the links."""
    colour = _colour(message)

    def fact(f: Fact, cut: int | None) -> str:
        value = markdown_escape(clip(f.value, cut))
        if f.key == "severity":
            value = f'<font color="{colour}">{value}</font>'
        return "> " + message.line(f.label, value)

    links = "\u3000".join(f"[{link.label}]({link.url})" for link in message.links)
    note = [f'<font color="comment">{markdown_escape(message.note)}</font>'] if message.note else []

    def build(text: str, cut: int | None) -> str:
        head = [f"## {markdown_escape(clip(message.headline, cut))}",
                f"**{markdown_escape(clip(message.title, cut))}**",
                *(fact(f, cut) for f in message.facts)]
        return "\n".join([*head, *(["", text] if text else []), "", *note, links])

    return fit(build, markdown_text(message.text), MAX_CONTENT_BYTES)


def wecom_body(message: Message) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": wecom_markdown(message)}}


class WeComNotifier:
    channel: str = "wecom"

    def __init__(self, client: httpx.AsyncClient, tz: ZoneInfo,
                 language: Language = DEFAULT_LANGUAGE) -> None:
        self._client = client
        self._tz = tz
        self._language = language

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        body = wecom_body(render(notification, recipient, self._tz, self._language))
        reply = await post_json(self._client, recipient.address, body)
        if isinstance(reply, Outcome):
            return reply
        return robot_outcome(reply, code_fields=("errcode",), message_fields=("errmsg",),
                             retryable_codes=RETRYABLE_CODES)

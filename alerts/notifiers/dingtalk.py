"""DingTalk custom robot (钉钉 自定义机器人): a markdown message, optionally signed.

Format followed — DingTalk open platform "自定义机器人接入", including its security
settings section on 加签 (https://open.dingtalk.com/document/orgapp/custom-robot-access,
formerly https://developers.dingtalk.com/document/robots/custom-robot-access):

- address: ``https://oapi.dingtalk.com/robot/send?access_token=TOKEN``;
- body: ``{"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}`` — the
  title is what the chat list and the phone notification show, the text is markdown
  (a blank line separates paragraphs; a single newline is not a reliable break);
- signing (加签), when the robot has a secret (``SEC…``): ``timestamp`` = now in epoch
  milliseconds, ``sign`` = Base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")),
  both added to the query string (URL-encoded); DingTalk rejects a timestamp more than
  an hour off;
- answer: HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; failures are HTTP 200 with a
  non-zero ``errcode``. A robot takes at most 20 messages a minute and is then
  throttled for 10 minutes.

Body codes retried: -1 system busy, 130101 and 410100 "send too fast" (the 20-a-minute
cap). Not retried: 310000 (keyword missing, signature mismatch or IP not allowed —
the security settings reject this sender), 300001 / 300005 token missing or unknown,
400013 group disbanded, and every other code.

The signing timestamp comes from the injected clock, never from the machine's wall
clock directly, so tests can recompute the signature.
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

from alerts.model import Notification, Outcome, Recipient
from alerts.notifiers.message import Message, clip, fit, markdown_escape, markdown_text, render
from alerts.notifiers.outcomes import permanent
from alerts.notifiers.robot import robot_outcome
from alerts.notifiers.transport import post_json
from citybrain.kernel.clock import Clock
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, Language

# DingTalk's message APIs cap markdown at 5 000 characters (error 34016 of its global codes);
# 5 000 UTF-8 bytes is never more characters than that.
MAX_TEXT_BYTES = 5000
RETRYABLE_CODES: dict[int, str] = {
    -1: "system busy",
    130101: "rate limit: send too fast",
    410100: "rate limit: send too fast",
}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Base64(HMAC-SHA256(secret, "timestamp\\nsecret")), before URL encoding."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(address: str, secret: str, now: datetime) -> httpx.URL:
    timestamp_ms = int(now.timestamp() * 1000)
    # httpx percent-encodes '+', '/' and '=' of the Base64 value, which is the URL
    # encoding DingTalk asks for.
    return httpx.URL(address).copy_merge_params(
        {"timestamp": str(timestamp_ms), "sign": dingtalk_sign(secret, timestamp_ms)})


def dingtalk_markdown(message: Message) -> str:
    links = "  |  ".join(f"[{link.label}]({link.url})" for link in message.links)

    def build(text: str, cut: int | None) -> str:
        # The facts as one list, then the text with its lines as paragraphs (a single
        # newline is not a reliable break in DingTalk's markdown).
        facts = "\n".join("- " + message.line(f"**{f.label}**", markdown_escape(clip(f.value, cut)))
                          for f in message.facts)
        paragraphs = [p for p in text.split("\n") if p.strip()]
        return "\n\n".join([f"### {markdown_escape(clip(message.headline, cut))}",
                             f"**{markdown_escape(clip(message.title, cut))}**", facts, *paragraphs,
                             *([markdown_escape(message.note)] if message.note else []), links])

    return fit(build, markdown_text(message.text), MAX_TEXT_BYTES)


def dingtalk_body(message: Message) -> dict[str, Any]:
    return {"msgtype": "markdown",
            "markdown": {"title": message.subject, "text": dingtalk_markdown(message)}}


class DingTalkNotifier:
    channel: str = "dingtalk"

    def __init__(self, client: httpx.AsyncClient, tz: ZoneInfo, clock: Clock,
                 secrets: Mapping[str, str] | None = None, language: Language = DEFAULT_LANGUAGE) -> None:
        self._client = client
        self._tz = tz
        self._clock = clock
        self._secrets = dict(secrets or {})
        self._language = language

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        body = dingtalk_body(render(notification, recipient, self._tz, self._language))
        secret = self._secrets.get(recipient.address)
        try:
            # Signed afresh on every attempt: a retry minutes later needs a fresh timestamp.
            url = signed_url(recipient.address, secret, self._clock()) if secret else recipient.address
        except httpx.InvalidURL as exc:
            return permanent(f"bad address: {exc}")
        reply = await post_json(self._client, url, body)
        if isinstance(reply, Outcome):
            return reply
        return robot_outcome(reply, code_fields=("errcode",), message_fields=("errmsg",),
                             retryable_codes=RETRYABLE_CODES)

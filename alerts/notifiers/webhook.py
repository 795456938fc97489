"""The generic JSON webhook: the notification as one JSON object, POSTed to the recipient's URL.

For receivers the project does not know (a ticketing system, a duty-roster tool, an SMS
gateway's HTTP front). Body, version 1 (fields are only ever added to a version)::

    {"version": 1, "kind": "incident_notification",
     "incident_id": 42, "title": "...", "severity": "II", "status": "triggered",
     "department": "dept-07", "department_name": "市数据局",
     "assets": [{"asset_id": "portal-07", "name": "市政务服务网"}], "asset_count": 1,
     "opened_at": "2026-03-01T10:00:00Z",
     "opened_at_local": "2026-03-01T18:00:00+08:00", "timezone": "Asia/Shanghai",
     "response_due_at": "2026-03-01T10:30:00Z",
     "response_due_at_local": "2026-03-01T18:30:00+08:00",
     "text": "...", "incident_url": "...", "ack_url": "...", "step": 1,
     "escalation_targets": ["oncall", "group"],
     "recipient": {"name": "...", "role": "oncall"},
     "language": "zh-CN", "subject": "【告警】…", "message": "…"}

Ids and codes stay as they are; ``subject`` (one line) and ``message`` (the plain-text
notification, as the e-mail's plain part without its footer) are in
``Settings.language``, for a receiver that only forwards text (an SMS gateway).
``ack_url`` is the recipient's signed acknowledge link, or the incident URL when the
server signs no links (as before).

Any 2xx is delivered; 5xx, 429, time-outs and connection errors are retryable; any
other status is not (see ``transport``).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import httpx

from alerts.model import Notification, Outcome, Recipient
from alerts.notifiers.message import Message, plain_text, render
from alerts.notifiers.outcomes import delivered
from alerts.notifiers.transport import post_json, status_outcome
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, Language

PAYLOAD_VERSION = 1


def webhook_body(message: Message) -> dict[str, Any]:
    n = message.notification
    return {
        "version": PAYLOAD_VERSION,
        "kind": "incident_notification",
        "incident_id": n.incident_id,
        "title": n.title,
        "severity": str(n.severity),
        "status": n.status,
        "department": n.department_id,
        "department_name": n.department_name,
        "assets": [{"asset_id": ident, "name": name} for ident, name in n.assets],
        "asset_count": max(n.asset_count, len(n.assets)),
        "opened_at": message.opened_at_utc,
        "opened_at_local": message.opened_at_local,
        "timezone": message.timezone,
        "response_due_at": message.response_due_at_utc,
        "response_due_at_local": message.response_due_at_local,
        "text": n.text,
        "incident_url": n.incident_url,
        "ack_url": n.ack_url or n.incident_url,
        "step": n.step,
        "escalation_targets": list(n.targets),
        "recipient": {"name": message.recipient.name, "role": message.recipient.role},
        "language": message.language,
        "subject": message.subject,
        "message": plain_text(message),
    }


class WebhookNotifier:
    channel: str = "webhook"

    def __init__(self, client: httpx.AsyncClient, tz: ZoneInfo,
                 language: Language = DEFAULT_LANGUAGE) -> None:
        self._client = client
        self._tz = tz
        self._language = language

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        body = webhook_body(render(notification, recipient, self._tz, self._language))
        reply = await post_json(self._client, recipient.address, body)
        if isinstance(reply, Outcome):
            return reply
        return status_outcome(reply) or delivered(f"HTTP {reply.status}")

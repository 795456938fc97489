"""The generic JSON webhook: the notification as one JSON object, POSTed to the recipient's URL.

For receivers the project does not know (a ticketing system, a duty-roster tool, an SMS
gateway's HTTP front). Body, version 1::

    {"version": 1, "kind": "incident_notification",
     "incident_id": 42, "title": "...", "severity": "II", "status": "triggered",
     "department": "dept-07", "opened_at": "2026-03-01T10:00:00Z",
     "opened_at_local": "2026-03-01T18:00:00+08:00", "timezone": "Asia/Shanghai",
     "text": "...", "incident_url": "...", "ack_url": "...", "step": 1,
     "recipient": {"name": "...", "role": "oncall"}}

Any 2xx is delivered; 5xx, 429, time-outs and connection errors are retryable; any
other status is not (see ``transport``).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import httpx

from alerts.model import Notification, Outcome, Recipient
from alerts.notifiers.message import Message, render
from alerts.notifiers.outcomes import delivered
from alerts.notifiers.transport import post_json, status_outcome

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
        "opened_at": message.opened_at_utc,
        "opened_at_local": message.opened_at_local,
        "timezone": message.timezone,
        "text": n.text,
        "incident_url": n.incident_url,
        "ack_url": n.ack_url,
        "step": n.step,
        "recipient": {"name": message.recipient.name, "role": message.recipient.role},
    }


class WebhookNotifier:
    channel: str = "webhook"

    def __init__(self, client: httpx.AsyncClient, tz: ZoneInfo) -> None:
        self._client = client
        self._tz = tz

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        body = webhook_body(render(notification, recipient, self._tz))
        reply = await post_json(self._client, recipient.address, body)
        if isinstance(reply, Outcome):
            return reply
        return status_outcome(reply) or delivered(f"HTTP {reply.status}")

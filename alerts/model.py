"""The nouns the alerting stages pass to each other.

Detection (rules, state changes, security events, noise control) produces ``Alert``s;
the incident store turns them into incidents; escalation turns due steps into
``Notification``s for ``Recipient``s; notifiers deliver them and say whether a failure
is worth retrying (``Outcome``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Severity(StrEnum):
    I = "I"  # noqa: E741 — the national level names are Roman numerals; especially serious
    II = "II"      # serious
    III = "III"    # major
    IV = "IV"      # general


@dataclass(frozen=True)
class Alert:
    """A condition firing (or clearing) for one fingerprint.

    ``event_at`` is event time (when the condition began or cleared at the source);
    the incident store stamps processing time itself from its clock.
    """

    rule_id: str
    fingerprint: str                 # rule + asset (a storm: rule + parent asset)
    title: str
    severity: Severity
    event_at: datetime
    firing: bool = True              # False: the condition cleared (auto-resolution)
    asset_id: str | None = None
    department_id: str | None = None
    key: str | None = None
    affected: tuple[str, ...] = ()   # assets involved (a storm's children)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """For detection's stored state (an alert held by a stage survives a restart)."""
        return {"rule_id": self.rule_id, "fingerprint": self.fingerprint, "title": self.title,
                "severity": self.severity.value, "event_at": self.event_at.isoformat(),
                "firing": self.firing, "asset_id": self.asset_id, "department_id": self.department_id,
                "key": self.key, "affected": list(self.affected), "details": self.details}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Alert:
        return cls(rule_id=doc["rule_id"], fingerprint=doc["fingerprint"], title=doc["title"],
                   severity=Severity(doc["severity"]), event_at=datetime.fromisoformat(doc["event_at"]),
                   firing=bool(doc["firing"]), asset_id=doc.get("asset_id"),
                   department_id=doc.get("department_id"), key=doc.get("key"),
                   affected=tuple(doc.get("affected") or ()), details=dict(doc.get("details") or {}))


@dataclass(frozen=True)
class Recipient:
    name: str
    role: str                        # oncall, lead, first_responsible, duty_supervisor, group
    channel: str                     # webhook, wecom, dingtalk, feishu, email
    address: str                     # URL for HTTP channels, e-mail address for email


@dataclass(frozen=True)
class Notification:
    incident_id: int
    title: str
    severity: Severity
    status: str
    department_id: str | None
    opened_at: datetime
    text: str                        # the body, plain text, already in the recipient's time zone
    incident_url: str
    ack_url: str
    step: int                        # escalation step that sent it (0 = at opening)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retryable: bool                  # 5xx, time-outs, connection errors; never 4xx
    detail: str                      # status code / error, recorded in the incident's audit log
    attempts: int = 1


class Notifier(Protocol):
    channel: str

    async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
        """One delivery attempt; never raises for a delivery failure (returns an Outcome)."""
        ...

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
    """One escalation step's page about one incident, before it is put into words.

    The notifiers render it in ``Settings.language`` (``alerts.notifiers.message``); the
    names (department, assets) are the registry's display names in that language, read
    when the step runs, and the ids stay beside them for the operators who act on them.
    """

    incident_id: int
    title: str                       # what happened, one line (the rule's title as detection wrote it)
    severity: Severity
    status: str
    department_id: str | None
    opened_at: datetime              # the 30-minute clock starts here
    text: str                        # more on what happened (a storm's assets…), plain text; may be empty
    incident_url: str                # the incident page (alerts.incidents.urls.incident_url)
    ack_url: str | None              # this recipient's signed acknowledge link; None: links not enabled
    step: int                        # escalation step that sent it (0 = at opening)
    department_name: str | None = None
    assets: tuple[tuple[str, str], ...] = ()   # (asset id, display name), the incident's own asset first
    asset_count: int = 0             # all assets of the incident (a storm names only the first few)
    response_due_at: datetime | None = None    # opened_at + the severity's response minutes
    targets: tuple[str, ...] = ()    # the roles the step pages (oncall, lead, …, group)


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

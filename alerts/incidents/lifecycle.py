"""An incident's status: an enum and the table of legal transitions.

    triggered ──ack──▶ acknowledged ──resolve──▶ resolved ──close──▶ closed
        │                                         ▲   │
        └──────────────resolve────────────────────┘   └──reopen──▶ triggered (counted)

Resolving straight from ``triggered`` is legal: the condition cleared by itself
(auto-resolution, actor ``system``) or a person fixed it without acknowledging first.
The 30-minute response clock stops at the first *human* response, so a person's
resolve-without-ack also stamps ``acknowledged_at`` (it is their response), while an
auto-resolution leaves it empty: nobody responded, and the SLA says so (``alerts.incidents.sla``).
``closed`` is final: a closed incident is history, a new occurrence opens a new one.
"""

from __future__ import annotations

from enum import StrEnum

from citybrain.kernel.errors import CitybrainError


class IncidentStatus(StrEnum):
    triggered = "triggered"
    acknowledged = "acknowledged"
    resolved = "resolved"
    closed = "closed"

    @property
    def is_open(self) -> bool:
        """Open incidents hold their fingerprint (one open incident per fingerprint)."""
        return self in OPEN_STATUSES


# The statuses of an open incident, the one definition: SQL takes it as a parameter
# (``status = ANY(%s)``) or, where a parameter cannot stand (a partial index's
# predicate, Grafana's plain SQL), as the literal ``OPEN_STATUSES_SQL``; tests check
# that the literal written in committed SQL files equals it.
OPEN_STATUSES: tuple[IncidentStatus, ...] = (IncidentStatus.triggered, IncidentStatus.acknowledged)
OPEN_STATUSES_SQL = "(" + ", ".join(f"'{s.value}'" for s in OPEN_STATUSES) + ")"


TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.triggered: frozenset({IncidentStatus.acknowledged, IncidentStatus.resolved}),
    IncidentStatus.acknowledged: frozenset({IncidentStatus.resolved}),
    IncidentStatus.resolved: frozenset({IncidentStatus.closed, IncidentStatus.triggered}),
    IncidentStatus.closed: frozenset(),
}


class IncidentError(CitybrainError):
    """An incident action that cannot be done (unknown incident, illegal transition, ...)."""


class IllegalTransition(IncidentError):
    """A status change the transition table does not allow."""

    def __init__(self, incident_id: int | None, current: IncidentStatus, target: IncidentStatus,
                 action: str | None = None) -> None:
        self.incident_id = incident_id
        self.current = current
        self.target = target
        allowed = sorted(TRANSITIONS[current])
        what = f"incident {incident_id}" if incident_id is not None else "an incident"
        verb = f" ({action})" if action else ""
        hint = (f"allowed from {current.value}: {', '.join(s.value for s in allowed)}"
                if allowed else f"{current.value} is final; a new occurrence opens a new incident")
        super().__init__(f"{what} cannot go from {current.value} to {target.value}{verb}; {hint}")


def check(current: IncidentStatus, target: IncidentStatus, *, incident_id: int | None = None,
          action: str | None = None) -> None:
    """Raise ``IllegalTransition`` unless the table allows ``current → target``."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(incident_id, current, target, action)

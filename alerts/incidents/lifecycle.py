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

An illegal transition says so in the current language (``use_language``: the CLI's
command, the API's request), naming the statuses by their labels (``alerts.notifiers.message``).
"""

from __future__ import annotations

from enum import StrEnum

from alerts.notifiers.message import STATUS_LABELS
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import N_, Catalogue

MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current


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


# What a person was doing when an action failed, as a verb (the store's and the
# auto-resolution's action ids).
ACTION_LABELS: dict[str, str] = {
    "ack": N_("acknowledge"),
    "resolve": N_("resolve"),
    "assign": N_("assign"),
    "comment": N_("comment on"),
    "close": N_("close"),
    "reopen": N_("reopen"),
    "auto-resolve": N_("auto-resolve"),
}


def status_text(status: IncidentStatus) -> str:
    """A status as a person reads it, in the current language."""
    return _(STATUS_LABELS[status.value])


def action_text(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return _(label) if label else action


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
        what = (_("incident {number}").format(number=incident_id) if incident_id is not None
                else _("an incident"))
        hint = (_("allowed from {current}: {allowed}").format(
                    current=status_text(current), allowed=_(", ").join(status_text(s) for s in allowed))
                if allowed else _("{current} is final; a new occurrence opens a new incident").format(
                    current=status_text(current)))
        said = (_("{what} cannot go from {current} to {target} ({action}); {hint}") if action
                else _("{what} cannot go from {current} to {target}; {hint}"))
        super().__init__(said.format(what=what, current=status_text(current), target=status_text(target),
                                     action=action_text(action) if action else "", hint=hint))


def check(current: IncidentStatus, target: IncidentStatus, *, incident_id: int | None = None,
          action: str | None = None) -> None:
    """Raise ``IllegalTransition`` unless the table allows ``current → target``."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(incident_id, current, target, action)

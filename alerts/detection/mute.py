"""The maintenance stage: alerts of assets under planned work are held, not sent.

A firing alert for an asset that a maintenance window covers (at the condition's start
or at detection) is held: no incident. If the condition still holds when the window
ends, it is sent then (``after_maintenance``); if it cleared inside the window, nothing
is sent at all. An outage alert is also held when an ancestor is in maintenance: a
device behind a gateway under planned work is unreachable because of that work
(inhibition by the parent's window). Silences do not hold alerts (they hold pages, in
escalation). The windows are asked through a ``Muter`` (``alerts.maintenance.muter``;
the alerter's is a ``CalendarMuter`` over the periods it holds in memory). A stage of
the detection pipeline (``alerts.detection.pipeline.Stage``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from alerts.detection.state import Parts, alerts_of
from alerts.detection.topology import Topology
from alerts.maintenance.muter import Muter
from alerts.model import Alert


class MaintenanceMute:
    """Holds alerts of assets a maintenance window covers (or, for an outage alert, one of
    its ancestors). ``muter`` and ``topology`` are read at each use: the alerter swaps the
    calendar and the registry when they change."""

    def __init__(self, muter: Callable[[], Muter], topology: Callable[[], Topology],
                 outage_rules: set[str] | None = None) -> None:
        self._muter = muter
        self._topology = topology
        self._outage = outage_rules or set()
        self.held: dict[str, Alert] = {}
        self._sent: set[str] = set()

    def _covered(self, a: Alert, *instants: datetime) -> bool:
        muter = self._muter()
        assets = [a.asset_id]
        if a.asset_id is not None and a.rule_id in self._outage:
            assets += list(self._topology().ancestors(a.asset_id))
        return any(muter.mutes(aid, at) for aid in assets for at in instants)

    def sent(self, fingerprint: str) -> None:
        """An incident for this fingerprint was open at start (see Detection.restore)."""
        self._sent.add(fingerprint)

    def snapshot(self) -> Parts:
        return {"held": {fp: a.to_json() for fp, a in self.held.items()},
                "sent": dict.fromkeys(self._sent, True)}

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        self.held = alerts_of(parts.get("held", {}))
        self._sent = set(parts.get("sent", {}))

    def process(self, alerts: list[Alert], now: datetime) -> list[Alert]:
        out = []
        for a in alerts:
            if a.firing:
                if self._covered(a, a.event_at, now):
                    self.held[a.fingerprint] = a
                    continue
                self.held.pop(a.fingerprint, None)
                self._sent.add(a.fingerprint)
                out.append(a)
                continue
            was_held = self.held.pop(a.fingerprint, None) is not None
            if a.fingerprint in self._sent or not was_held:
                # Sent before (or unknown to us, e.g. after a restart): the store resolves it.
                self._sent.discard(a.fingerprint)
                out.append(a)
        return out

    def tick(self, now: datetime) -> list[Alert]:
        out = []
        for fp, a in sorted(self.held.items()):
            if not self._covered(a, now):
                del self.held[fp]
                self._sent.add(fp)
                out.append(replace(a, details={**a.details, "after_maintenance": True}))
        return out

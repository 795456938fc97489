"""Detection assembled in one place: rules → flapping → maintenance → topology → alerts.

Every stage has one signature (``Stage``; Alertmanager's ``notify.Stage``, architecture
convention 1): ``process(alerts, now) -> alerts`` for what rule evaluation produced,
and ``tick(now) -> alerts`` for what a stage decides on the clock alone (a hold that
expired, an asset that became stable, a maintenance window that ended); ``snapshot`` /
``load`` are everything it holds, as JSON (alerts/detection/state.py). ``now`` is
detection's event-time clock (``alerts.detection.event_clock``). The stages, one module
each: ``flapping`` → ``mute`` (maintenance windows) → ``collapse`` (topology:
inhibition and storm collapse). Repeats of one condition are folded further down, by
the incident store (one open incident per fingerprint); security events are grouped by
their rule's count (``evaluate.EventTracker``).

``Detection`` is pure (no I/O, no clock of its own): the alerter feeds it decoded
readings and state changes and its event-time ``now``, and sends what comes out to the
incident store. The registry and the maintenance calendar are swapped in when they
change. Alerts of one batch pass the stages together, so a storm arriving in one batch
costs one repeat of its group's alert, not one per child.

``snapshot`` is everything it holds, as JSON (part → key → value), and ``load`` takes it
back: the alerter stores it with the offsets it was computed from, so what detection was
waiting for survives a crash (alerts/detection/state.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from alerts.detection.collapse import Collapse
from alerts.detection.evaluate import Evaluator, StateChange, fingerprint
from alerts.detection.flapping import Flapping
from alerts.detection.mute import MaintenanceMute
from alerts.detection.rules import Rule
from alerts.detection.state import Parts
from alerts.detection.topology import Topology
from alerts.maintenance.calendar import Calendar, CalendarMuter
from alerts.maintenance.muter import HOLDS_ALERTS
from alerts.model import Alert
from citybrain.kernel.settings import Settings


class Stage(Protocol):
    def process(self, alerts: list[Alert], now: datetime) -> list[Alert]:
        """What comes out of this stage for the alerts that came in (held ones do not)."""
        ...

    def tick(self, now: datetime) -> list[Alert]:
        """What the clock alone releases (a hold that expired, a window that ended)."""
        ...

    def snapshot(self) -> Parts:
        """Everything the stage holds, as JSON."""
        ...

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        """Take back what ``snapshot`` returned."""
        ...


class Detection:
    def __init__(self, rules: Sequence[Rule], topology: Topology, calendar: Calendar,
                 settings: Settings) -> None:
        self.rules = {r.id: r for r in rules}
        self.topology = topology
        self.calendar = calendar
        self.muter = CalendarMuter(calendar, topology.get, HOLDS_ALERTS)
        # Titles are written once, in the platform's language; fingerprints are ids only,
        # so an alerter restarted in another language folds into the incidents already open.
        self.evaluator = Evaluator(rules, topology, language=settings.language)
        self.flapping = Flapping(
            changes=settings.flap_changes, window=timedelta(seconds=settings.flap_window_seconds),
            stable=timedelta(seconds=settings.flap_stable_seconds),
            state_rules={r.id for r in rules if r.source == "state"}, topology=lambda: self.topology,
            language=settings.language)
        self.maintenance = MaintenanceMute(lambda: self.muter, lambda: self.topology,
                                           {r.id for r in rules if r.outage})
        self.collapse = Collapse(
            outage_rules={r.id for r in rules if r.outage}, topology=lambda: self.topology,
            min_children=settings.alert_storm_min_children,
            window=timedelta(seconds=settings.alert_storm_window_seconds),
            hold=timedelta(seconds=settings.alert_storm_hold_seconds), language=settings.language)
        self.stages: list[Stage] = [self.flapping, self.maintenance, self.collapse]
        self._named: dict[str, Stage] = {"flapping": self.flapping, "maintenance": self.maintenance,
                                         "collapse": self.collapse}

    @property
    def families(self) -> set[str]:
        return self.evaluator.families

    @property
    def watches_state(self) -> bool:
        return bool(self.evaluator.states)

    def set_topology(self, topology: Topology) -> None:
        self.topology = topology
        self.evaluator.topology = topology
        self.muter = CalendarMuter(self.calendar, topology.get, HOLDS_ALERTS)

    def set_calendar(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.muter = CalendarMuter(calendar, self.topology.get, HOLDS_ALERTS)

    def restore(self, open_alerts: Iterable[Alert]) -> None:
        """Incidents open when the alerter started: their conditions are firing, so a
        clearing reading resolves them and no stage sends them again."""
        for a in open_alerts:
            self.maintenance.sent(a.fingerprint)
            if (a.asset_id is None or a.fingerprint != fingerprint(a.rule_id, a.asset_id)
                    or "parent" in a.details):
                continue  # storm / parent groups and grouped security alerts are not rebuilt
            if a.rule_id in self.flapping.state_rules:
                self.flapping.sent(a.fingerprint)
            self.evaluator.restore([(a.rule_id, a.asset_id)])
            rule = self.rules.get(a.rule_id)
            if rule is not None and rule.outage:
                self.collapse.own[a.asset_id] = a

    def snapshot(self) -> Parts:
        parts = self.evaluator.snapshot()
        for name, stage in self._named.items():
            parts.update({f"{name}/{part}": entries for part, entries in stage.snapshot().items()})
        return parts

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        """Instead of ``restore``: the exact state a ``snapshot`` stored."""
        self.evaluator.load(parts)
        for name, stage in self._named.items():
            prefix = f"{name}/"
            stage.load({p.removeprefix(prefix): e for p, e in parts.items() if p.startswith(prefix)})

    # Raw evaluation: call for every item of a batch, then ``process`` the lot once.
    def collect_reading(self, family: str, event: Any) -> list[Alert]:
        return self.evaluator.reading(family, event)

    def collect_state(self, change: StateChange) -> list[Alert]:
        self.flapping.record(change)
        return self.evaluator.state_change(change)

    def process(self, alerts: list[Alert], now: datetime, *, start: int = 0) -> list[Alert]:
        for stage in self.stages[start:]:
            alerts = stage.process(alerts, now)
        return alerts

    def reading(self, family: str, event: Any, now: datetime) -> list[Alert]:
        return self.process(self.collect_reading(family, event), now)

    def state_change(self, change: StateChange, now: datetime) -> list[Alert]:
        return self.process(self.collect_state(change), now)

    def advance(self, now: datetime) -> list[Alert]:
        """What the clock alone decides: for-durations and absences that lapsed, holds
        that expired, flapping assets that became stable, maintenance that ended."""
        out = self.process(self.evaluator.advance(now), now)
        for i, stage in enumerate(self.stages):
            out += self.process(stage.tick(now), now, start=i + 1)
        return out

"""The flapping stage: an asset changing state too often is paged once, then held.

An asset changing liveness state more than ``changes`` times within ``window`` is marked
flapping — ONE alert (rule ``asset-flapping``) — and its state alerts are held from then
on; once it was stable for ``stable`` the mark clears (the flapping incident
auto-resolves) and the held alerts are reconciled: whatever the asset's last state says
is sent, and nothing else. Only changes among the live states count; ``unknown`` (no
data) does not. The alert's title is in the platform's language and names the asset by
its registry name (alerts/detection/wording.py); its fingerprint is the rule and the asset
id. A stage of the detection pipeline (``alerts.detection.pipeline.Stage``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.detection.evaluate import StateChange
from alerts.detection.state import Parts, alerts_of, iso, when
from alerts.detection.topology import Topology
from alerts.detection.wording import Wording
from alerts.model import Alert, Severity
from citybrain.kernel.i18n import Language
from streams.liveness import State

FLAPPING_RULE = "asset-flapping"
FLAPPING_SEVERITY = Severity.III
# Transitions among these count as flaps; unknown (no data) does not.
LIVE_STATES = frozenset({State.ONLINE, State.DEGRADED, State.OFFLINE})


@dataclass
class FlapMark:
    since: datetime
    last_change: datetime
    changes: int


class Flapping:
    def __init__(self, *, changes: int, window: timedelta, stable: timedelta, state_rules: set[str],
                 topology: Callable[[], Topology], language: Language) -> None:
        self.changes = changes
        self.window = window
        self.stable = stable
        self.state_rules = state_rules
        self._topology = topology
        self._words = Wording(language, topology)
        self.marks: dict[str, FlapMark] = {}
        self._recent: dict[str, deque[datetime]] = {}
        self._new: list[Alert] = []
        self._held: dict[str, Alert] = {}     # fingerprint → latest state alert held
        self._sent: set[str] = set()          # state-alert fingerprints firing downstream

    def restore(self, asset_id: str, since: datetime, now: datetime) -> None:
        """A mark open when the alerter restarted: stable counts from the restart."""
        self.marks[asset_id] = FlapMark(since, now, self.changes + 1)

    def sent(self, fingerprint: str) -> None:
        """An incident for this state alert was open at start (see Detection.restore)."""
        self._sent.add(fingerprint)

    def snapshot(self) -> Parts:
        return {
            "marks": {aid: {"since": iso(m.since), "last_change": iso(m.last_change), "changes": m.changes}
                      for aid, m in self.marks.items()},
            "recent": {aid: [iso(t) for t in times] for aid, times in self._recent.items() if times},
            "new": {f"{i:06d}": a.to_json() for i, a in enumerate(self._new)},
            "held": {fp: a.to_json() for fp, a in self._held.items()},
            "sent": dict.fromkeys(self._sent, True),
        }

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        self.marks = {aid: FlapMark(when(m["since"]), when(m["last_change"]), int(m["changes"]))
                      for aid, m in parts.get("marks", {}).items()}
        self._recent = {aid: deque(when(t) for t in times) for aid, times in parts.get("recent", {}).items()}
        self._new = [Alert.from_json(a) for _, a in sorted(parts.get("new", {}).items())]
        self._held = alerts_of(parts.get("held", {}))
        self._sent = set(parts.get("sent", {}))

    def record(self, change: StateChange) -> None:
        """Every state change, before its rules are evaluated."""
        if change.state not in LIVE_STATES or change.previous not in LIVE_STATES:
            return
        aid, at = change.asset_id, change.at
        mark = self.marks.get(aid)
        if mark is not None:
            mark.last_change = max(mark.last_change, at)
            mark.changes += 1
            return
        recent = self._recent.setdefault(aid, deque())
        recent.append(at)
        while recent and recent[0] < at - self.window:
            recent.popleft()
        if len(recent) > self.changes:
            self.marks[aid] = FlapMark(recent[0], at, len(recent))
            del self._recent[aid]
            self._new.append(self._alert(aid, at, firing=True, changes=len(recent)))

    def _alert(self, asset_id: str, at: datetime, *, firing: bool, changes: int) -> Alert:
        asset = self._topology().get(asset_id)
        title = self._words.ngettext("{asset} is flapping: {count} state change within {minutes} min",
                                     "{asset} is flapping: {count} state changes within {minutes} min",
                                     changes).format(
            asset=self._words.asset(asset_id, asset), count=changes,
            minutes=f"{self.window.total_seconds() / 60:g}")
        return Alert(
            rule_id=FLAPPING_RULE, fingerprint=f"{FLAPPING_RULE}:{asset_id}",
            title=title,
            severity=FLAPPING_SEVERITY, event_at=at, firing=firing, asset_id=asset_id,
            department_id=asset.department_id if asset else None, key=asset.key if asset else None,
            details={"rule": FLAPPING_RULE, "changes": changes, "window_s": self.window.total_seconds(),
                     "stable_s": self.stable.total_seconds(),
                     "description": "State alerts of this asset are held until it is stable."},
        )

    def process(self, alerts: list[Alert], now: datetime) -> list[Alert]:
        out, self._new = self._new, []
        for a in alerts:
            if a.rule_id in self.state_rules:
                if a.asset_id in self.marks:
                    self._held[a.fingerprint] = a
                    continue
                if a.firing:
                    self._sent.add(a.fingerprint)
                else:
                    self._sent.discard(a.fingerprint)
            out.append(a)
        return out

    def tick(self, now: datetime) -> list[Alert]:
        out: list[Alert] = []
        for aid, mark in sorted(self.marks.items()):
            stable_at = mark.last_change + self.stable
            if stable_at > now:
                continue
            del self.marks[aid]
            out.append(self._alert(aid, stable_at, firing=False, changes=mark.changes))
            for fp in [fp for fp, a in self._held.items() if a.asset_id == aid]:
                held = self._held.pop(fp)
                if held.firing != (fp in self._sent):   # only what differs from what was sent
                    (self._sent.add if held.firing else self._sent.discard)(fp)
                    out.append(held)
        return out

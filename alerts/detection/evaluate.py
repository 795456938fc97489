"""Rule evaluation: readings, state changes and security events → firing / clearing Alerts.

Pure domain code on event time: every instant comes from the events or from the
``now`` passed to ``advance`` (the alerter's event-time clock); nothing here reads a
clock. One tracker per rule keeps what its condition needs per asset:

* reading rules (threshold, consecutive) decide on the readings themselves: a breach
  that started at t fires with the first breaching reading at or after t + for, and
  clears at the first reading that does not breach. Readings older than the series'
  latest are late and ignored, so a slow partition cannot flip a decision back.
* ``absence`` and the for-duration of ``state`` rules are decided by ``advance(now)``:
  nothing arrives to say "still stale" or "still degraded".
* ``event`` rules fire on each matching event (or on the count-th within a window) and
  never clear: a person resolves those incidents.

A firing alert's ``event_at`` is when the condition began (the breach's first reading,
the state's start, the deadline that lapsed); a clearing alert's is when it ended. Its
title is the rule's in the platform's language, naming the asset by its registry name
(alerts/detection/wording.py); its fingerprint is ids only (rule, asset, the event fields
the rule groups by), the same in every language.

Each tracker's ``snapshot`` / ``load`` is what it keeps, as JSON (``Parts``: a name →
key → value), so the alerter stores the progress of a for-duration or a count with the
offsets it was computed from (alerts/detection/state.py) and a restart resumes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from alerts.detection.readings import matches, metric_getter
from alerts.detection.rules import Absence, Consecutive, EventMatch, Rule, StateIs, Threshold, render_title
from alerts.detection.state import Parts, iso, pair, parse, unpair, when
from alerts.detection.topology import AssetInfo, Topology
from alerts.detection.wording import Wording
from alerts.model import Alert
from citybrain.kernel.i18n import Language
from streams.liveness import State

# The state that says neither "down" nor "up": no data (an ingestion gap). Planned work
# is not a state: maintenance windows hold alerts (alerts.detection.mute).
NEUTRAL_STATES = frozenset({State.UNKNOWN})
_OPS = {
    ">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__,
    "==": float.__eq__, "!=": float.__ne__,
}


@dataclass(frozen=True)
class StateChange:
    """One liveness transition as the monitor publishes it on the state-change topic."""

    asset_id: str
    state: str
    at: datetime
    previous: str | None = None
    reason: str = ""
    feed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "state": self.state, "at": self.at.isoformat(),
                "previous": self.previous, "reason": self.reason, "feed": self.feed}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StateChange:
        return cls(asset_id=doc["asset_id"], state=doc["state"], at=when(doc["at"]),
                   previous=doc.get("previous"), reason=doc.get("reason") or "", feed=doc.get("feed"))

    @classmethod
    def from_message(cls, raw: bytes) -> StateChange:
        doc = orjson.loads(raw)
        at = datetime.fromisoformat(doc["at"])
        if at.tzinfo is None:
            raise ValueError("state change time without an offset")
        return cls(asset_id=str(doc["asset_id"]), state=str(doc["state"]), at=at,
                   previous=doc.get("previous"), reason=str(doc.get("reason") or ""),
                   feed=doc.get("feed"))


def fingerprint(rule_id: str, asset_id: str, *extra: str) -> str:
    """Ids only (rule, asset, raw event field values): never a display word, so the same
    condition has the same fingerprint whatever the platform's language."""
    return ":".join((rule_id, asset_id, *extra))


def make_alert(rule: Rule, wording: Wording, asset_id: str, asset: AssetInfo | None, *, firing: bool,
               at: datetime, values: dict[str, Any], extra: tuple[str, ...] = (),
               level: str | None = None) -> Alert:
    department = asset.department_id if asset else None
    shown = {**wording.values(values), "asset": wording.asset(asset_id, asset), "asset_id": asset_id,
             "rule": rule.id, "department": wording.department(department)}
    details = {"rule": rule.id, "source": rule.source, "description": rule.description,
               **{k: v for k, v in values.items() if v is not None}}
    return Alert(
        rule_id=rule.id, fingerprint=fingerprint(rule.id, asset_id, *extra),
        title=render_title(rule.title_in(wording.language), shown), severity=rule.severity_for(level),
        event_at=at, firing=firing, asset_id=asset_id, department_id=department,
        key=rule.key or (asset.key if asset else None), details=details,
    )


class _Tracker:
    def __init__(self, rule: Rule, wording: Wording) -> None:
        self.rule = rule
        self.wording = wording
        self.firing: set[str] = set()   # asset ids (fingerprint minus extras) now firing

    def _alert(self, asset_id: str, asset: AssetInfo | None, **kwargs: Any) -> Alert:
        return make_alert(self.rule, self.wording, asset_id, asset, **kwargs)

    def restore(self, asset_id: str) -> None:
        """An incident was open for this asset when the alerter (re)started."""
        self.firing.add(asset_id)

    def advance(self, now: datetime, topology: Topology) -> list[Alert]:
        return []

    def snapshot(self) -> Parts:
        return {"firing": dict.fromkeys(self.firing, True)}

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        self.firing = set(parts.get("firing", {}))


@dataclass
class _Series:
    since: datetime | None = None     # start of the current breach / run of matches
    last: datetime | None = None      # latest reading accepted
    count: int = 0


class ReadingTracker(_Tracker):
    """threshold and consecutive conditions."""

    def __init__(self, rule: Rule, wording: Wording) -> None:
        super().__init__(rule, wording)
        cond = rule.condition
        assert isinstance(cond, Threshold | Consecutive)
        self.cond = cond
        self.series: dict[str, _Series] = {}
        self._metric = metric_getter(rule.source, cond.metric) if isinstance(cond, Threshold) else None
        self._op = _OPS[cond.op] if isinstance(cond, Threshold) else None

    def snapshot(self) -> Parts:
        # Only series in a breach carry progress; the rest hold just their latest reading
        # time, which is not worth a write per reading.
        series = {aid: {"since": iso(s.since), "last": iso(s.last), "count": s.count}
                  for aid, s in self.series.items() if s.since is not None}
        return {**super().snapshot(), "series": series}

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        super().load(parts)
        self.series = {aid: _Series(parse(v["since"]), parse(v["last"]), int(v["count"]))
                       for aid, v in parts.get("series", {}).items()}

    def observe(self, asset_id: str, asset: AssetInfo | None, at: datetime, event: Any) -> Alert | None:
        if not matches(self.cond.where, event):
            return None
        values: dict[str, Any]
        if isinstance(self.cond, Threshold):
            assert self._metric is not None and self._op is not None
            value = self._metric(event)
            if value is None:
                return None  # the reading says nothing about this metric
            breach = self._op(value, self.cond.value)
            values = {"value": value, "threshold": self.cond.value, "metric": self.cond.metric}
        else:
            breach = matches(self.cond.match, event)
            values = {}
        s = self.series.setdefault(asset_id, _Series())
        if s.last is not None and at < s.last:
            return None  # late
        s.last = at
        firing = asset_id in self.firing
        if not breach:
            s.since, s.count = None, 0
            if firing:
                self.firing.discard(asset_id)
                return self._alert(asset_id, asset, firing=False, at=at, values=values)
            return None
        if s.since is None:
            s.since = at
        s.count += 1
        if firing:
            return None
        if isinstance(self.cond, Consecutive):
            if s.count < self.cond.count:
                return None
            values["count"] = s.count
        if at - s.since < self.rule.for_:
            return None
        self.firing.add(asset_id)
        return self._alert(asset_id, asset, firing=True, at=s.since, values=values)


class AbsenceTracker(_Tracker):
    """No matching event within a cadence: decided by advance()."""

    def __init__(self, rule: Rule, wording: Wording) -> None:
        super().__init__(rule, wording)
        assert isinstance(rule.condition, Absence)
        self.cond: Absence = rule.condition
        self.last: dict[str, datetime] = {}
        self._first_now: datetime | None = None

    def seed(self, asset_id: str, at: datetime) -> None:
        """The latest matching event stored before the alerter started."""
        if asset_id not in self.last or at > self.last[asset_id]:
            self.last[asset_id] = at

    def snapshot(self) -> Parts:
        return {**super().snapshot(), "last": {aid: at.isoformat() for aid, at in self.last.items()},
                "first_now": {} if self._first_now is None else {"": self._first_now.isoformat()}}

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        super().load(parts)
        self.last = {aid: when(at) for aid, at in parts.get("last", {}).items()}
        self._first_now = parse(parts.get("first_now", {}).get(""))

    def observe(self, asset_id: str, asset: AssetInfo | None, at: datetime, event: Any) -> Alert | None:
        if not matches(self.cond.where, event):
            return None
        if asset_id in self.last and at <= self.last[asset_id]:
            return None
        self.last[asset_id] = at
        if asset_id in self.firing:
            self.firing.discard(asset_id)
            return self._alert(asset_id, asset, firing=False, at=at, values={})
        return None

    def _window(self, asset: AssetInfo) -> timedelta | None:
        if self.cond.within == "expected_interval":
            if asset.expected_interval_s is None:
                return None
            base = timedelta(seconds=asset.expected_interval_s)
        else:
            base = self.cond.within
        return base * self.cond.factor

    def advance(self, now: datetime, topology: Topology) -> list[Alert]:
        if self._first_now is None:
            self._first_now = now
        out: list[Alert] = []
        for asset in topology:
            if asset.asset_id in self.firing or not self.rule.selector.matches(asset.asset_id, asset):
                continue
            if asset.retired_at is not None and asset.retired_at <= now:
                continue
            window = self._window(asset)
            if window is None:
                continue
            # Never seen: one full cadence from registration or from when we started
            # watching, whichever is later (no flood of "stale" on the first start).
            anchor = self.last.get(asset.asset_id) or max(asset.registered_at, self._first_now)
            due = anchor + window
            if due <= now:
                self.firing.add(asset.asset_id)
                out.append(self._alert(asset.asset_id, asset, firing=True, at=due, values={
                    "last_seen": anchor.isoformat() if asset.asset_id in self.last else None,
                    "within_s": window.total_seconds()}))
        return out


class StateTracker(_Tracker):
    def __init__(self, rule: Rule, wording: Wording) -> None:
        super().__init__(rule, wording)
        assert isinstance(rule.condition, StateIs)
        self.states = frozenset(rule.condition.states)
        self.pending: dict[str, tuple[datetime, StateChange]] = {}

    def snapshot(self) -> Parts:
        pending = {aid: {"due": due.isoformat(), "change": change.to_json()}
                   for aid, (due, change) in self.pending.items()}
        return {**super().snapshot(), "pending": pending}

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        super().load(parts)
        self.pending = {aid: (when(v["due"]), StateChange.from_json(v["change"]))
                        for aid, v in parts.get("pending", {}).items()}

    def observe(self, change: StateChange, asset: AssetInfo | None) -> list[Alert]:
        aid = change.asset_id
        values = {"state": change.state, "reason": change.reason}
        if change.state in self.states:
            if aid in self.firing or aid in self.pending:
                return []
            if not self.rule.for_:
                self.firing.add(aid)
                return [self._alert(aid, asset, firing=True, at=change.at, values=values)]
            self.pending[aid] = (change.at + self.rule.for_, change)
            return []
        # Leaving the state. Unknown (no data) cannot confirm a pending for-duration, and
        # neither says the asset recovered: a firing alert stays.
        out: list[Alert] = []
        pending = self.pending.pop(aid, None)
        if pending is not None and pending[0] <= change.at:
            # The state lasted the whole for-duration in event time, but its end arrived
            # before the clock ticked past the due time (one batch carried both changes,
            # as in a replay or after a lag): it fired.
            began = pending[1]
            self.firing.add(aid)
            out.append(self._alert(aid, asset, firing=True, at=began.at,
                                   values={"state": began.state, "reason": began.reason}))
        if change.state in NEUTRAL_STATES or aid not in self.firing:
            return out
        self.firing.discard(aid)
        return [*out, self._alert(aid, asset, firing=False, at=change.at, values=values)]

    def advance(self, now: datetime, topology: Topology) -> list[Alert]:
        due = [aid for aid, (at, _) in self.pending.items() if at <= now]
        out = []
        for aid in sorted(due):
            _, change = self.pending.pop(aid)
            self.firing.add(aid)
            out.append(self._alert(aid, topology.get(aid), firing=True, at=change.at,
                                   values={"state": change.state, "reason": change.reason}))
        return out


class EventTracker(_Tracker):
    def __init__(self, rule: Rule, wording: Wording) -> None:
        super().__init__(rule, wording)
        assert isinstance(rule.condition, EventMatch)
        self.cond: EventMatch = rule.condition
        self.seen: dict[tuple[str, ...], deque[datetime]] = {}

    def snapshot(self) -> Parts:
        seen = {pair(*k): [t.isoformat() for t in times] for k, times in self.seen.items() if times}
        return {**super().snapshot(), "seen": seen}

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        super().load(parts)
        self.seen = {unpair(k): deque(when(t) for t in times) for k, times in parts.get("seen", {}).items()}

    def observe(self, asset_id: str, asset: AssetInfo | None, at: datetime, event: Any) -> Alert | None:
        if not matches(self.cond.where, event):
            return None
        extra = tuple(str(getattr(event, g, "")) for g in self.cond.group_by)
        if self.cond.count > 1:
            times = self.seen.setdefault((asset_id, *extra), deque())
            times.append(at)
            if self.cond.within is not None:
                while times and times[0] < at - self.cond.within:
                    times.popleft()
            if len(times) < self.cond.count:
                return None
        level = getattr(event, "level", None)
        values = {"level": level, "category": getattr(event, "category", None),
                  "title": getattr(event, "title", None) or None, "event_id": event.event_id,
                  "event_source": getattr(event, "source", None), "count": self.cond.count}
        event_details = getattr(event, "details", None)
        if event_details:
            values["event_details"] = event_details
        return self._alert(asset_id, asset, firing=True, at=at, values=values, extra=extra, level=level)


class Evaluator:
    """All rules; ``topology`` is replaced when the registry changes. Titles are written
    in ``language`` (Settings.language)."""

    def __init__(self, rules: Sequence[Rule], topology: Topology, *, language: Language) -> None:
        self.rules = {r.id: r for r in rules}
        self.topology = topology
        self.wording = Wording(language, lambda: self.topology)
        self.readings: dict[str, list[ReadingTracker | AbsenceTracker | EventTracker]] = {}
        self.states: list[StateTracker] = []
        self.trackers: dict[str, _Tracker] = {}
        for rule in rules:
            tracker: _Tracker
            cond = rule.condition
            if isinstance(cond, StateIs):
                tracker = StateTracker(rule, self.wording)
                self.states.append(tracker)
            else:
                if isinstance(cond, Absence):
                    tracker = AbsenceTracker(rule, self.wording)
                elif isinstance(cond, EventMatch):
                    tracker = EventTracker(rule, self.wording)
                else:
                    tracker = ReadingTracker(rule, self.wording)
                self.readings.setdefault(rule.source, []).append(tracker)
            self.trackers[rule.id] = tracker

    @property
    def families(self) -> set[str]:
        """The event families some rule reads (the alerter subscribes to these only)."""
        return set(self.readings)

    def snapshot(self) -> Parts:
        return {f"rule/{rule_id}/{name}": entries for rule_id, tracker in self.trackers.items()
                for name, entries in tracker.snapshot().items()}

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        """State stored by ``snapshot``; rules it does not name start empty."""
        for rule_id, tracker in self.trackers.items():
            prefix = f"rule/{rule_id}/"
            tracker.load({name.removeprefix(prefix): entries for name, entries in parts.items()
                          if name.startswith(prefix)})

    def restore(self, open_alerts: Iterable[tuple[str, str]]) -> None:
        """(rule_id, asset_id) of incidents open at start: their clearing still counts."""
        for rule_id, asset_id in open_alerts:
            tracker = self.trackers.get(rule_id)
            if tracker is not None:
                tracker.restore(asset_id)

    def reading(self, family: str, event: Any) -> list[Alert]:
        trackers = self.readings.get(family)
        if not trackers:
            return []
        asset_id: str = event.asset_id
        asset = self.topology.get(asset_id)
        at: datetime = event.occurred_at
        out = []
        for tracker in trackers:
            if not tracker.rule.selector.matches(asset_id, asset):
                continue
            alert = tracker.observe(asset_id, asset, at, event)
            if alert is not None:
                out.append(alert)
        return out

    def state_change(self, change: StateChange) -> list[Alert]:
        asset = self.topology.get(change.asset_id)
        out = []
        for tracker in self.states:
            if tracker.rule.selector.matches(change.asset_id, asset):
                out += tracker.observe(change, asset)
        return out

    def advance(self, now: datetime) -> list[Alert]:
        out: list[Alert] = []
        for tracker in self.trackers.values():
            out += tracker.advance(now, self.topology)
        return out

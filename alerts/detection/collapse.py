"""The topology stage: inhibition and storm collapse of outage alerts.

Outage alerts (rules with ``outage: true``) of children whose ancestor is down are
folded into the ancestor's incident (inhibition), and several children of one parent
going down within a short window become ONE parent incident listing them (storm
collapse), not one page per child. A child that goes down alone is held for ``hold``
in case its siblings follow, then sent on its own. The incident store keeps one open
incident per fingerprint, so a group's alert re-sent with an updated ``affected`` is a
repeat, once per batch. The group's title is written in the platform's language with
the parent's registry name (alerts/detection/wording.py); its fingerprint is the rule and
the parent's id. A stage of the detection pipeline (``alerts.detection.pipeline.Stage``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from alerts.detection.state import Parts, alerts_of, pair, unpair, when
from alerts.detection.topology import Topology
from alerts.detection.wording import Wording
from alerts.model import Alert, Severity
from citybrain.kernel.i18n import Language

RANK = {Severity.I: 0, Severity.II: 1, Severity.III: 2, Severity.IV: 3}


def most_severe(severities: Iterable[Severity]) -> Severity:
    return min(severities, key=RANK.__getitem__)


@dataclass
class _Group:
    parent: str
    fingerprint: str
    rule_id: str
    started: datetime
    severity: Severity
    lead: Alert | None                  # the parent's own outage alert, if it led the group
    members: set[str] = field(default_factory=set)
    parent_down: bool = False
    ever: set[str] = field(default_factory=set)   # every member it had, and the parent if down
    sent: bool = False                           # its firing alert has gone out

    def to_json(self) -> dict[str, Any]:
        return {"parent": self.parent, "fingerprint": self.fingerprint, "rule_id": self.rule_id,
                "started": self.started.isoformat(), "severity": self.severity.value,
                "lead": self.lead.to_json() if self.lead else None, "members": sorted(self.members),
                "parent_down": self.parent_down, "ever": sorted(self.ever), "sent": self.sent}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> _Group:
        return cls(doc["parent"], doc["fingerprint"], doc["rule_id"], when(doc["started"]),
                   Severity(doc["severity"]), Alert.from_json(doc["lead"]) if doc["lead"] else None,
                   set(doc["members"]), bool(doc["parent_down"]), set(doc["ever"]), bool(doc["sent"]))


class Collapse:
    def __init__(self, *, outage_rules: set[str], topology: Callable[[], Topology], min_children: int,
                 window: timedelta, hold: timedelta, language: Language) -> None:
        self.outage_rules = outage_rules
        self._topology = topology
        self._words = Wording(language, topology)
        self.min_children = min_children
        self.window = window
        self.hold = hold
        self.own: dict[str, Alert] = {}                      # outage alerts sent on their own
        self.groups: dict[str, _Group] = {}                  # by parent
        self.member_of: dict[str, str] = {}
        self.pending: dict[str, dict[str, Alert]] = {}       # parent → child → held alert
        self.recent: dict[str, dict[str, datetime]] = {}     # parent → child → went down at

    def snapshot(self) -> Parts:
        return {
            "own": {aid: a.to_json() for aid, a in self.own.items()},
            "groups": {p: g.to_json() for p, g in self.groups.items()},
            "member_of": dict(self.member_of),
            "pending": {pair(p, c): a.to_json() for p, held in self.pending.items() for c, a in held.items()},
            "recent": {pair(p, c): at.isoformat() for p, down in self.recent.items()
                       for c, at in down.items()},
        }

    def load(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        self.own = alerts_of(parts.get("own", {}))
        self.groups = {p: _Group.from_json(g) for p, g in parts.get("groups", {}).items()}
        self.member_of = {c: str(p) for c, p in parts.get("member_of", {}).items()}
        self.pending, self.recent = {}, {}
        for key, a in sorted(parts.get("pending", {}).items()):
            parent, child = unpair(key)
            self.pending.setdefault(parent, {})[child] = Alert.from_json(a)
        for key, at in sorted(parts.get("recent", {}).items()):
            parent, child = unpair(key)
            self.recent.setdefault(parent, {})[child] = when(at)

    def process(self, alerts: list[Alert], now: datetime) -> list[Alert]:
        out: list[Alert] = []
        touched: dict[str, None] = {}
        for a in alerts:
            if a.rule_id not in self.outage_rules or a.asset_id is None:
                out.append(a)
            elif a.firing:
                self._down(a, out, touched)
            else:
                self._up(a, out, touched)
        for p in touched:
            if p in self.groups:
                out.append(self._group_alert(self.groups[p]))
                self.groups[p].sent = True
        return out

    def _threshold(self, parent: str) -> int:
        return max(2, min(self.min_children, len(self._topology().children(parent))))

    def _down(self, a: Alert, out: list[Alert], touched: dict[str, None]) -> None:
        aid = a.asset_id
        assert aid is not None
        topo = self._topology()
        if aid in self.own:
            out.append(a)  # a repeat of an alert already sent on its own
            return
        if aid in self.member_of:
            return
        for anc in topo.ancestors(aid):  # inhibition: the nearest ancestor that is down
            group = self.groups.get(anc)
            if group is None and anc in self.own:
                lead = self.own.pop(anc)
                group = self.groups[anc] = _Group(anc, lead.fingerprint, lead.rule_id, lead.event_at,
                                                  lead.severity, lead, parent_down=True, ever={anc})
            if group is not None:
                group.members.add(aid)
                group.ever.add(aid)
                group.severity = most_severe((group.severity, a.severity))
                self.member_of[aid] = anc
                touched[anc] = None
                return
        group = self.groups.get(aid)
        if group is not None:  # a storm of its children was open: the parent joins it
            group.parent_down = True
            group.ever.add(aid)
            group.lead = group.lead or a
            group.severity = most_severe((group.severity, a.severity))
            touched[aid] = None
            return
        waiting = self.pending.pop(aid, None)
        if waiting:  # children were waiting for siblings: the parent's alert takes them in
            group = self.groups[aid] = _Group(aid, a.fingerprint, a.rule_id, a.event_at, a.severity, a,
                                              parent_down=True, ever={aid})
            for child in waiting:
                group.members.add(child)
                group.ever.add(child)
                self.member_of[child] = aid
            touched[aid] = None
            return
        asset = topo.get(aid)
        parent = asset.parent_id if asset else None
        if parent is not None and len(topo.children(parent)) >= 2:
            self.pending.setdefault(parent, {})[aid] = a
            recent = self.recent.setdefault(parent, {})
            recent[aid] = a.event_at
            for child, at in list(recent.items()):
                if at < a.event_at - self.window:
                    del recent[child]
            if len(recent) >= self._threshold(parent):
                self._open_storm(parent, a, out, touched)
            return
        self.own[aid] = a
        out.append(a)

    def _open_storm(self, parent: str, trigger: Alert, out: list[Alert], touched: dict[str, None]) -> None:
        waiting = self.pending.pop(parent, {})
        recent = self.recent.pop(parent, {})
        members = set(recent) | set(waiting)
        severities = [a.severity for a in waiting.values()] + [
            self.own[c].severity for c in members if c in self.own]
        group = self.groups[parent] = _Group(
            parent, f"{trigger.rule_id}:{parent}", trigger.rule_id, min(recent.values()),
            storm_severity(most_severe(severities or [trigger.severity])), None)
        for child in members:
            group.members.add(child)
            group.ever.add(child)
            self.member_of[child] = parent
        touched[parent] = None

    def _up(self, a: Alert, out: list[Alert], touched: dict[str, None]) -> None:
        aid = a.asset_id
        assert aid is not None
        handled = False
        if aid in self.own:
            del self.own[aid]
            out.append(a)
            handled = True
        parent = self.member_of.pop(aid, None)
        if parent is not None and parent in self.groups:
            self.groups[parent].members.discard(aid)
            self._maybe_close(parent, a.event_at, out, touched)
            handled = True
        group = self.groups.get(aid)
        if group is not None and group.parent_down:
            group.parent_down = False
            self._maybe_close(aid, a.event_at, out, touched)
            handled = True
        asset = self._topology().get(aid)
        if asset is not None and asset.parent_id is not None:
            waiting = self.pending.get(asset.parent_id, {})
            if (held := waiting.pop(aid, None)) is not None:
                handled = True
                if a.event_at >= held.event_at + self.hold:
                    # Down longer than its hold, by event time, though the recovery came in
                    # the same batch (before a tick could release it): the outage happened
                    # and is paged, then resolved, as a tick in between would have done.
                    out.extend((held, a))
                # else back before its hold ran out: nobody was paged
                if not waiting:
                    self.pending.pop(asset.parent_id, None)
        if not handled:
            out.append(a)  # not ours (e.g. opened before a restart): the store resolves it

    def _maybe_close(self, parent: str, at: datetime, out: list[Alert], touched: dict[str, None]) -> None:
        group = self.groups[parent]
        if group.members or group.parent_down:
            return
        del self.groups[parent]
        touched.pop(parent, None)
        if not group.sent:
            # Down and back within one batch (a replay, or after a lag): the outage still
            # happened; its incident opens with everyone it held, then resolves.
            out.append(self._group_alert(group, everyone=True))
        closing = replace(self._group_alert(group), firing=False, event_at=at)
        out.append(closing)

    def _group_alert(self, g: _Group, *, everyone: bool = False) -> Alert:
        topo = self._topology()
        parent = topo.get(g.parent)
        if everyone:
            g = replace(g, members=g.ever - {g.parent}, parent_down=g.parent in g.ever)
        n = len(g.members)
        words = self._words
        if g.lead is not None and g.parent_down:
            # The parent's own title (its rule's, as detection wrote it) leads.
            title = words.ngettext("{title} — {count} asset behind it down",
                                   "{title} — {count} assets behind it down", n).format(
                title=g.lead.title, count=n) if n else g.lead.title
        elif g.parent_down:
            title = words.ngettext("{count} asset behind {parent} down (and the parent itself)",
                                   "{count} assets behind {parent} down (and the parent itself)", n).format(
                count=n, parent=words.asset(g.parent, parent))
        else:
            title = words.ngettext("{count} asset behind {parent} down",
                                   "{count} assets behind {parent} down", n).format(
                count=n, parent=words.asset(g.parent, parent))
        affected = sorted(g.members | ({g.parent} if g.parent_down else set()))
        base = g.lead
        return Alert(
            rule_id=g.rule_id, fingerprint=g.fingerprint, title=title, severity=g.severity,
            event_at=g.started, firing=True, asset_id=g.parent,
            department_id=parent.department_id if parent else (base.department_id if base else None),
            key=parent.key if parent else (base.key if base else None), affected=tuple(affected),
            details={**(base.details if base else {}), "rule": g.rule_id, "storm": g.lead is None,
                     "parent": g.parent, "parent_down": g.parent_down, "members": n},
        )

    def tick(self, now: datetime) -> list[Alert]:
        out: list[Alert] = []
        for parent in sorted(self.pending):
            waiting = self.pending[parent]
            for child, a in sorted(waiting.items()):
                if a.event_at + self.hold <= now:  # no siblings followed: it goes out alone
                    del waiting[child]
                    self.own[child] = a
                    out.append(a)
            if not waiting:
                del self.pending[parent]
        for parent in list(self.recent):
            recent = self.recent[parent]
            for child, at in list(recent.items()):
                if at < now - self.window:
                    del recent[child]
            if not recent:
                del self.recent[parent]
        return out


def storm_severity(worst_member: Severity) -> Severity:
    """A storm is one level more severe than its worst member (a district's devices down
    matter more than one device), but never above II on numbers alone: level I is for
    what a person or a security source grades as especially serious."""
    return {Severity.IV: Severity.III, Severity.III: Severity.II}.get(worst_member, worst_member)

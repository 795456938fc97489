"""The sparse part of the stream, laid out before it starts: security and dataset events,
resource requests, malformed messages and events from unregistered sources.

These are a few thousand a day, so they are built up front and handed to the feed
bucketed by tick; the feed merges them with the periodic traffic in event-time order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import orjson

from schemas.registry import Asset, Registry

from .city import dataset_updates, stable_fraction
from .clock import epoch_of, iso
from .cloud import request_events
from .defects import malformed_value
from .scenario import Scenario, TickGrid

# (time, family, key, value, why malformed)
Entry = tuple[int, str, str | None, bytes, str | None]

# (source, category, level, title): background noise, mostly level IV.
ROUTINE_SECURITY: tuple[tuple[str, str, str, str], ...] = (
    ("firewall", "policy_violation", "IV", "Port scan from the internet blocked"),
    ("waf", "intrusion", "IV", "SQL injection attempt blocked"),
    ("ids", "intrusion", "IV", "Known exploit signature, target not vulnerable"),
    ("edr", "malware", "IV", "Adware quarantined on an office workstation"),
    ("siem", "vulnerability", "III", "Critical patch missing for more than 30 days"),
)


class _Timeline:
    def __init__(self, registry: Registry, scenario: Scenario, win: TickGrid,
                 rng: random.Random) -> None:
        self.registry, self.scenario, self.win, self.rng = registry, scenario, win, rng
        self.entries: list[Entry] = []

    def add(self, t: int, family: str, key: str | None, event: dict[str, Any] | bytes,
            malformed: str | None = None) -> None:
        if self.win.start <= t < self.win.end:
            value = event if isinstance(event, bytes) else orjson.dumps(event)
            self.entries.append((t, family, key, value, malformed))

    def security(self) -> None:
        for f in self.scenario.of_kind("security_event") + self.scenario.of_kind("data_leak"):
            t, target = epoch_of(f.start), f.asset_ids[0]
            self.add(t, "security", target, {
                "event_id": f"{target}:security:{t}:scripted", "asset_id": target,
                "occurred_at": iso(t), "source": f.param("source"),
                "category": f.param("category"), "level": f.param("level"),
                "title": f.detail, "details": {"rule": f"{f.param('source')}-{f.kind}",
                                               "confidence": "high"},
            })
        targets = [a.asset_id for a in self.registry.assets
                   if a.kind in ("portal", "system", "cloud_host", "link")]
        if not targets:
            return
        t = self.win.start
        n = 0
        while True:
            t += int(self.rng.expovariate(1.5 / 3600)) + 1  # about 1.5 an hour
            if t >= self.win.end:
                return
            source, category, level, title = self.rng.choice(ROUTINE_SECURITY)
            target = self.rng.choice(targets)
            n += 1
            self.add(t, "security", target, {
                "event_id": f"{target}:security:{t}:{n}", "asset_id": target,
                "occurred_at": iso(t), "source": source, "category": category,
                "level": level, "title": title,
                "details": {"src_ip": f"203.0.113.{self.rng.randrange(1, 255)}"},
            })

    def data(self) -> None:
        stale = {a for f in self.scenario.of_kind("stale_dataset") for a in f.asset_ids}
        failing = {(f.asset_ids[0], epoch_of(f.start))
                   for f in self.scenario.of_kind("failed_quality_check")}
        for a in self.registry.assets:
            if a.kind != "dataset":
                continue
            if a.asset_id not in stale:
                self._updates(a, failing)
            targets = a.shared_with or tuple(
                d.department_id for d in self.registry.departments
                if d.department_id != a.department_id)[:1]
            if targets:  # a one-department city has nobody to share with
                self._periodic(a, "shared", 6 * 3600, targets)
            if "open" in a.tags:
                self._periodic(a, "opened", 12 * 3600, ())

    def _updates(self, a: Asset, failing: set[tuple[str, int]]) -> None:
        records = self.rng.randrange(5_000, 2_000_000)
        for t in dataset_updates(a, self.win.start, self.win.end):
            records += self.rng.randrange(0, 5_000)
            base = {"asset_id": a.asset_id, "records": records}
            self.add(t, "data", a.asset_id, {
                "event_id": f"{a.asset_id}:data:{t}:updated", "occurred_at": iso(t),
                "action": "updated", **base})
            check = t + 120
            bad = (a.asset_id, check) in failing
            completeness = self.rng.uniform(0.70, 0.88) if bad else self.rng.uniform(0.95, 1)
            self.add(check, "data", a.asset_id, {
                "event_id": f"{a.asset_id}:data:{check}:quality_check",
                "occurred_at": iso(check), "action": "quality_check", **base,
                "completeness": round(completeness, 4),
                "validity": round(self.rng.uniform(0.97, 1), 4), "passed": not bad})

    def _periodic(self, a: Asset, action: str, every: int, targets: Iterable[str]) -> None:
        phase = int(stable_fraction(f"{a.asset_id}:{action}") * every)
        first = self.win.start + (phase - self.win.start) % every
        to = tuple(targets)
        for n, t in enumerate(range(first, self.win.end, every)):
            event: dict[str, Any] = {"event_id": f"{a.asset_id}:data:{t}:{action}",
                                     "asset_id": a.asset_id, "occurred_at": iso(t),
                                     "action": action}
            if to:
                event["target_department"] = to[n % len(to)]
            self.add(t, "data", a.asset_id, event)

    def requests(self) -> None:
        for t, host, value in request_events(self.scenario):
            self.add(t, "cloud", host, value)

    def malformed(self) -> None:
        children: dict[str, list[str]] = {}
        for a in self.registry.assets:
            if a.parent_id is not None:
                children.setdefault(a.parent_id, []).append(a.asset_id)
        for n, f in enumerate(self.scenario.of_kind("malformed_message")):
            t, asset_id = epoch_of(f.start), f.asset_ids[0]
            variant, family = f.param("variant"), f.param("family")
            value = malformed_value(variant, family, asset_id, t, f"bad{n}",
                                    children.get(asset_id, ()))
            self.add(t, family, asset_id, value, variant)

    def unregistered(self) -> None:
        for f in self.scenario.of_kind("unregistered_source"):
            t, asset_id, family = epoch_of(f.start), f.asset_ids[0], f.param("family")
            event: dict[str, Any] = {"event_id": f"{asset_id}:{family}:{t}",
                                     "asset_id": asset_id, "occurred_at": iso(t)}
            if family == "iot":
                event.update(kind="heartbeat", status="ok", signal_dbm=-77.0)
            elif family == "video":
                event.update(online=True, stream_decodable=True, fps=25.0)
            else:
                event.update(target_kind="portal", ok=True, status_code=200, latency_ms=95.0)
            self.add(t, family, asset_id, event)


def lay_out(registry: Registry, scenario: Scenario, win: TickGrid, seed: int
            ) -> dict[int, list[Entry]]:
    """The sparse entries of the window, by tick index."""
    timeline = _Timeline(registry, scenario, win, random.Random(f"{seed}:timeline"))
    timeline.security()
    timeline.data()
    timeline.requests()
    timeline.malformed()
    timeline.unregistered()
    by_tick: dict[int, list[Entry]] = {}
    for entry in timeline.entries:
        by_tick.setdefault((entry[0] - win.start) // win.tick, []).append(entry)
    return by_tick

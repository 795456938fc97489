"""Synthetic probes of portals, business systems and network links.

Each target is checked once per probe interval, at a phase of its own, from one probe
location, and every check is its own message keyed by the target's id (probe results are
few next to heartbeats, so batching them buys nothing and would hide the key).
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from schemas.registry import Registry

from .city import CityConfig, stable_fraction
from .clock import Stamps, epoch_of
from .fleet import Intervals, silent
from .message import Outbox
from .scenario import Scenario, TickGrid

LOCATIONS = {"portal": "probe-internet-telecom", "system": "probe-dc-core",
             "link": "probe-link-endpoint"}
LINK_PACKETS = 50
TIMEOUT_MS = 10_000.0


class Prober:
    def __init__(self, registry: Registry, cfg: CityConfig, win: TickGrid, scenario: Scenario,
                 silences: dict[str, Intervals], rng: random.Random, stamps: Stamps) -> None:
        self.win, self.rng, self.stamps, self.silences = win, rng, stamps, silences
        interval = cfg.probe_interval_s
        self.slots = interval // win.tick
        # slot -> [(offset within the tick, asset id, kind, baseline latency ms)]
        self.by_slot: list[list[tuple[int, str, str, float]]] = [[] for _ in range(self.slots)]
        for a in registry.assets:
            if a.kind not in LOCATIONS:
                continue
            phase = int(stable_fraction(a.asset_id + ":probe") * interval)
            base = rng.uniform(2, 15) if a.kind == "link" else rng.uniform(60, 400)
            self.by_slot[phase // win.tick].append((phase % win.tick, a.asset_id, a.kind, base))
        self.outages = self._windows(scenario, "portal_outage")
        self.loss = self._windows(scenario, "packet_loss_burst")
        self.outage_checks = 0

    @staticmethod
    def _windows(scenario: Scenario, kind: str) -> dict[str, Intervals]:
        found: dict[str, Intervals] = {}
        for f in scenario.of_kind(kind):
            end = epoch_of(f.end) if f.end else 2**62
            for asset_id in f.asset_ids:
                found.setdefault(asset_id, []).append((epoch_of(f.start), end))
        return found

    def emit(self, tick: int, out: Outbox) -> None:
        base_t = self.win.start + tick * self.win.tick
        for offset, asset_id, kind, base in self.by_slot[tick % self.slots]:
            t = base_t + offset
            if silent(self.silences.get(asset_id), t):
                continue
            event: dict[str, Any] = {
                "event_id": f"{asset_id}:probe:{t}", "asset_id": asset_id,
                "occurred_at": self.stamps.text(t), "target_kind": kind, "ok": True,
                "location": LOCATIONS[kind],
            }
            if kind == "link":
                self._link(event, base, t)
            else:
                self._http(event, asset_id, base, t)
            out.put(t, "probe", asset_id, orjson.dumps(event))

    def _latency(self, base: float) -> float:
        return round(base * self.rng.lognormvariate(0, 0.25), 1)

    def _link(self, event: dict[str, Any], base: float, t: int) -> None:
        lost = 0
        if silent(self.loss.get(event["asset_id"]), t):
            # 3..10 of 50 is 6-20%: over the 5% that counts as a burst.
            lost = self.rng.randint(3, 10)
        elif self.rng.random() < 0.02:
            lost = 1
        event.update(latency_ms=self._latency(base * (3 if lost > 2 else 1)),
                     packets_sent=LINK_PACKETS, packets_lost=lost)

    def _http(self, event: dict[str, Any], asset_id: str, base: float, t: int) -> None:
        if silent(self.outages.get(asset_id), t):
            self.outage_checks += 1
            if self.outage_checks % 2:
                event.update(ok=False, status_code=503, latency_ms=self._latency(30),
                             error="HTTP 503 Service Unavailable")
            else:
                event.update(ok=False, latency_ms=TIMEOUT_MS, error="timeout after 10 s")
        elif self.rng.random() < 1 / 5000:
            # The lone dropped check that lowers uptime without being an outage.
            event.update(ok=False, latency_ms=self._latency(base),
                         error="connection reset by peer")
        else:
            event.update(status_code=200, latency_ms=self._latency(base))

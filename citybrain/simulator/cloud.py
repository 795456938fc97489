"""The gov cloud: per-host resource usage, and resource requests with their fulfilment."""

from __future__ import annotations

import math
import random
from typing import Any

import orjson

from schemas.registry import Registry

from .city import CityConfig, stable_fraction, tag_value
from .clock import Stamps, epoch_of, iso
from .message import Outbox
from .scenario import Scenario, TickGrid


class CloudMeter:
    """Usage of every host each cloud interval; load follows the working day."""

    def __init__(self, registry: Registry, cfg: CityConfig, win: TickGrid, scenario: Scenario,
                 rng: random.Random, stamps: Stamps) -> None:
        self.win, self.rng, self.stamps = win, rng, stamps
        interval = cfg.cloud_interval_s
        self.slots = interval // win.tick
        # slot -> [(offset, asset id, cpu, mem GB, disk GB, base load, disk fill)]
        self.by_slot: list[list[tuple[int, str, float, float, float, float, float]]] = [
            [] for _ in range(self.slots)]
        for a in registry.assets:
            if a.kind != "cloud_host":
                continue
            phase = int(stable_fraction(a.asset_id + ":usage") * interval)
            cpu = float(tag_value(a, "cpu", "16"))
            mem = float(tag_value(a, "mem_gb", str(cpu * 4)))
            disk = float(tag_value(a, "disk_gb", "500"))
            self.by_slot[phase // win.tick].append(
                (phase % win.tick, a.asset_id, cpu, mem, disk, rng.uniform(0.15, 0.55),
                 rng.uniform(0.3, 0.8)))
        self.hot: dict[str, list[tuple[int, int]]] = {}
        for f in scenario.of_kind("cloud_hot_host"):
            end = epoch_of(f.end) if f.end else win.end
            for asset_id in f.asset_ids:
                self.hot.setdefault(asset_id, []).append((epoch_of(f.start), end))

    def emit(self, tick: int, out: Outbox) -> None:
        base_t = self.win.start + tick * self.win.tick
        for offset, asset_id, cpu, mem, disk, load, fill in self.by_slot[tick % self.slots]:
            t = base_t + offset
            hours = (t % 86400) / 3600 + 8  # the city runs on UTC+8 office hours
            day = 0.75 + 0.35 * math.sin((hours - 9) / 24 * 2 * math.pi)
            used = min(0.88, load * day * self.rng.uniform(0.85, 1.15))
            if any(s <= t < e for s, e in self.hot.get(asset_id, ())):
                used = self.rng.uniform(0.92, 0.99)
            elapsed_days = (t - self.win.start) / 86400
            event: dict[str, Any] = {
                "event_id": f"{asset_id}:cloud:{t}", "asset_id": asset_id,
                "occurred_at": self.stamps.text(t), "kind": "usage",
                "cpu_alloc_cores": cpu, "cpu_used_cores": round(cpu * used, 2),
                "mem_alloc_gb": mem,
                "mem_used_gb": round(mem * min(0.95, 0.35 + used * 0.5), 2),
                "storage_alloc_gb": disk,
                "storage_used_gb": round(disk * min(0.99, fill + 0.002 * elapsed_days), 1),
            }
            out.put(t, "cloud", asset_id, orjson.dumps(event))


def request_events(scenario: Scenario) -> list[tuple[int, str, bytes]]:
    """(time, host, value) of each request as filed and, if it was, as fulfilled."""
    out: list[tuple[int, str, bytes]] = []
    for f in scenario.of_kind("resource_request"):
        host = f.asset_ids[0]
        requested = epoch_of(f.start)
        event: dict[str, Any] = {
            "asset_id": host, "kind": "request", "request_id": f.param("request_id"),
            "resource_type": f.param("resource_type"), "requested_at": iso(requested),
            "agreed_lead_hours": float(f.param("lead_hours")),
        }
        filed = {"event_id": f"{host}:cloud:{f.param('request_id')}:filed",
                 "occurred_at": iso(requested), **event}
        out.append((requested, host, orjson.dumps(filed)))
        if f.end is not None:
            done = epoch_of(f.end)
            fulfilled = {"event_id": f"{host}:cloud:{f.param('request_id')}:fulfilled",
                         "occurred_at": iso(done), "fulfilled_at": iso(done), **event}
            out.append((done, host, orjson.dumps(fulfilled)))
    return out

"""The message stream of the simulated city, in event-time order, generated lazily.

The window is walked one tick (the gcd of the intervals) at a time: each producer puts
that tick's messages in an outbox, which is drained in event-time order. Envelopes carry
the time of their interval's last second, so no event inside one is later than the
envelope, and nothing put in a later tick is earlier than anything already yielded.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import datetime

from schemas.registry import Registry

from . import hotline, ratings
from .city import CityConfig
from .clock import Stamps, epoch_of
from .cloud import CloudMeter
from .fleet import CameraFleet, Intervals, IotFleet
from .message import Outbox, SimMessage
from .probes import Prober
from .scenario import Scenario, TickGrid, tick_grid
from .timeline import lay_out
from .usage import PortalUsage

__all__ = ["SimMessage", "generate", "silences"]

FOREVER = 2**62


def _flaps(start: int, end: int, period: int) -> Intervals:
    """Silent for one period, reporting for the next, from ``start`` until ``end``."""
    return [(s, min(s + period, end)) for s in range(start, end, 2 * period)]


def silences(registry: Registry, scenario: Scenario, win: TickGrid) -> dict[str, Intervals]:
    """When each asset sends nothing at all: outages, flapping, life outside the register."""
    found: dict[str, Intervals] = {}
    for f in scenario.of_kind("district_outage"):
        end = epoch_of(f.end) if f.end else FOREVER
        for asset_id in f.asset_ids:
            found.setdefault(asset_id, []).append((epoch_of(f.start), end))
    for f in scenario.of_kind("flapping_device"):
        end = epoch_of(f.end) if f.end else win.end
        period = int(f.param("period_s", "240"))
        for asset_id in f.asset_ids:
            found.setdefault(asset_id, []).extend(_flaps(epoch_of(f.start), end, period))
    for a in registry.assets:
        if epoch_of(a.registered_at) > win.start:
            found.setdefault(a.asset_id, []).append((-FOREVER, epoch_of(a.registered_at)))
        if a.retired_at is not None:
            found.setdefault(a.asset_id, []).append((epoch_of(a.retired_at), FOREVER))
    return found


def _camera_faults(scenario: Scenario, win: TickGrid) -> dict[str, list[tuple[int, int, str]]]:
    found: dict[str, list[tuple[int, int, str]]] = {}
    for f in scenario.of_kind("camera_picture_fault"):
        end = epoch_of(f.end) if f.end else win.end
        for asset_id in f.asset_ids:
            found.setdefault(asset_id, []).append((epoch_of(f.start), end, f.param("fault")))
    return found


def generate(registry: Registry, scenario: Scenario, cfg: CityConfig, start: datetime,
             days: float) -> Iterator[SimMessage]:
    """Every message of the window [start, start + days), in non-decreasing event time."""
    win = tick_grid(cfg, start, days)
    stamps = Stamps()
    quiet = silences(registry, scenario, win)
    # One random stream per producer, so that adding noise to one leaves the others alone.
    iot = IotFleet(registry, cfg, win, quiet, random.Random(f"{cfg.seed}:iot"), stamps)
    cameras = CameraFleet(registry, cfg, win, quiet, _camera_faults(scenario, win),
                          random.Random(f"{cfg.seed}:video"), stamps)
    prober = Prober(registry, cfg, win, scenario, quiet, random.Random(f"{cfg.seed}:probe"),
                    stamps)
    meter = CloudMeter(registry, cfg, win, scenario, random.Random(f"{cfg.seed}:cloud"), stamps)
    usage = PortalUsage(registry, cfg, win, random.Random(f"{cfg.seed}:usage"), stamps)  # portal usage
    sparse = lay_out(registry, scenario, win, cfg.seed)
    ratings.add_to(sparse, registry, win, cfg.seed)  # 好差评 ratings (citybrain/simulator/ratings.py)
    hotline.add_to(sparse, registry, scenario, win, cfg.seed)  # 12345 work orders (simulator/hotline.py)
    # A producer retry: the first message from the asset at or after the planned time is
    # sent again, byte for byte.
    retries = {f.asset_ids[0].encode(): epoch_of(f.start)
               for f in scenario.of_kind("duplicate_message")}
    out = Outbox(stamps.moment)
    for tick in range(win.ticks):
        for t, family, key, value, malformed in sparse.pop(tick, ()):
            out.put(t, family, key, value, malformed)
        prober.emit(tick, out)
        meter.emit(tick, out)
        usage.emit(tick, out)
        iot.emit(tick, out)
        cameras.emit(tick, out)
        for message in out.drain():
            yield message
            if message.key in retries and message.malformed is None:
                due = retries[message.key]
                if epoch_of(message.event_time) >= due:
                    del retries[message.key]
                    yield dataclasses.replace(message, duplicate=True)
        stamps.clear()

"""IoT terminals under their gateways and cameras under their district NVRs.

These are nine tenths of the volume, so the common case is a list comprehension over
plain tuples per gateway, and only assets with a story (silences, faults, skewed clocks)
take the slower per-event path. A gateway collects its children's heartbeats over one
interval and sends them, with its own heartbeat, as one envelope at the interval's last
second; when the gateway is down at that moment, the whole interval is lost.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.registry import Registry

from .city import CityConfig, stable_fraction
from .clock import Stamps
from .message import Outbox
from .scenario import TickGrid

Intervals = list[tuple[int, int]]
Event = dict[str, Any]

# Jitter pools: indexed by (device + tick) rather than drawn per event, for speed.
_SIGNAL_JITTER = [float(round(random.Random(n).uniform(-4, 4) * 2) / 2) for n in range(64)]
_RATE_JITTER = [float(random.Random(1000 + n).randint(-300, 300)) for n in range(64)]


def silent(intervals: Intervals | None, t: int) -> bool:
    return intervals is not None and any(s <= t < e for s, e in intervals)


def overlaps(intervals: Intervals | None, start: int, end: int) -> bool:
    return intervals is not None and any(s < end and start < e for s, e in intervals)


@dataclass
class _Group:
    """A gateway (or NVR) and its children: ``plain`` ones take the fast path."""

    asset_id: str
    plain: list[tuple[Any, ...]] = field(default_factory=list)
    special: list[tuple[Any, ...]] = field(default_factory=list)
    phase_rtt: float = 20.0


def _groups(registry: Registry) -> dict[str, _Group]:
    """Every gateway (NVRs included), children to be filled in by the fleet."""
    return {a.asset_id: _Group(a.asset_id) for a in registry.assets if a.kind == "gateway"}


class _Fleet:
    family = ""

    def __init__(self, cfg: CityConfig, win: TickGrid, interval: int,
                 silences: dict[str, Intervals], rng: random.Random, stamps: Stamps) -> None:
        self.cfg, self.win, self.interval = cfg, win, interval
        self.silences, self.rng, self.stamps = silences, rng, stamps
        self.per_interval = interval // win.tick

    def window_of(self, tick: int) -> int | None:
        """The start of the interval whose last second falls in ``tick``, if any."""
        if (tick + 1) % self.per_interval:
            return None
        return self.win.start + (tick + 1) * self.win.tick - self.interval

    def send(self, out: Outbox, group: str | None, last: int,
             timed: Sequence[tuple[int, Event]], plain: Sequence[Event] = ()) -> None:
        """One envelope per group; single messages when batching is off or orphaned.

        ``plain`` events come from the fast path, which runs only when batching is on.
        """
        if group is not None and self.cfg.gateway_batch:
            events = [e for _, e in timed]
            events += plain
            if events:
                out.put(last, self.family, group,
                        orjson.dumps({"source": group, "events": events}))
            return
        for t, event in timed:
            out.put(t, self.family, event["asset_id"], orjson.dumps(event))


class IotFleet(_Fleet):
    family = "iot"

    def __init__(self, registry: Registry, cfg: CityConfig, win: TickGrid,
                 silences: dict[str, Intervals], rng: random.Random, stamps: Stamps) -> None:
        super().__init__(cfg, win, cfg.iot_interval_s, silences, rng, stamps)
        self.groups = _groups(registry)
        self.devices: list[tuple[Any, ...]] = []
        self.battery: dict[str, tuple[float, float]] = {}
        for n, a in enumerate(a for a in registry.assets if a.kind == "iot_device"):
            phase = int(stable_fraction(a.asset_id) * self.interval)
            signal = -float(rng.randint(60, 100))
            if "battery" in a.tags:
                self.battery[a.asset_id] = (rng.uniform(20, 100), rng.uniform(0.02, 0.4))
            self.devices.append((n, a.asset_id, a.asset_id + ":iot:", phase, signal,
                                 a.parent_id if a.parent_id in self.groups else None))
        # Devices with no gateway above them send single messages.
        self.orphans = {row[1] for row in self.devices if row[5] is None}
        self.parents = {row[1]: row[5] for row in self.devices}
        for group in self.groups.values():
            group.phase_rtt = rng.uniform(8, 40)
        self.hour = -1
        self.levels: dict[str, float] = {}

    def _recharge_table(self, ws: int) -> None:
        """Battery levels drain by the hour; tuples are rebuilt only then."""
        hour = (ws - self.win.start) // 3600
        if hour == self.hour:
            return
        self.hour = hour
        for group in self.groups.values():
            group.plain.clear()
            group.special.clear()
        for n, asset_id, prefix, phase, signal, parent in self.devices:
            level = -1.0
            if asset_id in self.battery:
                start, drain = self.battery[asset_id]
                level = round(max(3.0, start - drain * hour), 1)
            status = "degraded" if 0 <= level < 15 else "ok"
            row = (n, asset_id, prefix, phase, signal, level, status)
            if parent is None:
                continue
            group = self.groups[parent]
            special = asset_id in self.silences
            (group.special if special else group.plain).append(row)

    def emit(self, tick: int, out: Outbox) -> None:
        ws = self.window_of(tick)
        if ws is None:
            return
        self._recharge_table(ws)
        last = ws + self.interval - 1
        ks = str(ws)
        texts = self.stamps.texts(ws, self.interval)
        off = (ws // self.interval) % 64
        jit = _SIGNAL_JITTER
        # Background loss: a heartbeat or two per interval never arrives (radio, retries).
        dropped = {self.devices[self.rng.randrange(len(self.devices))][1]
                   for _ in range(2) if self.devices and self.rng.random() < 0.5}
        lossy = {self.parents.get(a) for a in dropped}
        for group in self.groups.values():
            gsil = self.silences.get(group.asset_id)
            if silent(gsil, last):
                continue
            timed: list[tuple[int, Event]] = [(last, {
                "event_id": group.asset_id + ":iot:" + ks, "asset_id": group.asset_id,
                "occurred_at": texts[-1], "kind": "heartbeat", "status": "ok",
                "rtt_ms": round(group.phase_rtt + jit[off] + 4, 1)})]
            plain: list[Event] = []
            if (overlaps(gsil, ws, last) or not self.cfg.gateway_batch
                    or group.asset_id in lossy):
                timed += self._slow(group.plain + group.special, ws, texts, ks, off, gsil,
                                    dropped)
            else:
                plain = [{"event_id": p + ks, "asset_id": a, "occurred_at": texts[ph],
                          "kind": "heartbeat", "status": st, "battery_pct": lv,
                          "signal_dbm": s + jit[(i + off) & 63]}
                         if lv >= 0 else
                         {"event_id": p + ks, "asset_id": a, "occurred_at": texts[ph],
                          "kind": "heartbeat", "status": "ok",
                          "signal_dbm": s + jit[(i + off) & 63]}
                         for i, a, p, ph, s, lv, st in group.plain]
                timed += self._slow(group.special, ws, texts, ks, off, None, dropped)
            self.send(out, group.asset_id, last, timed, plain)
        self._orphans(ws, texts, ks, off, dropped, out)

    def _slow(self, rows: Sequence[tuple[Any, ...]], ws: int, texts: list[str], ks: str,
              off: int, gsil: Intervals | None, dropped: set[str]) -> list[tuple[int, Event]]:
        out: list[tuple[int, Event]] = []
        for i, a, p, ph, s, lv, st in rows:
            t = ws + ph
            if a in dropped or silent(gsil, t) or silent(self.silences.get(a), t):
                continue
            event: Event = {"event_id": p + ks, "asset_id": a, "occurred_at": texts[ph],
                            "kind": "heartbeat", "status": st,
                            "signal_dbm": s + _SIGNAL_JITTER[(i + off) & 63]}
            if lv >= 0:
                event["battery_pct"] = lv
            out.append((t, event))
        return out

    def _orphans(self, ws: int, texts: list[str], ks: str, off: int, dropped: set[str],
                 out: Outbox) -> None:
        if not self.orphans:
            return
        rows = [(n, a, p, ph, s, -1.0, "ok") for n, a, p, ph, s, parent in self.devices
                if a in self.orphans]
        self.send(out, None, 0, self._slow(rows, ws, texts, ks, off, None, dropped))


class CameraFleet(_Fleet):
    family = "video"

    def __init__(self, registry: Registry, cfg: CityConfig, win: TickGrid,
                 silences: dict[str, Intervals], faults: dict[str, list[tuple[int, int, str]]],
                 rng: random.Random, stamps: Stamps) -> None:
        super().__init__(cfg, win, cfg.camera_interval_s, silences, rng, stamps)
        self.groups = _groups(registry)
        self.faults = faults
        self.orphans: list[tuple[Any, ...]] = []
        for n, a in enumerate(a for a in registry.assets if a.kind == "camera"):
            phase = int(stable_fraction(a.asset_id) * self.interval)
            fps = rng.choice((25.0, 25.0, 30.0, 15.0))
            bitrate = float(rng.choice((2048, 4096, 4096, 8192)))
            # A few cameras run on a drifting clock: the VMS reports the skew.
            skew = round(rng.uniform(95, 400), 1) if rng.random() < 0.03 else None
            row = (n, a.asset_id, a.asset_id + ":video:", phase, fps, bitrate, skew)
            if a.parent_id not in self.groups:
                self.orphans.append(row)
                continue
            group = self.groups[a.parent_id]
            special = skew is not None or a.asset_id in silences or a.asset_id in faults
            (group.special if special else group.plain).append(row)

    def emit(self, tick: int, out: Outbox) -> None:
        ws = self.window_of(tick)
        if ws is None:
            return
        last = ws + self.interval - 1
        ks = str(ws)
        texts = self.stamps.texts(ws, self.interval)
        off = (ws // self.interval) % 64
        jit = _RATE_JITTER
        for group in self.groups.values():
            if not group.plain and not group.special:
                continue
            gsil = self.silences.get(group.asset_id)
            if silent(gsil, last):
                continue
            plain: list[Event] = []
            if overlaps(gsil, ws, last) or not self.cfg.gateway_batch:
                timed = self._slow(group.plain + group.special, ws, texts, ks, off, gsil)
            else:
                plain = [{"event_id": p + ks, "asset_id": a, "occurred_at": texts[ph],
                          "online": True, "stream_decodable": True, "fps": fps,
                          "bitrate_kbps": br + jit[(i + off) & 63], "recording_ok": True}
                         for i, a, p, ph, fps, br, _ in group.plain]
                timed = self._slow(group.special, ws, texts, ks, off, None)
            self.send(out, group.asset_id, last, timed, plain)
        if self.orphans:
            self.send(out, None, 0, self._slow(self.orphans, ws, texts, ks, off, None))

    def _slow(self, rows: Sequence[tuple[Any, ...]], ws: int, texts: list[str], ks: str,
              off: int, gsil: Intervals | None) -> list[tuple[int, Event]]:
        out: list[tuple[int, Event]] = []
        for i, a, p, ph, fps, br, skew in rows:
            t = ws + ph
            if silent(gsil, t) or silent(self.silences.get(a), t):
                continue
            event: Event = {"event_id": p + ks, "asset_id": a, "occurred_at": texts[ph]}
            fault = next((f for s, e, f in self.faults.get(a, ()) if s <= t < e), None)
            if fault == "offline":
                event["online"] = False
            else:
                lost = fault == "signal_loss"
                event.update(online=True, stream_decodable=not lost, fps=0.0 if lost else fps,
                             bitrate_kbps=0.0 if lost else br + _RATE_JITTER[(i + off) & 63],
                             recording_ok=not lost)
                if fault is not None:
                    event["faults"] = [fault]
                if skew is not None:
                    event["clock_skew_s"] = skew
            out.append((t, event))
        return out


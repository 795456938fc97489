"""The injected failures: what the operations centre must see, planned before the stream.

A scenario is the ground truth a test (or an operator in a demo) checks the platform
against, so everything scripted lives here, with times aligned to the feed's grid and
spread over the window by fixed fractions; only background noise is left to the feed.
On-time resource requests are listed too (kind ``resource_request``), because the
fulfilment rate needs its denominator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.registry import Asset, Registry

from .city import CityConfig, dataset_updates, tag_value
from .clock import epoch_of, moment

FAILURE_KINDS: tuple[str, ...] = (
    "district_outage", "flapping_device", "camera_picture_fault", "packet_loss_burst",
    "portal_outage", "security_event", "data_leak", "stale_dataset", "malformed_message",
    "cloud_hot_host", "resource_request", "failed_quality_check", "duplicate_message",
    "unregistered_source",
)

# In this order, cycled: the common defects repeat within a day, the heavy ones don't.
MALFORMED_VARIANTS: tuple[str, ...] = (
    "bad_json", "wrong_type", "missing_field", "naive_timestamp", "bad_value",
    "unknown_field", "not_an_object", "epoch_1970", "far_future", "non_utf8", "empty",
    "oversized", "bad_envelope_item",
)

FAMILIES: tuple[str, ...] = ("iot", "video", "cloud", "security", "probe", "data")

# (fraction of the window, target kind, source, category, level, title)
SECURITY_SCRIPT: tuple[tuple[float, str, str, str, str, str], ...] = (
    (0.10, "cloud_host", "ids", "intrusion", "III", "Brute-force SSH logins against a host"),
    (0.22, "portal", "waf", "ddos", "II", "HTTP flood against a citizen portal"),
    (0.34, "cloud_host", "edr", "malware", "II", "Ransomware signature on a tenant host"),
    (0.47, "system", "siem", "vulnerability", "IV", "Outdated OpenSSL on a business system"),
    (0.61, "cloud_host", "firewall", "policy_violation", "IV",
     "Outbound traffic to a blocked range"),
    (0.76, "portal", "ids", "intrusion", "I", "Web shell uploaded to a portal"),
    (0.88, "system", "other", "other", "III",
     "Administrator login from an unusual location at night"),
)

CAMERA_FAULTS: tuple[tuple[float, str, int], ...] = (
    # (fraction, fault, minutes)
    (0.18, "frozen", 40), (0.27, "black", 30), (0.40, "occluded", 60),
    (0.52, "blurred", 90), (0.70, "signal_loss", 25), (0.58, "offline", 45),
)


@dataclass(frozen=True)
class InjectedFailure:
    kind: str
    asset_ids: tuple[str, ...]
    start: datetime
    end: datetime | None
    detail: str
    # Machine-readable knobs the feed acts on (fault name, level, request id ...).
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str, default: str = "") -> str:
        for key, value in self.params:
            if key == name:
                return value
        return default


@dataclass(frozen=True)
class Scenario:
    failures: tuple[InjectedFailure, ...]

    def of_kind(self, kind: str) -> tuple[InjectedFailure, ...]:
        return tuple(f for f in self.failures if f.kind == kind)


@dataclass(frozen=True)
class TickGrid:
    """The simulated period on the feeds' tick grid (the gcd of their intervals), in epoch seconds."""

    start: int
    end: int
    tick: int

    @property
    def ticks(self) -> int:
        return (self.end - self.start) // self.tick


def tick_grid(cfg: CityConfig, start: datetime, days: float) -> TickGrid:
    if days <= 0:
        raise ValueError("days must be positive")
    tick = math.gcd(cfg.iot_interval_s, cfg.camera_interval_s, cfg.probe_interval_s,
                    cfg.cloud_interval_s)
    s0 = epoch_of(start)
    return TickGrid(s0, s0 + int(days * 86400) // tick * tick, tick)


class _Planner:
    def __init__(self, registry: Registry, cfg: CityConfig, win: TickGrid) -> None:
        self.rng = random.Random(f"{cfg.seed}:scenario")
        self.cfg = cfg
        self.win = win
        self.span = win.end - win.start
        self.failures: list[InjectedFailure] = []
        self.used: set[str] = set()
        by_kind: dict[str, list[Asset]] = {}
        for asset in registry.assets:
            # Assets that come or go inside the window carry their own story.
            if asset.retired_at is None and epoch_of(asset.registered_at) <= win.start:
                by_kind.setdefault(asset.kind, []).append(asset)
        self.by_kind = by_kind

    def at(self, fraction: float, grid: int | None = None) -> int:
        grid = grid or self.win.tick
        return self.win.start + int(fraction * self.span) // grid * grid

    def lasting(self, begin: int, minutes: float, grid: int | None = None) -> int:
        """The end of something lasting ``minutes``, shortened to fit a short window."""
        grid = grid or self.win.tick
        seconds = min(minutes * 60, max(self.span / 4, grid))
        return min(self.win.end, begin + max(grid, int(seconds) // grid * grid))

    def pick(self, kind: str, where: Sequence[Asset] | None = None) -> Asset | None:
        pool = [a for a in (where if where is not None else self.by_kind.get(kind, []))
                if a.asset_id not in self.used]
        if not pool:
            return None
        chosen = self.rng.choice(pool)
        self.used.add(chosen.asset_id)
        return chosen

    def add(self, kind: str, assets: Sequence[str], begin: int, end: int | None,
            detail: str, **params: str) -> None:
        self.failures.append(InjectedFailure(
            kind, tuple(assets), moment(begin), None if end is None else moment(end), detail,
            tuple(sorted(params.items())),
        ))

    def network(self) -> None:
        iot_grid = self.cfg.iot_interval_s
        gateways = [g for g in self.by_kind.get("gateway", []) if "iot-gateway" in g.tags]
        gateway = self.pick("gateway", gateways)
        if gateway is not None:
            # Aligned to whole heartbeat windows, so the silence is crisp in the data.
            begin = self.at(0.30, iot_grid)
            end = self.lasting(begin, self.rng.randint(30, 60), iot_grid)
            self.add("district_outage", [gateway.asset_id], begin, end,
                     f"gateway {gateway.asset_id} in {gateway.district_id} loses its uplink; "
                     "it and all its child devices fall silent")
        devices = [d for d in self.by_kind.get("iot_device", [])
                   if gateway is None or d.parent_id != gateway.asset_id]
        device = self.pick("iot_device", devices)
        if device is not None:
            period = self.rng.randint(3, 5) * 60
            begin = self.at(0.12, iot_grid)
            self.add("flapping_device", [device.asset_id], begin, self.lasting(begin, 60),
                     f"silent and reporting in turns of {period // 60} min",
                     period_s=str(period))
        link = self.pick("link")
        if link is not None:
            begin = self.at(0.45)
            self.add("packet_loss_burst", [link.asset_id], begin, self.lasting(begin, 15),
                     "probes lose 6-20% of their packets")
        portal = self.pick("portal")
        if portal is not None:
            begin = self.at(0.65)
            self.add("portal_outage", [portal.asset_id], begin, self.lasting(begin, 20),
                     "probes fail: HTTP 503 and 10 s timeouts in turns")

    def cameras(self) -> None:
        for fraction, fault, minutes in CAMERA_FAULTS:
            camera = self.pick("camera")
            if camera is None:
                return
            begin = self.at(fraction)
            what = "the VMS reports the camera online=false" if fault == "offline" else \
                f"picture fault {fault}"
            self.add("camera_picture_fault", [camera.asset_id], begin,
                     self.lasting(begin, minutes), what, fault=fault)

    def cloud(self) -> None:
        hosts = self.by_kind.get("cloud_host", [])
        host = self.pick("cloud_host")
        if host is not None:
            grid = self.cfg.cloud_interval_s
            begin = self.at(0.36, grid)
            self.add("cloud_hot_host", [host.asset_id], begin,
                     self.lasting(begin, max(35, 5 * grid / 60), grid),
                     f"CPU above 90% of {tag_value(host, 'cpu')} allocated cores")
        if not hosts:
            return
        day = moment(self.win.start).strftime("%Y%m%d")
        # (fraction requested, outcome, lead as a fraction of the window, resource)
        plan = ((0.05, "on_time", 0.25, "vm"), (0.15, "late", 0.12, "storage"),
                (0.25, "on_time", 0.20, "memory"), (0.40, "unfulfilled", 0.15, "database"),
                (0.50, "on_time", 0.15, "cpu"), (0.62, "on_time", 0.10, "bandwidth"))
        for n, (fraction, outcome, lead_fraction, resource) in enumerate(plan, 1):
            asset = self.rng.choice(hosts)
            begin = self.at(fraction) + self.rng.randrange(self.win.tick)
            lead_h = max(0.25, round(lead_fraction * self.span / 3600 * 4) / 4)
            lead_s = int(lead_h * 3600)
            end: int | None = None
            if outcome == "on_time":
                end = begin + int(lead_s * self.rng.uniform(0.3, 0.9))
            elif outcome == "late":
                end = begin + int(lead_s * 1.8)
            if end is not None and end >= self.win.end:
                end = self.win.end - 1
            request_id = f"req-{day}-{n:03d}"
            self.add("resource_request", [asset.asset_id], begin, end,
                     f"{resource} request {request_id}, agreed lead {lead_h:g} h: {outcome}",
                     request_id=request_id, resource_type=resource, lead_hours=f"{lead_h:g}",
                     outcome=outcome)

    def security(self) -> None:
        targets = [a for k in ("portal", "system", "cloud_host") for a in self.by_kind.get(k, [])]
        for fraction, kind, source, category, level, title in SECURITY_SCRIPT:
            if not targets:
                return
            target = self.rng.choice(self.by_kind.get(kind) or targets)
            self.add("security_event", [target.asset_id], self.at(fraction) + 17, None,
                     title, source=source, category=category, level=level)
        leaked = self.by_kind.get("dataset") or targets
        target = self.rng.choice(leaked)
        self.add("data_leak", [target.asset_id], self.at(0.55) + 41, None,
                 "Unmasked ID-card numbers mailed to an external address (失泄密)",
                 source="dlp", category="data_leak", level="I")

    def data(self) -> None:
        datasets = self.by_kind.get("dataset", [])
        if not datasets:
            return
        shortest = min(a.expected_interval_s or 86400 for a in datasets)
        # A short cadence makes the staleness obvious within any window.
        stale = self.pick("dataset", [a for a in datasets if a.expected_interval_s == shortest])
        if stale is not None:
            self.add("stale_dataset", [stale.asset_id], self.win.start, None,
                     f"never updated; declared cadence {tag_value(stale, 'cadence')}")
        candidates = [(a, t) for a in datasets if stale is None or a.asset_id != stale.asset_id
                      for t in dataset_updates(a, self.win.start, self.win.end - 600)]
        seen: set[str] = set()
        for asset, when in sorted(candidates, key=lambda c: self.rng.random()):
            if asset.asset_id in seen:
                continue
            seen.add(asset.asset_id)
            self.add("failed_quality_check", [asset.asset_id], when + 120, None,
                     "quality check after an update fails: completeness below 0.9")
            if len(seen) == 3:
                break

    def stream_faults(self, days: float) -> None:
        count = max(len(MALFORMED_VARIANTS), round(20 * days))
        slot = self.span // count
        for n in range(count):
            variant = MALFORMED_VARIANTS[n % len(MALFORMED_VARIANTS)]
            family = {"oversized": "security", "bad_envelope_item": "iot",
                      "non_utf8": "security"}.get(variant, FAMILIES[n % len(FAMILIES)])
            asset_kind = {"iot": "iot_device", "video": "camera", "cloud": "cloud_host",
                          "security": "system", "probe": "portal", "data": "dataset"}[family]
            if variant == "bad_envelope_item":
                asset_kind = "gateway"
            pool = [a for a in self.by_kind.get(asset_kind, []) if a.asset_id not in self.used
                    and (variant != "bad_envelope_item" or "iot-gateway" in a.tags)]
            if not pool:
                continue
            asset = self.rng.choice(pool)
            when = self.win.start + n * slot + self.rng.randrange(max(1, slot))
            self.add("malformed_message", [asset.asset_id], when, None,
                     f"{variant} {family} message", variant=variant, family=family)
        probes = [a for k in ("portal", "system", "link") for a in self.by_kind.get(k, [])
                  if a.asset_id not in self.used]
        gateways = [g for g in self.by_kind.get("gateway", []) if g.asset_id not in self.used]
        for n in range(max(2, round(3 * days))):
            pool, shape = (probes, "single") if n % 2 == 0 else (gateways, "envelope")
            if not pool:
                continue
            asset = self.rng.choice(pool)
            when = self.at((n + 0.3) / max(2, round(3 * days)))
            self.add("duplicate_message", [asset.asset_id], when, None,
                     f"producer retry re-sends one {shape} message", shape=shape)
        for n in range(max(2, round(4 * days))):
            family = ("iot", "video", "probe")[n % 3]
            prefix = {"iot": "iot", "video": "cam", "probe": "portal"}[family]
            when = self.at((n + 0.6) / max(2, round(4 * days))) + 29
            self.add("unregistered_source", [f"{prefix}-unreg-{n + 1:02d}"], when, None,
                     f"{family} event from an asset not in the register", family=family)


def plan_scenario(registry: Registry, cfg: CityConfig, start: datetime, days: float
                  ) -> Scenario:
    planner = _Planner(registry, cfg, tick_grid(cfg, start, days))
    planner.network()
    planner.cameras()
    planner.cloud()
    planner.security()
    planner.data()
    planner.stream_faults(days)
    failures = sorted(planner.failures, key=lambda f: (f.start, f.kind, f.asset_ids))
    return Scenario(tuple(failures))

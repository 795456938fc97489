"""Shared pieces of the detection tests: a frozen start, a small city, event builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from alerts.detection.evaluate import StateChange
from alerts.detection.pipeline import Detection
from alerts.detection.rules import load_rules
from alerts.detection.topology import AssetInfo, Topology
from alerts.maintenance.calendar import Calendar
from alerts.model import Alert
from citybrain.kernel.settings import Settings
from schemas.events import CloudEvent, DataEvent, ProbeEvent, SecurityEvent

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
REGISTERED = T0 - timedelta(days=30)


def asset(asset_id: str, kind: str, *, parent: str | None = None, key: str = "infrastructure",
          department: str = "water", district: str | None = "east", tags: tuple[str, ...] = (),
          interval: int | None = 60, name: str | None = None, name_zh: str | None = None) -> AssetInfo:
    return AssetInfo(asset_id=asset_id, kind=kind, key=key, department_id=department,
                     registered_at=REGISTERED, district_id=district, parent_id=parent, tags=tags,
                     expected_interval_s=interval, name=name, name_zh=name_zh)


# The registry's names: in both languages, in English only (a zh-CN reader sees that), or
# none (the id is shown).
DEPARTMENTS = {"water": ("Water Authority", "水务局"), "gov": ("Government Services Office", None)}


def city(children: int = 6) -> Topology:
    """A gateway with IoT children, a link with cameras, a portal, a cloud host, a dataset."""
    assets = [asset("gw-1", "gateway", name="East District gateway", name_zh="东区网关"),
              asset("link-1", "link", name="Riverside link", name_zh="滨江链路"),
              asset("portal-1", "portal", key="portal", department="gov", name="Citizen portal",
                    name_zh="市民服务门户"),
              asset("host-1", "cloud_host", interval=None, name="Tax host", name_zh="税务云主机"),
              asset("ds-1", "dataset", key="data", interval=3600, name="Permits dataset"),
              asset("lonely-1", "iot_device")]
    assets += [asset(f"dev-{i}", "iot_device", parent="gw-1") for i in range(children)]
    assets += [asset(f"cam-{i}", "camera", parent="link-1", tags=("bridge",)) for i in range(3)]
    return Topology(assets, DEPARTMENTS)


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"flap_changes": 4, "flap_window_seconds": 600, "flap_stable_seconds": 900,
                            "alert_storm_min_children": 3, "alert_storm_window_seconds": 60,
                            "alert_storm_hold_seconds": 10}
    return Settings(**{**base, **overrides})


def detection(topology: Topology | None = None, calendar: Calendar | None = None,
              **overrides: Any) -> Detection:
    return Detection(load_rules(), topology or city(), calendar or Calendar(), settings(**overrides))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def change(asset_id: str, state: str, seconds: float, previous: str | None = "online",
           reason: str = "no heartbeat within 150s") -> StateChange:
    return StateChange(asset_id=asset_id, state=state, at=at(seconds), previous=previous, reason=reason)


_n = iter(range(10**9))

ProbeKind = Literal["portal", "system", "link"]
DataAction = Literal["shared", "opened", "updated", "quality_check"]
SecurityLevel = Literal["I", "II", "III", "IV"]
SecurityCategory = Literal["intrusion", "malware", "ddos", "vulnerability", "policy_violation", "data_leak",
                           "other"]


def probe(asset_id: str, seconds: float, *, ok: bool = True, kind: ProbeKind = "link",
          sent: int | None = None, lost: int | None = None) -> ProbeEvent:
    return ProbeEvent(event_id=f"p{next(_n)}", asset_id=asset_id, occurred_at=at(seconds), target_kind=kind,
                      ok=ok, packets_sent=sent, packets_lost=lost)


def usage(asset_id: str, seconds: float, cpu_pct: float) -> CloudEvent:
    return CloudEvent(event_id=f"c{next(_n)}", asset_id=asset_id, occurred_at=at(seconds), kind="usage",
                      cpu_alloc_cores=100.0, cpu_used_cores=cpu_pct, mem_alloc_gb=64.0, mem_used_gb=10.0)


def data(asset_id: str, seconds: float, action: DataAction = "updated") -> DataEvent:
    return DataEvent(event_id=f"d{next(_n)}", asset_id=asset_id, occurred_at=at(seconds), action=action,
                     records=10)


def security(asset_id: str, seconds: float, level: SecurityLevel,
             category: SecurityCategory = "intrusion") -> SecurityEvent:
    return SecurityEvent(event_id=f"s{next(_n)}", asset_id=asset_id, occurred_at=at(seconds), source="ids",
                         category=category, level=level, title=f"{category} attempt")


def fired(alerts: list[Alert]) -> list[tuple[str, bool]]:
    """What came out, as (fingerprint, firing)."""
    return [(a.fingerprint, a.firing) for a in alerts]

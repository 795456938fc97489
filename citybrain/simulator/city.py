"""The simulated city's asset register: departments, districts and every monitored asset.

Everything the feed needs to know about an asset is in the registry itself (parent,
interval, tags such as ``battery``, ``nvr`` or ``cpu=16``), so ``generate`` can run
against any registry of the same shape, not only one built here.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.registry import Asset, Contact, Department, District, Registry

from . import portal, roster
from .clock import epoch_of, moment

# The two assets whose lifetime starts or ends inside the window. build_city does not
# know the window's length, so these are fixed offsets that fall inside any window of
# four hours or more (tests use four; the demo uses a day).
REGISTERED_LATE_AFTER = timedelta(hours=2)
RETIRED_AFTER = timedelta(hours=3)

DEVICES_PER_GATEWAY = 50


@dataclass(frozen=True)
class CityConfig:
    seed: int = 7
    departments: int = 12
    districts: int = 6
    iot_devices: int = 2000
    cameras: int = 500
    cloud_hosts: int = 50
    services: int = 30  # portals + business systems (about half each)
    links: int = 20
    datasets: int = 40
    service_items: int = 600  # the service catalogue (政务服务事项), across departments
    portal_users: int = 400_000  # the portal's registered accounts at the window's start
    iot_interval_s: int = 60
    camera_interval_s: int = 60
    probe_interval_s: int = 60
    cloud_interval_s: int = 300
    gateway_batch: bool = True  # gateways/VMS send envelopes of many events

    def __post_init__(self) -> None:
        if self.departments < 1 or self.districts < 1:
            raise ValueError("a city needs at least one department and one district")
        counts = (self.iot_devices, self.cameras, self.cloud_hosts, self.services,
                  self.links, self.datasets, self.service_items, self.portal_users)
        if min(counts) < 0:
            raise ValueError("asset counts cannot be negative")
        for name in ("iot_interval_s", "camera_interval_s", "probe_interval_s",
                     "cloud_interval_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least one second")

    @property
    def portals(self) -> int:
        return self.services // 2

    @property
    def systems(self) -> int:
        return self.services - self.portals

    @property
    def gateways(self) -> int:
        """IoT gateways (kind "gateway"): at least one per district."""
        if self.iot_devices == 0:
            return 0
        return max(self.districts, math.ceil(self.iot_devices / DEVICES_PER_GATEWAY))

    @property
    def nvrs(self) -> int:
        """District NVRs (kind "gateway", tag "nvr"), the cameras' parents."""
        return self.districts if self.cameras else 0


def stable_fraction(text: str) -> float:
    """A fraction in [0, 1) fixed by ``text``: phases that survive reordering the registry."""
    return zlib.crc32(text.encode()) / 2**32


def tag_value(asset: Asset, name: str, default: str = "") -> str:
    prefix = name + "="
    for tag in asset.tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return default


def dataset_updates(asset: Asset, start: int, end: int) -> list[int]:
    """When a dataset is updated in [start, end) on its declared cadence (epoch seconds)."""
    cadence = asset.expected_interval_s or 86400
    phase = int(stable_fraction(asset.asset_id) * cadence)
    first = start + (phase - start) % cadence
    return list(range(first, end, cadence))


class _Builder:
    def __init__(self, cfg: CityConfig, start: datetime) -> None:
        self.cfg = cfg
        self.rng = random.Random(f"{cfg.seed}:city")
        self.start = start
        self.department_ids: list[str] = []
        self.centres: list[tuple[float, float]] = []
        self.district_names_zh: list[str] = []

    def person(self) -> str:
        return self.rng.choice(roster.SURNAMES) + self.rng.choice(roster.GIVEN_NAMES)

    def contact(self, role: str, dept: str, label: str) -> Contact:
        return Contact.model_validate({
            "name": self.person(),
            "role": role,
            "phone": f"+86-139{self.rng.randrange(10**8):08d}",
            "email": f"{dept.removeprefix('dept-')}.{label}@citybrain.example",
            "im": f"wecom:{dept.removeprefix('dept-')}-{label}",
        })

    @staticmethod
    def duty_supervisors(n: int) -> tuple[Contact, ...]:
        """The operations centre's duty supervisor sits in the first (lead) department.
        Not drawn from the generator, so the rest of the city is the same as before."""
        if n != 0:
            return ()
        return (Contact(name="Duty Supervisor", role="duty_supervisor",
                        email="ops.duty@citybrain.example"),)

    def departments(self) -> list[Department]:
        out: list[Department] = []
        for n in range(self.cfg.departments):
            if n < len(roster.DEPARTMENTS):
                dept_id, name, name_zh = roster.DEPARTMENTS[n]
            else:
                dept_id, name, name_zh = f"dept-office-{n + 1:02d}", f"Office {n + 1}", \
                    f"第{n + 1}办公室"
            self.department_ids.append(dept_id)
            out.append(Department(
                department_id=dept_id, name=name, name_zh=name_zh,
                first_responsible=self.contact("first_responsible", dept_id, "head"),
                contacts=(self.contact("oncall", dept_id, "oncall"),
                          self.contact("oncall", dept_id, "oncall2"),
                          self.contact("lead", dept_id, "lead"),
                          *self.duty_supervisors(n)),
            ))
        return out

    def districts(self) -> list[District]:
        out: list[District] = []
        lat0, lon0 = roster.CITY_CENTRE
        for n in range(self.cfg.districts):
            if n < len(roster.DISTRICTS):
                name, name_zh = roster.DISTRICTS[n]
            else:
                name, name_zh = f"District {n + 1}", f"第{n + 1}区"
            # The first district is the centre; the rest sit on a ring around it.
            angle = 2 * math.pi * n / max(1, self.cfg.districts - 1)
            radius = 0.0 if n == 0 else 0.06 + 0.02 * (n % 3)
            self.centres.append((lat0 + radius * math.sin(angle), lon0 + radius * math.cos(angle)))
            self.district_names_zh.append(name_zh)
            out.append(District(district_id=f"dist-{n + 1:02d}", name=name, name_zh=name_zh))
        return out

    def owner(self, preferred: str) -> str:
        return preferred if preferred in self.department_ids else self.department_ids[0]

    def asset(self, asset_id: str, kind: str, dept: str, district: int | None,
              **fields: object) -> Asset:
        """An asset registered long before the window, placed near its district's centre."""
        data: dict[str, object] = {
            "asset_id": asset_id, "kind": kind, "department_id": dept,
            "registered_at": self.start - timedelta(days=self.rng.randint(30, 900),
                                                    seconds=self.rng.randrange(86400)),
        }
        if district is not None:
            lat, lon = self.centres[district]
            data["district_id"] = f"dist-{district + 1:02d}"
            data["latitude"] = round(lat + self.rng.gauss(0, 0.012), 6)
            data["longitude"] = round(lon + self.rng.gauss(0, 0.012), 6)
        data.update(fields)
        return Asset.model_validate(data)

    def infrastructure(self) -> list[Asset]:
        cfg, out = self.cfg, []
        gateways: list[tuple[str, int]] = []
        per_district = [0] * cfg.districts
        for n in range(cfg.gateways):
            district = n % cfg.districts
            per_district[district] += 1
            gw_id = f"gw-{district + 1:02d}-{per_district[district]:02d}"
            gateways.append((gw_id, district))
            out.append(self.asset(gw_id, "gateway", self.owner("dept-bigdata"), district,
                                  name=f"IoT gateway {gw_id}",
                                  name_zh=f"{self.district_names_zh[district]} 物联网关 "
                                          f"{per_district[district]:02d}",
                                  tags=("iot-gateway",),
                                  expected_interval_s=cfg.iot_interval_s))
        for n in range(cfg.iot_devices):
            gw_id, district = gateways[n % len(gateways)]
            kind_n = self.rng.randrange(len(roster.IOT_TYPES))
            tag, battery = roster.IOT_TYPES[kind_n]
            extra: dict[str, object] = {}
            if n == cfg.iot_devices - 1:
                extra["retired_at"] = self.start + RETIRED_AFTER
            out.append(self.asset(
                f"iot-{n + 1:05d}", "iot_device",
                self.owner(roster.IOT_OWNERS[kind_n % len(roster.IOT_OWNERS)]), district,
                name=f"{tag.replace('_', ' ')} {n + 1}",
                name_zh=f"{self.district_names_zh[district]} {roster.IOT_NAMES_ZH[tag]} {n + 1}号",
                parent_id=gw_id,
                tags=(tag, "battery") if battery else (tag,),
                expected_interval_s=cfg.iot_interval_s, **extra,
            ))
        for n in range(cfg.nvrs):
            out.append(self.asset(f"nvr-{n + 1:02d}", "gateway", self.owner("dept-police"), n,
                                  name=f"District NVR {n + 1}",
                                  name_zh=f"{self.district_names_zh[n]} 网络硬盘录像机",
                                  tags=("nvr",),
                                  expected_interval_s=cfg.iot_interval_s))
        for n in range(cfg.cameras):
            district = n % cfg.districts
            owner = self.owner(roster.CAMERA_OWNERS[n % len(roster.CAMERA_OWNERS)])
            others = [d for d in self.department_ids if d != owner]
            shared: tuple[str, ...] = ()
            # About 6% shared; the second camera always, so that small cities share too.
            if others and (self.rng.random() < 0.06 or n == 1):
                shared = tuple(sorted(self.rng.sample(others, min(len(others),
                                                                  self.rng.randint(1, 2)))))
            extra = {}
            if n == cfg.cameras - 1:
                extra["registered_at"] = self.start + REGISTERED_LATE_AFTER
            out.append(self.asset(
                f"cam-{n + 1:04d}", "camera", owner, district,
                name=f"Camera {n + 1}",
                # Cameras are counted per district ("channel" k of the district's NVR).
                name_zh=f"{self.district_names_zh[district]} 视频监控 第{n // cfg.districts + 1}路",
                parent_id=f"nvr-{district + 1:02d}",
                shared_with=shared, tags=(self.rng.choice(("dome", "bullet", "ptz")),),
                expected_interval_s=cfg.camera_interval_s, **extra,
            ))
        return out

    def cloud_and_network(self) -> list[Asset]:
        cfg, out = self.cfg, []
        depts = self.department_ids
        for n in range(cfg.cloud_hosts):
            cpu = self.rng.choice((8, 16, 16, 32, 64))
            out.append(self.asset(
                f"vm-{n + 1:03d}", "cloud_host", depts[n % len(depts)], 0,
                name=f"Gov-cloud host {n + 1}", name_zh=f"政务云主机 {n + 1:02d}",
                expected_interval_s=cfg.cloud_interval_s,
                tags=("gov-cloud", f"cpu={cpu}", f"mem_gb={cpu * 4}",
                      f"disk_gb={self.rng.choice((200, 500, 1000, 2000))}"),
            ))
        for n in range(cfg.portals):
            name, name_zh, dept = roster.PORTALS[n % len(roster.PORTALS)]
            again = n >= len(roster.PORTALS)
            out.append(self.asset(
                f"portal-{n + 1:02d}", "portal", self.owner(dept), None,
                name=f"{name} {n + 1}" if again else name,
                name_zh=f"{name_zh}（{n + 1}）" if again else name_zh,
                expected_interval_s=cfg.probe_interval_s, tags=("online-service",),
            ))
        for n in range(cfg.systems):
            name, name_zh, dept = roster.SYSTEMS[n % len(roster.SYSTEMS)]
            again = n >= len(roster.SYSTEMS)
            out.append(self.asset(
                f"sys-{n + 1:02d}", "system", self.owner(dept), None,
                name=f"{name} {n + 1}" if again else name,
                name_zh=f"{name_zh}（{n + 1}）" if again else name_zh,
                expected_interval_s=cfg.probe_interval_s,
            ))
        for n in range(cfg.links):
            district = n % cfg.districts
            net, net_zh = ("extranet", "外网") if n % 2 == 0 else ("intranet", "内网")
            out.append(self.asset(
                f"link-{n + 1:02d}", "link", self.owner("dept-bigdata"), district,
                name=f"E-gov {net}: dist-{district + 1:02d} to data centre ({n + 1})",
                name_zh=f"电子政务{net_zh} {self.district_names_zh[district]}至市数据中心 链路{n + 1:02d}",
                expected_interval_s=cfg.probe_interval_s, tags=(net,),
            ))
        for n in range(cfg.datasets):
            dept = depts[n % len(depts)]
            others = [d for d in depts if d != dept]
            cadence_h = self.rng.choice(roster.DATASET_CADENCES_H)
            tags = [f"cadence={cadence_h}h"]
            if self.rng.random() < 0.5:
                tags.append("open")
            name, name_zh = roster.DATASETS[n % len(roster.DATASETS)]
            again = n >= len(roster.DATASETS)
            out.append(self.asset(
                f"ds-{n + 1:03d}", "dataset", dept, None,
                name=f"{name} {n + 1}" if again else name,
                name_zh=f"{name_zh}（{n + 1}）" if again else name_zh,
                expected_interval_s=cadence_h * 3600, tags=tuple(tags),
                shared_with=tuple(sorted(self.rng.sample(others, min(len(others), 2)))),
            ))
        return out


def build_city(cfg: CityConfig, start: datetime) -> Registry:
    """The registry of a city shaped by ``cfg``; ``start`` is the beginning of the window."""
    builder = _Builder(cfg, moment(epoch_of(start)))
    departments = builder.departments()
    districts = builder.districts()
    assets = builder.infrastructure() + builder.cloud_and_network()
    # The portal's catalogue, population and accounts draw from their own random streams.
    begin = builder.start
    return Registry(
        departments=tuple(departments), districts=tuple(districts), assets=tuple(assets),
        service_items=tuple(portal.service_items(builder.department_ids, cfg.service_items,
                                                 begin, cfg.seed)),
        population=tuple(portal.population([d.district_id for d in districts], begin,
                                           cfg.seed)),
        portal_accounts=tuple(portal.portal_accounts(cfg.portal_users, begin)),
    )

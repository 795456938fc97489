from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

from citybrain.simulator import CityConfig, build_city
from citybrain.simulator.city import REGISTERED_LATE_AFTER, RETIRED_AFTER

from .conftest import SMALL, START, World


def test_counts_per_kind_match_the_config(world: World) -> None:
    kinds = Counter(a.kind for a in world.registry.assets)
    cfg = world.cfg
    assert kinds["iot_device"] == cfg.iot_devices
    assert kinds["camera"] == cfg.cameras
    assert kinds["cloud_host"] == cfg.cloud_hosts
    assert kinds["portal"] + kinds["system"] == cfg.services
    assert kinds["portal"] == cfg.services // 2
    assert kinds["link"] == cfg.links
    assert kinds["dataset"] == cfg.datasets
    assert kinds["gateway"] == cfg.gateways + cfg.nvrs
    assert len(world.registry.departments) == cfg.departments
    assert len(world.registry.districts) == cfg.districts


def test_default_city_shape() -> None:
    cfg = CityConfig()
    registry = build_city(cfg, START)
    kinds = Counter(a.kind for a in registry.assets)
    assert kinds["iot_device"] == 2000 and kinds["camera"] == 500
    assert cfg.gateways == 40
    # Every district has at least one IoT gateway.
    gateway_districts = {a.district_id for a in registry.assets
                         if a.kind == "gateway" and "iot-gateway" in a.tags}
    assert gateway_districts == {d.district_id for d in registry.districts}


def test_topology_devices_and_cameras_have_gateway_parents(world: World) -> None:
    by_id = {a.asset_id: a for a in world.registry.assets}
    for asset in world.registry.assets:
        if asset.kind == "iot_device":
            parent = by_id[asset.parent_id or ""]
            assert parent.kind == "gateway" and "iot-gateway" in parent.tags
            assert parent.district_id == asset.district_id
        if asset.kind == "camera":
            parent = by_id[asset.parent_id or ""]
            assert parent.kind == "gateway" and "nvr" in parent.tags
            assert parent.district_id == asset.district_id


def test_departments_have_names_and_contacts(world: World) -> None:
    ids = {d.department_id for d in world.registry.departments}
    assert len(ids) == world.cfg.departments
    for dept in world.registry.departments:
        assert dept.name and dept.name_zh
        assert dept.first_responsible.role == "first_responsible"
        roles = {c.role for c in dept.contacts}
        assert {"oncall", "lead"} <= roles
    assert all(a.department_id in ids for a in world.registry.assets)
    shared = [a for a in world.registry.assets if a.kind == "camera" and a.shared_with]
    assert shared and all(set(a.shared_with) <= ids - {a.department_id} for a in shared)


def test_assets_have_chinese_names_as_a_city_registry_reads(world: World) -> None:
    names = {a.asset_id: a.name_zh for a in world.registry.assets}
    assert all(n and re.search("[\u4e00-\u9fff]", n) for n in names.values())
    assert len(set(names.values())) == len(names)  # a person can tell any two apart
    assert names["gw-01-01"] == "中心区 物联网关 01"
    assert names["nvr-02"] == "滨江区 网络硬盘录像机"
    assert names["cam-0001"] == "中心区 视频监控 第1路"
    assert names["cam-0007"] == "中心区 视频监控 第2路"  # the district's second camera
    assert names["vm-003"] == "政务云主机 03"
    assert names["portal-01"] == "市民云App"
    assert names["link-02"] == "电子政务内网 滨江区至市数据中心 链路02"
    # The English names stay English.
    assert all(a.name and a.name.isascii() for a in world.registry.assets)


def test_lifetimes_and_places(world: World) -> None:
    late = [a for a in world.registry.assets if a.registered_at > START]
    retired = [a for a in world.registry.assets if a.retired_at is not None]
    assert [a.registered_at for a in late] == [START + REGISTERED_LATE_AFTER]
    assert [a.retired_at for a in retired] == [START + RETIRED_AFTER]
    for asset in world.registry.assets:
        if asset not in late:
            assert asset.registered_at < START
        if asset.latitude is not None and asset.longitude is not None:
            assert abs(asset.latitude - 20.04) < 0.3 and abs(asset.longitude - 110.2) < 0.3


def test_registry_is_deterministic_per_seed() -> None:
    one = build_city(SMALL, START).model_dump_json()
    assert build_city(SMALL, START).model_dump_json() == one
    other = build_city(CityConfig(seed=8, iot_devices=40, cameras=12, cloud_hosts=4,
                                  services=6, links=4, datasets=8), START).model_dump_json()
    assert other != one
    # Start shifts registration times, nothing else.
    shifted = build_city(SMALL, START + timedelta(days=1))
    assert [a.asset_id for a in shifted.assets] == [
        a.asset_id for a in build_city(SMALL, START).assets]

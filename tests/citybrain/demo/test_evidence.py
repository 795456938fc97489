"""The demo's evidence lines against the real database: injected camera faults vs recorded
states; the table in Chinese and in English, assets by their registry names."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console

from citybrain.demo.evidence import EVIDENCE, print_evidence
from citybrain.demo.labels import MESSAGES
from citybrain.kernel.i18n import Language
from citybrain.kernel.settings import Settings
from citybrain.simulator import InjectedFailure
from citybrain.simulator.city import CityConfig, build_city
from citybrain.simulator.prepared import City
from citybrain.simulator.scenario import Scenario
from schemas.assets import import_registry
from schemas.registry import Registry

T0 = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # midnight in Asia/Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def fault(camera: str, kind: str, start: float, end: float) -> InjectedFailure:
    return InjectedFailure("camera_picture_fault", (camera,), minutes(start), minutes(end),
                           f"picture fault {kind}", (("fault", kind),))


def line(db: psycopg.Connection[Any], f: InjectedFailure, language: Language = "en") -> str:
    city = City(CityConfig(), Registry(), Scenario((f,)), T0, 1.0)
    return EVIDENCE["camera_picture_fault"](db, f, city, SHANGHAI, MESSAGES.translator(language))


def interval(db: psycopg.Connection[Any], camera: str, state: str, start: float, end: float | None) -> None:
    db.execute("INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
               " VALUES (%s, %s, %s, %s, 'test')",
               (camera, state, minutes(start), None if end is None else minutes(end)))


def test_picture_fault_line_names_the_recorded_degraded_interval(db: psycopg.Connection[Any]) -> None:
    for m in range(60, 100):
        db.execute("INSERT INTO video_events (occurred_at, event_id, asset_id, online, faults)"
                   " VALUES (%s, %s, 'cam-1', true, ARRAY['frozen'])", (minutes(m), f"e{m}"))
    interval(db, "cam-1", "online", 0, 60)
    interval(db, "cam-1", "degraded", 60, 100)
    interval(db, "cam-1", "online", 100, None)
    assert line(db, fault("cam-1", "frozen", 60, 100)) == (
        "40 reports with picture faults, 0 reports offline; degraded 01:00:00–01:40:00 (1 interval)"
    )
    assert line(db, fault("cam-1", "frozen", 60, 100), "zh-CN") == (
        "画面故障上报 40 次，离线上报 0 次；异常 01:00:00–01:40:00（1 个时段）"
    )


def test_offline_variant_and_missing_or_open_intervals(db: psycopg.Connection[Any]) -> None:
    interval(db, "cam-2", "offline", 30, None)
    assert line(db, fault("cam-2", "offline", 30, 75)).endswith("; offline 00:30:00–still open (1 interval)")
    # Degraded somewhere else in the day does not count for this fault's window.
    interval(db, "cam-3", "degraded", 500, 510)
    assert line(db, fault("cam-3", "black", 30, 60)).endswith("; no degraded interval")


SMALL = CityConfig(departments=3, districts=2, iot_devices=4, cameras=2, cloud_hosts=1, services=2,
                   links=1, datasets=1)


def evidence_table(db: psycopg.Connection[Any], language: Language) -> str:
    registry = build_city(SMALL, T0)
    import_registry(db, registry)
    scenario = Scenario((
        InjectedFailure("district_outage", ("gw-01-01",), minutes(60), minutes(100), "uplink lost"),
        fault("cam-0001", "frozen", 120, 150),
        InjectedFailure("cloud_hot_host", ("vm-001",), minutes(200), minutes(240), "CPU above 90%"),
        *(InjectedFailure("security_event", ("vm-001",), minutes(m), None, "brute force",
                          (("level", "III"),)) for m in (300, 400)),
    ))
    out = io.StringIO()
    settings = Settings(language=language, timezone="Asia/Shanghai")
    print_evidence(Console(file=out, width=250), db, City(SMALL, registry, scenario, T0, 1.0), settings)
    return out.getvalue()


def test_the_evidence_table_in_chinese_names_assets_and_failures(db: psycopg.Connection[Any]) -> None:
    text = evidence_table(db, "zh-CN")
    for told in ("注入的故障", "时间（Asia/Shanghai）", "数据管道的记录",
                 "区域断网", "中心区 物联网关 01 [gw-01-01]", "3 个资产中 0 个离线（离线时段 0 个）",
                 "摄像机画面故障", "中心区 视频监控 第1路 [cam-0001]", "无异常时段",
                 "云主机负载过高", "政务云主机 01 [vm-001]", "高负载期间无资源使用读数入库",
                 "安全事件 ×2", "1 个资产", "按级别入库："):
        assert told in text, told
    # Nothing English but the asset ids and the zone.
    assert re.findall(r"[A-Za-z]{2,}", re.sub(r"\[[\w-]+\]|Asia/Shanghai", "", text)) == []


def test_the_evidence_table_in_english(db: psycopg.Connection[Any]) -> None:
    text = evidence_table(db, "en")
    for told in ("injected", "when (Asia/Shanghai)", "recorded by the pipeline", "District outage",
                 "IoT gateway gw-01-01 [gw-01-01]", "0 of 3 assets offline (0 offline intervals)",
                 "Camera 1 [cam-0001]", "no degraded interval", "Gov-cloud host 1 [vm-001]",
                 "Security event ×2", "1 asset "):
        assert told in text, told
    assert not re.search(r"[\u4e00-\u9fff]", text)

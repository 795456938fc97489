"""The demo's incident summary, from two stored incidents, in Chinese and in English:
departments by their registry names, the labels in the reader's language."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console

from citybrain.demo.alerts import GroupRobotStandIn, MailStandIn, OnCallTeam, print_incidents
from citybrain.indicators.model import ReportWindow
from citybrain.kernel.i18n import Language
from citybrain.simulator.city import CityConfig, build_city
from schemas.assets import import_registry

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
CITY = CityConfig(departments=3, districts=2, iot_devices=4, cameras=2, cloud_hosts=1, services=2,
                  links=1, datasets=1)


def summary(db: psycopg.Connection[Any], language: Language) -> str:
    import_registry(db, build_city(CITY, T0))
    # One answered in 10 minutes (big-data bureau), one never (public security bureau).
    for rule, dept, asset, acked in (("gateway-offline", "dept-bigdata", "gw-01-01", 10),
                                     ("device-offline", "dept-police", "cam-0001", None)):
        opened = T0 + timedelta(hours=1)
        db.execute(
            "INSERT INTO incidents (fingerprint, rule_id, title, severity, status, department_id,"
            " asset_id, opened_at, acknowledged_at, last_seen_at, response_due_at, resolution_due_at)"
            " VALUES (%s, %s, %s, 'III', %s, %s, %s, %s, %s, %s, %s, %s)",
            (f"{rule}:{asset}", rule, f"{asset} offline", "triggered" if acked is None else "acknowledged",
             dept, asset, opened, None if acked is None else opened + timedelta(minutes=acked), opened,
             opened + timedelta(minutes=30), opened + timedelta(hours=4)))
    db.execute("INSERT INTO sla_breaches (incident_id, kind, department_id, severity, opened_at, due_at,"
               " breached_at) SELECT incident_id, 'response', department_id, severity, opened_at,"
               " response_due_at, response_due_at FROM incidents WHERE acknowledged_at IS NULL")
    db.execute("INSERT INTO incident_events (incident_id, at, actor, kind) SELECT incident_id, opened_at,"
               " 'alerter', 'incident.opened' FROM incidents")
    out = io.StringIO()
    window = ReportWindow(T0, T0 + timedelta(days=1), ZoneInfo("Asia/Shanghai"))
    # The stand-ins and the team are not started: the summary reads their counts only.
    team = OnCallTeam("postgresql://unused", "unused", lambda: T0, language)
    print_incidents(Console(file=out, width=250), db, window, mail=MailStandIn(), robot=GroupRobotStandIn(),
                    team=team, language=language)
    return out.getvalue()


def test_the_incident_summary_in_chinese(db: psycopg.Connection[Any]) -> None:
    text = summary(db, "zh-CN")
    for told in ("告警服务生成的事件", "涉及资产数", "30 分钟内响应", "未响应", "已记录超时：响应超时 1 起",
                 "各部门 30 分钟响应达标率", "大数据管理局", "公安局", "全市",
                 "事件 2 的时间线（cam-0001 offline，III 级，公安局）："):
        assert told in text, told
    # Nothing English but the stored incident title (this test's), ids (rules, the indicator,
    # timeline kinds, the alerter), severities and SLA.
    kept = r"\bcam-\d+ offline\b|[a-z]+(?:[-._][a-z0-9]+)+|\b(?:I|II|III|IV)\b|\balerter\b|SLA"
    assert re.findall(r"[A-Za-z]{2,}", re.sub(kept, "", text)) == []


def test_the_incident_summary_in_english(db: psycopg.Connection[Any]) -> None:
    text = summary(db, "en")
    for told in ("Incidents opened by the alerter", "ack ≤ 30 min", "SLA breaches stored: 1 response",
                 "Big Data Bureau", "Public Security Bureau", "city",
                 "Timeline of incident 2 (cam-0001 offline, severity III, Public Security Bureau):"):
        assert told in text, told
    assert not re.search(r"[\u4e00-\u9fff]", text)

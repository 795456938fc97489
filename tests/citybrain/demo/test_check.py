"""The demo's self-check: injected failures against the incidents they should open.

The stories judged here are the ones issue #13 reported from a loaded machine: incidents
opened hours before their evidence, a district outage as several zero-length incidents
that paged nobody, a camera outage without an incident.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console

from alerts.detection.rules import load_rules
from citybrain.demo.check import (
    SLACK,
    StoredIncident,
    Verdict,
    expectations,
    judge,
    print_self_check,
    rule_delay,
)
from citybrain.kernel.i18n import Language
from citybrain.simulator import InjectedFailure, Scenario
from schemas.names import Names

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
END = T0 + timedelta(days=1)
TZ = ZoneInfo("Asia/Shanghai")
RULES = load_rules(None)
CHILDREN = {"gw-1": ["iot-1", "iot-2", "iot-3", "iot-4"]}
INTERVALS = {a: 60 for a in ["gw-1", "iot-1", "iot-2", "iot-3", "iot-4", "cam-1", "portal-1"]}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def failure(kind: str, asset: str, start: float, end: float | None, **params: str) -> InjectedFailure:
    return InjectedFailure(kind, (asset,), at(start), None if end is None else at(end), kind,
                           tuple(sorted(params.items())))


def incident(n: int, rule: str, asset: str, opened: float, *, evidence: float | None = None,
             resolved: float | None = None, assets: tuple[str, ...] = (), pages: int = 3) -> StoredIncident:
    return StoredIncident(n, rule, asset, assets or (asset,), at(opened),
                          at(opened if evidence is None else evidence),
                          None if resolved is None else at(resolved), pages)


SCENARIO = Scenario((
    failure("district_outage", "gw-1", 60, 110),
    failure("camera_picture_fault", "cam-1", 200, 245, fault="offline"),
    failure("security_event", "portal-1", 300, None, level="I"),
    failure("security_event", "portal-1", 400, None, level="IV"),   # stored and counted, no incident
    failure("malformed_message", "iot-1", 500, None),               # dead-lettered, no incident
))


def judged(incidents: list[StoredIncident], names: Names) -> list[Verdict]:
    expected = expectations(SCENARIO, RULES, intervals=INTERVALS, children=CHILDREN, tolerance=2.5, end=END)
    return judge(expected, incidents, TZ, names)


def verdicts(incidents: list[StoredIncident]) -> dict[str, tuple[bool, str]]:
    """Each verdict (in English, assets without names: by id) keyed by failure kind and asset."""
    expected = expectations(SCENARIO, RULES, intervals=INTERVALS, children=CHILDREN, tolerance=2.5, end=END)
    keys = [f"{e.failure.kind} {e.asset}" for e in expected] + ["every incident"]
    return {k: (v.ok, v.found) for k, v in zip(keys, judged(incidents, Names("en")), strict=True)}


def test_the_story_told_right_passes() -> None:
    story = [
        incident(1, "gateway-offline", "gw-1", 63, evidence=62.5, resolved=111,
                 assets=("gw-1", "iot-1", "iot-2", "iot-3", "iot-4")),
        incident(2, "device-offline", "cam-1", 200.5, evidence=200, resolved=245),
        incident(3, "security-critical", "portal-1", 300, evidence=300),
    ]
    found = verdicts(story)
    assert found == {
        "district_outage gw-1": (True, found["district_outage gw-1"][1]),
        "camera_picture_fault cam-1": (True, found["camera_picture_fault cam-1"][1]),
        "security_event portal-1": (True, found["security_event portal-1"][1]),
        "every incident": (True, "all 3 opened at or after their evidence"),
    }


def test_an_incident_opened_before_its_evidence_fails_twice() -> None:
    """A stale pipeline clock stamped the security incident 2.5 hours before the event."""
    story = [
        incident(1, "gateway-offline", "gw-1", 63, resolved=111, assets=("gw-1", "iot-1")),
        incident(2, "device-offline", "cam-1", 201),
        incident(3, "security-critical", "portal-1", 150, evidence=300),
    ]
    found = verdicts(story)
    ok, text = found["security_event portal-1"]
    assert not ok and "-150 min before the failure began" in text
    ok, text = found["every incident"]
    assert not ok and text.startswith("1 of 3 opened before their evidence: #3 security-critical -150 min")


def test_a_district_outage_as_zero_length_incidents_nobody_was_paged_for_fails() -> None:
    story = [incident(n, "device-offline", f"iot-{n}", 64, resolved=64, pages=0) for n in range(1, 5)]
    story += [incident(5, "device-offline", "cam-1", 201), incident(6, "security-critical", "portal-1", 300)]
    ok, text = verdicts(story)["district_outage gw-1"]
    assert not ok
    assert "4 incidents instead of one parent incident" in text


def test_one_parent_incident_that_paged_nobody_fails() -> None:
    story = [incident(1, "gateway-offline", "gw-1", 63, pages=0, assets=("gw-1", "iot-1")),
             incident(2, "device-offline", "cam-1", 201), incident(3, "security-critical", "portal-1", 300)]
    ok, text = verdicts(story)["district_outage gw-1"]
    assert not ok and text.startswith("nobody was paged")


def test_a_camera_outage_without_an_incident_fails() -> None:
    story = [incident(1, "gateway-offline", "gw-1", 63, assets=("gw-1", "iot-1")),
             incident(3, "security-critical", "portal-1", 300)]
    assert verdicts(story)["camera_picture_fault cam-1"] == (False, "no incident")


def test_an_incident_long_after_the_failure_fails() -> None:
    bound = 2.5 + SLACK.total_seconds() / 60
    story = [incident(1, "gateway-offline", "gw-1", 63, assets=("gw-1",)),
             incident(2, "device-offline", "cam-1", 200 + bound + 1),
             incident(3, "security-critical", "portal-1", 300)]
    ok, text = verdicts(story)["camera_picture_fault cam-1"]
    assert not ok and "after the bound" in text


def test_what_no_rule_should_catch_is_not_expected() -> None:
    expected = expectations(SCENARIO, RULES, intervals=INTERVALS, children=CHILDREN, tolerance=2.5, end=END)
    assert [e.failure.kind for e in expected] == ["district_outage", "camera_picture_fault", "security_event"]


def test_failures_too_short_or_too_late_for_their_rule_are_not_expected() -> None:
    scenario = Scenario((
        failure("camera_picture_fault", "cam-1", 10, 13, fault="frozen"),   # rule holds for 5 min
        failure("stale_dataset", "ds-1", 0, None),                          # cadence beyond the window
    ))
    expected = expectations(scenario, RULES, intervals={"cam-1": 60, "ds-1": 86400}, children={},
                            tolerance=2.5, end=T0 + timedelta(hours=2))
    assert expected == []


def test_the_delay_comes_from_the_rule() -> None:
    by_id = {r.id: r for r in RULES}
    assert rule_delay(by_id["device-offline"], 60, 2.5) == timedelta(seconds=150)
    assert rule_delay(by_id["portal-unavailable"], 60, 2.5) == timedelta(minutes=3)
    assert rule_delay(by_id["camera-picture-fault"], 60, 2.5) == timedelta(minutes=5, seconds=150)
    assert rule_delay(by_id["security-critical"], None, 2.5) == timedelta(0)


# The registry's names of the story's assets, as schemas.names.load_names gives them.
ZH = Names("zh-CN", assets={"gw-1": "中心区 物联网关 01", "cam-1": "中心区 视频监控 第1路",
                            "portal-1": "市民云App"})
EN = Names("en", assets={"gw-1": "IoT gateway 01", "cam-1": "Camera 1", "portal-1": "Citizen Cloud app"})
# A camera outage nobody opened an incident for: the self-check fails, with every kind of line.
FAILING = [incident(1, "gateway-offline", "gw-1", 63, evidence=62.5, resolved=111, assets=("gw-1", "iot-1")),
           incident(3, "security-critical", "portal-1", 300, evidence=300)]
# What stays as it is in any language: rule ids, asset ids in brackets, commands, variables, paths.
KEPT = re.compile(r"[a-z]+(?:-[a-z]+)+|\[[\w-]+\]|`[^`]*`|CITYBRAIN_\w+|/tmp/\S+|App\b")


def self_check(names: Names, language: Language, story: list[StoredIncident]) -> tuple[bool, str]:
    out = io.StringIO()
    told = print_self_check(Console(file=out, width=400), judged(story, names),
                            logs="/tmp/demo/alerter.log", language=language)
    return told, out.getvalue()


def test_the_self_check_reads_in_chinese_with_the_registry_names() -> None:
    told, text = self_check(ZH, "zh-CN", FAILING)
    assert not told
    assert "自检：每个注入的故障及其应生成的事件" in text
    assert "区域断网：中心区 物联网关 01 [gw-1]" in text
    assert "#1 gateway-offline（中心区 物联网关 01 [gw-1]），09:03 生成（+3 分钟），涉及 2 个资产" in text
    assert "摄像机画面故障：中心区 视频监控 第1路 [cam-1]（离线）" in text
    assert "未生成事件" in text and "自检未通过：4 项中 1 项失败" in text
    # Nothing English is left once ids, commands and paths are set aside.
    assert re.findall(r"[A-Za-z]{2,}", KEPT.sub("", text)) == []


def test_the_self_check_passes_in_chinese_and_in_english() -> None:
    story = [*FAILING, incident(2, "device-offline", "cam-1", 200.5, evidence=200, resolved=245)]
    told, text = self_check(ZH, "zh-CN", story)
    assert told and "自检通过：4/4 ✓" in text
    assert "全部 3 个事件的生成时间均不早于其触发数据" in text
    told, text = self_check(EN, "en", story)
    assert told and "Self-check passed: 4 of 4 ✓" in text
    assert "District outage: IoT gateway 01 [gw-1]" in text
    assert "#2 device-offline on Camera 1 [cam-1], opened 11:20 (+30 s)" in text
    assert not re.search(r"[\u4e00-\u9fff]", text)

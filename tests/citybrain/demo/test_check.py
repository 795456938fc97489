"""The demo's self-check: injected failures against the incidents they should open.

The stories judged here are the ones issue #13 reported from a loaded machine: incidents
opened hours before their evidence, a district outage as several zero-length incidents
that paged nobody, a camera outage without an incident.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.detection.rules import load_rules
from citybrain.demo.check import (
    SLACK,
    StoredIncident,
    expectations,
    judge,
    rule_delay,
)
from citybrain.simulator import InjectedFailure, Scenario

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


def verdicts(incidents: list[StoredIncident]) -> dict[str, tuple[bool, str]]:
    expected = expectations(SCENARIO, RULES, intervals=INTERVALS, children=CHILDREN, tolerance=2.5, end=END)
    return {v.injected.split(" (")[0]: (v.ok, v.found) for v in judge(expected, incidents, TZ)}


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

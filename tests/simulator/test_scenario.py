from __future__ import annotations

from datetime import timedelta

import pytest

from citybrain.simulator import FAILURE_KINDS, CityConfig, build_city, plan_scenario
from citybrain.simulator.scenario import MALFORMED_VARIANTS

from .conftest import DAYS, SMALL, START, World

END = START + timedelta(days=DAYS)


def test_every_failure_kind_is_planned(world: World) -> None:
    planned = {f.kind for f in world.scenario.failures}
    assert planned == set(FAILURE_KINDS)
    for required in ("district_outage", "flapping_device", "camera_picture_fault",
                     "packet_loss_burst", "portal_outage", "security_event", "data_leak",
                     "stale_dataset", "malformed_message"):
        assert required in planned


def test_failures_fall_inside_the_window_and_are_spread(world: World) -> None:
    for f in world.scenario.failures:
        assert START <= f.start < END, f
        assert f.end is None or f.start < f.end <= END, f
    starts = {f.start for f in world.scenario.failures if f.kind != "stale_dataset"}
    assert len(starts) > len(world.scenario.failures) // 2


def test_failure_details(world: World) -> None:
    sc = world.scenario
    (outage,) = sc.of_kind("district_outage")
    assert outage.end is not None
    assert timedelta(minutes=30) <= outage.end - outage.start <= timedelta(minutes=60)
    levels = {f.param("level") for f in sc.of_kind("security_event") + sc.of_kind("data_leak")}
    assert levels == {"I", "II", "III", "IV"}
    assert len({f.param("category") for f in sc.of_kind("security_event")}) >= 5
    faults = {f.param("fault") for f in sc.of_kind("camera_picture_fault")}
    assert faults == {"black", "frozen", "occluded", "blurred", "signal_loss", "offline"}
    outcomes = sorted(f.param("outcome") for f in sc.of_kind("resource_request"))
    assert outcomes.count("late") == 1 and outcomes.count("unfulfilled") == 1
    assert outcomes.count("on_time") >= 2
    variants = {f.param("variant") for f in sc.of_kind("malformed_message")}
    assert variants == set(MALFORMED_VARIANTS)


def test_a_day_has_about_twenty_malformed_messages() -> None:
    cfg = CityConfig(iot_devices=40, cameras=12, cloud_hosts=4, services=6, links=4,
                     datasets=8)
    scenario = plan_scenario(build_city(cfg, START), cfg, START, 1.0)
    assert len(scenario.of_kind("malformed_message")) == 20
    assert len(scenario.of_kind("unregistered_source")) >= 3


def test_scenario_is_deterministic(world: World) -> None:
    again = plan_scenario(build_city(SMALL, START), SMALL, START, DAYS)
    assert again == world.scenario


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_scenario(build_city(SMALL, START), SMALL, START.replace(tzinfo=None), DAYS)

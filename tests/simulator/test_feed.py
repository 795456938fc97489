from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from citybrain.simulator import CityConfig, build_city, generate, plan_scenario
from citybrain.simulator.city import REGISTERED_LATE_AFTER, RETIRED_AFTER
from citybrain.simulator.clock import iso
from citybrain.simulator.defects import OVERSIZED_BYTES
from schemas.events import MODELS, IotEvent

from .conftest import DAYS, SMALL, START, World, events_of, make_world, parse

END = START + timedelta(days=DAYS)


def digest(world: World) -> str:
    h = hashlib.sha256()
    for m in world.messages:
        h.update(m.family.encode() + b"|" + (m.key or b"") + b"|" + m.value)
        h.update(m.event_time.isoformat().encode())
    return h.hexdigest()


def good_events(world: World) -> list[dict[str, Any]]:
    return [e for m in world.messages if m.malformed is None for e in events_of(m)]


def test_same_seed_same_bytes(world: World) -> None:
    assert digest(make_world()) == digest(world)
    other = CityConfig(seed=99, iot_devices=40, cameras=12, cloud_hosts=4, services=6,
                       links=4, datasets=8)
    assert digest(make_world(other)) != digest(world)


def test_event_times_are_aware_and_non_decreasing(world: World) -> None:
    times = [m.event_time for m in world.messages]
    assert all(t.utcoffset() == timedelta(0) for t in times)
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < END


def test_the_families_flow(world: World) -> None:
    families = Counter(m.family for m in world.messages if m.malformed is None)
    assert {"iot", "video", "cloud", "security", "probe", "data", "rating"} <= set(families) <= set(MODELS)


def test_valid_messages_parse_and_events_sit_in_the_window(world: World) -> None:
    lo, hi = iso(int(START.timestamp())), iso(int(END.timestamp()))
    for m in world.messages:
        if m.malformed is None:
            parse(m)
            sent = iso(int(m.event_time.timestamp()))
            for event in events_of(m):
                assert lo <= str(event["occurred_at"]) < hi
                assert str(event["occurred_at"]) <= sent


def test_malformed_messages_fail_or_are_absurd(world: World) -> None:
    bad = [m for m in world.messages if m.malformed is not None]
    assert len(bad) == len(world.scenario.of_kind("malformed_message"))
    for m in bad:
        if m.malformed == "oversized":
            assert len(m.value) > 1 << 20 and len(m.value) >= OVERSIZED_BYTES
            assert len(m.value) < 2 << 20
        elif m.malformed in ("epoch_1970", "far_future"):
            year = parse(m).occurred_at.year  # type: ignore[attr-defined]
            assert year == 1970 or year > START.year + 50
        else:
            with pytest.raises((orjson.JSONDecodeError, ValidationError)):
                parse(m)


def test_the_bad_envelope_has_one_bad_item_and_good_others(world: World) -> None:
    (m,) = [m for m in world.messages if m.malformed == "bad_envelope_item"]
    items = orjson.loads(m.value)["events"]
    verdicts = []
    for item in items:
        try:
            IotEvent.model_validate(item)
            verdicts.append(True)
        except ValidationError:
            verdicts.append(False)
    assert verdicts.count(False) == 1 and verdicts.count(True) >= 1


def test_event_ids_unique_except_retries(world: World) -> None:
    ids = Counter(str(e["event_id"]) for e in good_events(world))
    repeated = {i for i, n in ids.items() if n > 1}
    retried = {str(e["event_id"]) for m in world.messages if m.duplicate for e in events_of(m)}
    assert repeated == retried
    assert all(n == 2 for i, n in ids.items() if i in repeated)
    retries = [m for m in world.messages if m.duplicate]
    assert len(retries) == len(world.scenario.of_kind("duplicate_message"))
    for m in retries:
        first = [o for o in world.messages if o.value == m.value]
        assert len(first) == 2 and first[0].duplicate is False


def test_gateway_envelopes_and_gateway_heartbeats(world: World) -> None:
    gateways = {a.asset_id for a in world.registry.assets if a.kind == "gateway"}
    iot = [m for m in world.messages if m.family == "iot" and m.malformed is None]
    envelopes = [m for m in iot if b'"events"' in m.value]
    assert envelopes and {m.key.decode() for m in envelopes if m.key} == gateways
    for m in envelopes:
        assert orjson.loads(m.value)["source"] == (m.key or b"").decode()
        assert (m.key or b"").decode() in {e["asset_id"] for e in events_of(m)}


def test_outage_gateway_and_children_are_silent(world: World) -> None:
    (outage,) = world.scenario.of_kind("district_outage")
    assert outage.end is not None
    gateway = outage.asset_ids[0]
    silent = {gateway} | {a.asset_id for a in world.registry.assets if a.parent_id == gateway}
    assert len(silent) > 1
    lo, hi = iso(int(outage.start.timestamp())), iso(int(outage.end.timestamp()))
    heard = [e for e in good_events(world) if e["asset_id"] in silent]
    assert not [e for e in heard if lo <= str(e["occurred_at"]) < hi]
    # ... and they report before and after it.
    assert {e["asset_id"] for e in heard if str(e["occurred_at"]) < lo} == silent
    assert {e["asset_id"] for e in heard if str(e["occurred_at"]) >= hi} == silent


def test_flapping_device_alternates(world: World) -> None:
    (flap,) = world.scenario.of_kind("flapping_device")
    period = int(flap.param("period_s"))
    begin = int(flap.start.timestamp())
    assert flap.end is not None
    end = int(flap.end.timestamp())
    seen = sorted(int(datetime.fromisoformat(str(e["occurred_at"])).timestamp())
                  for e in good_events(world) if e["asset_id"] == flap.asset_ids[0])
    during = [t for t in seen if begin <= t < end]
    assert during and all(((t - begin) // period) % 2 == 1 for t in during)
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert max(gaps) > period  # silent stretches longer than the tolerance


def test_camera_faults_and_offline(world: World) -> None:
    video = [e for e in good_events(world) if "online" in e]
    faults = {f for e in video for f in e.get("faults", ())}
    assert faults == {"black", "frozen", "occluded", "blurred", "signal_loss"}
    (offline,) = [f for f in world.scenario.of_kind("camera_picture_fault")
                  if f.param("fault") == "offline"]
    down = [e for e in video if e["asset_id"] == offline.asset_ids[0] and e["online"] is False]
    assert len(down) >= 10


def test_probe_failures(world: World) -> None:
    probes = [e for m in world.messages if m.family == "probe" and m.malformed is None
              for e in events_of(m)]
    (burst,) = world.scenario.of_kind("packet_loss_burst")
    lossy = [e for e in probes if e["asset_id"] == burst.asset_ids[0]
             and burst.start.isoformat()[:19] <= str(e["occurred_at"])[:19]
             and burst.end is not None
             and str(e["occurred_at"])[:19] < burst.end.isoformat()[:19]]
    assert len(lossy) >= 10
    assert all(int(e["packets_lost"]) / int(e["packets_sent"]) > 0.05
               for e in lossy)
    (outage,) = world.scenario.of_kind("portal_outage")
    failed = [e for e in probes if e["asset_id"] == outage.asset_ids[0] and e["ok"] is False]
    assert len(failed) >= 15
    assert {e.get("status_code") for e in failed} == {503, None}


def test_stale_dataset_and_data_events(world: World) -> None:
    (stale,) = world.scenario.of_kind("stale_dataset")
    data = [e for m in world.messages if m.family == "data" and m.malformed is None
            for e in events_of(m)]
    updated = {e["asset_id"] for e in data if e["action"] == "updated"}
    assert stale.asset_ids[0] not in updated
    assert len(updated) >= 3
    assert {e["action"] for e in data} == {"updated", "shared", "opened", "quality_check"}
    failed = [e for e in data if e["action"] == "quality_check" and e["passed"] is False]
    assert len(failed) == len(world.scenario.of_kind("failed_quality_check")) == 3


def test_cloud_usage_hot_host_and_requests(world: World) -> None:
    cloud = [e for m in world.messages if m.family == "cloud" and m.malformed is None
             for e in events_of(m)]
    usage = [e for e in cloud if e["kind"] == "usage"]
    assert len(usage) == world.cfg.cloud_hosts * 4 * 3600 // world.cfg.cloud_interval_s
    (hot,) = world.scenario.of_kind("cloud_hot_host")
    hot_samples = [e for e in usage if e["asset_id"] == hot.asset_ids[0]
                   and float(e["cpu_used_cores"]) > 0.9 * float(e["cpu_alloc_cores"])]
    assert len(hot_samples) * world.cfg.cloud_interval_s >= 20 * 60
    assert all(float(e["cpu_used_cores"]) <= 0.9 * float(e["cpu_alloc_cores"])
               for e in usage if e["asset_id"] != hot.asset_ids[0])
    requests = [e for e in cloud if e["kind"] == "request"]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for e in requests:
        by_id.setdefault(str(e["request_id"]), []).append(e)
    assert len(by_id) == len(world.scenario.of_kind("resource_request"))
    for f in world.scenario.of_kind("resource_request"):
        events = by_id[f.param("request_id")]
        assert len(events) == (1 if f.param("outcome") == "unfulfilled" else 2)


def test_security_levels_and_data_leak(world: World) -> None:
    security = [e for m in world.messages if m.family == "security" and m.malformed is None
                for e in events_of(m)]
    assert {e["level"] for e in security} == {"I", "II", "III", "IV"}
    assert any(e["category"] == "data_leak" for e in security)


def test_unregistered_sources_and_lifetimes(world: World) -> None:
    registered = {a.asset_id for a in world.registry.assets}
    strangers = {e["asset_id"] for e in good_events(world)} - registered
    assert strangers == {f.asset_ids[0] for f in world.scenario.of_kind("unregistered_source")}
    late = next(a.asset_id for a in world.registry.assets if a.registered_at > START)
    gone = next(a.asset_id for a in world.registry.assets if a.retired_at is not None)
    times = {a: [str(e["occurred_at"]) for e in good_events(world) if e["asset_id"] == a]
             for a in (late, gone)}
    assert times[late] and min(times[late]) >= iso(int((START + REGISTERED_LATE_AFTER).timestamp()))
    assert times[gone] and max(times[gone]) < iso(int((START + RETIRED_AFTER).timestamp()))


def test_unbatched_mode_sends_single_events() -> None:
    cfg = CityConfig(iot_devices=20, cameras=6, cloud_hosts=2, services=4, links=2,
                     datasets=4, gateway_batch=False)
    unbatched = make_world(cfg, 1 / 24)
    good = [m for m in unbatched.messages if m.malformed is None]
    assert all(b'"events"' not in m.value for m in good)
    for m in good:
        parse(m)
    times = [m.event_time for m in unbatched.messages]
    assert times == sorted(times)
    # One message per device per interval, so the device's own id is the key.
    keys = {m.key for m in good if m.family == "iot"}
    assert b"iot-00001" in keys


def test_start_is_a_parameter() -> None:
    """A later window is the same city a day on, with event ids of its own."""
    registry = build_city(SMALL, START)
    later = START + timedelta(days=1)
    scenario = plan_scenario(registry, SMALL, later, 1 / 24)
    messages = list(generate(registry, scenario, SMALL, later, 1 / 24))
    assert messages[0].event_time >= later
    assert messages[-1].event_time < later + timedelta(hours=1)
    ids = {e["event_id"] for m in messages if m.malformed is None for e in events_of(m)}
    first_hour = make_world(SMALL, 1 / 24)
    assert not ids & {e["event_id"] for e in good_events(first_hour)}

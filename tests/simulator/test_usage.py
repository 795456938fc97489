"""The simulated portal: its registry lists (catalogue, population, accounts) and its usage
events (citybrain/simulator/portal.py, usage.py)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson

from citybrain.simulator import CityConfig, build_city, generate, plan_scenario
from citybrain.simulator.portal import COVERED_LATE_AFTER, KINDS
from citybrain.simulator.usage import user_key
from schemas.events import UsageEvent

from .conftest import DAYS, START, World, events_of, parse


def test_registry_lists_of_the_portal(world: World) -> None:
    registry = world.registry
    items = registry.service_items
    assert len(items) == 600 and len({s.service_id for s in items}) == 600
    assert {s.department_id for s in items} == {d.department_id for d in registry.departments}
    assert {s.kind for s in items} == set(KINDS)
    online = [s for s in items if s.online_capable]
    covered = [s for s in online if s.portal_since is not None and s.portal_since < START]
    # About nine in ten online-capable, about 85 % of those covered.
    assert 0.85 < len(online) / len(items) < 0.95 and 0.78 < len(covered) / len(online) < 0.92
    assert [s.portal_since for s in items if s.portal_since and s.portal_since > START] == [
        START + COVERED_LATE_AFTER]
    assert len([s for s in items if s.retired_at is not None]) == 1
    # Both bases for every district, at the end of the two years before the window.
    per = Counter((p.district_id, p.basis) for p in registry.population)
    assert set(per.values()) == {2} and len(per) == 2 * len(registry.districts)
    assert {p.as_of.isoformat() for p in registry.population} == {"2023-12-31", "2024-12-31"}
    assert all(p.source for p in registry.population)
    latest = max(registry.portal_accounts, key=lambda a: a.as_of)
    assert latest.registered_users == world.cfg.portal_users and latest.as_of < START.date()


def test_usage_envelopes_per_minute_and_portal(world: World) -> None:
    usage = [m for m in world.messages if m.family == "usage"]
    portals = {a.asset_id for a in world.registry.assets if a.kind == "portal"}
    covered = {s.service_id for s in world.registry.service_items
               if s.online_capable and s.portal_since is not None}
    end = START + timedelta(days=DAYS)
    assert usage
    for m in usage:
        envelope = orjson.loads(m.value)
        assert m.key is not None and m.key.decode() == envelope["source"] and envelope["source"] in portals
        assert m.event_time.second == 59
        parse(m)
        for raw in events_of(m):
            event = UsageEvent.model_validate(raw)
            assert START <= event.occurred_at <= m.event_time < end
            assert event.asset_id == envelope["source"]
            if event.action == "transaction" and event.channel != "hall":
                assert event.service_id in covered
            if event.channel in ("hall", "kiosk"):
                assert not event.fully_online


def test_a_day_of_a_realistic_city() -> None:
    cfg = CityConfig(iot_devices=0, cameras=0, cloud_hosts=0, links=0, datasets=0)
    start = datetime(2026, 11, 1, 16, tzinfo=UTC)      # Monday 2 Nov 2026, local midnight
    registry = build_city(cfg, start)
    messages = generate(registry, plan_scenario(registry, cfg, start, 1.0), cfg, start, 1.0)
    actions: Counter[str] = Counter()
    users: set[str] = set()
    channels: Counter[str] = Counter()
    for m in messages:
        if m.family == "usage":
            for e in orjson.loads(m.value)["events"]:
                actions[e["action"]] += 1
                channels[e["channel"]] += 1
                users.add(e["user_key"])
    # 0.11 sessions per registered user (400,000) on a weekday: some 44,000 sessions by
    # some 35,000 people; about a third of the online sessions and every hall visit end
    # in a transaction.
    assert 25_000 < len(users) < 45_000
    assert 35_000 < sum(actions.values()) < 70_000
    assert 0.25 < actions["transaction"] / actions["sign_in"] < 0.6
    assert set(channels) == {"app", "mini_program", "web", "hall", "kiosk"}
    # The keys are the persons' HMACs, never their numbers.
    assert user_key(0) != user_key(1) and len(user_key(0)) == 64

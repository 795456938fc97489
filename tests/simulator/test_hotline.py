"""The simulated 12345 work orders (citybrain/simulator/hotline.py)."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from citybrain.simulator import CityConfig, build_city, plan_scenario
from citybrain.simulator.hotline import lay_out
from citybrain.simulator.scenario import tick_grid
from schemas.events import WorkOrderEvent
from schemas.workorder_categories import load as load_categories

from .conftest import SMALL, World

START = datetime(2026, 9, 28, 16, tzinfo=UTC)   # Tue 09-29 00:00 in the city


def week(cfg: CityConfig = SMALL) -> tuple[list[WorkOrderEvent], set[str]]:
    """A week of events, and the assets of the scenario's outages."""
    registry = build_city(cfg, START)
    scenario = plan_scenario(registry, cfg, START, 7)
    win = tick_grid(cfg, START, 7)
    events = [WorkOrderEvent.model_validate_json(entry[3])
              for entry in lay_out(registry, scenario, win, cfg.seed)]
    assert all(win.start <= int(e.occurred_at.timestamp()) < win.end for e in events)
    outages = {f.asset_ids[0] for kind in ("portal_outage", "district_outage")
               for f in scenario.of_kind(kind)}
    return events, outages


def test_a_week_of_work_orders() -> None:
    events, outages = week()
    created = [e for e in events if e.action == "created"]
    # 40 a day at scale 1 (12 departments) × 7 days ≈ 280, plus the outages' calls
    assert 200 < len(created) < 360
    assert len({e.order_id for e in created}) == len(created)
    assert {e.category for e in created} <= set(load_categories().by_id)
    assert {e.category for e in created} == {"urgent", "complaint", "consultation", "help", "suggestion"}
    actions = Counter(e.action for e in events)
    # a few returned and reassigned, reopened, merged; most completed orders called back
    assert actions["returned"] == actions["reassigned"] > 0
    assert 0 < actions["reopened"] < actions["completed"] / 10
    assert actions["merged"] > 0 or len(created) < 100
    assert actions["return_visit"] > actions["completed"] / 2
    # Every order's steps follow its creation.
    steps: dict[str, list[WorkOrderEvent]] = defaultdict(list)
    for e in events:
        steps[e.order_id].append(e)
    for order, found in steps.items():
        first = min(found, key=lambda e: e.occurred_at)
        assert first.action == "created", order
    # A few urgent orders are answered late (more than 30 minutes), most on time.
    urgent = {e.order_id: e.occurred_at for e in created if e.category == "urgent"}
    answered = {e.order_id: e.occurred_at - urgent[e.order_id] for e in events
                if e.action == "responded" and e.order_id in urgent}
    late = [d for d in answered.values() if d > timedelta(minutes=30)]
    assert answered and len(late) < len(answered) / 3
    # Citizens call about the outages.
    about = Counter(e.subject_asset_id for e in created if e.subject_asset_id in outages)
    assert outages and set(about) == outages


def test_same_seed_same_orders_and_a_city_without_a_catalogue(world: World) -> None:
    assert week() == week()
    assets_only, _ = week(dataclasses.replace(SMALL, service_items=0))
    created = [e for e in assets_only if e.action == "created"]
    assert created and all(e.service_id is None and e.subject_asset_id for e in created)
    # the feed carries them
    assert any(m.family == "hotline" for m in world.messages)

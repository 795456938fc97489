"""The simulated 好差评 ratings (citybrain/simulator/ratings.py)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime

from citybrain.simulator import CityConfig, build_city
from citybrain.simulator.ratings import lay_out
from citybrain.simulator.scenario import tick_grid
from schemas.events import RatingEvent

from .conftest import SMALL, World

START = datetime(2026, 9, 28, 16, tzinfo=UTC)   # Tue 09-29 00:00 in the city


def week(cfg: CityConfig = SMALL) -> list[RatingEvent]:
    registry = build_city(cfg, START)
    win = tick_grid(cfg, START, 7)
    events = [RatingEvent.model_validate_json(entry[3]) for entry in lay_out(registry, win, cfg.seed)]
    assert all(win.start <= int(e.occurred_at.timestamp()) < win.end for e in events)
    return events


def test_a_week_of_ratings() -> None:
    events = week()
    rated = [e for e in events if e.action == "rated"]
    # 600 catalogue items × 2 a day × 7 days ≈ 8,400 (a few items are retired)
    assert 7_000 < len(rated) < 9_500
    assert len({e.rating_id for e in rated}) == len(rated)
    bad = {e.rating_id for e in rated if e.level is not None and e.level <= 2}
    assert 0.01 < len(bad) / len(rated) < 0.06                      # about 3 % bad
    assert all(e.tags for e in rated if e.rating_id in bad)
    assert not any(e.tags for e in rated if e.rating_id not in bad)
    followed = {e.rating_id for e in events if e.action != "rated"}
    assert followed <= bad                                           # only bad ones are followed up
    rectified = Counter(e.rating_id for e in events if e.action == "rectified")
    assert set(rectified.values()) == {1} and len(rectified) > len(bad) / 2
    assert {e.channel for e in rated} == {"app", "mini_program", "web", "hall", "kiosk", "hotline"}
    assert any(e.action == "return_visit" and e.satisfied is None for e in events)  # not reached


def test_same_seed_same_ratings_and_a_city_without_a_catalogue(world: World) -> None:
    assert week() == week()
    portals_only = week(dataclasses.replace(SMALL, service_items=0))
    services = {e.service_id for e in portals_only if e.action == "rated"}
    assert services and all((s or "").startswith("portal-") for s in services)
    # the feed carries them
    assert any(m.family == "rating" for m in world.messages)

"""A small city over four simulated hours, generated once for the simulator tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from citybrain.simulator import (
    CityConfig,
    Scenario,
    SimMessage,
    build_city,
    generate,
    plan_scenario,
)
from schemas.events import MODELS, envelope_model
from schemas.registry import Registry

START = datetime(2025, 3, 3, 16, 0, tzinfo=UTC)
DAYS = 4 / 24
SMALL = CityConfig(iot_devices=40, cameras=12, cloud_hosts=4, services=6, links=4, datasets=8)


@dataclass(frozen=True)
class World:
    cfg: CityConfig
    registry: Registry
    scenario: Scenario
    messages: list[SimMessage]


def make_world(cfg: CityConfig = SMALL, days: float = DAYS) -> World:
    registry = build_city(cfg, START)
    scenario = plan_scenario(registry, cfg, START, days)
    return World(cfg, registry, scenario, list(generate(registry, scenario, cfg, START, days)))


@pytest.fixture(scope="session")
def world() -> World:
    return make_world()


# envelope_model builds a class per call: once per family is enough.
ENVELOPES: dict[str, type[BaseModel]] = {family: envelope_model(family) for family in MODELS}


def parse(message: SimMessage) -> BaseModel:
    """The message validated as one event or as an envelope of its family."""
    data = orjson.loads(message.value)
    if isinstance(data, dict) and "events" in data:
        return ENVELOPES[message.family].model_validate(data)
    return MODELS[message.family].model_validate(data)


def events_of(message: SimMessage) -> list[dict[str, Any]]:
    """The raw event objects in a well-formed message."""
    data = orjson.loads(message.value)
    return list(data["events"]) if "events" in data else [data]

"""Glue between the commands and the simulator: one prepared city, produced or written."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from citybrain.kernel.settings import Settings
from citybrain.simulator import (
    CityConfig,
    Scenario,
    SimMessage,
    build_city,
    generate,
    plan_scenario,
)
from citybrain.simulator.output import produce as produce_messages
from citybrain.simulator.output import write_jsonl
from schemas.registry import Registry

SCALED = ("departments", "districts", "iot_devices", "cameras", "cloud_hosts", "services",
          "links", "datasets", "service_items", "portal_users")


@dataclass(frozen=True)
class City:
    config: CityConfig
    registry: Registry
    scenario: Scenario
    start: datetime
    days: float

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def messages(self) -> Iterator[SimMessage]:
        return generate(self.registry, self.scenario, self.config, self.start, self.days)


def window_start(now: datetime, span: timedelta) -> datetime:
    """The simulated window starts on a whole hour and ends before ``now``.

    Events are never in the future of the processing clock, which would (rightly) send
    them to the dead-letter topic.
    """
    start = now - span
    return start.replace(minute=0, second=0, microsecond=0)


def prepare(*, seed: int, scale: float, start: datetime, days: float,
            config: CityConfig | None = None) -> City:
    base = config or CityConfig(seed=seed)
    if scale != 1.0:
        base = dataclasses.replace(
            base, **{f: max(1, round(getattr(base, f) * scale)) for f in SCALED}
        )
    registry = build_city(base, start)
    scenario = plan_scenario(registry, base, start, days)
    return City(base, registry, scenario, start, days)


def to_file(city: City, settings: Settings, path: Path) -> int:
    return write_jsonl(city.messages(), path, settings.topic)


@dataclass
class Tally:
    """Messages produced per family, counted on the way out (the demo waits for them)."""

    per_family: Counter[str] = dataclasses.field(default_factory=Counter)
    malformed: int = 0
    duplicates: int = 0
    last_event_time: datetime | None = None

    def count(self, messages: Iterator[SimMessage]) -> Iterator[SimMessage]:
        for m in messages:
            self.per_family[m.family] += 1
            if m.malformed:
                self.malformed += 1
            if getattr(m, "duplicate", False):
                self.duplicates += 1
            self.last_event_time = m.event_time
            yield m


async def produce(
    city: City,
    settings: Settings,
    bootstrap: str,
    *,
    speed: float | None,
    tally: Tally | None = None,
    on_progress: Callable[[int, datetime], None] | None = None,
    limit: Callable[[], datetime | None] | None = None,
) -> int:
    from streams.topics import ensure_topics

    await ensure_topics(bootstrap, settings)
    stream: Iterator[SimMessage] = city.messages()
    if tally is not None:
        stream = tally.count(stream)
    return await produce_messages(stream, bootstrap, settings.topic, speed=speed,
                                  start=city.start, on_progress=on_progress, limit=limit)

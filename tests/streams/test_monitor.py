"""The liveness monitor against the real database, driven with explicit observations."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from citybrain.assets import import_registry
from citybrain.settings import Settings
from schemas.registry import Asset, Contact, Department, Registry
from streams.ingest import Observations
from streams.liveness import State, Transition
from streams.monitor import LivenessMonitor

T0 = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # midnight in Asia/Shanghai


class WallClock:
    """Processing time under the test's control."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _setup(db: psycopg.Connection[Any], settings: Settings) -> tuple[LivenessMonitor, list[Transition]]:
    import_registry(db, Registry(
        departments=(Department(department_id="water", name="Water",
                                first_responsible=Contact(name="Wang", role="first_responsible")),),
        assets=tuple(Asset(asset_id=a, kind="iot_device", department_id="water", expected_interval_s=60,
                           registered_at=T0 - timedelta(days=1)) for a in ("a", "b")),
    ))
    published: list[Transition] = []

    async def publish(ts: Sequence[Transition]) -> None:
        published.extend(ts)

    clock = WallClock()
    monitor = LivenessMonitor("iot", settings, settings.database_url or "", publish=publish,
                              wall_clock=clock)
    return monitor, published


def obs(tp: int, asset: str, minutes: range) -> Observations:
    o = Observations("iot")
    times = [T0 + timedelta(minutes=m) for m in minutes]
    o.runs[asset] = [(times[0], times[-1], True)]
    o.marks[("t.iot", tp)] = times[-1]
    return o


def test_partitions_behind_one_another_are_not_an_ingestion_gap(
    settings: Settings, db: psycopg.Connection[Any]
) -> None:
    monitor, published = _setup(db, settings)

    async def run() -> None:
        await monitor.handle(obs(0, "a", range(0, 10)))
        await monitor.handle(obs(1, "b", range(0, 3)))
        # Partition 0 runs two hours ahead of partition 1 (consumer catching up).
        await monitor.handle(obs(0, "a", range(10, 130)))
        await monitor.handle(obs(1, "b", range(3, 130)))
        await monitor.close()

    asyncio.run(run())
    assert [t for t in published if t.state is State.UNKNOWN and t.previous is not None] == []
    assert {t.asset_id: t.state for t in published}["b"] is State.ONLINE
    states = dict(db.execute("SELECT asset_id, state FROM asset_state").fetchall())
    assert states == {"a": "online", "b": "online"}


def test_whole_feed_silence_is_unknown_not_offline(settings: Settings, db: psycopg.Connection[Any]) -> None:
    monitor, published = _setup(db, settings)

    async def run() -> None:
        await monitor.handle(obs(0, "a", range(0, 10)))
        await monitor.handle(obs(1, "b", range(0, 10)))
        # Nothing from either partition for an hour, then both resume.
        await monitor.handle(obs(0, "a", range(70, 80)))
        await monitor.handle(obs(1, "b", range(70, 80)))
        await monitor.close()

    asyncio.run(run())
    rows = db.execute("SELECT state, started_at, reason FROM state_intervals WHERE asset_id = 'a'"
                      " ORDER BY started_at").fetchall()
    assert [r[0] for r in rows] == ["online", "unknown", "online"]
    assert rows[1][1] == T0 + timedelta(minutes=9, seconds=150)  # its deadline, inside the gap
    assert "ingestion gap" in rows[1][2]
    assert rows[2][1] == T0 + timedelta(minutes=70)
    assert not [t for t in published if t.state is State.OFFLINE]

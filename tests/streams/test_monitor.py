"""The liveness monitor against the real database, driven with explicit observations."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from citybrain.assets import import_registry
from citybrain.settings import Settings
from schemas.events import LivenessLevel
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


def _setup(db: psycopg.Connection[Any], settings: Settings,
           clock: WallClock | None = None) -> tuple[LivenessMonitor, list[Transition]]:
    import_registry(db, Registry(
        departments=(Department(department_id="water", name="Water",
                                first_responsible=Contact(name="Wang", role="first_responsible")),),
        assets=tuple(Asset(asset_id=a, kind="iot_device", department_id="water", expected_interval_s=60,
                           registered_at=T0 - timedelta(days=1)) for a in ("a", "b")),
    ))
    published: list[Transition] = []

    async def publish(ts: Sequence[Transition]) -> None:
        published.extend(ts)

    monitor = LivenessMonitor("iot", settings, settings.database_url or "", publish=publish,
                              wall_clock=clock or WallClock())
    return monitor, published


def obs(tp: int, asset: str, minutes: range) -> Observations:
    o = Observations("iot")
    times = [T0 + timedelta(minutes=m) for m in minutes]
    o.runs[asset] = [(times[0], times[-1], LivenessLevel.ONLINE)]
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


def test_a_pause_of_the_worker_does_not_let_one_partition_overtake(
    settings: Settings, db: psycopg.Connection[Any]
) -> None:
    clock = WallClock()
    monitor, published = _setup(db, settings, clock)

    async def run() -> None:
        await monitor.handle(obs(0, "a", range(0, 3)))
        await monitor.handle(obs(1, "b", range(0, 3)))
        # The worker stalls (a database outage) longer than the idle-source limit; then
        # partition 0's backlog arrives before partition 1's.
        clock.now += settings.liveness_idle_source_seconds + 30
        await monitor.handle(obs(0, "a", range(3, 103)))
        await monitor.handle(obs(1, "b", range(3, 103)))
        await monitor.close()

    asyncio.run(run())
    assert [t for t in published if t.state is State.OFFLINE] == []
    assert dict(db.execute("SELECT asset_id, state FROM asset_state").fetchall()) == {
        "a": "online", "b": "online"}


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


def _camera_monitor(db: psycopg.Connection[Any], settings: Settings,
                    published: list[Transition]) -> LivenessMonitor:
    import_registry(db, Registry(
        departments=(Department(department_id="police", name="Police",
                                first_responsible=Contact(name="Li", role="first_responsible")),),
        assets=(Asset(asset_id="cam", kind="camera", department_id="police", expected_interval_s=60,
                      registered_at=T0 - timedelta(days=1)),),
    ))

    async def publish(ts: Sequence[Transition]) -> None:
        published.extend(ts)

    return LivenessMonitor("video", settings, settings.database_url or "", publish=publish,
                           wall_clock=WallClock())


def camera_obs(*runs: tuple[int, int, LivenessLevel]) -> Observations:
    o = Observations("video")
    o.runs["cam"] = [(T0 + timedelta(minutes=a), T0 + timedelta(minutes=b), level) for a, b, level in runs]
    o.marks[("t.video", 0)] = T0 + timedelta(minutes=max(b for _, b, _ in runs))
    return o


def test_picture_fault_is_stored_as_a_degraded_interval(
    settings: Settings, db: psycopg.Connection[Any]
) -> None:
    published: list[Transition] = []
    monitor = _camera_monitor(db, settings, published)
    up, degraded = LivenessLevel.ONLINE, LivenessLevel.DEGRADED

    async def run() -> None:
        await monitor.handle(camera_obs((0, 4, up), (5, 7, degraded)))
        await monitor.handle(camera_obs((8, 9, degraded), (10, 12, up)))
        await monitor.close()

    asyncio.run(run())
    rows = db.execute("SELECT state, started_at, ended_at, reason FROM state_intervals"
                      " WHERE asset_id = 'cam' ORDER BY started_at").fetchall()
    m = [T0 + timedelta(minutes=n) for n in (0, 5, 10)]
    assert rows == [
        ("online", m[0], m[1], "reported"),
        ("degraded", m[1], m[2], "picture fault"),
        ("online", m[2], None, "recovered"),
    ]
    current = db.execute("SELECT state, since FROM asset_state WHERE asset_id = 'cam'").fetchone()
    assert current == ("online", m[2])
    assert [(t.state, t.previous, t.at) for t in published] == [
        (State.ONLINE, None, m[0]),
        (State.DEGRADED, State.ONLINE, m[1]),
        (State.ONLINE, State.DEGRADED, m[2]),
    ]


def test_degraded_survives_a_restart_and_times_out(
    settings: Settings, db: psycopg.Connection[Any]
) -> None:
    published: list[Transition] = []
    # The camera feed of this test has one partition (a fresh feed waits for all of them).
    settings = settings.model_copy(update={"topic_partitions": 1})
    first = _camera_monitor(db, settings, published)

    async def before() -> None:
        await first.handle(camera_obs((0, 3, LivenessLevel.DEGRADED)))
        await first.close()

    asyncio.run(before())
    assert db.execute("SELECT state FROM asset_state WHERE asset_id = 'cam'").fetchone() == ("degraded",)
    # The reports behind those observations, as the sink stored them (before publishing):
    # a restarted monitor reads the camera's last report from here.
    for minute in range(4):
        db.execute("INSERT INTO video_events (occurred_at, event_id, asset_id, online, faults)"
                   " VALUES (%s, %s, 'cam', true, ARRAY['frozen'])",
                   (T0 + timedelta(minutes=minute), f"cam-{minute}"))

    # A new monitor (another worker, or this one restarted) rebuilds from the database:
    # the camera is still degraded, so a further degraded report is no transition.
    again: list[Transition] = []

    async def publish(ts: Sequence[Transition]) -> None:
        again.extend(ts)

    second = LivenessMonitor("video", settings, settings.database_url or "", publish=publish,
                             wall_clock=WallClock())

    async def after() -> None:
        await second.handle(camera_obs((4, 4, LivenessLevel.DEGRADED)))
        # Silent for longer than 60 s × 2.5 (a jump shorter than the gap threshold).
        o = Observations("video")
        o.marks[("t.video", 0)] = T0 + timedelta(minutes=8)
        await second.handle(o)
        await second.close()

    asyncio.run(after())
    deadline = T0 + timedelta(minutes=4, seconds=150)
    assert [(t.state, t.previous, t.at) for t in again] == [(State.OFFLINE, State.DEGRADED, deadline)]
    rows = db.execute("SELECT state, started_at, ended_at FROM state_intervals WHERE asset_id = 'cam'"
                      " ORDER BY started_at").fetchall()
    assert rows == [("degraded", T0, deadline), ("offline", deadline, None)]


def test_a_fresh_feed_waits_for_every_partition_before_deadlines(
    settings: Settings, db: psycopg.Connection[Any]
) -> None:
    clock = WallClock()
    monitor, published = _setup(db, settings, clock)

    async def run() -> None:
        # First start: partition 0 delivers its first minutes, then races an hour ahead
        # before partition 1 delivered anything; b's heartbeats (b is registered) are in
        # partition 1 and arrive a moment later.
        await monitor.handle(obs(0, "a", range(0, 2)))
        await monitor.handle(obs(0, "a", range(2, 60)))
        await monitor.handle(obs(1, "b", range(0, 60)))
        await monitor.close()

    asyncio.run(run())
    assert [t for t in published if t.state is State.OFFLINE] == []
    assert dict(db.execute("SELECT asset_id, state FROM asset_state").fetchall()) == {
        "a": "online", "b": "online"}

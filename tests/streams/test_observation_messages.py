"""Liveness observations of a large batch are split into messages a broker accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import LivenessLevel
from streams.app import observation_messages
from streams.ingest import Observations

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_large_batch_is_split_by_asset_with_marks_last() -> None:
    online = LivenessLevel.ONLINE
    runs = {f"cam-{n:05d}": [(T0 + timedelta(seconds=n), T0 + timedelta(seconds=n + 60), online)]
            for n in range(5000)}
    obs = Observations("video", runs, {("citybrain.video", 0): T0 + timedelta(hours=1)})
    whole = obs.to_bytes()
    limit = 64 * 1024
    assert len(whole) > 4 * limit
    messages = observation_messages(obs, limit)
    assert len(messages) > 1
    assert all(len(m) <= limit for m in messages)
    parts = [Observations.from_bytes(m) for m in messages]
    assert [bool(p.marks) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert parts[-1].marks == obs.marks
    merged: dict[str, list[tuple[datetime, datetime, LivenessLevel]]] = {}
    for p in parts:
        assert not set(p.runs) & set(merged)
        merged.update(p.runs)
    assert merged == runs


def test_small_batch_stays_one_message() -> None:
    obs = Observations("iot", {"d-1": [(T0, T0, LivenessLevel.ONLINE)]}, {("citybrain.iot", 1): T0})
    assert observation_messages(obs, 1024) == [obs.to_bytes()]

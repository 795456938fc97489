"""The decoder's column-wise fast path must give exactly what the full models give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas.events import MODELS, LivenessLevel
from streams.decode import Columns, Decoder
from tests.schemas.test_events import VALID

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def _decoder(family: str) -> Decoder:
    return Decoder(family, max_bytes=100_000, max_future_skew=timedelta(minutes=5),
                   max_age=timedelta(days=30))


def _reference(d: Decoder, raw: bytes) -> Columns:
    """What decode_columns must return: built from the full models."""
    out = d.decode(raw, NOW)
    return Columns(
        [(e.occurred_at, *e.db_row()[1:]) for e in out.events], [e.occurred_at for e in out.events],
        [e.asset_id for e in out.events],
        None if d.model.ALWAYS_UP else [e.liveness() for e in out.events], out.rejected,
    )


def _same(d: Decoder, raw: bytes) -> Columns:
    got = d.decode_columns(raw, NOW)
    want = _reference(d, raw)
    # Rows carry occurred_at as text for PostgreSQL to parse: the same instant.
    assert [(datetime.fromisoformat(r[0]), *r[1:]) for r in got.rows] == want.rows
    assert got.times == want.times
    assert got.assets == want.assets
    assert got.levels == want.levels
    assert got.rejected == want.rejected
    return got


@pytest.mark.parametrize("family", sorted(MODELS))
def test_fast_path_rows_match_the_models(family: str) -> None:
    d = _decoder(family)
    one = VALID[family]
    got = _same(d, orjson.dumps(one))
    assert len(got.rows) == 1 and len(got.rows[0]) == len(MODELS[family].COLUMNS)
    assert got.rows[0][0] == one["occurred_at"]  # the fast path keeps the text as sent
    items = [{**one, "event_id": f"e{i}", "asset_id": f"a-{i % 3}"} for i in range(5)]
    assert len(_same(d, orjson.dumps({"source": "gw", "events": items})).rows) == 5


@pytest.mark.parametrize("when", [
    "2026-11-21T00:30:00Z", "2026-11-21T08:30:00.5+08:00", "2026-11-20T19:00:00.123456-05:00",
    # Not taken by the fast path, same result through the models:
    "2026-11-21 00:30:00Z", "2026-11-21T00:30:00z", "2026-11-21T00:30:00.1234567Z", 1795222800,
    "2026-02-30T00:00:00Z", "2026-11-21T00:30:00", "2020-01-01T00:00:00Z", "2026-11-22T00:00:00Z",
])
def test_timestamps_mean_the_same_on_both_paths(when: Any) -> None:
    d = _decoder("iot")
    _same(d, orjson.dumps({**VALID["iot"], "occurred_at": when}))
    _same(d, orjson.dumps({"events": [VALID["iot"], {**VALID["iot"], "occurred_at": when}]}))


@pytest.mark.parametrize("patch", [
    {"packets_lost": 30}, {"packets_sent": None}, {"packets_sent": None, "packets_lost": None},
    {"status": "exploded"}, {"schema_version": 1}, {"schema_version": 2}, {"asset_id": "has space"},
])
def test_model_level_checks_hold_on_the_fast_path(patch: dict[str, Any]) -> None:
    d = _decoder("iot")
    _same(d, orjson.dumps({**VALID["iot"], **patch}))
    _same(d, orjson.dumps({"events": [VALID["iot"], {**VALID["iot"], **patch}, VALID["iot"]]}))


def test_liveness_column_and_other_model_validators() -> None:
    probe = _decoder("probe")
    got = _same(probe, orjson.dumps({"events": [VALID["probe"], {**VALID["probe"], "ok": True}]}))
    assert got.levels == [LivenessLevel.DOWN, LivenessLevel.ONLINE]
    video = _decoder("video")
    assert _same(video, orjson.dumps(VALID["video"])).rows[0][8] == ["frozen", "blurred"]
    cloud = _decoder("cloud")
    bad = {**VALID["cloud"], "fulfilled_at": "2026-11-20T00:00:00+08:00"}
    assert "before requested_at" in _same(cloud, orjson.dumps(bad)).rejected[0].reason
    data = _decoder("data")
    assert _same(data, orjson.dumps({**VALID["data"], "action": "quality_check"})).rejected


@pytest.mark.parametrize(("patch", "level"), [
    ({"faults": []}, LivenessLevel.ONLINE),
    ({"faults": [], "stream_decodable": None}, LivenessLevel.ONLINE),  # unknown is not held against it
    ({}, LivenessLevel.DEGRADED),  # the sample reports frozen + blurred
    ({"faults": ["black"]}, LivenessLevel.DEGRADED),
    ({"faults": [], "stream_decodable": False}, LivenessLevel.DEGRADED),
    ({"online": False}, LivenessLevel.DOWN),  # not reporting a picture at all: down, not degraded
    ({"online": False, "faults": []}, LivenessLevel.DOWN),
])
def test_camera_health_level_is_the_same_on_both_paths(patch: dict[str, Any], level: LivenessLevel) -> None:
    video = _decoder("video")
    event = {**VALID["video"], **patch}
    assert _same(video, orjson.dumps(event)).levels == [level]
    got = _same(video, orjson.dumps({"events": [event, {**VALID["video"], "faults": [], "event_id": "e9"}]}))
    assert got.levels == [level, LivenessLevel.ONLINE]
    assert all(type(x) is LivenessLevel for x in got.levels or [])


def _many_reference(d: Decoder, raws: list[bytes | None]) -> tuple[list[Any], list[Any], list[Any]]:
    """What decode_many must return: decode_columns of each message, concatenated."""
    rows: list[Any] = []
    times: list[Any] = []
    rejected: list[Any] = []
    for index, raw in enumerate(raws):
        one = d.decode_columns(raw, NOW)
        rows += one.rows
        times += one.times
        rejected += [(index, r) for r in one.rejected]
    return rows, times, rejected


@pytest.mark.parametrize("family", sorted(MODELS))
def test_single_messages_decoded_together_match_one_by_one(family: str) -> None:
    d = _decoder(family)
    one = VALID[family]
    raws: list[bytes | None] = [orjson.dumps({**one, "event_id": f"s{i}"}) for i in range(6)]
    got = d.decode_many(raws, NOW)
    assert (got.rows, got.times, got.rejected) == _many_reference(d, raws)
    assert len(got.rows) == 6 and got.rejected == []


def test_bad_messages_among_singles_are_rejected_with_their_position_and_order_is_kept() -> None:
    d = _decoder("iot")
    ok = VALID["iot"]

    def single(i: int, **patch: Any) -> bytes:
        return orjson.dumps({**ok, "event_id": f"s{i}", **patch})

    raws: list[bytes | None] = [
        single(0), b"{not json", single(1), None, single(2),
        orjson.dumps({"source": "gw", "events": [{**ok, "event_id": "e0"}, {**ok, "event_id": "e1"}]}),
        single(3), single(4, packets_lost=30),  # a model-level check fails: the run's fallback
        single(5), single(6, occurred_at="2020-01-01T00:00:00Z"),  # too old
        single(7, occurred_at="2026-11-21 00:30:00Z"),  # an unusual form the full model takes
        b"x" * 200_000, single(8),  # oversized
    ]
    got = d.decode_many(raws, NOW)
    rows, times, rejected = _many_reference(d, raws)
    assert got.rows == rows and got.times == times and got.rejected == rejected
    # Message order: s0 s1 s2 e0 e1 s3 s5 s7 s8 (s4, s6 and the three bad ones rejected).
    assert [r[1] for r in got.rows] == ["s0", "s1", "s2", "e0", "e1", "s3", "s5", "s7", "s8"]
    assert [i for i, _ in got.rejected] == [1, 3, 7, 9, 11]
    # The single-event messages of one run are joined nowhere: a message that is two
    # objects side by side is invalid JSON, whatever its neighbours.
    pair = orjson.dumps(ok) + b"," + orjson.dumps({**ok, "event_id": "x"})
    assert [i for i, _ in d.decode_many([single(0), pair, single(1)], NOW).rejected] == [1]

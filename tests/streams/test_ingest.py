"""Observations: decoded columns → per-asset runs of one liveness level, and their wire form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from citybrain.errors import CitybrainError
from schemas.events import LivenessLevel
from streams.decode import Decoder
from streams.ingest import Observations, _collect

NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=1)
UP, DEGRADED, DOWN = LivenessLevel.ONLINE, LivenessLevel.DEGRADED, LivenessLevel.DOWN
SPLIT = timedelta(seconds=90)  # reports 60 s apart stay in one run
TP = ("t.video", 0)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def camera(asset: str, second: int, **health: Any) -> dict[str, Any]:
    return {"event_id": f"{asset}-{second}", "asset_id": asset, "occurred_at": t(second).isoformat(),
            "online": True, "stream_decodable": True, **health}


def collect(family: str, items: list[dict[str, Any]], obs: Observations | None = None) -> Observations:
    decoder = Decoder(family, max_bytes=1 << 20, max_future_skew=timedelta(minutes=5),
                      max_age=timedelta(days=30))
    decoded = decoder.decode_columns(orjson.dumps({"events": items}), NOW)
    assert decoded.rejected == []
    obs = obs or Observations(family)
    _collect(obs, TP, decoded, SPLIT)
    return obs


def test_runs_split_where_the_level_changes() -> None:
    obs = collect("video", [
        camera("cam-1", 0), camera("cam-1", 60), camera("cam-1", 120),
        camera("cam-1", 180, faults=["frozen"]), camera("cam-1", 240, faults=["black", "blurred"]),
        camera("cam-1", 300, stream_decodable=False),  # still degraded: the same run
        camera("cam-1", 360),
        camera("cam-1", 420, online=False, faults=["signal_loss"]),  # down wins over faults
        camera("cam-1", 480, stream_decodable=None),  # decodability unknown: not held against it
        *(camera("cam-2", s) for s in range(0, 540, 60)),
    ])
    assert obs.runs == {
        "cam-1": [(t(0), t(120), UP), (t(180), t(300), DEGRADED), (t(360), t(360), UP),
                  (t(420), t(420), DOWN), (t(480), t(480), UP)],
        "cam-2": [(t(0), t(480), UP)],
    }
    assert obs.marks == {TP: t(480)}


def test_runs_still_split_on_silence_and_merge_across_batches() -> None:
    obs = collect("video", [camera("cam", 0, faults=["occluded"]), camera("cam", 60, faults=["occluded"])])
    collect("video", [camera("cam", 120, faults=["frozen"]), camera("cam", 400, faults=["frozen"])], obs)
    # 120 continues the degraded run; 400 follows a silence longer than the split.
    assert obs.runs == {"cam": [(t(0), t(120), DEGRADED), (t(400), t(400), DEGRADED)]}


def test_always_up_and_boolean_families() -> None:
    iot = collect("iot", [{"event_id": f"e{s}", "asset_id": "dev", "occurred_at": t(s).isoformat()}
                          for s in (0, 30, 60)])
    assert iot.runs == {"dev": [(t(0), t(60), UP)]}
    probe = collect("probe", [
        {"event_id": f"p{s}", "asset_id": "portal", "occurred_at": t(s).isoformat(),
         "target_kind": "portal", "ok": ok} for s, ok in ((0, True), (60, False), (120, True))
    ])
    assert probe.runs == {"portal": [(t(0), t(0), UP), (t(60), t(60), DOWN), (t(120), t(120), UP)]}


def test_wire_form_round_trips_with_levels() -> None:
    obs = collect("video", [camera("cam", 0), camera("cam", 60, faults=["frozen"]),
                            camera("cam", 120, online=False)])
    raw = obs.to_bytes()
    assert [u for _, _, u in orjson.loads(raw)["runs"]["cam"]] == [1, 2, 0]
    again = Observations.from_bytes(raw)
    assert again == obs
    assert all(type(level) is LivenessLevel for runs in again.runs.values() for _, _, level in runs)


def test_payload_from_before_levels_still_reads() -> None:
    old = orjson.dumps({
        "feed": "video",
        "runs": {"cam": [[t(0).isoformat(), t(60).isoformat(), True],
                         [t(120).isoformat(), t(120).isoformat(), False]]},
        "marks": [["t.video", 0, t(120).isoformat()]],
    })
    obs = Observations.from_bytes(old)
    assert obs.runs == {"cam": [(t(0), t(60), UP), (t(120), t(120), DOWN)]}
    assert obs.marks == {TP: t(120)}


@pytest.mark.parametrize("raw", [
    orjson.dumps({"feed": "video", "runs": {"cam": [[t(0).isoformat(), t(0).isoformat(), 7]]},
                  "marks": []}),
    orjson.dumps({"feed": "video", "runs": {"cam": [["yesterday", t(0).isoformat(), 1]]}, "marks": []}),
    orjson.dumps({"feed": "video", "runs": {}}),
    orjson.dumps({"feed": "video", "runs": [], "marks": []}),
    b"not json",
])
def test_malformed_observations_are_refused_with_a_hint(raw: bytes) -> None:
    with pytest.raises(CitybrainError, match=r"malformed liveness observations.*incompatible version"):
        Observations.from_bytes(raw)

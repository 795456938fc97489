"""Liveness end to end: heartbeats through a real worker into state intervals and the state topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from schemas.registry import Asset, Contact, Department, Registry
from streams.topics import ensure_topics
from tests.helpers import consume_all, produce, running_worker, wait_for

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


@pytest.mark.integration
def test_silent_device_goes_offline_at_its_deadline(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    registry = Registry(
        departments=(Department(department_id="water", name="Water",
                                first_responsible=Contact(name="Wang", role="first_responsible")),),
        assets=tuple(
            Asset(asset_id=a, kind="iot_device", department_id="water", expected_interval_s=60,
                  registered_at=T0 - timedelta(days=1))
            for a in ("dev-1", "dev-2", "dev-3")
        ),
    )
    import_registry(db, registry)
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))

    def beat(asset: str, minute: int) -> tuple[bytes, bytes]:
        at = T0 + timedelta(minutes=minute)
        return asset.encode(), orjson.dumps({"event_id": f"{asset}-{minute}", "asset_id": asset,
                                             "occurred_at": at.isoformat()})

    # dev-1 reports every minute for 20 minutes; dev-2 stops after minute 5; dev-3 never reports.
    msgs = [beat("dev-1", m) for m in range(21)] + [beat("dev-2", m) for m in range(6)]
    asyncio.run(produce(boot, settings.topic("iot"), msgs))
    log = tmp_path / "worker.log"
    with running_worker(settings, log) as proc:
        wait_for(lambda: db.execute(
            "SELECT count(*) FROM state_intervals WHERE asset_id = 'dev-2' AND state = 'offline'"
        ).fetchone() == (1,), what="dev-2 offline", alive=proc, log=log)

    deadline = T0 + timedelta(minutes=5, seconds=150)  # last heartbeat + 60 s × 2.5
    rows = db.execute(
        "SELECT state, started_at, ended_at, reason FROM state_intervals"
        " WHERE asset_id = 'dev-2' ORDER BY started_at"
    ).fetchall()
    assert [r[0] for r in rows] == ["online", "offline"]
    assert rows[0][1] == T0 and rows[0][2] == deadline
    assert rows[1][1] == deadline and rows[1][2] is None
    assert "no heartbeat within 150s" in rows[1][3]

    current = dict(db.execute("SELECT asset_id, state FROM asset_state").fetchall())
    assert current == {"dev-1": "online", "dev-2": "offline", "dev-3": "offline"}
    # dev-3 never reported: unknown from when tracking started, then offline one window later.
    dev3 = db.execute("SELECT state FROM state_intervals WHERE asset_id = 'dev-3' ORDER BY started_at"
                      ).fetchall()
    assert [r[0] for r in dev3][-1] == "offline"

    changes = asyncio.run(consume_all(boot, settings.state_change_topic, 4))
    published = [orjson.loads(r.value) for r in changes]
    offline = [c for c in published if c["asset_id"] == "dev-2" and c["state"] == "offline"]
    assert offline and datetime.fromisoformat(offline[0]["at"]) == deadline
    assert offline[0]["previous"] == "online"


@pytest.mark.integration
def test_camera_picture_fault_is_a_degraded_interval_and_a_published_transition(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    registry = Registry(
        departments=(Department(department_id="police", name="Police",
                                first_responsible=Contact(name="Li", role="first_responsible")),),
        assets=tuple(
            Asset(asset_id=a, kind="camera", department_id="police", expected_interval_s=60,
                  registered_at=T0 - timedelta(days=1))
            for a in ("cam-1", "cam-2")
        ),
    )
    import_registry(db, registry)
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))

    def report(asset: str, minute: int, **health: Any) -> dict[str, Any]:
        return {"event_id": f"{asset}-{minute}", "asset_id": asset,
                "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(), "online": True,
                "stream_decodable": True, "fps": 25.0, **health}

    # One VMS envelope, as a VMS sends them. cam-1's picture freezes from minute 6 to
    # minute 10 and recovers at 11; cam-2's stream becomes undecodable at minute 12.
    events = [report("cam-1", m, **({"faults": ["frozen"]} if 6 <= m <= 10 else {})) for m in range(21)]
    events += [report("cam-2", m, **({"stream_decodable": False} if m >= 12 else {})) for m in range(21)]
    asyncio.run(produce(boot, settings.topic("video"),
                        [(b"vms-1", orjson.dumps({"source": "vms-1", "events": events}))]))
    log = tmp_path / "worker.log"
    with running_worker(settings, log) as proc:
        wait_for(lambda: db.execute(
            "SELECT count(*) FROM state_intervals WHERE state = 'degraded'"
        ).fetchone() == (2,), what="two degraded intervals", alive=proc, log=log)
        changes = asyncio.run(consume_all(boot, settings.state_change_topic, 5))

    m = {n: T0 + timedelta(minutes=n) for n in (0, 6, 11, 12)}
    rows = db.execute("SELECT asset_id, state, started_at, ended_at, reason FROM state_intervals"
                      " ORDER BY asset_id, started_at").fetchall()
    assert rows == [
        ("cam-1", "online", m[0], m[6], "reported"),
        ("cam-1", "degraded", m[6], m[11], "picture fault"),
        ("cam-1", "online", m[11], None, "recovered"),
        ("cam-2", "online", m[0], m[12], "reported"),
        ("cam-2", "degraded", m[12], None, "picture fault"),
    ]
    current = dict(db.execute("SELECT asset_id, state FROM asset_state").fetchall())
    assert current == {"cam-1": "online", "cam-2": "degraded"}

    published = sorted(((c["asset_id"], c["state"], c["previous"], datetime.fromisoformat(c["at"]),
                         c["reason"], c["feed"]) for c in (orjson.loads(r.value) for r in changes)),
                       key=lambda c: (c[0], c[3]))
    assert published == [
        ("cam-1", "online", None, m[0], "reported", "video"),
        ("cam-1", "degraded", "online", m[6], "picture fault", "video"),
        ("cam-1", "online", "degraded", m[11], "recovered", "video"),
        ("cam-2", "online", None, m[0], "reported", "video"),
        ("cam-2", "degraded", "online", m[12], "picture fault", "video"),
    ]


def _iot_registry(assets: tuple[str, ...]) -> Registry:
    return Registry(
        departments=(Department(department_id="water", name="Water",
                                first_responsible=Contact(name="Wang", role="first_responsible")),),
        assets=tuple(Asset(asset_id=a, kind="iot_device", department_id="water", expected_interval_s=60,
                           registered_at=T0 - timedelta(days=1)) for a in assets),
    )


def _envelope(beats: list[tuple[str, int]]) -> tuple[bytes, bytes]:
    """One gateway message holding heartbeats (asset, second after T0): one batch."""
    events = [{"event_id": f"{a}-{s}", "asset_id": a, "occurred_at": (T0 + timedelta(seconds=s)).isoformat()}
              for a, s in beats]
    return b"gw-1", orjson.dumps({"source": "gw-1", "events": events})


def _fold_one_message(settings: Settings, db: psycopg.Connection[Any], tmp_path: Path,
                      beats: list[tuple[str, int]], last: datetime) -> list[tuple[Any, ...]]:
    """dev-1 and dev-2 registered, ``beats`` sent as one message (one batch) to a real
    worker, which folds them up to ``last``: the state intervals."""
    import_registry(db, _iot_registry(("dev-1", "dev-2")))
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))
    asyncio.run(produce(boot, settings.topic("iot"), [_envelope(beats)]))
    log = tmp_path / "worker.log"
    with running_worker(settings, log) as proc:
        wait_for(lambda: db.execute("SELECT watermark FROM feed_watermarks").fetchone() == (last,),
                 what="the feed folded", alive=proc, log=log)
    return db.execute("SELECT asset_id, state, started_at, ended_at, reason FROM state_intervals"
                      " ORDER BY asset_id, started_at").fetchall()


@pytest.mark.integration
def test_a_feed_silence_inside_one_burst_is_unknown_not_offline(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    # Two devices beat every minute for 10 minutes, nothing at all comes for 20 minutes,
    # then 10 more minutes: delivered as one message, so one batch. The 20 minutes are the
    # platform's gap: unknown from each device's deadline, online again when data resumes.
    minutes = [*range(0, 11), *range(30, 41)]
    intervals = _fold_one_message(settings, db, tmp_path,
                                  [(a, m * 60) for m in minutes for a in ("dev-1", "dev-2")],
                                  T0 + timedelta(minutes=40))
    at = {n: T0 + timedelta(seconds=n) for n in (0, 750, 1800)}
    gap = f"ingestion gap: no iot events for 1200s after {T0 + timedelta(minutes=10)}"
    assert intervals == [
        ("dev-1", "online", at[0], at[750], "reported"),
        ("dev-1", "unknown", at[750], at[1800], gap),
        ("dev-1", "online", at[1800], None, "reported"),
        ("dev-2", "online", at[0], at[750], "reported"),
        ("dev-2", "unknown", at[750], at[1800], gap),
        ("dev-2", "online", at[1800], None, "reported"),
    ]


@pytest.mark.integration
def test_a_replay_without_silence_gives_the_outages_of_real_time(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    # Half an hour replayed as one burst: dev-1 beats throughout, dev-2 stops after minute
    # 5. There is no silence of the feed, so dev-2 is offline from its deadline (5 min +
    # 60 s × 2.5), as in real time, and nothing is unknown.
    beats = [("dev-1", m * 60) for m in range(31)] + [("dev-2", m * 60) for m in range(6)]
    intervals = _fold_one_message(settings, db, tmp_path, beats, T0 + timedelta(minutes=30))
    deadline = T0 + timedelta(minutes=5, seconds=150)
    assert intervals == [
        ("dev-1", "online", T0, None, "reported"),
        ("dev-2", "online", T0, deadline, "reported"),
        ("dev-2", "offline", deadline, None, "no heartbeat within 150s (interval 60s × 2.5)"),
    ]

"""Integration: real worker process, real broker, real PostgreSQL."""

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
from schemas.registry import Asset, Contact, Department, District, Registry
from streams.topics import ensure_topics
from tests.helpers import (
    CuttableProxy,
    committed,
    consume_all,
    count,
    produce,
    running_worker,
    wait_for,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def _registry(*devices: str, interval: int = 60) -> Registry:
    return Registry(
        departments=(Department(department_id="water", name="Water",
                                first_responsible=Contact(name="Wang", role="first_responsible")),),
        districts=(District(district_id="d1", name="D1"),),
        assets=tuple(
            Asset(asset_id=d, kind="iot_device", department_id="water", district_id="d1",
                  expected_interval_s=interval, registered_at=NOW - timedelta(days=30))
            for d in devices
        ),
    )


def iot(event_id: str, asset: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "asset_id": asset, "occurred_at": at.isoformat(),
            "status": "ok", **extra}


def _setup(settings: Settings, db: psycopg.Connection[Any], registry: Registry) -> None:
    import_registry(db, registry)
    assert settings.kafka_bootstrap
    asyncio.run(ensure_topics(settings.kafka_bootstrap, settings))


@pytest.mark.integration
def test_envelopes_and_single_events_of_every_family_are_stored(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    _setup(settings, db, _registry("dev-1", "dev-2"))
    boot = settings.kafka_bootstrap or ""
    t = NOW - timedelta(minutes=30)
    envelope = {"source": "gw-1", "events": [iot(f"e{i}", f"dev-{1 + i % 2}", t + timedelta(seconds=i),
                                               battery_pct=90.0, packets_sent=10, packets_lost=1)
                                           for i in range(100)]}
    singles = {
        "iot": [iot("s1", "dev-1", t)],
        "video": [{"event_id": "v1", "asset_id": "cam-1", "occurred_at": t.isoformat(),
                   "online": True, "faults": ["frozen"], "fps": 24.5}],
        "cloud": [{"event_id": "c1", "asset_id": "host-1", "occurred_at": t.isoformat(),
                   "kind": "usage", "cpu_alloc_cores": 8, "cpu_used_cores": 7.5}],
        "security": [{"event_id": "x1", "asset_id": "portal-1", "occurred_at": t.isoformat(),
                      "source": "dlp", "category": "data_leak", "level": "I",
                      "details": {"records": 1200}}],
        "probe": [{"event_id": "p1", "asset_id": "link-1", "occurred_at": t.isoformat(),
                   "target_kind": "link", "ok": True, "packets_sent": 100, "packets_lost": 7}],
        "data": [{"event_id": "d1", "asset_id": "ds-1", "occurred_at": t.isoformat(),
                  "action": "quality_check", "passed": False, "completeness": 0.7}],
    }
    asyncio.run(produce(boot, settings.topic("iot"), [(b"gw-1", orjson.dumps(envelope))]))
    for family, events in singles.items():
        asyncio.run(produce(boot, settings.topic(family),
                            [(e["asset_id"].encode(), orjson.dumps(e)) for e in events]))
    log = tmp_path / "worker.log"
    with running_worker(settings, log) as proc:
        wait_for(lambda: count(db, "SELECT count(*) FROM data_events") == 1
                 and count(db, "SELECT count(*) FROM iot_events") == 101,
                 what="all families stored", alive=proc, log=log)
    for table in ("video_events", "cloud_events", "security_events", "probe_events"):
        assert count(db, f"SELECT count(*) FROM {table}") == 1, table
    row = db.execute("SELECT faults, fps FROM video_events").fetchone()
    assert row == (["frozen"], 24.5)
    details = db.execute("SELECT details FROM security_events").fetchone()
    assert details == ({"records": 1200},)
    assert count(db, "SELECT sum(packets_lost) FROM iot_events") == 100
    # Unregistered sources are stored and listed, never dropped.
    unreg = dict(db.execute("SELECT asset_id, events FROM unregistered_sources").fetchall())
    assert unreg == {"cam-1": 1, "host-1": 1, "portal-1": 1, "link-1": 1, "ds-1": 1}
    assert count(db, "SELECT count(*) FROM dead_letters") == 0


@pytest.mark.integration
def test_poison_messages_go_to_the_dead_letter_topic_and_the_rest_is_stored(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    _setup(settings, db, _registry("dev-1"))
    boot = settings.kafka_bootstrap or ""
    t = NOW - timedelta(minutes=5)
    good = [iot(f"g{i}", "dev-1", t + timedelta(seconds=i)) for i in range(5)]
    half_bad = {"events": [*good[:2], {**good[2], "status": "exploded"}, good[3],
                           {"event_id": "no-time", "asset_id": "dev-1"}]}
    poison = [
        b"{not json",
        orjson.dumps({**good[4], "battery_pct": "full"}),          # wrong type
        orjson.dumps({"asset_id": "dev-1", "occurred_at": t.isoformat()}),  # missing event_id
        orjson.dumps(iot("old", "dev-1", datetime(1970, 1, 1, tzinfo=UTC))),
        orjson.dumps(iot("future", "dev-1", NOW + timedelta(days=3))),
        b'{"event_id": "big", "pad": "' + b"x" * (1_100_000) + b'"}',  # oversized
        orjson.dumps([1, 2, 3]),
    ]
    msgs = [(b"dev-1", orjson.dumps(half_bad))] + [(b"dev-1", p) for p in poison]
    msgs.append((b"dev-1", orjson.dumps(good[4])))
    asyncio.run(produce(boot, settings.topic("iot"), msgs))
    log = tmp_path / "worker.log"
    with running_worker(settings, log) as proc:
        wait_for(lambda: count(db, "SELECT count(*) FROM dead_letters") == 9,
                 what="dead letters", alive=proc, log=log)
        wait_for(lambda: count(db, "SELECT count(*) FROM iot_events") == 4,
                 what="good events", alive=proc, log=log)
        assert proc.poll() is None, "the worker must survive poison messages"
    reasons = [r[0] for r in db.execute("SELECT reason FROM dead_letters ORDER BY \"offset\", item_index")]
    assert any("events[2].status" in r for r in reasons)
    assert any("events[4].occurred_at: Field required" in r for r in reasons)
    assert any(r.startswith("invalid JSON") for r in reasons)
    assert any("battery_pct" in r for r in reasons)
    assert any("event_id: Field required" in r for r in reasons)
    assert any("too old" in r for r in reasons)
    assert any("in the future" in r for r in reasons)
    assert any(r.startswith("oversized message") for r in reasons)
    assert any("expected a JSON object" in r for r in reasons)
    # The envelope lost only its two bad items.
    assert count(db, "SELECT count(*) FROM dead_letters WHERE item_index IS NOT NULL") == 2
    records = asyncio.run(consume_all(boot, settings.dead_letter_topic, 9))
    assert len(records) == 9
    headers = dict(records[0].headers)
    assert headers["citybrain.source_topic"] == settings.topic("iot").encode()
    assert "citybrain.reason" in headers
    raw = {r.value for r in records}
    assert b"{not json" in raw  # the raw bytes, unchanged


@pytest.mark.integration
def test_replay_and_producer_retries_store_each_event_once(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    _setup(settings, db, _registry("dev-1", "dev-2"))
    boot = settings.kafka_bootstrap or ""
    t = NOW - timedelta(hours=1)
    events = [iot(f"r{i}", f"dev-{1 + i % 2}", t + timedelta(seconds=i)) for i in range(300)]
    msgs = [(e["asset_id"].encode(), orjson.dumps(e)) for e in events]
    msgs += msgs[:50]  # a producer retrying: same event_id, new offsets
    asyncio.run(produce(boot, settings.topic("iot"), msgs))
    log = tmp_path / "worker.log"
    with running_worker(settings, log) as proc:
        wait_for(lambda: count(db, "SELECT sum(next_offset) FROM ingest_offsets") == 350,
                 what="all offsets applied", alive=proc, log=log)
    assert count(db, "SELECT count(*) FROM iot_events") == 300
    before = db.execute("SELECT event_id, occurred_at FROM iot_events ORDER BY 1").fetchall()

    # Replay 1: a new consumer group reads the partitions again from the start; the
    # applied offsets say these are stored already.
    replay = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay"})
    with running_worker(replay, log) as proc:
        wait_for(lambda: asyncio.run(committed(boot, replay.consumer_group, settings.topic("iot"))) == 350,
                 what="replay consumed and committed", alive=proc, log=log)
    assert count(db, "SELECT count(*) FROM iot_events") == 300
    # Replay 2: even with the applied offsets lost, the (event_id, occurred_at) identity
    # stores nothing twice.
    db.execute("TRUNCATE ingest_offsets")
    replay2 = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay2"})
    with running_worker(replay2, log) as proc:
        wait_for(lambda: count(db, "SELECT sum(next_offset) FROM ingest_offsets") == 350,
                 what="second replay applied", alive=proc, log=log)
    after = db.execute("SELECT event_id, occurred_at FROM iot_events ORDER BY 1").fetchall()
    assert after == before


@pytest.mark.integration
def test_database_outage_loses_nothing_and_duplicates_nothing(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    _setup(settings, db, _registry("dev-1"))
    boot = settings.kafka_bootstrap or ""
    proxy = CuttableProxy(settings.database_url or "")
    via_proxy = settings.model_copy(update={"database_url": proxy.url, "db_retry_max_seconds": 0.5})
    t = NOW - timedelta(hours=2)
    first = [iot(f"a{i}", "dev-1", t + timedelta(seconds=i)) for i in range(200)]
    second = [iot(f"b{i}", "dev-1", t + timedelta(seconds=1000 + i)) for i in range(200)]
    log = tmp_path / "worker.log"
    try:
        with running_worker(via_proxy, log, CITYBRAIN_DB_RETRY_MAX_SECONDS="0.5") as proc:
            asyncio.run(produce(boot, settings.topic("iot"), [(b"dev-1", orjson.dumps(e)) for e in first]))
            wait_for(lambda: count(db, "SELECT count(*) FROM iot_events") == 200,
                     what="first half", alive=proc, log=log)
            proxy.cut()
            asyncio.run(produce(boot, settings.topic("iot"), [(b"dev-1", orjson.dumps(e)) for e in second]))
            # The worker keeps retrying while the database is unreachable...
            wait_for(lambda: "database unavailable" in log.read_text(errors="replace"),
                     what="retry log line", alive=proc, log=log)
            assert count(db, "SELECT count(*) FROM iot_events") == 200
            proxy.restore()
            # ...and completes once it is back.
            wait_for(lambda: count(db, "SELECT count(*) FROM iot_events") == 400,
                     what="second half after the outage", alive=proc, log=log)
            assert proc.poll() is None
    finally:
        proxy.close()
    assert count(db, "SELECT count(DISTINCT event_id) FROM iot_events") == 400
    assert count(db, "SELECT sum(next_offset) FROM ingest_offsets") == 400

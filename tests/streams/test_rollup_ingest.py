"""Integration: the hourly rollups and the daily latency histograms maintained by the real
worker (real broker, real PostgreSQL) equal a from-scratch aggregation of the stored rows,
through producer retries and replays — each stored row is added once, a duplicate never."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest

from citybrain.kernel.settings import Settings
from streams import rollups
from tests.helpers import count, produce, running_worker, wait_for
from tests.streams.rollup_reference import (
    cloud_reference,
    cloud_rollup,
    latency_daily_reference,
    latency_daily_rollup,
    probe_reference,
    probe_rollup,
    same,
)
from tests.streams.test_pipeline import _registry, _setup

NOW = datetime.now(UTC).replace(microsecond=0)
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the daily rollup's zone after migration 011
# The latest Shanghai midnight at least 6 hours back (so 6 to 30 hours ago): probes on
# both sides of it land on two local days.
MIDNIGHT = datetime.combine((NOW - timedelta(hours=6)).astimezone(SHANGHAI).date(), time(),
                            SHANGHAI).astimezone(UTC)


def midnight_events() -> list[dict[str, Any]]:
    """Probes 30 minutes either side of MIDNIGHT, one exactly on it, one a microsecond
    before it."""
    rng = random.Random(6)
    times = [MIDNIGHT + timedelta(seconds=61 * k) for k in range(-30, 31)]
    times.append(MIDNIGHT - timedelta(microseconds=1))
    return [{"event_id": f"m{i}", "asset_id": f"link-{i % 4}", "occurred_at": at.isoformat(),
             "target_kind": "link" if i % 4 else "portal", "ok": i % 7 != 0,
             "latency_ms": round(rng.uniform(0.5, 5000), 3)}
            for i, at in enumerate(times)]


def daily_exact(db: psycopg.Connection[Any], probes: list[dict[str, Any]]) -> None:
    """The daily rows equal the reference on Shanghai days, count every stored sample once,
    and split the midnight probes between the two days."""
    assert latency_daily_rollup(db) == latency_daily_reference(db, SHANGHAI)
    assert count(db, "SELECT sum(n) FROM probe_latency_daily") == sum(1 for e in probes if e["ok"])
    after = MIDNIGHT.astimezone(SHANGHAI).date()
    before = after - timedelta(days=1)
    samples = {d: n for d, n in db.execute(
        "SELECT day, sum(n) FROM probe_latency_daily WHERE asset_id = 'link-1' GROUP BY day")}
    want: dict[Any, int] = {}
    for e in probes:
        if e["ok"] and e["asset_id"] == "link-1":
            day = datetime.fromisoformat(e["occurred_at"]).astimezone(SHANGHAI).date()
            want[day] = want.get(day, 0) + 1
    assert samples == want and {before, after} <= samples.keys()


def events() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(5)
    t0 = NOW - timedelta(hours=5)
    probes = [{"event_id": f"p{i}", "asset_id": f"link-{i % 4}",
               "occurred_at": (t0 + timedelta(seconds=37 * i)).isoformat(),
               "target_kind": "link" if i % 4 else "portal", "ok": i % 9 != 0,
               "latency_ms": round(rng.uniform(1, 3000), 3),
               **({"packets_sent": 50, "packets_lost": i % 5} if i % 4 else {})}
              for i in range(400)] + midnight_events()
    cloud = [{"event_id": f"c{i}", "asset_id": f"vm-{i % 3}",
              "occurred_at": (t0 + timedelta(seconds=61 * i)).isoformat(),
              "kind": "usage", "cpu_alloc_cores": 8, "cpu_used_cores": round(rng.uniform(0, 8), 2),
              "mem_alloc_gb": 32, "mem_used_gb": round(rng.uniform(0, 32), 2)}
             for i in range(200)]
    return probes, cloud


@pytest.mark.integration
def test_rollups_count_each_stored_row_once_through_retries_and_replays(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    _setup(settings, db, _registry("dev-1"))
    boot = settings.kafka_bootstrap or ""
    probes, cloud = events()
    pmsgs = [(e["asset_id"].encode(), orjson.dumps(e)) for e in probes]
    cmsgs = [(e["asset_id"].encode(), orjson.dumps(e)) for e in cloud]
    # Producer retries: the same events again at new offsets; one envelope repeats singles,
    # another the probes around the Shanghai midnight.
    pmsgs += [*pmsgs[:60], (b"gw", orjson.dumps({"source": "gw", "events": probes[100:130]})),
              (b"gw", orjson.dumps({"source": "gw", "events": probes[400:]}))]
    cmsgs += cmsgs[:40]
    asyncio.run(produce(boot, settings.topic("probe"), pmsgs))
    asyncio.run(produce(boot, settings.topic("cloud"), cmsgs))
    log = tmp_path / "worker.log"
    total = len(pmsgs) + len(cmsgs)
    with running_worker(settings, log) as proc:
        wait_for(lambda: count(db, "SELECT sum(next_offset) FROM ingest_offsets") == total,
                 what="all offsets applied", alive=proc, log=log)
    assert count(db, "SELECT count(*) FROM probe_events") == len(probes)
    assert count(db, "SELECT count(*) FROM cloud_events") == 200
    assert count(db, "SELECT sum(probes) FROM probe_hourly") == len(probes)
    assert same(probe_rollup(db), probe_reference(db))
    assert same(cloud_rollup(db), cloud_reference(db))
    daily_exact(db, probes)

    # A replay with the applied offsets lost: every row is a duplicate, nothing is added.
    db.execute("TRUNCATE ingest_offsets")
    replay = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay"})
    with running_worker(replay, log) as proc:
        wait_for(lambda: count(db, "SELECT sum(next_offset) FROM ingest_offsets") == total,
                 what="replay applied", alive=proc, log=log)
    assert count(db, "SELECT sum(probes) FROM probe_hourly") == len(probes)
    assert count(db, "SELECT sum(samples) FROM cloud_hourly") == 200
    assert same(probe_rollup(db), probe_reference(db))
    assert same(cloud_rollup(db), cloud_reference(db))
    daily_exact(db, probes)

    # The ingest path and a rebuild from the raw rows agree (the range reaches back past
    # MIDNIGHT's previous day, so every daily row is rebuilt).
    before = probe_rollup(db), cloud_rollup(db), latency_daily_rollup(db)
    result = rollups.rebuild(db, NOW - timedelta(days=2), NOW + timedelta(hours=1))
    assert same(probe_rollup(db), before[0]) and same(cloud_rollup(db), before[1])
    assert latency_daily_rollup(db) == before[2] and result.latency_days == len(before[2])

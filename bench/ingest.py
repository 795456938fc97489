"""Ingest benchmark: events/s from broker to committed rows, for one worker process.

Runs, in one go, on the embedded broker and database (or the configured ones):
  (a) envelopes of 100 IoT events, (b) one event per message, (c) portal usage events
  (sign-ins and transactions of 2 M registered users) in envelopes of 100 from 10 portals
  and (d) one usage event per message: the usage family at a prefecture-level city's
  rate (50 transactions/s on average, 500/s at peak) needs 500-1,000 events/s,
and the ceilings on the same machine: raw ``getmany`` + orjson decode of the same
messages, and COPY alone of the same rows. Each run starts a worker and feeds it a
warm-up phase first (device liveness starts, group join), then the measured phase,
which is produced while the worker is paused (SIGSTOP), so that the producer does not
compete with it for the CPU. The rate is measured from the moment the worker is resumed
to the measured phase's last applied offset: the worker is already up and in its group, so
start-up is not counted, and the time to the first batch is (a phase that fits one batch
is still measured). The last line
holds ``name=value`` pairs.

    .venv/bin/python -m bench.ingest [--envelopes 4000] [--singles 200000] [--devices 10000]
                                     [--usage 200000] [--usage-singles 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from citybrain.kernel import store
from citybrain.kernel.runtime import services
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from schemas.events import TABLES, IotEvent
from schemas.registry import Asset, Contact, Department, Registry
from streams.topics import ensure_topics

PORTALS = 10
USERS = 2_000_000


def registry(devices: int, at: datetime) -> Registry:
    return Registry(
        departments=(Department(department_id="bench", name="Bench",
                                first_responsible=Contact(name="B", role="first_responsible")),),
        assets=tuple(Asset(asset_id=f"dev-{i}", kind="iot_device", department_id="bench",
                           expected_interval_s=30, registered_at=at) for i in range(devices))
        + tuple(Asset(asset_id=f"portal-{i}", kind="portal", department_id="bench",
                      expected_interval_s=60, registered_at=at) for i in range(PORTALS)),
    )


def usage_events(n: int, start: datetime, prefix: str, seed: int) -> list[dict[str, Any]]:
    """n portal usage events over the two hours from ``start``: users drawn from USERS
    registered, a tenth of them making half the events; 60 % sign-ins, 40 % transactions
    (80 % of those fully online) of 800 service items."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        person = rng.randrange(USERS // 10) if rng.random() < 0.5 else rng.randrange(USERS)
        event: dict[str, Any] = {
            "event_id": f"{prefix}{i}", "asset_id": f"portal-{i % PORTALS}",
            "occurred_at": (start + timedelta(milliseconds=i * 7200_000 // n)).isoformat(),
            "action": "sign_in", "user_key": hashlib.sha256(b"bench-%d" % person).hexdigest(),
            "channel": rng.choice(("app", "mini_program", "web", "hall", "kiosk")),
        }
        if rng.random() < 0.4:
            item = rng.randrange(800)
            event.update(action="transaction", service_id=f"svc-{item}", department_id="bench",
                         transaction_id=f"{prefix}tx{i}", fully_online=rng.random() < 0.8)
        out.append(event)
    return out


def events(n: int, devices: int, start: datetime, prefix: str) -> list[dict[str, Any]]:
    return [{
        "event_id": f"{prefix}{i}", "asset_id": f"dev-{i % devices}",
        "occurred_at": (start + timedelta(milliseconds=i)).isoformat(), "status": "ok",
        "battery_pct": 87.5, "signal_dbm": -71.0, "rtt_ms": 23.0, "packets_sent": 20,
        "packets_lost": 0,
    } for i in range(n)]


async def produce(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20,
                                max_request_size=4 << 20, enable_idempotence=False)
    await producer.start()
    t = time.perf_counter()
    try:
        pending = []
        for k, v in zip(keys, values, strict=True):
            pending.append(await producer.send(topic, v, key=k))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - t


async def ceiling_consume(bootstrap: str, topic: str, expect: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=4 << 20,
                                fetch_max_bytes=16 << 20)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        await consumer.seek_to_beginning()
        n = 0
        t = time.perf_counter()
        while n < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                for r in records:
                    doc = orjson.loads(r.value)
                    n += len(doc["events"]) if "events" in doc else 1
        return n / (time.perf_counter() - t)
    finally:
        await consumer.stop()


def ceiling_copy(url: str, schema: str, rows: list[tuple[Any, ...]]) -> float:
    with store.connect(url, schema) as conn:
        conn.execute("CREATE TEMP TABLE copy_ceiling (LIKE iot_events INCLUDING DEFAULTS)")
        conn.execute("CREATE UNIQUE INDEX ON copy_ceiling (event_id, occurred_at)")
        cols = ", ".join(IotEvent.COLUMNS)
        t = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY copy_ceiling ({cols}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["timestamptz", "text", "text", "text", "text", "real", "real", "real",
                          "integer", "integer"])
            for row in rows:
                cp.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - t)


def measure_worker(settings: Settings, url: str, log: Path,
                   phases: list[tuple[str, list[bytes], list[bytes], int]],
                   family: str = "iot") -> list[tuple[float, float]]:
    """Start one worker; for each phase (name, keys, values, events) produce the messages
    and wait until they are committed. Returns (events/s, seconds) per phase, measured
    from the worker's resumption (phase 0: from the end of producing) to the phase's last
    applied offset."""
    env = dict(os.environ)
    env.update({
        "CITYBRAIN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "CITYBRAIN_DATABASE_URL": url,
        "CITYBRAIN_DATABASE_SCHEMA": settings.database_schema,
        "CITYBRAIN_TOPIC_PREFIX": settings.topic_prefix,
        "CITYBRAIN_CONSUMER_GROUP": settings.consumer_group,
        "CITYBRAIN_DATA_DIR": str(settings.data_dir),
        # Long enough that the group keeps the worker while it is paused (see below).
        "CITYBRAIN_BROKER_SESSION_TIMEOUT": "60",
    })
    profile = os.environ.get("BENCH_PROFILE")  # a path: record the worker with py-spy
    cmd = [*([str(Path(sys.executable).parent / "py-spy"), "record", "-o", f"{profile}.{log.stem}.txt",
              "-f", "raw", "-r", "200", "--"] if profile else []),
           sys.executable, "-m", "citybrain", "worker"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    results = []
    try:
        with store.connect(url, settings.database_schema, autocommit=True) as conn:
            # Polled every 5 ms: only the tiny offsets table. Counting the rows is a scan of
            # the whole table and took a good part of the database's CPU away from the
            # worker; rows are counted only at the start, first commit and end of a phase
            # (offsets and rows commit in one transaction, so the offsets show the first).
            def applied() -> int:
                row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets").fetchone()
                assert row is not None
                return int(row[0])

            def stored() -> int:
                row = conn.execute(f"SELECT count(*) FROM {TABLES[family]}").fetchone()
                assert row is not None
                return int(row[0])

            for phase, (_name, keys, values, n_events) in enumerate(phases):
                base_offsets, base_rows = applied(), stored()
                # Measured phases are produced while the worker is stopped: on this 2-core
                # machine the producer (and the broker taking its writes) would otherwise
                # compete with the worker for the CPU. The clock starts when the worker is
                # resumed.
                paused = _worker_pid(proc) if phase > 0 else None
                if paused is not None:
                    os.kill(paused, signal.SIGSTOP)
                try:
                    asyncio.run(produce(settings.kafka_bootstrap or "", settings.topic(family), values, keys))
                finally:
                    if paused is not None:
                        os.kill(paused, signal.SIGCONT)
                resumed = time.perf_counter()
                deadline = time.monotonic() + 600
                while True:
                    offsets = applied()
                    if offsets - base_offsets >= len(values):
                        end = time.perf_counter()
                        break
                    if proc.poll() is not None:
                        raise SystemExit(f"worker exited; see {log}")
                    if time.monotonic() > deadline:
                        raise SystemExit("benchmark timed out")
                    time.sleep(0.005)
                rows = stored()
                if rows - base_rows != n_events:
                    dead = conn.execute("SELECT count(*), min(reason) FROM dead_letters").fetchone()
                    raise SystemExit(f"stored {rows - base_rows} rows, expected {n_events}; "
                                     f"dead letters {dead}")
                seconds = max(end - resumed, 1e-6)
                results.append(((rows - base_rows) / seconds, seconds))
                print(f"{_name}: {rows - base_rows} rows; state intervals by state:",
                      dict(conn.execute("SELECT state || coalesce('/' || left(reason, 30), ''), count(*)"
                                        " FROM state_intervals GROUP BY 1").fetchall()), file=sys.stderr)
                time.sleep(1.0)  # let the liveness derivation settle before the next phase
        return results
    finally:
        proc.send_signal(signal.SIGINT if profile else signal.SIGTERM)
        proc.wait(60)


def _worker_pid(proc: subprocess.Popen[bytes]) -> int:
    """The worker's pid: ``proc`` itself, or its child when py-spy runs it."""
    if not os.environ.get("BENCH_PROFILE"):
        return proc.pid
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0]) if children else proc.pid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envelopes", type=int, default=4000, help="messages of 100 events")
    ap.add_argument("--singles", type=int, default=200_000, help="messages of one event")
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--usage", type=int, default=200_000, help="portal usage events, in envelopes of 100")
    ap.add_argument("--usage-singles", type=int, default=100_000, help="usage events, one per message")
    args = ap.parse_args()

    base = Settings()
    now = datetime.now(UTC)
    tmp = tempfile.mkdtemp(prefix="citybrain-bench-")  # BENCH_KEEP=1 keeps worker logs
    try:
        run = uuid.uuid4().hex[:8]
        settings = base.model_copy(update={
            "data_dir": Path(tmp), "database_schema": f"bench_{run}",
            "topic_prefix": f"bench-{run}", "consumer_group": f"bench-{run}",
        })
        with services(settings, fresh_database=True) as ep:
            settings = settings.model_copy(update={"kafka_bootstrap": ep.kafka_bootstrap})
            store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
            with store.connect(ep.database_url, settings.database_schema) as conn:
                import_registry(conn, registry(args.devices, now - timedelta(days=1)))
            asyncio.run(ensure_topics(ep.kafka_bootstrap, settings))
            topic = settings.topic("iot")
            start = now - timedelta(hours=2)
            figures: dict[str, float] = {}
            try:
                # Warm-up: one heartbeat per device, so every device is already online and
                # the measured phase is steady-state ingest, not the first-start burst of
                # unknown → online transitions (one per device, once in a worker's life).
                warm = events(args.devices, args.devices, start - timedelta(minutes=1), "w")
                warm_values = [orjson.dumps({"events": warm[i:i + 100]}) for i in range(0, len(warm), 100)]
                # (a) envelopes of 100
                env_events = events(args.envelopes * 100, args.devices, start, "e")
                values = [orjson.dumps({"source": f"gw-{i % 50}",
                                        "events": env_events[i * 100:(i + 1) * 100]})
                          for i in range(args.envelopes)]
                keys = [f"gw-{i % 50}".encode() for i in range(args.envelopes)]
                (_, _), (rate, secs) = measure_worker(settings, ep.database_url, Path(tmp) / "worker-a.log", [
                    ("warm-up", [b"warm"] * len(warm_values), warm_values, len(warm)),
                    ("envelopes", keys, values, len(env_events)),
                ])
                figures["envelope_events_per_s"] = rate
                figures["envelope_seconds"] = secs
                figures["ceiling_getmany_orjson_events_per_s"] = asyncio.run(
                    ceiling_consume(ep.kafka_bootstrap, topic, len(env_events)))
                rows = [IotEvent.model_validate(e).db_row() for e in env_events[:200_000]]
                figures["ceiling_copy_rows_per_s"] = ceiling_copy(ep.database_url, settings.database_schema,
                                                                  rows)

                # (b) one event per message (a new topic prefix, same database)
                single = settings.model_copy(update={"topic_prefix": f"bench1-{run}",
                                                     "consumer_group": f"bench1-{run}"})
                asyncio.run(ensure_topics(ep.kafka_bootstrap, single))
                one = events(args.singles, args.devices, start + timedelta(hours=1), "s")
                warm1 = events(args.devices, args.devices, start + timedelta(minutes=59), "v")
                (_, _), (rate, secs) = measure_worker(single, ep.database_url, Path(tmp) / "worker-b.log", [
                    ("warm-up", [e["asset_id"].encode() for e in warm1], [orjson.dumps(e) for e in warm1],
                     len(warm1)),
                    ("singles", [e["asset_id"].encode() for e in one], [orjson.dumps(e) for e in one],
                     len(one)),
                ])
                figures["single_messages_per_s"] = rate
                figures["single_seconds"] = secs

                # (c) portal usage in envelopes of 100 per portal, (d) one per message; the
                # sink adds each batch to the daily and monthly user facts (migration 026).
                usage = settings.model_copy(update={"topic_prefix": f"bench2-{run}",
                                                    "consumer_group": f"bench2-{run}"})
                asyncio.run(ensure_topics(ep.kafka_bootstrap, usage))
                warm2 = usage_events(2000, start, "uw", seed=1)
                used = usage_events(args.usage, start, "u", seed=2)
                used1 = usage_events(args.usage_singles, start, "u1", seed=3)

                def envelopes(evs: list[dict[str, Any]]) -> tuple[list[bytes], list[bytes]]:
                    by_portal: dict[str, list[dict[str, Any]]] = {}
                    for e in evs:
                        by_portal.setdefault(e["asset_id"], []).append(e)
                    keys, values = [], []
                    for portal, mine in by_portal.items():
                        for i in range(0, len(mine), 100):
                            keys.append(portal.encode())
                            values.append(orjson.dumps({"source": portal, "events": mine[i:i + 100]}))
                    return keys, values

                (_, _), (rate, secs), (rate1, secs1) = measure_worker(
                    usage, ep.database_url, Path(tmp) / "worker-c.log", [
                        ("warm-up", *envelopes(warm2), len(warm2)),
                        ("usage envelopes", *envelopes(used), len(used)),
                        ("usage singles", [e["asset_id"].encode() for e in used1],
                         [orjson.dumps(e) for e in used1], len(used1)),
                    ], family="usage")
                figures["usage_envelope_events_per_s"] = rate
                figures["usage_envelope_seconds"] = secs
                figures["usage_single_messages_per_s"] = rate1
                figures["usage_single_seconds"] = secs1
                with store.connect(ep.database_url, settings.database_schema) as conn:
                    row = conn.execute("SELECT count(*) FROM usage_user_days").fetchone()
                    figures["usage_user_day_rows"] = float(row[0]) if row else 0.0
            finally:
                store.drop_schema(ep.database_url, settings.database_schema)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"envelopes: {args.envelopes} × 100 events; singles: {args.singles}; devices: {args.devices};"
          f" usage: {args.usage} in envelopes of 100, {args.usage_singles} singles, {USERS} users")
    print(" ".join(f"{k}={v:.0f}" if v > 100 else f"{k}={v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

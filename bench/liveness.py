"""Liveness derivation benchmark: stored heartbeats → state intervals, and what late
evidence costs.

Loads, with COPY, into a fresh schema of the embedded database (or of
CITYBRAIN_DATABASE_URL when set) ``--devices`` IoT devices (expected interval 30 s) and
``--hours`` of their heartbeats every 30 s, 2 % of the devices with a 10-minute outage.
Then, each timed:

* **fold**: the derivation of the whole stretch from scratch (``derive``: runs compacted
  in SQL, folded through the tracker, intervals and checkpoints written), in events/s;
* **live step**: one more minute of heartbeats stored and folded (what a tick does);
* **late minute**: a batch whose events lie a minute behind the fold (a gateway's
  buffered minute): the fold starts again from the checkpoint before it;
* **checkpoint**: one snapshot of the tracker (size and time).

The last line holds ``name=value`` pairs.

    .venv/bin/python -m bench.liveness [--devices 20000] [--hours 2]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from citybrain.kernel import store
from citybrain.kernel.runtime import services
from citybrain.kernel.settings import Settings
from streams.derivation import LivenessDeriver, derive

START = datetime(2026, 3, 2, tzinfo=UTC)
COLUMNS = "occurred_at, event_id, asset_id, kind, status, received_at"


def load_assets(conn: psycopg.Connection[Any], devices: int) -> None:
    conn.execute("INSERT INTO departments (department_id, name, first_responsible)"
                 " VALUES ('bench', 'Bench', '{\"name\": \"B\", \"role\": \"first_responsible\"}')")
    with conn.cursor() as cur, cur.copy(
            "COPY assets (asset_id, name, kind, key, department_id, expected_interval_s, registered_at)"
            " FROM STDIN") as cp:
        for i in range(devices):
            cp.write_row((f"dev-{i}", f"dev {i}", "iot_device", "infrastructure", "bench", 30,
                          START - timedelta(days=1)))


def load_beats(conn: psycopg.Connection[Any], devices: int, lo: datetime, hi: datetime,
               outages: dict[int, tuple[datetime, datetime]], tag: str) -> int:
    """Heartbeats every 30 s per device in [lo, hi), as the sink stores them (with the
    batch's event-time range recorded for the derivation and the partition's mark)."""
    n = 0
    received = datetime.now(UTC)
    with conn.cursor() as cur, cur.copy(f"COPY iot_events ({COLUMNS}) FROM STDIN") as cp:
        for i in range(devices):
            at = lo + timedelta(seconds=i % 30)
            down = outages.get(i)
            while at < hi:
                if not (down and down[0] <= at < down[1]):
                    cp.write_row((at, f"{tag}-{i}-{n}", f"dev-{i}", "heartbeat", "ok", received))
                    n += 1
                at += timedelta(seconds=30)
    conn.execute("INSERT INTO liveness_dirty (feed, lo, hi, events, received_at)"
                 " VALUES ('iot', %s, %s, %s, %s)", (lo, hi, n, received))
    conn.execute("INSERT INTO ingest_offsets (topic, partition, next_offset, mark, marked_at)"
                 " VALUES ('citybrain.iot', 0, %s, %s, now() - interval '1 hour')"
                 " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = ingest_offsets.next_offset"
                 " + excluded.next_offset, mark = greatest(ingest_offsets.mark, excluded.mark)",
                 (n, hi - timedelta(seconds=1)))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=20_000)
    ap.add_argument("--hours", type=float, default=2.0)
    args = ap.parse_args()
    settings = Settings()
    schema = f"bench_liveness_{uuid.uuid4().hex[:8]}"
    rng = random.Random(1)
    end = START + timedelta(hours=args.hours)
    outages = {i: (start, start + timedelta(minutes=10))
               for i in rng.sample(range(args.devices), args.devices // 50)
               for start in [START + timedelta(minutes=rng.uniform(10, args.hours * 60 - 20))]}
    with services(settings, need_broker=False, fresh_database=True) as ep:
        store.migrate(ep.database_url, schema)
        bench = settings.model_copy(update={"database_schema": schema})
        try:
            with store.connect(ep.database_url, schema, autocommit=True) as conn:
                load_assets(conn, args.devices)
                events = load_beats(conn, args.devices, START, end, outages, "a")
                conn.execute("VACUUM ANALYZE iot_events")
            t0 = time.perf_counter()
            derive(bench, ep.database_url)
            fold_s = time.perf_counter() - t0
            print(f"fold: {events:,} events in {fold_s:.2f} s", file=sys.stderr)

            deriver = LivenessDeriver("iot", bench, ep.database_url)
            deriver.tick(final=True)  # leader, loaded from its checkpoint
            with store.connect(ep.database_url, schema, autocommit=True) as conn:
                load_beats(conn, args.devices, end, end + timedelta(minutes=1), {}, "b")
            t0 = time.perf_counter()
            deriver.tick(final=True)
            step_s = time.perf_counter() - t0
            with store.connect(ep.database_url, schema, autocommit=True) as conn:
                late = load_beats(conn, args.devices // 10, end - timedelta(seconds=30),
                                  end + timedelta(seconds=30), {}, "late")
            t0 = time.perf_counter()
            result = deriver.tick(final=True)
            late_s = time.perf_counter() - t0
            assert result.restarted_from is not None, "the late minute did not fold again"
            assert deriver.tracker is not None
            t0 = time.perf_counter()
            raw = deriver.tracker.snapshot()
            snap_s = time.perf_counter() - t0
            deriver.close()
            with store.connect(ep.database_url, schema, autocommit=True) as conn:
                row = conn.execute("SELECT count(*) FILTER (WHERE state = 'offline'), count(*)"
                                   " FROM state_intervals").fetchone()
            assert row is not None
            print(f"intervals: {row[1]:,} ({row[0]:,} offline); late batch {late:,} events",
                  file=sys.stderr)
            print(f"devices={args.devices} events={events} fold_seconds={fold_s:.2f}"
                  f" fold_events_per_s={events / fold_s:.0f} live_minute_step_seconds={step_s:.3f}"
                  f" late_minute_refold_seconds={late_s:.3f} checkpoint_seconds={snap_s:.3f}"
                  f" checkpoint_bytes={len(raw)}")
        finally:
            store.drop_schema(ep.database_url, schema)


if __name__ == "__main__":
    main()

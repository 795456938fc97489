"""The TimescaleDB path against a real TimescaleDB server (written against 2.28.3).

Runs when ``CITYBRAIN_TEST_TIMESCALE_URL`` names a PostgreSQL with TimescaleDB 2.x
preloaded, as a user that may create databases; README.md ("Testing against TimescaleDB")
shows how to start one. Every test gets fresh databases of its own, dropped afterwards,
in both shapes a deployment meets: the extension created in ``public`` beforehand (what
the official image and most DBAs do) and the extension created by ``db migrate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from citybrain import availability
from citybrain.indicators.engine import compute_all
from citybrain.indicators.model import ReportWindow
from citybrain.kernel import store
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import use_language
from citybrain.kernel.settings import Settings
from streams import rollups
from streams.ingest import Ingestor, RawMessage
from streams.sink import DeadLetter, EventSink
from tests.citybrain.indicators.synthetic import START, Shape, load
from tests.helpers import count
from tests.streams.rollup_reference import (
    latency_daily_reference,
    latency_daily_rollup,
    probe_reference,
    probe_rollup,
    same,
)

URL = os.environ.get("CITYBRAIN_TEST_TIMESCALE_URL", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not URL,
        reason="TimescaleDB tests not run: set CITYBRAIN_TEST_TIMESCALE_URL=postgresql://USER@HOST:PORT/DB"
               " (TimescaleDB 2.x preloaded, USER may create databases); README.md, 'Testing against"
               " TimescaleDB', shows how to start one"),
]

SCHEMA = "citybrain"
COMPRESSED = ("iot_events", "video_events", "cloud_events", "probe_events")  # 7 days, 400-day retention
HYPERTABLES = (*COMPRESSED, "security_events", "data_events")


@contextlib.contextmanager
def fresh_database(*, extension: bool) -> Iterator[str]:
    """A new database on the TimescaleDB server, with the extension created in public
    (as the official image's init script does) or not at all; dropped afterwards."""
    name = f"cb_ts_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo(URL, dbname=name)
        if extension:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION timescaledb")
        yield url
    finally:
        with psycopg.connect(URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["extension in public", "created by db migrate"])
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(extension=request.param == "extension in public") as url:
        yield url


def _extension_schema(db: psycopg.Connection[Any]) -> str:
    row = db.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n"
                     " ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'").fetchone()
    assert row is not None, "no timescaledb extension in the database"
    return str(row[0])


def _hypertables(db: psycopg.Connection[Any], schema: str) -> set[str]:
    return {r[0] for r in db.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = %s",
        (schema,))}


def _jobs(db: psycopg.Connection[Any], schema: str) -> dict[tuple[str, str], int]:
    """(proc_name, hypertable) -> job_id of the schema's policies."""
    return {(r[0], r[1]): int(r[2]) for r in db.execute(
        "SELECT proc_name, hypertable_name, job_id FROM timescaledb_information.jobs"
        " WHERE hypertable_schema = %s", (schema,))}


def test_migrate_takes_timescaledb_whoever_created_the_extension(database: str) -> None:
    st = store.migrate(database, SCHEMA)
    assert st.pending == [] and st.mode == "timescaledb", st
    assert st.mode_reason.startswith("extension 2.") and " in schema public" in st.mode_reason, st
    with store.connect(database, SCHEMA, autocommit=True) as db:
        # Created by db migrate: in public, where every schema of the database sees it and
        # dropping a Citybrain schema never takes it along.
        assert _extension_schema(db) == "public"
        assert _hypertables(db, SCHEMA) == set(HYPERTABLES)
        assert set(_jobs(db, SCHEMA)) == {(p, t) for t in COMPRESSED
                                          for p in ("policy_compression", "policy_retention")}
        assert db.execute("SHOW search_path").fetchone() == (f"{SCHEMA}, public",)

    # A second schema in the same database (a demo next to production, a test run).
    other = store.migrate(database, "second")
    assert other.mode == "timescaledb" and other.pending == []
    # Chosen once, kept: migrating again reads the recorded mode and its reason.
    again = store.migrate(database, SCHEMA)
    assert (again.mode, again.mode_reason) == (st.mode, st.mode_reason)
    assert store.status(database, SCHEMA) == again
    with use_language("en"), pytest.raises(StoreError, match="keeps the storage mode of its first migration"):
        store.migrate(database, SCHEMA, storage="postgresql")

    # CITYBRAIN_STORAGE=postgresql in a database that has the extension: plain tables.
    plain = store.migrate(database, "plain", storage="postgresql")
    assert (plain.mode, plain.mode_reason) == ("postgresql", "CITYBRAIN_STORAGE=postgresql")
    store.drop_schema(database, SCHEMA)
    with store.connect(database, "second", autocommit=True) as db:
        assert _extension_schema(db) == "public"
        assert _hypertables(db, "second") == set(HYPERTABLES)
        assert _hypertables(db, "plain") == set()


# --- ingest: late events into compressed chunks ------------------------------------------


def _event(family: str, tag: str, i: int, at: datetime) -> bytes:
    """Event ``tag``+``i`` of the probe or iot family (asset link-/dev- i mod 3)."""
    common = {"event_id": f"{tag}{i}", "occurred_at": at.isoformat()}
    if family == "probe":
        return orjson.dumps({**common, "asset_id": f"link-{i % 3}", "target_kind": "link", "ok": True,
                             "latency_ms": 10.0 + i, "packets_sent": 50, "packets_lost": 1})
    return orjson.dumps({**common, "asset_id": f"dev-{i % 3}", "status": "ok", "battery_pct": 80.0})


def _ingest(settings: Settings, url: str, family: str, values: list[bytes], first_offset: int,
            now: datetime) -> tuple[int, int, list[DeadLetter]]:
    """One batch through the real ingest step (decode, validate, COPY, ON CONFLICT)."""
    dead: list[DeadLetter] = []

    async def go() -> tuple[int, int]:
        async def to_dlq(items: Any) -> None:
            dead.extend(items)

        ing = Ingestor(family, settings, EventSink(url, settings.database_schema, family),
                       dead_letter=to_dlq, clock=lambda: now)
        try:
            report = await ing.commit(await ing.prepare(
                [RawMessage(settings.topic(family), 0, first_offset + i, v) for i, v in enumerate(values)]))
        finally:
            await ing.sink.close()
        return report.write.inserted, report.write.duplicates

    inserted, duplicates = asyncio.run(go())
    return inserted, duplicates, dead


def _compressed_chunks(db: psycopg.Connection[Any], table: str) -> dict[str, bool]:
    return {r[0]: r[1] for r in db.execute(
        "SELECT chunk_name, is_compressed FROM timescaledb_information.chunks"
        " WHERE hypertable_schema = current_schema() AND hypertable_name = %s", (table,))}


def test_late_events_are_stored_into_compressed_chunks(database: str) -> None:
    store.migrate(database, SCHEMA)
    with store.connect(database, SCHEMA, autocommit=True) as db:
        # This test compresses the chunks itself; the scheduler's policies (their own test
        # below) would race it for the same chunks ("already compressed").
        db.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
                   " WHERE hypertable_schema = current_schema()")
    settings = Settings(database_url=database, database_schema=SCHEMA)
    now = datetime.now(UTC)
    ages = [timedelta(days=d, hours=h) for d in (399, 200, 30, 8) for h in (1, 5)]
    for family in ("probe", "iot"):
        first = [_event(family, "a", i, now - age) for i, age in enumerate(ages)]
        assert _ingest(settings, database, family, first, 0, now)[:2] == (len(first), 0)

    compressed: dict[str, dict[str, bool]] = {}
    with store.connect(database, SCHEMA, autocommit=True) as db:
        for table in ("probe_events", "iot_events"):
            for _ in db.execute(sql.SQL("SELECT compress_chunk(c) FROM show_chunks({}, older_than"
                                        " => INTERVAL '7 days') c").format(sql.Literal(table))):
                pass
            compressed[table] = _compressed_chunks(db, table)
            assert len(compressed[table]) >= 4 and all(compressed[table].values()), compressed

    # Late events land in those compressed chunks (399 days old is within the 400 days
    # accepted); a replay of stored events is recognised there as duplicates; 401 days
    # old is dead-lettered.
    for family in ("probe", "iot"):
        late = [_event(family, "b", i, now - age - timedelta(minutes=30)) for i, age in enumerate(ages)]
        replay = [_event(family, "a", i, now - age) for i, age in enumerate(ages)]
        too_old = [_event(family, "c", 0, now - timedelta(days=401))]
        inserted, duplicates, dead = _ingest(settings, database, family, late + replay + too_old, 100, now)
        assert (inserted, duplicates) == (len(late), len(replay))
        assert len(dead) == 1, dead

    with store.connect(database, SCHEMA, autocommit=True) as db:
        assert count(db, "SELECT count(*) FROM probe_events") == 2 * len(ages)
        assert count(db, "SELECT count(*) FROM iot_events") == 2 * len(ages)
        # Into the same chunks, still compressed (TimescaleDB 2.x writes into compressed chunks).
        assert {t: _compressed_chunks(db, t) for t in compressed} == compressed
        # The rollups the ingest path maintains took in the late rows, once.
        assert same(probe_rollup(db), probe_reference(db))
        assert latency_daily_rollup(db) == latency_daily_reference(db, ZoneInfo("Asia/Shanghai"))
        assert count(db, "SELECT sum(events) FROM liveness_dirty WHERE feed = 'iot'") == 2 * len(ages)


# --- the scheduler's retention and compression jobs --------------------------------------


def _wait_for_jobs(db: psycopg.Connection[Any], jobs: list[int], since: datetime,
                   timeout: float = 90.0) -> dict[int, tuple[Any, ...]]:
    """Until every job finished a run successfully after ``since`` (the scheduler retries
    a failed or unstarted run), or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        stats = {int(r[0]): tuple(r[1:]) for r in db.execute(
            "SELECT job_id, last_successful_finish, last_run_status, total_failures"
            " FROM timescaledb_information.job_stats WHERE job_id = ANY(%s)", (jobs,))}
        if all(j in stats and stats[j][0] is not None and stats[j][0] > since for j in jobs):
            return stats
        if time.monotonic() > deadline:
            errors = db.execute("SELECT job_id, err_message FROM timescaledb_information.job_errors"
                                " WHERE job_id = ANY(%s) ORDER BY finish_time DESC LIMIT 5",
                                (jobs,)).fetchall()
            raise AssertionError(f"jobs did not all succeed within {timeout:.0f} s: {stats}; {errors}")
        time.sleep(0.5)


def test_the_scheduler_runs_the_retention_and_compression_jobs(database: str) -> None:
    store.migrate(database, SCHEMA)
    now = datetime.now(UTC)
    with store.connect(database, SCHEMA, autocommit=True) as db:
        for table in HYPERTABLES:
            cols = {"iot_events": "kind, status", "video_events": "online",
                    "cloud_events": "kind", "probe_events": "target_kind, ok",
                    "security_events": "source, category, level",
                    "data_events": "action"}[table]
            vals = {"iot_events": "'heartbeat', 'ok'", "video_events": "true", "cloud_events": "'usage'",
                    "probe_events": "'link', true", "security_events": "'ids', 'intrusion', 'II'",
                    "data_events": "'updated'"}[table]
            db.execute(sql.SQL(
                "INSERT INTO {} (occurred_at, event_id, asset_id, " + cols + ")"
                " SELECT %(now)s - d * INTERVAL '1 day', 'e' || d, 'a-1', " + vals +
                " FROM unnest(ARRAY[420, 30, 0]) d").format(sql.Identifier(table)), {"now": now})
        jobs = _jobs(db, SCHEMA)
        ids = sorted(jobs.values())
        started = db.execute("SELECT now()").fetchone()
        assert started is not None
        for job in ids:
            db.execute("SELECT alter_job(%s, schedule_interval => INTERVAL '5 seconds',"
                       " retry_period => INTERVAL '1 second', next_start => now())", (job,))
        stats = _wait_for_jobs(db, ids, started[0])

        for table in COMPRESSED:
            # Retention dropped the 420-day-old chunk; compression took the 30-day-old one.
            ages = sorted(r[0] for r in db.execute(sql.SQL(
                "SELECT round(extract(epoch FROM %s - occurred_at) / 86400) FROM {}").format(
                    sql.Identifier(table)), (now,)))
            assert ages == [0, 30], (table, ages, stats)
            chunks = db.execute(
                "SELECT range_end < now() - INTERVAL '7 days', is_compressed"
                " FROM timescaledb_information.chunks"
                " WHERE hypertable_schema = current_schema() AND hypertable_name = %s", (table,)).fetchall()
            assert sorted(chunks) == [(False, False), (True, True)], (table, chunks)
        for table in ("security_events", "data_events"):  # kept: no retention, no compression
            stored = db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            assert stored == (3,), table


# --- rollups, availability facts and every indicator, against plain PostgreSQL -----------

SMALL = Shape(devices=300, gateways=20, cameras=100, links=10, portals=10, systems=10, cloud_hosts=10,
              datasets=20, departments=6, districts=3, days=10, incidents=300, security_events=200,
              lifecycle_every=50)


def _load(database: str, schema: str, storage: store.Storage) -> None:
    st = store.migrate(database, schema, storage=storage)
    assert st.mode == ("postgresql" if storage == "postgresql" else "timescaledb")
    with store.connect(database, schema, autocommit=True) as conn:
        load(conn, SMALL)


def _snapshot(database: str, schema: str, window: ReportWindow) -> dict[str, Any]:
    with store.connect(database, schema, autocommit=True) as conn:
        rollups.rebuild(conn, window.start - timedelta(days=1), window.end + timedelta(days=1))
        facts = availability.refresh(conn, window.start, window.end, force=True)
        assert len(facts.days) == SMALL.days and facts.rows > 0, facts
        tables = {t: conn.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2, 3").format(
            sql.Identifier(t))).fetchall()
            for t in ("probe_hourly", "cloud_hourly", "probe_latency_daily", "availability_daily")}
        results = compute_all(conn, window, now=window.end)
        by_department = compute_all(conn, window, department="dept-2", workers=3, now=window.end)
    return {"tables": tables,
            "indicators": {r.indicator.id: (r.figure, r.breakdowns) for r in results},
            "dept-2": {r.indicator.id: (r.figure, r.breakdowns) for r in by_department}}


def test_rollups_availability_and_every_indicator_agree_with_plain_postgresql(database: str) -> None:
    window = ReportWindow(START, START + timedelta(days=SMALL.days), ZoneInfo("Asia/Shanghai"))
    _load(database, SCHEMA, "auto")
    _load(database, "plain", "postgresql")
    with store.connect(database, SCHEMA, autocommit=True) as db:
        # The window is months old: every chunk of the compressed tables is compressed,
        # as the policy leaves them, before anything reads them.
        for table in COMPRESSED:
            for _ in db.execute(sql.SQL("SELECT compress_chunk(c, if_not_compressed => true)"
                                        " FROM show_chunks({}) c").format(sql.Literal(table))):
                pass
        assert count(db, "SELECT count(*) FROM timescaledb_information.chunks"
                         " WHERE hypertable_schema = current_schema() AND NOT is_compressed"
                         " AND hypertable_name = ANY(%s)", list(COMPRESSED)) == 0

    timescale = _snapshot(database, SCHEMA, window)
    plain = _snapshot(database, "plain", window)
    assert timescale["tables"] == plain["tables"]
    assert timescale["indicators"].keys() == plain["indicators"].keys()
    for key in ("indicators", "dept-2"):
        for indicator, (figure, breakdowns) in plain[key].items():
            assert timescale[key][indicator] == (figure, breakdowns), (key, indicator)
    # Not vacuous: the city is loaded and most figures have a value.
    valued = [i for i, (f, _) in timescale["indicators"].items() if f.value is not None]
    assert len(valued) >= len(timescale["indicators"]) - 2, timescale["indicators"]


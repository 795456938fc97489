"""The differential test with real processes: the real broker, real workers, the real
database, and the faults production brings — a second worker joining (a rebalance), the
deriving worker SIGKILLed mid-ingest, the database unreachable for 8 s. The intervals,
gaps, states and report bytes must equal those of the same events stored and derived in
event-time order in one process (test_derivation.py's reference delivery)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from citybrain.kernel import store
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from streams.derivation import FEED_EVIDENCE
from streams.topics import ensure_topics
from tests.helpers import CuttableProxy, produce, stop, wait_for, worker_env
from tests.streams.test_derivation import (
    city,
    day_messages,
    outcome,
    reference_outcome,
    settings_for,
)

OUTAGE_S = 8.0


def _worker(settings: Settings, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = worker_env(settings, CITYBRAIN_DATABASE_URL=url,
                     CITYBRAIN_LIVENESS_LATENESS_SECONDS=str(settings.liveness_lateness_seconds),
                     CITYBRAIN_LIVENESS_IDLE_SOURCE_SECONDS="1", CITYBRAIN_DB_RETRY_MAX_SECONDS="1")
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "citybrain", "worker"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _stored(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets").fetchone()
    return int(row[0]) if row else 0


def _settled(db: psycopg.Connection[Any]) -> bool:
    """Every feed's derivation has folded up to its latest stored event."""
    for feed, (table, _) in FEED_EVIDENCE.items():
        latest = db.execute(sql.SQL("SELECT max(occurred_at) FROM {}").format(sql.Identifier(table))
                            ).fetchone()
        mark = db.execute("SELECT watermark FROM feed_watermarks WHERE feed = %s", (feed,)).fetchone()
        if latest and latest[0] is not None and (mark is None or mark[0] < latest[0]):
            return False
    return True


@pytest.mark.integration
def test_workers_killed_rebalanced_and_cut_off_derive_what_one_process_derives(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    messages = day_messages()
    reference = reference_outcome(settings, database_url)

    live = settings_for(settings, settings.database_schema)
    with store.connect(database_url, live.database_schema, autocommit=True) as db:
        import_registry(db, city().registry)
        boot = live.kafka_bootstrap or ""
        asyncio.run(ensure_topics(boot, live))
        proxy = CuttableProxy(database_url)
        log = tmp_path / "workers.log"
        procs: list[subprocess.Popen[bytes]] = []
        total = len(messages)
        parts = [messages[i * total // 10:(i + 1) * total // 10] for i in range(10)]
        produced = [0]

        def send(part: int) -> None:
            batch = parts[part]
            asyncio.run(_send(boot, live, batch))
            produced[0] += len(batch)

        def grows(before: int) -> bool:
            return _stored(db) > before

        try:
            procs.append(_worker(live, proxy.url, log))  # worker A
            send(0)
            send(1)
            wait_for(lambda: _stored(db) > 0, what="worker A stores", alive=procs[0], log=log)
            procs.append(_worker(live, proxy.url, log))  # worker B joins: a rebalance
            send(2)
            send(3)
            # The derivation has started — a deriver's connection holds its advisory lock (its
            # connection may exist a moment before it takes the lock, so that is waited for,
            # not read once); kill the worker that holds it, mid-ingest.
            wait_for(lambda: db.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE l.locktype = 'advisory' AND a.application_name LIKE %s",
                (f"citybrain-liveness {live.database_schema}:%",)).fetchone() != (0,),
                what="a deriver holding its lock", log=log)
            def send_both() -> None:
                send(4)
                send(5)

            sender = threading.Thread(target=send_both)
            sender.start()
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(10)
            sender.join()
            before = _stored(db)
            wait_for(lambda: grows(before), what="worker B takes over", alive=procs[1], log=log)
            # The database goes away while events keep arriving, for OUTAGE_S: twice the
            # broker session timeout (4 s) and several of the worker's retries (at most
            # 1 s apart, CITYBRAIN_DB_RETRY_MAX_SECONDS).
            proxy.cut()
            send(6)
            send(7)
            time.sleep(OUTAGE_S)
            proxy.restore()
            send(8)
            send(9)
            wait_for(lambda: _stored(db) >= produced[0], timeout=240, what="every message stored",
                     alive=procs[1], log=log)
            wait_for(lambda: _settled(db), timeout=240, what="the derivation settles",
                     alive=procs[1], log=log)
        finally:
            for proc in procs:
                stop(proc)
            proxy.close()
        got = outcome(database_url, live.database_schema)
    text = log.read_text(errors="replace")
    assert "database unavailable" in text  # the outage was felt, and waited out
    for part in ("intervals", "gaps", "states", "watermarks"):
        assert got[part] == reference[part], f"{part} differ"
    assert got["report"] == reference["report"]


async def _send(boot: str, settings: Settings, batch: list[Any]) -> None:
    by_topic: dict[str, list[tuple[bytes | None, bytes]]] = {}
    for m in batch:
        by_topic.setdefault(settings.topic(m.family), []).append((m.key, m.value))
    for topic, msgs in by_topic.items():
        await produce(boot, topic, msgs)

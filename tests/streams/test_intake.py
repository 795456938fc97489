"""The ingest topics' intake (streams/intake.py): bounded, cleared on a rebalance, and
acknowledging only what the database committed, so the offsets faust commits to the
broker follow the stored batches.

The buffer on its own first (no broker), then a real worker, broker and database with
the database held back: the worker must stop fetching (its memory stays bounded while the
backlog grows) and commit no offset to the broker until the rows are committed."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from citybrain.kernel import store
from citybrain.kernel.settings import Settings
from streams.intake import Intake, weigh
from streams.topics import ensure_topics
from tests.helpers import committed, count, produce, running_worker, wait_for

GUARD = 5.0


@dataclass(frozen=True)
class Record:
    """The broker client's record, as far as the intake reads it."""

    offset: int
    serialized_value_size: int


def records(first: int, n: int, size: int = 10) -> list[Record]:
    return [Record(first + i, size) for i in range(n)]


async def test_the_intake_is_full_at_its_message_or_byte_bound_and_frees_room_as_it_is_read() -> None:
    intake = Intake(limit=5, limit_bytes=1000)
    intake.put(records(0, 3))
    assert not intake.full()
    await asyncio.wait_for(intake.room(), GUARD)  # room: returns at once
    intake.put(records(3, 3))  # 6 messages: the fetch that crosses the bound is taken whole
    assert intake.full() and intake.size == 6
    waiting = asyncio.create_task(intake.room())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the consumer waits: nothing more is fetched
    it = intake.chunks().__aiter__()
    assert len(await it.__anext__()) == 3  # the agent takes the first fetch: 3 left
    await asyncio.wait_for(waiting, GUARD)
    assert not intake.full()

    by_bytes = Intake(limit=1000, limit_bytes=100)
    by_bytes.put(records(0, 2, size=60))  # 2 messages, 120 bytes
    assert by_bytes.full() and by_bytes.bytes == 120 == weigh(records(0, 2, size=60))


async def test_clearing_the_intake_drops_its_messages_and_frees_room() -> None:
    # faust's flow control clears it on a rebalance (streams/intake.py, App.intake): the
    # broker delivers those messages again from the committed offsets.
    intake = Intake(limit=4, limit_bytes=1000)
    intake.put(records(0, 4))
    waiting = asyncio.create_task(intake.room())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    intake.clear()
    await asyncio.wait_for(waiting, GUARD)
    assert intake.size == 0 and intake.bytes == 0
    intake.put(records(10, 1))
    it = intake.chunks().__aiter__()
    assert [r.offset for r in await it.__anext__()] == [10]  # nothing of before the clear


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.integration
def test_a_held_database_stops_fetching_and_committing_and_nothing_is_lost(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))
    # Security events with a long title: ~1 KiB messages, the backlog's bytes are what
    # the bound is about (the family does not matter to the intake).
    topic = settings.topic("security")
    title = "x" * 450

    def singles(prefix: str, n: int) -> list[tuple[bytes, bytes]]:
        t = now - timedelta(hours=1)
        return [(f"host-{i % 20}".encode(), orjson.dumps({
            "event_id": f"{prefix}{i}", "asset_id": f"host-{i % 20}", "source": "ids",
            "occurred_at": (t + timedelta(milliseconds=i)).isoformat(), "category": "intrusion",
            "level": "IV", "title": title, "details": {"note": title}})) for i in range(n)]

    first = singles("a", 200)
    backlog = singles("b", 120_000)  # ~120 MiB
    log = tmp_path / "worker.log"
    # Small batches and buffers: the bound under test is 4 batches' bytes (4 × 256 KiB)
    # per topic, plus one batch decoding, one committing and the client's fetches.
    with running_worker(settings, log, CITYBRAIN_BATCH_MAX_MESSAGES="500",
                        CITYBRAIN_BATCH_MAX_BYTES=str(256 << 10)) as proc:
        asyncio.run(produce(boot, topic, first))
        wait_for(lambda: asyncio.run(committed(boot, settings.consumer_group, topic)) == 200,
                 what="the first messages stored and their offsets committed", alive=proc, log=log)
        assert count(db, "SELECT count(*) FROM security_events") == 200
        before = _rss_kib(proc.pid)

        # The database is held: every batch's transaction waits for the offsets table.
        holder = store.connect(settings.database_url or "", settings.database_schema)
        holder.execute("LOCK TABLE ingest_offsets IN ACCESS EXCLUSIVE MODE")
        try:
            sender = threading.Thread(target=lambda: asyncio.run(produce(boot, topic, backlog)))
            sender.start()
            sender.join()
            peak = before
            for _ in range(20):  # 5 s after the whole backlog is in the broker
                peak = max(peak, _rss_kib(proc.pid))
                threading.Event().wait(0.25)
            assert proc.poll() is None
            # Nothing was committed to the broker past the stored rows.
            assert asyncio.run(committed(boot, settings.consumer_group, topic)) == 200
            # The worker holds a bounded part of the 120 MiB backlog, not all of it.
            grown_mib = (peak - before) / 1024
            assert grown_mib < 60, f"worker grew by {grown_mib:.0f} MiB with the database held"
        finally:
            holder.rollback()
            holder.close()
        total = len(first) + len(backlog)
        wait_for(lambda: count(db, "SELECT sum(next_offset) FROM ingest_offsets") == total,
                 timeout=240, what="the backlog stored", alive=proc, log=log)
        wait_for(lambda: asyncio.run(committed(boot, settings.consumer_group, topic)) == total,
                 what="the backlog's offsets committed", alive=proc, log=log)
    assert count(db, "SELECT count(*) FROM security_events") == total
    assert count(db, "SELECT count(*) FROM dead_letters") == 0

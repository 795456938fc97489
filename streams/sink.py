"""Batch writer: one transaction per batch, retried until the database takes it.

Rows are COPYed (binary) into a temporary staging table and moved with ``INSERT ...
ON CONFLICT DO NOTHING`` on the (occurred_at, event_id) identity, so a replayed
partition or a producer retry is stored once. The same transaction records dead
letters, counts events from unregistered sources and advances the applied offset of
each (topic, partition): a message below it is already stored and is skipped.

While the database is unreachable the writer waits and retries with capped back-off;
it never drops a batch and never acknowledges one the database has not committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from citybrain.kernel import metrics
from citybrain.kernel.store import connect_async
from schemas.events import MODELS, TABLES
from schemas.registry import LIVENESS_FEED
from streams import rollups
from streams.facts import FactDeriver

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]
A = TypeVar("A")
R = TypeVar("R")


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    item_index: int | None
    reason: str
    raw: bytes


@dataclass
class Batch:
    family: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    # Liveness feeds: the latest event time per source partition (the derivation's
    # horizon is the slowest partition still delivering).
    marks: dict[TopicPartition, datetime] = field(default_factory=dict)
    # Set once the rows are in the staging table: what remains of the write is database
    # work, so the caller can start decoding the next batch without starving the COPY.
    staged: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int
    dead_lettered: int
    attempts: int


class EventSink:
    """One database connection per family agent; reconnects after an outage."""

    def __init__(self, url: str, schema: str, family: str, *, retry_max_seconds: float = 10.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 facts: FactDeriver | None = None) -> None:
        self.url = url
        self.schema = schema
        self.family = family
        self.table = TABLES[family]
        self.columns = MODELS[family].COLUMNS
        self.retry_max_seconds = retry_max_seconds
        self._sleep = sleep
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._types: list[str] = []
        self._applied: dict[TopicPartition, int] = {}
        self._stage = f"stage_{family}"
        # Work orders and ratings: the facts of the subjects this batch touched, recomputed
        # from all their stored events in the same transaction (streams/facts.py).
        self._facts = facts
        # Probe and cloud batches also add the rows they store to their hourly rollup (and
        # probes to the daily latency histograms), in the same statement: only rows
        # actually inserted (RETURNING skips duplicates) are added, and they commit or roll
        # back with the rows and the offsets.
        self._rollup: sql.Composable = rollups.ingest_ctes(family, "ins")
        self._returning = sql.SQL(", ").join(
            map(sql.Identifier, rollups.INGEST_COLUMNS.get(family, ("asset_id", "occurred_at"))))
        # Liveness feeds record what the batch added (its event-time range) for the
        # derivation, with the rows: a range behind the derivation's cursor is late
        # evidence, folded again from a checkpoint (streams/derivation.py).
        self._dirty: sql.Composable = sql.SQL(
            " dirty AS (INSERT INTO liveness_dirty (feed, lo, hi, events)"
            " SELECT {}, min(occurred_at), max(occurred_at), count(*) FROM ins"
            " HAVING count(*) > 0 RETURNING 1),"
        ).format(sql.Literal(family)) if family in set(LIVENESS_FEED.values()) else sql.SQL("")

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = await connect_async(self.url, self.schema)
        # occurred_at is staged as text (rows carry it as RFC 3339 text, see
        # streams.decode.Columns) and cast when moved into the table.
        assert self.columns[0] == "occurred_at"
        await conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS"
                " AS SELECT occurred_at::text AS occurred_at, {rest} FROM {table} LIMIT 0"
            ).format(
                stage=sql.Identifier(self._stage),
                rest=sql.SQL(", ").join(map(sql.Identifier, self.columns[1:])),
                table=sql.Identifier(self.table),
            )
        )
        cur = await conn.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY a.attnum",
            (self._stage,),
        )
        self._types = [r[0] for r in await cur.fetchall()]
        assert len(self._types) == len(self.columns)
        await conn.commit()
        self._conn = conn
        return conn

    async def applied_offset(self, tp: TopicPartition) -> int:
        """The next offset not yet stored for ``tp`` (0 when none is)."""
        if tp not in self._applied:
            self._applied[tp] = await self._with_retry(self._read_offset, tp)
        return self._applied[tp]

    async def _read_offset(self, _: psycopg.AsyncConnection[Any], tp: TopicPartition) -> int:
        # A connection of its own: the batch connection may be mid-transaction, since the
        # next batch is prepared while the previous one commits.
        async with await connect_async(self.url, self.schema) as conn:
            cur = await conn.execute(
                "SELECT next_offset FROM ingest_offsets WHERE topic = %s AND partition = %s", tp
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    def forget_offsets(self) -> None:
        """Partitions moved to another worker: read applied offsets afresh next time."""
        self._applied.clear()

    async def write(self, batch: Batch) -> WriteResult:
        attempts = 0

        async def once(conn: psycopg.AsyncConnection[Any], _: None) -> WriteResult:
            nonlocal attempts
            attempts += 1
            with metrics.BATCH_WRITE_SECONDS.labels(self.family).time():
                return await self._write_once(conn, batch, attempts)

        result = await self._with_retry(once, None)
        for tp, nxt in batch.next_offsets.items():
            self._applied[tp] = max(self._applied.get(tp, 0), nxt)
        return result

    async def _write_once(
        self, conn: psycopg.AsyncConnection[Any], batch: Batch, attempts: int
    ) -> WriteResult:
        inserted = 0
        async with conn.transaction():
            if batch.rows:
                cols = sql.SQL(", ").join(map(sql.Identifier, self.columns))
                copy_sql = sql.SQL("COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)").format(
                    stage=sql.Identifier(self._stage), cols=cols
                )
                async with conn.cursor() as cur:
                    async with cur.copy(copy_sql) as copy:
                        copy.set_types(self._types)
                        for row in batch.rows:
                            await copy.write_row(row)
                    batch.staged.set()
                    await cur.execute(
                        sql.SQL(
                            "WITH ins AS ("
                            " INSERT INTO {table} ({cols})"
                            " SELECT occurred_at::timestamptz, {rest} FROM {stage}"
                            " ON CONFLICT (occurred_at, event_id) DO NOTHING"
                            " RETURNING {returning}),{rollup}{dirty}"
                            " unreg AS ("
                            " INSERT INTO unregistered_sources"
                            " (asset_id, family, first_seen, last_seen, events)"
                            " SELECT i.asset_id, %s, min(i.occurred_at), max(i.occurred_at),"
                            " count(*) FROM ins i"
                            " WHERE NOT EXISTS (SELECT 1 FROM assets a WHERE a.asset_id = i.asset_id)"
                            " GROUP BY i.asset_id"
                            " ON CONFLICT (asset_id, family) DO UPDATE SET"
                            " first_seen = least(unregistered_sources.first_seen, excluded.first_seen),"
                            " last_seen = greatest(unregistered_sources.last_seen, excluded.last_seen),"
                            " events = unregistered_sources.events + excluded.events"
                            " RETURNING 1)"
                            " SELECT count(*) FROM ins"
                        ).format(table=sql.Identifier(self.table), cols=cols,
                                 returning=self._returning, rollup=self._rollup, dirty=self._dirty,
                                 rest=sql.SQL(", ").join(map(sql.Identifier, self.columns[1:])),
                                 stage=sql.Identifier(self._stage)),
                        (self.family,),
                    )
                    counted = await cur.fetchone()
                    inserted = int(counted[0]) if counted else 0
                    if self._facts is not None and inserted:
                        await self._facts(cur, self._stage)
            if batch.dead:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        'INSERT INTO dead_letters (topic, partition, "offset", item_index, reason, raw)'
                        " VALUES (%s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (topic, partition, \"offset\", item_index) DO NOTHING",
                        [(d.topic, d.partition, d.offset, d.item_index, d.reason, d.raw)
                         for d in batch.dead],
                    )
            if batch.next_offsets:
                marks = batch.marks
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO ingest_offsets (topic, partition, next_offset, updated_at,"
                        " mark, marked_at) SELECT %s, %s, %s, now(), m,"
                        " CASE WHEN m IS NULL THEN NULL ELSE now() END"
                        " FROM (SELECT %s::timestamptz) AS v(m)"
                        " ON CONFLICT (topic, partition) DO UPDATE SET"
                        " next_offset = greatest(ingest_offsets.next_offset, excluded.next_offset),"
                        " updated_at = now(),"
                        " mark = greatest(ingest_offsets.mark, excluded.mark),"
                        " marked_at = coalesce(excluded.marked_at, ingest_offsets.marked_at)",
                        # In (topic, partition) order, as the worker's highwater upsert takes
                        # the same rows: one order for both, so they never deadlock.
                        [(t, p, o, marks.get((t, p))) for (t, p), o in sorted(batch.next_offsets.items())],
                    )
        return WriteResult(
            inserted=inserted,
            duplicates=len(batch.rows) - inserted,
            dead_lettered=len(batch.dead),
            attempts=attempts,
        )

    async def _with_retry(
        self, fn: Callable[[psycopg.AsyncConnection[Any], A], Awaitable[R]], arg: A
    ) -> R:
        delay = 0.1
        while True:
            try:
                conn = await self._connection()
                return await fn(conn, arg)
            except psycopg.OperationalError as exc:
                # Connection-level failure: the database is down or restarting. Wait and
                # retry the whole batch; nothing has been acknowledged to the broker.
                metrics.DB_RETRIES.labels(self.family).inc()
                log.warning("database unavailable for %s (%s); retrying in %.1fs",
                            self.family, str(exc).strip().splitlines()[0] if str(exc) else exc,
                            delay)
                await self._discard()
                await self._sleep(delay)
                delay = min(delay * 2, self.retry_max_seconds)

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def close(self) -> None:
        await self._discard()

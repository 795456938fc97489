"""Integration: the sink's retry (streams/sink.py) against the real PostgreSQL.

While the database is unreachable, cuts a connection or cancels a statement, the sink
waits (with back-off doubling to a cap) and writes the whole batch again on a fresh
connection: nothing is dropped, nothing is stored twice, and a failed attempt leaves
nothing behind. An error that is not an outage is raised at once. The failures are
real: a port where nothing listens, a backend terminated or a statement cancelled from
another connection, a connection lost right after the server committed. The sink's
``sleep`` is the test's: it records each wait and brings the database back; nothing
here waits for real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from citybrain.kernel.store import connect_async
from streams.sink import Batch, DeadLetter, EventSink, TopicPartition
from tests.helpers import CuttableProxy

TOPIC = "citybrain.iot"
TP: TopicPartition = (TOPIC, 0)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GUARD = 10.0  # seconds: a guard against a hang, never an assertion about speed


def iot_rows(first: int, n: int, asset: str | None = "dev-1") -> list[tuple[Any, ...]]:
    """iot rows in the sink's column order (occurred_at as RFC 3339 text)."""
    return [((T0 + timedelta(seconds=i)).isoformat(), f"e{i}", asset, "heartbeat", "ok",
             None, None, None, None, None) for i in range(first, first + n)]


def batch(first: int, n: int, *, next_offset: int) -> Batch:
    """``n`` events from offsets before ``next_offset`` and one dead letter among them."""
    return Batch(
        "iot", rows=iot_rows(first, n),
        dead=[DeadLetter(TOPIC, 0, next_offset - 1, None, "invalid JSON", b"{oops")],
        next_offsets={TP: next_offset},
        marks={TP: T0 + timedelta(seconds=first + n - 1)},
    )


def stored_once(first: int, n: int, *, next_offset: int, dead: int) -> dict[str, Any]:
    """What writing events ``first..first+n-1`` exactly once leaves in the database."""
    return {
        "events": [(f"e{i}", 1) for i in sorted(range(first, first + n), key=lambda i: f"e{i}")],
        "dead_letters": dead,
        "offsets": [(TOPIC, 0, next_offset)],
        "unregistered": [("dev-1", "iot", n)],
    }


async def stored(admin: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    async def rows(query: str) -> list[tuple[Any, ...]]:
        cur = await admin.execute(query)
        return await cur.fetchall()

    dead = await rows("SELECT count(*) FROM dead_letters")
    return {
        "events": await rows("SELECT event_id, count(*) FROM iot_events GROUP BY 1 ORDER BY 1"),
        "dead_letters": dead[0][0],
        "offsets": await rows("SELECT topic, partition, next_offset FROM ingest_offsets"),
        "unregistered": await rows("SELECT asset_id, family, events FROM unregistered_sources"),
    }


async def dirty(admin: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
    cur = await admin.execute("SELECT feed, lo, hi, events FROM liveness_dirty ORDER BY id")
    return await cur.fetchall()


NOTHING = {"events": [], "dead_letters": 0, "offsets": [], "unregistered": []}


class Waits:
    """The sink's ``sleep``: records each delay and runs the test's step for that wait."""

    def __init__(self, step: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.delays: list[float] = []
        self._step = step

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self._step is not None:
            await self._step(len(self.delays))


@pytest.fixture
async def admin(database_url: str, schema: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    conn = await connect_async(database_url, schema)
    await conn.set_autocommit(True)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def proxy(database_url: str) -> Iterator[CuttableProxy]:
    p = CuttableProxy(database_url)
    try:
        yield p
    finally:
        p.close()


async def test_a_database_down_is_waited_for_with_capped_backoff_and_the_batch_stored_once(
    schema: str, admin: psycopg.AsyncConnection[Any], proxy: CuttableProxy
) -> None:
    proxy.cut()  # nothing listens on the sink's port: every connect is refused

    async def step(n: int) -> None:
        assert await stored(admin) == NOTHING
        if n == 6:
            proxy.restore()

    waits = Waits(step)
    sink = EventSink(proxy.url, schema, "iot", retry_max_seconds=1.0, sleep=waits)
    try:
        result = await asyncio.wait_for(sink.write(batch(0, 5, next_offset=6)), GUARD)
    finally:
        await sink.close()
    assert waits.delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert result.attempts == 1  # attempts count writes on a connection: one, once it was back
    assert (result.inserted, result.duplicates, result.dead_lettered) == (5, 0, 1)
    assert await stored(admin) == stored_once(0, 5, next_offset=6, dead=1)
    assert await dirty(admin) == [("iot", T0, T0 + timedelta(seconds=4), 5)]


async def test_the_applied_offset_is_read_once_the_database_is_back(
    database_url: str, schema: str, proxy: CuttableProxy
) -> None:
    first = EventSink(database_url, schema, "iot")
    try:
        await first.write(batch(0, 3, next_offset=4))
    finally:
        await first.close()
    proxy.cut()

    async def step(n: int) -> None:
        if n == 3:
            proxy.restore()

    waits = Waits(step)
    sink = EventSink(proxy.url, schema, "iot", sleep=waits)
    try:
        # A worker that took the partition over while the database was down must not
        # guess 0 (it would store nothing twice, but must not skip either): it waits.
        assert await asyncio.wait_for(sink.applied_offset(TP), GUARD) == 4
    finally:
        await sink.close()
    assert waits.delays == pytest.approx([0.1, 0.2, 0.4])


async def _blocked_by(admin: psycopg.AsyncConnection[Any], blocker_pid: int) -> int:
    """The sink's backend, waiting in its INSERT for a lock ``blocker_pid`` holds (polled
    until it waits; the timeout is a guard, not a timing check)."""
    async def poll() -> int:
        while True:
            cur = await admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
                " AND query LIKE 'WITH ins AS (%%'", (blocker_pid,))
            row = await cur.fetchone()
            if row is not None:
                return int(row[0])
            await asyncio.sleep(0.01)
    return await asyncio.wait_for(poll(), GUARD)


@pytest.mark.parametrize("cut", ["pg_terminate_backend", "pg_cancel_backend"])
async def test_a_write_cut_off_mid_transaction_is_retried_whole_on_a_new_connection(
    cut: str, database_url: str, schema: str, admin: psycopg.AsyncConnection[Any]
) -> None:
    # Another session holds a lock the batch's INSERT needs: the attempt has sent its rows
    # (staged) and waits there when its backend is terminated (a restart, a failover) or
    # its statement cancelled (an operator, a statement timeout).
    blocker = await connect_async(database_url, schema)
    await blocker.execute("LOCK TABLE iot_events IN SHARE MODE")
    left_behind: list[dict[str, Any]] = []

    async def step(n: int) -> None:
        left_behind.append(await stored(admin))
        await blocker.rollback()  # the lock goes away; the retry can go through

    waits = Waits(step)
    sink = EventSink(database_url, schema, "iot", sleep=waits)
    try:
        first = batch(0, 5, next_offset=6)
        write = asyncio.create_task(sink.write(first))
        await asyncio.wait_for(first.staged.wait(), GUARD)
        victim = await _blocked_by(admin, blocker.info.backend_pid)
        cur = await admin.execute(f"SELECT {cut}(%s)", (victim,))
        assert await cur.fetchone() == (True,)
        result = await asyncio.wait_for(write, GUARD)
        assert left_behind == [NOTHING]  # the failed attempt rolled back entirely
        assert waits.delays == pytest.approx([0.1])
        assert (result.attempts, result.inserted, result.duplicates) == (2, 5, 0)
        assert await stored(admin) == stored_once(0, 5, next_offset=6, dead=1)
        # The new connection (and its staging table) takes the next batch at once.
        second = await asyncio.wait_for(sink.write(batch(5, 3, next_offset=10)), GUARD)
        assert (second.attempts, second.inserted) == (1, 3)
    finally:
        await sink.close()
        await blocker.close()
    assert await stored(admin) == stored_once(0, 8, next_offset=10, dead=2)
    assert waits.delays == pytest.approx([0.1])


class CommitAnswerLost:
    """A TCP proxy in front of the database. Once armed, it passes the next COMMIT to the
    server, waits for the server's answer (the transaction is committed by then) and cuts
    the connection instead of passing the answer on: the client cannot tell whether its
    commit happened, the one case where a retry meets its own rows."""

    def __init__(self, database_url: str) -> None:
        self._params = conninfo_to_dict(database_url)
        host = str(self._params.get("host") or "127.0.0.1")
        port = int(self._params.get("port") or 5432)
        self._target: tuple[str, int] | str = (
            f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.armed = False
        self.answers_lost = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        params = {k: v for k, v in self._params.items() if k not in ("host", "port")}
        return make_conninfo("", host="127.0.0.1", port=str(self.port), **params)

    async def close(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if isinstance(self._target, str):
            up_r, up_w = await asyncio.open_unix_connection(self._target)
        else:
            up_r, up_w = await asyncio.open_connection(*self._target)
        self._writers.update((writer, up_w))
        committing = asyncio.Event()

        async def to_server() -> None:
            while data := await reader.read(65536):
                if self.armed and b"COMMIT" in data:
                    self.armed = False
                    committing.set()
                up_w.write(data)
                await up_w.drain()

        async def to_client() -> None:
            # psycopg sends COMMIT only once it has read every earlier answer: what comes
            # after it is the COMMIT's own answer.
            while data := await up_r.read(65536):
                if committing.is_set():
                    self.answers_lost += 1
                    break
                writer.write(data)
                await writer.drain()
            writer.close()  # the client sees the connection lost
            up_w.close()

        try:
            await asyncio.gather(to_server(), to_client())
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            up_w.close()
            self._writers.difference_update((writer, up_w))


async def test_a_commit_whose_answer_was_lost_is_retried_without_storing_anything_twice(
    database_url: str, schema: str, admin: psycopg.AsyncConnection[Any]
) -> None:
    proxy = CommitAnswerLost(database_url)
    await proxy.start()
    committed_before_the_retry: list[dict[str, Any]] = []

    async def step(n: int) -> None:
        committed_before_the_retry.append(await stored(admin))

    waits = Waits(step)
    sink = EventSink(proxy.url, schema, "iot", sleep=waits)
    try:
        assert await sink.applied_offset(TP) == 0  # connected, staging table made
        proxy.armed = True
        result = await asyncio.wait_for(sink.write(batch(0, 5, next_offset=6)), GUARD)
    finally:
        await sink.close()
        await proxy.close()
    assert proxy.answers_lost == 1
    # The first attempt did commit (the sink could not know), and the retry wrote the
    # whole batch again: rows, dead letter, offset, counts and liveness range are stored
    # once. Its counts say so: nothing new inserted, all five found stored.
    assert committed_before_the_retry == [stored_once(0, 5, next_offset=6, dead=1)]
    assert waits.delays == pytest.approx([0.1])
    assert (result.attempts, result.inserted, result.duplicates) == (2, 0, 5)
    assert await stored(admin) == stored_once(0, 5, next_offset=6, dead=1)
    assert await dirty(admin) == [("iot", T0, T0 + timedelta(seconds=4), 5)]


async def test_an_error_that_is_not_an_outage_is_raised_at_once_and_stores_nothing(
    database_url: str, schema: str, admin: psycopg.AsyncConnection[Any]
) -> None:
    bad = batch(0, 3, next_offset=4)
    bad.rows.extend(iot_rows(3, 1, asset=None))  # asset_id is NOT NULL: a bug upstream
    waits = Waits()
    sink = EventSink(database_url, schema, "iot", sleep=waits)
    try:
        with pytest.raises(psycopg.errors.NotNullViolation):
            await asyncio.wait_for(sink.write(bad), GUARD)
        # Retrying could never succeed: the agent stops the worker instead (streams/app.py)
        # and the unacknowledged batch is redelivered.
        assert waits.delays == []
        assert await stored(admin) == NOTHING
        assert await sink.applied_offset(TP) == 0
    finally:
        await sink.close()

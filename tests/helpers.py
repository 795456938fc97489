"""Shared test tools: a worker process, Kafka produce/consume, waiting, a cuttable proxy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from citybrain.kernel.settings import Settings
from tests import schema_pool

T = TypeVar("T")


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CITYBRAIN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "CITYBRAIN_DATABASE_URL": settings.database_url or "",
        "CITYBRAIN_DATABASE_SCHEMA": settings.database_schema,
        "CITYBRAIN_TOPIC_PREFIX": settings.topic_prefix,
        "CITYBRAIN_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "CITYBRAIN_CONSUMER_GROUP": settings.consumer_group,
        "CITYBRAIN_DATA_DIR": str(settings.data_dir),
        "CITYBRAIN_BROKER_SESSION_TIMEOUT": str(settings.broker_session_timeout),
        "CITYBRAIN_BATCH_WITHIN_SECONDS": str(settings.batch_within_seconds),
        "CITYBRAIN_LIVENESS_TOLERANCE": str(settings.liveness_tolerance),
        "CITYBRAIN_INGESTION_GAP_SECONDS": str(settings.ingestion_gap_seconds),
        "CITYBRAIN_LIVENESS_IDLE_SOURCE_SECONDS": str(settings.liveness_idle_source_seconds),
        "CITYBRAIN_LIVENESS_TICK_SECONDS": str(settings.liveness_tick_seconds),
    })
    env.update(extra)
    return env


@contextlib.contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """A schema of its own, as a migration leaves it, given back afterwards: emptied and
    renamed for the next test when that is safe, else dropped (tests/schema_pool.py)."""
    schemas = schema_pool.pool(database_url)
    name = schemas.take()
    try:
        yield name
    finally:
        schemas.give_back(name)


def as_from_a_terminal() -> None:
    """``preexec_fn`` of a process that a test stops with SIGINT: Ctrl-C's default action,
    as a terminal gives it. A suite run in the background (nohup, ``&``, some CI runners)
    has SIGINT ignored, which children inherit and rightly keep (citybrain/kernel/runtime.py)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def running_worker(settings: Settings, log_path: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``citybrain worker`` process; stopped with SIGTERM like an operator would."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "citybrain", "worker"],
            env=worker_env(settings, **extra), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as an operator would; SIGKILL if it has not stopped within 20 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_for(fn: Callable[[], T], *, timeout: float = 60.0, interval: float = 0.2,
             what: str = "condition", alive: subprocess.Popen[bytes] | None = None,
             log: Path | None = None) -> T:
    deadline = time.monotonic() + timeout
    last: T = fn()
    while not last:
        if alive is not None and alive.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"worker exited ({alive.returncode}) waiting for {what}\n{tail}")
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"timed out waiting for {what}; last value {last!r}\n{tail}")
        time.sleep(interval)
        last = fn()
    return last


async def produce(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes | None, bytes]]
) -> list[tuple[int, int]]:
    """Send and return (partition, offset) of each message."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 << 20,
                                enable_idempotence=False, linger_ms=2)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        metas = await asyncio.gather(*futures)
        return [(m.partition, m.offset) for m in metas]
    finally:
        await producer.stop()


async def consume_all(bootstrap: str, topic: str, expect: int, timeout: float = 20.0) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        deadline = time.monotonic() + timeout
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        await consumer.seek_to_beginning()
        out: list[Any] = []
        while len(out) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int:
    """Sum of the offsets a consumer group has committed on ``topic`` (OffsetFetch)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        total = 0
        for p in parts:
            offset = await consumer.committed(TopicPartition(topic, p))
            total += offset or 0
        return total
    finally:
        await consumer.stop()


def count(db: psycopg.Connection[Any], query: str, *params: Any) -> int:
    row = db.execute(query, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


class CuttableProxy:
    """A TCP proxy on loopback in front of the database that a test can cut and restore.

    Cutting closes every open connection and refuses new ones, as a database crash or
    a network partition would look to the worker.
    """

    def __init__(self, database_url: str) -> None:
        params = conninfo_to_dict(database_url)
        host = str(params.get("host") or "127.0.0.1")
        port = int(params.get("port") or 5432)
        self._target: tuple[str, int] | str = (
            f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        )
        self._params = params
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.restore()

    @property
    def url(self) -> str:
        params = {k: v for k, v in self._params.items() if k not in ("host", "port")}
        return make_conninfo("", host="127.0.0.1", port=str(self.port), **params)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if isinstance(self._target, str):
                up_r, up_w = await asyncio.open_unix_connection(self._target)
            else:
                up_r, up_w = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_w))
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))
        self._writers.difference_update((writer, up_w))

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    def restore(self) -> None:
        self._call(self._start())

    def cut(self) -> None:
        self._call(self._cut())

    def close(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class MovableClock:
    """A clock a test sets and moves (``clock.now += timedelta(...)``): the app's or the
    domain's ``Clock``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

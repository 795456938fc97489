"""Where the stream goes: a Kafka topic per family, or a JSON-lines file to replay later."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from .message import SimMessage

# Futures are awaited in chunks: one await per message would cap throughput at one
# round trip per message; never awaiting would let the unacknowledged backlog grow.
CHUNK = 2000
PROGRESS_EVERY_S = 0.5
# Pacing sleeps shorter than this are skipped: the loop's timer resolution is coarser.
MIN_SLEEP_S = 0.002
# How often a producer held back by ``limit`` looks again.
LIMIT_POLL_S = 0.02


def write_jsonl(messages: Iterable[SimMessage], path: Path,
                topic_for: Callable[[str], str]) -> int:
    """One ``{"topic", "key", "value"}`` object per line; ``value_b64`` for non-UTF-8 bytes."""
    count = 0
    with path.open("wb") as out:
        for message in messages:
            line: dict[str, Any] = {
                "topic": topic_for(message.family),
                "key": None if message.key is None else message.key.decode(),
            }
            try:
                line["value"] = message.value.decode()
            except UnicodeDecodeError:
                line["value_b64"] = base64.b64encode(message.value).decode("ascii")
            out.write(orjson.dumps(line))
            out.write(b"\n")
            count += 1
    return count


def read_jsonl(path: Path) -> Iterator[tuple[str, bytes | None, bytes]]:
    """(topic, key, value) of each line written by ``write_jsonl``, bytes as they were."""
    with path.open("rb") as lines:
        for raw in lines:
            if not raw.strip():
                continue
            line = orjson.loads(raw)
            key = None if line["key"] is None else str(line["key"]).encode()
            if "value_b64" in line:
                value = base64.b64decode(line["value_b64"])
            else:
                value = str(line["value"]).encode()
            yield str(line["topic"]), key, value


async def _settle(pending: list[asyncio.Future[Any]]) -> None:
    if pending:
        await asyncio.gather(*pending)
        pending.clear()


async def _pause(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep, waking early when ``stop`` is set; True when it was."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def produce(messages: Iterable[SimMessage], bootstrap: str,
                  topic_for: Callable[[str], str], *, speed: float | None, start: datetime,
                  on_progress: Callable[[int, datetime], None] | None = None,
                  stop: asyncio.Event | None = None,
                  limit: Callable[[], datetime | None] | None = None) -> int:
    """Send ``messages`` to Kafka; returns how many the broker acknowledged.

    ``speed`` is simulated seconds per wall second (1440: a day a minute); None sends as
    fast as possible. Message ``n`` is due ``(event_time - start) / speed`` after the
    first send, so a slow moment is caught up rather than drifting.
    ``limit``: the latest event time that may be sent now (None: no limit yet). A message
    beyond it waits, what was sent is delivered meanwhile and ``on_progress`` still runs
    (it may raise to give up): back-pressure from consumers that fell behind.
    """
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive (or None for as fast as possible)")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20,
        # Above the 1.1 MiB oversized message, so it reaches the broker and the DLQ.
        max_request_size=4 << 20, acks=1, enable_idempotence=False,
    )
    await producer.start()
    loop = asyncio.get_running_loop()
    began = last_report = loop.time()
    pending: list[asyncio.Future[Any]] = []
    sent = acked = 0
    moment = start
    try:
        for message in messages:
            if stop is not None and stop.is_set():
                break
            moment = message.event_time
            if limit is not None and (bound := limit()) is not None and moment > bound:
                await _settle(pending)
                acked = sent
                while (bound := limit()) is not None and moment > bound:
                    if on_progress is not None and loop.time() - last_report >= PROGRESS_EVERY_S:
                        last_report = loop.time()
                        on_progress(acked, moment)
                    if await _pause(LIMIT_POLL_S, stop):
                        break
                if stop is not None and stop.is_set():
                    break
            if speed is not None:
                wait = (moment - start).total_seconds() / speed - (loop.time() - began)
                if wait > MIN_SLEEP_S:
                    # Deliver what is due before sleeping, so pacing holds at the broker.
                    await _settle(pending)
                    acked = sent
                    if await _pause(wait, stop):
                        break
            pending.append(await producer.send(topic_for(message.family), message.value,
                                               key=message.key))
            sent += 1
            if len(pending) >= CHUNK:
                await _settle(pending)
                acked = sent
            if on_progress is not None and loop.time() - last_report >= PROGRESS_EVERY_S:
                last_report = loop.time()
                on_progress(acked, moment)
        await _settle(pending)
        acked = sent
    finally:
        await producer.stop()
    if on_progress is not None:
        on_progress(acked, moment)
    return acked

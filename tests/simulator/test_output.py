from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from citybrain.simulator import SimMessage
from citybrain.simulator.output import produce, read_jsonl, write_jsonl

from .conftest import START, World


def topic_for(family: str) -> str:
    return f"sim.{family}"


def test_write_jsonl_round_trips(world: World, tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    count = write_jsonl(iter(world.messages), path, topic_for)
    assert count == len(world.messages)
    back = list(read_jsonl(path))
    assert back == [(topic_for(m.family), m.key, m.value) for m in world.messages]
    lines = [orjson.loads(raw) for raw in path.read_bytes().splitlines()]
    binary = [line for line in lines if "value_b64" in line]
    assert binary and all("value" not in line for line in binary)
    assert all(set(line) in ({"topic", "key", "value"}, {"topic", "key", "value_b64"})
               for line in lines)


async def _consume(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=16 << 20)
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(values) < expected:
                batches = await consumer.getmany(timeout_ms=500)
                values += [r.value or b"" for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return values


async def _topic(bootstrap: str) -> str:
    name = f"sim-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()
    return name


@pytest.mark.integration
async def test_produce_reaches_the_broker(world: World, kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    oversized = next(m for m in world.messages if m.malformed == "oversized")
    messages = [m for m in world.messages[:400] if m.malformed != "oversized"] + [oversized]
    messages.sort(key=lambda m: m.event_time)
    progress: list[int] = []
    sent = await produce(iter(messages), kafka_bootstrap, lambda _: topic, speed=None,
                         start=START, on_progress=lambda n, _: progress.append(n))
    assert sent == len(messages)
    assert progress[-1] == sent
    values = await _consume(kafka_bootstrap, topic, sent)
    assert len(values) == sent
    assert sorted(values) == sorted(m.value for m in messages)
    assert max(len(v) for v in values) > 1 << 20  # the broker took the oversized one


@pytest.mark.integration
async def test_produce_paces_and_stops(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    messages = [SimMessage("iot", b"k", b'{"n": %d}' % n, START + timedelta(seconds=n))
                for n in range(40)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    began = loop.time()
    # 100 simulated seconds a second: 39 s of events take about 0.39 s.
    sent = await produce(iter(messages), kafka_bootstrap, lambda _: topic, speed=100,
                         start=START, stop=stop)
    assert sent == 40
    assert loop.time() - began >= 0.35
    loop.call_later(0.1, stop.set)
    began = loop.time()
    slow = await produce(iter(messages), kafka_bootstrap, lambda _: topic, speed=1,
                         start=START, stop=stop)
    assert loop.time() - began < 3 and 0 < slow < 40

"""Ingest topics read a fetch at a time: faust's consumer, without its per-message path.

faust hands every message to its conductor on its own: four tasks to wait for it (the
delivery raced against a flow-control suspension), a channel decode into an ``Event``, a
queue put, a ``Stream`` step and an acknowledgement, each per message. For one event per
message that path, not decoding or storing, was the worker's whole core. Here the
consumer (a subclass of faust's aiokafka consumer, put in by ``App``) hands each fetch of
an ingest topic's partition to that topic's ``Intake`` as it came from the broker client,
in one call; the ingest agent takes chunks from the intake, batches, decodes and stores
them and acknowledges a whole batch at once (``IntakeSource.ack``), into the same
bookkeeping faust's own acknowledgements use, so faust commits the offsets to the broker
as before. Everything else stays faust's: the app, the worker, the agents (an ingest
agent still subscribes its topic), partition assignment and rebalancing, offset commits,
and the ordinary per-message path for any topic without an intake.

What the per-message path gave and how it is kept:

* flow control: a fetch is handed over only while faust's flow is active, in the fetch's
  consumer generation, and a rebalance clears the intakes and the batchers' buffers as
  it clears faust's stream buffers (``FlowControlEvent.manage_queue``); the broker
  delivers those messages again from the committed offsets;
* back-pressure: an intake holds at most ``limit`` messages (plus the fetch that crossed
  it); while it is full the consumer waits, so nothing more is fetched, exactly as a full
  stream buffer stops faust's consumer;
* the offsets faust commits are those acknowledged: only messages whose batch the
  database has committed (rows and applied offsets in one transaction, streams/sink.py);
* gaps in a partition's offsets (compaction, transaction markers) are recorded as faust
  records them, so the committed offset moves past them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from itertools import groupby, pairwise
from operator import attrgetter
from time import monotonic
from typing import Any, ClassVar

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify


def weigh(chunk: Sequence[Any]) -> int:
    """The bytes of a chunk's message values (the broker client's records)."""
    return sum(map(_value_size, chunk))


class Intake:
    """One ingest topic's fetched messages, in arrival order, until its agent takes them:
    at most ``limit`` messages or ``limit_bytes`` of values (plus the fetch that crossed
    either)."""

    def __init__(self, limit: int, limit_bytes: int) -> None:
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.size = 0
        self.bytes = 0
        self._chunks: deque[tuple[Sequence[Any], int]] = deque()  # each with its bytes
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def full(self) -> bool:
        return self.size >= self.limit or self.bytes >= self.limit_bytes

    def put(self, chunk: Sequence[Any]) -> None:
        weight = weigh(chunk)
        self._chunks.append((chunk, weight))
        self.size += len(chunk)
        self.bytes += weight
        self._arrived.set()
        if self.full():
            self._room.clear()

    async def room(self) -> None:
        """Wait until the intake takes more."""
        while self.full():
            await self._room.wait()

    def clear(self) -> None:
        self._chunks.clear()
        self.size = self.bytes = 0
        self._room.set()

    async def chunks(self) -> AsyncIterator[Sequence[Any]]:
        while True:
            while not self._chunks:
                self._arrived.clear()
                await self._arrived.wait()
            chunk, weight = self._chunks.popleft()
            self.size -= len(chunk)
            self.bytes -= weight
            if not self.full():
                self._room.set()
            yield chunk


class IntakeSource:
    """The batcher's source (streams/batcher.py) for one intake: acknowledges a batch's
    messages, partition by partition, to the consumer."""

    def __init__(self, app: faust.App, intake: Intake) -> None:
        self._app = app
        self._intake = intake

    def chunks(self) -> AsyncIterator[Sequence[Any]]:
        return self._intake.chunks()

    async def ack(self, messages: Sequence[Any]) -> None:
        consumer = self._app.consumer
        assert isinstance(consumer, IntakeConsumer)
        for (topic, partition), run in groupby(messages, key=_partition):
            consumer.ack_offsets(TP(topic, partition), list(map(_offset, run)))


class IntakeConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer; fetches of topics with an intake go to it in one piece."""

    def intakes(self) -> dict[str, Intake]:
        return getattr(self.app, "intakes", {})

    def ack_offsets(self, tp: TP, offsets: Sequence[int]) -> int:
        """``Consumer.ack`` for many offsets of one partition at once: the same test
        (offsets below the committed one, or acknowledged already, are left out) and
        the same bookkeeping, which faust's commit reads. Returns how many were new."""
        if not offsets or not self.app.topics.acks_enabled_for(tp.topic):
            return 0
        with ack_lock:
            committed = self._committed_offset[tp]
            index = self._acked_index[tp]
            fresh = [o for o in offsets if (committed is None or o >= committed) and o not in index]
            index.update(fresh)
            self._acked[tp].extend(fresh)
            self._n_acked += len(fresh)
            notify(self._waiting_for_ack)
        return len(fresh)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - the worker's loop
        intakes = self.intakes()
        if not intakes:
            return await super()._drain_messages(fetcher)
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        read_offset = self._read_offset
        app = self.app
        acks_enabled_for = app.topics.acks_enabled_for
        flow = app.flow_control
        monitor = app.monitor
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                generation = app.consumer_generation_id
                await self.sleep(0)  # as faust: never loop on fetches without yielding
                if not records or self.should_stop:
                    continue
                if not self.flow_active:
                    await self.perform_seek()
                    continue
                for tp, chunk in records.items():
                    if not self.flow_active or app.consumer_generation_id != generation:
                        break
                    if not (active is None or tp in active or tp in self._buffered_partitions):
                        continue
                    last_read = read_offset[tp]
                    if last_read is not None and chunk[0].offset < last_read:
                        chunk = [r for r in chunk if r.offset >= last_read]
                        if not chunk:
                            continue
                    monitor.track_tp_end_offset(tp, self.highwater(tp))
                    intake = intakes.get(tp.topic)
                    if intake is None:
                        await self._deliver_one_by_one(tp, chunk)
                        continue
                    if acks_enabled_for(tp.topic):
                        await self._add_gaps(tp, last_read, chunk)
                    await flow.acquire()
                    await app.producer.buffer.wait_until_ebb()
                    if intake.full():
                        # Back-pressure: fetch nothing more until the agent catches up,
                        # unless a rebalance suspends the flow meanwhile.
                        await self.wait_first(intake.room(), self.suspend_flow.wait())
                        if not self.flow_active or intake.full():
                            break
                    intake.put(chunk)
                    read_offset[tp] = chunk[-1].offset
                    monitor.stream_inbound_time[tp] = monotonic()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _add_gaps(self, tp: TP, last_read: int | None, chunk: Sequence[Any]) -> None:
        # As faust's loop: a jump of more than one offset from the last message read is a
        # gap, acknowledged with the messages around it.
        first, last = chunk[0].offset, chunk[-1].offset
        if last_read and first - last_read > 1:
            await self._add_gap(tp, last_read + 1, first)
        if last - first + 1 != len(chunk):
            for before, after in pairwise(chunk):
                if after.offset - before.offset > 1:
                    await self._add_gap(tp, before.offset + 1, after.offset)

    async def _deliver_one_by_one(self, tp: TP, chunk: Sequence[Any]) -> None:
        # A topic without an intake: faust's own per-message delivery.
        for record in chunk:
            last_read = self._read_offset[tp]
            if last_read and record.offset - last_read > 1 and \
                    self.app.topics.acks_enabled_for(tp.topic):
                await self._add_gap(tp, last_read + 1, record.offset)
            await self.wait_first(self.callback(self._to_message(tp, record)),
                                  self.suspend_flow.wait())
            self._read_offset[tp] = record.offset


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[Any]] = IntakeConsumer


class App(faust.App):
    """faust's app whose consumer hands ingest topics' fetches to their intakes."""

    intakes: dict[str, Intake]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.intakes = {}
        super().__init__(*args, **kwargs)

    def intake(self, topic: str, limit: int, limit_bytes: int) -> Intake:
        intake = self.intakes[topic] = Intake(limit, limit_bytes)
        self.flow_control.manage_queue(intake)  # type: ignore[arg-type]
        return intake

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)


_partition = attrgetter("topic", "partition")
_offset = attrgetter("offset")
_value_size = attrgetter("serialized_value_size")  # -1 for no value

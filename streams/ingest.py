"""One family's ingest step: messages → decoded events → dead letters + one stored batch.

The step is independent of faust so it can be driven by any consumer: ``prepare``
decodes a batch of messages, ``commit`` stores it; the faust agent (streams/batcher.py)
acknowledges the messages only after ``commit`` returned, i.e. after the database
committed the rows and the applied offsets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from operator import attrgetter
from typing import Protocol

from citybrain.kernel import metrics
from citybrain.kernel.clock import Clock
from citybrain.kernel.settings import Settings
from schemas.registry import LIVENESS_FEED
from streams.decode import Decoder
from streams.sink import Batch, DeadLetter, EventSink, TopicPartition, WriteResult

log = logging.getLogger(__name__)

LIVENESS_FEEDS: tuple[str, ...] = tuple(sorted({f for f in LIVENESS_FEED.values() if f}))


class Message(Protocol):
    """What ingest reads of a message: a ``RawMessage``, or the broker client's record."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    value: bytes | None


@dataclass(frozen=True)
class IngestReport:
    messages: int
    skipped: int
    events: int
    write: WriteResult


class Ingestor:
    def __init__(
        self,
        family: str,
        settings: Settings,
        sink: EventSink,
        *,
        dead_letter: Callable[[Sequence[DeadLetter]], Awaitable[None]],
        clock: Clock,
    ) -> None:
        self.family = family
        self.sink = sink
        self.decoder = Decoder(
            family,
            max_bytes=settings.max_message_bytes,
            max_future_skew=timedelta(seconds=settings.max_future_skew_seconds),
            max_age=timedelta(days=settings.max_event_age_days),
        )
        self._dead_letter = dead_letter
        self._liveness = family in LIVENESS_FEEDS
        self._clock = clock

    async def prepare(self, messages: Sequence[Message]) -> Prepared:
        """Decode a batch; runs while the previous batch is still being committed.

        Messages are taken a partition's run at a time (a batch is made of fetches, each
        from one partition): one applied-offset check and one decode call per run, not
        per message (``Decoder.decode_many``)."""
        processed_at = self._clock()
        prepared = Prepared(Batch(self.family), len(messages))
        batch = prepared.batch
        rows = batch.rows
        next_offsets = batch.next_offsets
        applied: dict[TopicPartition, int] = {}  # per batch: one await per partition, not per message
        decode = self.decoder.decode_many
        for tp, run in groupby(messages, key=_partition):
            kept = list(run)
            floor = applied.get(tp)
            if floor is None:
                floor = applied[tp] = await self.sink.applied_offset(tp)
            if kept[0].offset < floor or kept[-1].offset < floor:
                whole = len(kept)
                kept = [m for m in kept if m.offset >= floor]  # stored by an earlier delivery
                prepared.skipped += whole - len(kept)
                if not kept:
                    continue
            last = max(map(_offset, kept)) + 1
            if last > next_offsets.get(tp, 0):
                next_offsets[tp] = last
            step = _SLICE_ENVELOPES if kept[0].value and b'"events"' in kept[0].value else _SLICE_SINGLES
            for start in range(0, len(kept), step):
                if start:
                    # Decoding a batch is ~0.5 s of CPU with nothing to await: let the
                    # previous batch's commit stream its COPY meanwhile, so the database
                    # works while we decode instead of waiting for us to finish.
                    await asyncio.sleep(0)
                part = kept[start:start + step]
                decoded = decode(list(map(_value, part)), processed_at)
                for index, rej in decoded.rejected:
                    msg = part[index]
                    batch.dead.append(DeadLetter(msg.topic, msg.partition, msg.offset,
                                                 rej.item_index, rej.reason, rej.raw))
                if not decoded.rows:
                    continue
                prepared.events += len(decoded.rows)
                rows += decoded.rows
                if self._liveness:
                    # The partition's latest event time: the liveness derivation's horizon
                    # is the slowest partition still delivering.
                    latest = max(decoded.times)
                    mark = batch.marks.get(tp)
                    if mark is None or latest > mark:
                        batch.marks[tp] = latest
            await asyncio.sleep(0)
        return prepared

    @staticmethod
    async def staged(prepared: Prepared) -> None:
        """Wait until ``commit(prepared)`` has handed its rows to the database."""
        await prepared.batch.staged.wait()

    async def commit(self, prepared: Prepared) -> IngestReport:
        batch = prepared.batch
        if batch.dead:
            # Published before the rows commit: a crash in between re-publishes on replay
            # (at least once) rather than losing the dead letter.
            await self._dead_letter(batch.dead)
        result = await self.sink.write(batch)
        metrics.EVENTS_INGESTED.labels(self.family).inc(result.inserted)
        metrics.EVENTS_DUPLICATE.labels(self.family).inc(result.duplicates)
        metrics.DEAD_LETTERED.labels(self.family).inc(result.dead_lettered)
        metrics.MESSAGES_SKIPPED.labels(self.family).inc(prepared.skipped)
        return IngestReport(prepared.messages, prepared.skipped, prepared.events, result)


# Messages decoded between two yields to the event loop (about 20 ms of decoding): runs
# that start with an envelope are taken as envelopes of about 100 events.
_SLICE_SINGLES = 2000
_SLICE_ENVELOPES = 40
_partition = attrgetter("topic", "partition")
_offset = attrgetter("offset")
_value = attrgetter("value")


@dataclass
class Prepared:
    batch: Batch
    messages: int
    skipped: int = 0
    events: int = 0

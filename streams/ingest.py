"""One family's ingest step: messages → decoded events → dead letters + one stored batch.

The step is independent of faust so it can be driven by any consumer: the faust agent
hands it the messages of one ``take_events`` batch and acknowledges them only after it
returns, i.e. after the database committed the rows and the applied offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from citybrain import metrics
from citybrain.settings import Settings
from schemas.events import EventBase
from schemas.registry import LIVENESS_FEED
from streams.decode import Decoder
from streams.sink import Batch, DeadLetter, EventSink, TopicPartition, WriteResult

log = logging.getLogger(__name__)

LIVENESS_FEEDS: tuple[str, ...] = tuple(sorted({f for f in LIVENESS_FEED.values() if f}))


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    value: bytes | None


@dataclass
class Observations:
    """What one batch says about liveness, compacted per asset, for the liveness monitor.

    ``runs[asset] = [(first, last, up), ...]``: consecutive observations with the same
    up/down value collapse into one run (epoch seconds of its first and last event), so
    a transition keeps its exact start and the latest heartbeat is kept. ``marks`` is the
    largest event time per source (topic, partition), from which the monitor derives
    the feed's watermark.
    """

    feed: str
    runs: dict[str, list[tuple[float, float, bool]]] = field(default_factory=dict)
    marks: dict[TopicPartition, float] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "feed": self.feed,
            "runs": self.runs,
            "marks": [[t, p, m] for (t, p), m in self.marks.items()],
        })

    @classmethod
    def from_bytes(cls, raw: bytes) -> Observations:
        doc = orjson.loads(raw)
        return cls(
            feed=doc["feed"],
            runs={
                a: [(float(f), float(last), bool(u)) for f, last, u in seq]
                for a, seq in doc["runs"].items()
            },
            marks={(t, int(p)): float(m) for t, p, m in doc["marks"]},
        )


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
        observe: Callable[[Observations], Awaitable[None]] | None,
        clock: Callable[[], datetime],
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
        self._observe = observe if family in LIVENESS_FEEDS else None
        self._clock = clock

    async def handle(self, messages: Sequence[RawMessage]) -> IngestReport:
        processed_at = self._clock()
        batch = Batch(self.family)
        observations = Observations(self.family)
        skipped = events = 0
        for msg in messages:
            tp = (msg.topic, msg.partition)
            if msg.offset < await self.sink.applied_offset(tp):
                skipped += 1  # stored by an earlier delivery of this partition
                continue
            batch.next_offsets[tp] = max(batch.next_offsets.get(tp, 0), msg.offset + 1)
            decoded = self.decoder.decode(msg.value, processed_at)
            for rej in decoded.rejected:
                batch.dead.append(DeadLetter(msg.topic, msg.partition, msg.offset,
                                             rej.item_index, rej.reason, rej.raw))
            if not decoded.events:
                continue
            events += len(decoded.events)
            batch.rows.extend(e.db_row() for e in decoded.events)
            if self._observe is not None:
                _collect(observations, tp, decoded.events)
        if batch.dead:
            # Published before the rows commit: a crash in between re-publishes on replay
            # (at least once) rather than losing the dead letter.
            await self._dead_letter(batch.dead)
        result = await self.sink.write(batch)
        metrics.EVENTS_INGESTED.labels(self.family).inc(result.inserted)
        metrics.EVENTS_DUPLICATE.labels(self.family).inc(result.duplicates)
        metrics.DEAD_LETTERED.labels(self.family).inc(result.dead_lettered)
        metrics.MESSAGES_SKIPPED.labels(self.family).inc(skipped)
        if self._observe is not None and observations.marks:
            await self._observe(observations)
        return IngestReport(len(messages), skipped, events, result)


def _collect(obs: Observations, tp: TopicPartition, events: Sequence[EventBase]) -> None:
    mark = obs.marks.get(tp, 0.0)
    runs = obs.runs
    for event in events:
        at = event.occurred_at.timestamp()
        mark = max(mark, at)
        up = event.liveness()
        if up is None:
            continue
        seq = runs.get(event.asset_id)
        if seq is None:
            runs[event.asset_id] = [(at, at, up)]
        elif seq[-1][2] == up:
            first, last, _ = seq[-1]
            seq[-1] = (min(first, at), max(last, at), up)
        else:
            seq.append((at, at, up))
    obs.marks[tp] = mark

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from citybrain import metrics
from citybrain.errors import CitybrainError
from citybrain.settings import Settings
from schemas.events import LivenessLevel
from schemas.registry import LIVENESS_FEED
from streams.decode import Columns, Decoder
from streams.sink import Batch, DeadLetter, EventSink, TopicPartition, WriteResult

log = logging.getLogger(__name__)

LIVENESS_FEEDS: tuple[str, ...] = tuple(sorted({f for f in LIVENESS_FEED.values() if f}))

# A serialised level (an int, or a bool from before levels existed: False == 0, True == 1)
# → the level; anything else is a KeyError.
_LEVEL_OF: dict[int, LivenessLevel] = {level.value: level for level in LivenessLevel}
_ONLINE = LivenessLevel.ONLINE


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    value: bytes | None


@dataclass
class Observations:
    """What one batch says about liveness, compacted per asset, for the liveness monitor.

    ``runs[asset] = [(first, last, level), ...]``: consecutive observations with the same
    level (online / degraded / down) and no silence longer than
    ``liveness_run_split_seconds`` between them collapse into one run (event times of
    its first and last event), so a transition keeps its exact start, a silence is never
    hidden inside a run, and the latest heartbeat is kept. ``marks`` is the largest
    event time per source (topic, partition), from which the monitor derives the feed's
    watermark.

    On the liveness topic a level is its integer value (0 down, 1 online, 2 degraded).
    Payloads written before levels existed hold true/false there, which read as
    online/down; a monitor that still reads bools takes degraded (2) as up.
    """

    feed: str
    runs: dict[str, list[tuple[datetime, datetime, LivenessLevel]]] = field(default_factory=dict)
    marks: dict[TopicPartition, datetime] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "feed": self.feed,
            "runs": self.runs,
            "marks": [[t, p, m] for (t, p), m in self.marks.items()],
        })

    @classmethod
    def from_bytes(cls, raw: bytes) -> Observations:
        when = datetime.fromisoformat
        level = _LEVEL_OF
        try:
            doc = orjson.loads(raw)
            return cls(
                feed=doc["feed"],
                runs={
                    a: [(when(f), when(last), level[u]) for f, last, u in seq]
                    for a, seq in doc["runs"].items()
                },
                marks={(t, int(p)): when(m) for t, p, m in doc["marks"]},
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # orjson's errors are ValueErrors
            raise CitybrainError(
                f"malformed liveness observations ({type(exc).__name__}: {exc}); only workers"
                " write this topic: is one of them running an incompatible version?"
            ) from exc


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
        self._split = timedelta(seconds=settings.liveness_run_split_seconds)

    async def prepare(self, messages: Sequence[RawMessage]) -> Prepared:
        """Decode a batch; runs while the previous batch is still being committed."""
        processed_at = self._clock()
        prepared = Prepared(Batch(self.family), Observations(self.family), len(messages))
        batch = prepared.batch
        rows = batch.rows
        next_offsets = batch.next_offsets
        applied: dict[TopicPartition, int] = {}  # per batch: one await per partition, not per message
        since_yield = 0
        for msg in messages:
            if since_yield >= _YIELD_EVERY_EVENTS:
                # Decoding a batch is ~0.5 s of CPU with nothing to await: let the previous
                # batch's commit stream its COPY meanwhile, so the database works while we
                # decode instead of waiting for us to finish.
                since_yield = 0
                await asyncio.sleep(0)
            tp = (msg.topic, msg.partition)
            floor = applied.get(tp)
            if floor is None:
                floor = applied[tp] = await self.sink.applied_offset(tp)
            if msg.offset < floor:
                prepared.skipped += 1  # stored by an earlier delivery of this partition
                continue
            if msg.offset >= next_offsets.get(tp, 0):
                next_offsets[tp] = msg.offset + 1
            decoded = self.decoder.decode_columns(msg.value, processed_at)
            for rej in decoded.rejected:
                batch.dead.append(DeadLetter(msg.topic, msg.partition, msg.offset,
                                             rej.item_index, rej.reason, rej.raw))
            if not decoded.rows:
                continue
            prepared.events += len(decoded.rows)
            since_yield += len(decoded.rows) + _MESSAGE_WEIGHT
            rows += decoded.rows
            if self._observe is not None:
                _collect(prepared.observations, tp, decoded, self._split)
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
        if self._observe is not None and prepared.observations.marks:
            await self._observe(prepared.observations)
        return IngestReport(prepared.messages, prepared.skipped, prepared.events, result)


# Yield to the event loop after about this much decoding (~20 ms); a message counts as
# a few events, since part of the cost is per message.
_YIELD_EVERY_EVENTS = 4000
_MESSAGE_WEIGHT = 4


@dataclass
class Prepared:
    batch: Batch
    observations: Observations
    messages: int
    skipped: int = 0
    events: int = 0


def _collect(obs: Observations, tp: TopicPartition, decoded: Columns, split: timedelta) -> None:
    # Hot path (every event of a liveness feed): columns, not objects, and datetimes that
    # share timezone.utc (decode_columns), so comparisons stay in C; only the per-asset
    # result is serialised.
    times = decoded.times
    latest = max(times)
    mark = obs.marks.get(tp)
    obs.marks[tp] = latest if mark is None or latest > mark else mark
    runs = obs.runs
    levels = decoded.levels
    for asset_id, at, level in zip(decoded.assets, times,
                                   [_ONLINE] * len(times) if levels is None else levels, strict=True):
        if level is None:
            continue
        seq = runs.get(asset_id)
        if seq is None:
            runs[asset_id] = [(at, at, level)]
            continue
        first, last, was = seq[-1]
        if was is not level or at - last > split:
            # A change of level (identity: levels are enum members), or a silence long
            # enough that a deadline might lapse inside it: a new run, so the monitor
            # sees the change or the silence.
            if at > last:
                seq.append((at, at, level))
        elif at > last:
            seq[-1] = (first, at, level)
        elif at < first:
            seq[-1] = (at, last, level)


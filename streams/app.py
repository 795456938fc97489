"""The faust app: one ingest agent per family topic and one liveness agent.

Assembled in one place (``build_app``) so the pipeline's stages are visible together:
decode → dead-letter → store (COPY, offsets) → observations → liveness → state topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
import psycopg

from citybrain import availability
from citybrain.settings import FAMILIES, Settings
from streams import lag
from streams.batcher import AckAfterCommit
from streams.ingest import LIVENESS_FEEDS, Ingestor, Observations, Prepared, RawMessage
from streams.liveness import Transition
from streams.monitor import LivenessMonitor, transition_message
from streams.sink import DeadLetter, EventSink
from streams.topics import liveness_topic

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


# A backlog fills batches to batch_max_messages; a batch of camera envelopes then holds
# tens of thousands of runs, more than a broker takes in one message (1 MiB by default).
OBSERVATIONS_MAX_BYTES = 512 * 1024


def observation_messages(obs: Observations, max_bytes: int) -> list[bytes]:
    """``obs`` as liveness-topic messages of at most about ``max_bytes`` each.

    Split by asset; only the last part carries the batch's marks, and the feed's
    partition keeps the parts in order, so the monitor advances the watermark only after
    it has applied every run of the batch.
    """
    raw = obs.to_bytes()
    if len(raw) <= max_bytes or len(obs.runs) <= 1:
        return [raw]
    parts = -(-len(raw) // max_bytes) + 1
    assets = list(obs.runs)
    size = -(-len(assets) // parts)
    out: list[bytes] = []
    for n in range(0, len(assets), size):
        chunk = {a: obs.runs[a] for a in assets[n:n + size]}
        last = n + size >= len(assets)
        out.append(Observations(obs.feed, chunk, dict(obs.marks) if last else {}).to_bytes())
    return out


def build_app(
    settings: Settings,
    bootstrap: str,
    database_url: str,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> faust.App:
    datadir = settings.data_dir / "faust" / settings.worker_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.consumer_group,
        broker=[f"kafka://{b.strip()}" for b in bootstrap.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        datadir=str(datadir),
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=max(settings.broker_session_timeout / 4, 0.5),
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,  # topics are created up front (streams.topics)
        producer_linger=0.005,
        producer_max_request_size=4 << 20,
        consumer_max_fetch_size=4 << 20,
        stream_buffer_maxsize=max(settings.batch_max_messages * 4, 4096),
        stream_wait_empty=False,
    )
    dlq = settings.dead_letter_topic
    state_topic = settings.state_change_topic
    live_name = liveness_topic(settings)
    sinks: list[EventSink] = []

    async def dead_letter(items: Sequence[DeadLetter]) -> None:
        pending = []
        for d in items:
            headers = [
                ("citybrain.reason", d.reason.encode()),
                ("citybrain.source_topic", d.topic.encode()),
                ("citybrain.source_partition", str(d.partition).encode()),
                ("citybrain.source_offset", str(d.offset).encode()),
                ("citybrain.item_index", b"" if d.item_index is None else str(d.item_index).encode()),
            ]
            pending.append(await app.producer.send(dlq, None, d.raw, None, None, headers))
        await asyncio.gather(*pending)

    async def observe(obs: Observations) -> None:
        partition = LIVENESS_FEEDS.index(obs.feed)
        for raw in observation_messages(obs, OBSERVATIONS_MAX_BYTES):
            await app.producer.send_and_wait(live_name, obs.feed.encode(), raw, partition, None, None)

    async def publish_state(transitions: Sequence[Transition]) -> None:
        pending = [
            await app.producer.send(state_topic, t.asset_id.encode(), transition_message(t),
                                    None, None, None)
            for t in transitions
        ]
        await asyncio.gather(*pending)

    for family in FAMILIES:
        sink = EventSink(database_url, settings.database_schema, family,
                         retry_max_seconds=settings.db_retry_max_seconds)
        sinks.append(sink)
        ingestor = Ingestor(family, settings, sink, dead_letter=dead_letter, observe=observe,
                            clock=clock)
        topic = app.topic(settings.topic(family), key_type=bytes, value_type=bytes)
        app.agent(topic, name=f"ingest-{family}")(_ingest_agent(app, ingestor, settings))

    monitors = {
        feed: LivenessMonitor(feed, settings, database_url, publish=publish_state)
        for feed in LIVENESS_FEEDS
    }
    live_topic = app.topic(live_name, key_type=bytes, value_type=bytes)
    app.agent(live_topic, name="liveness")(_liveness_agent(monitors, settings))

    @app.timer(settings.liveness_tick_seconds)  # type: ignore[untyped-decorator]
    async def _liveness_tick() -> None:
        for monitor in monitors.values():
            try:
                await monitor.tick()
            except psycopg.OperationalError as exc:
                log.warning("liveness %s tick: database unavailable (%s)", monitor.feed, exc)

    if settings.availability_refresh_seconds > 0:
        @app.timer(settings.availability_refresh_seconds)  # type: ignore[untyped-decorator]
        async def _refresh_availability() -> None:
            # Off the event loop: the refresh is a few seconds of SQL per day. A failure
            # only delays the facts (reports read the intervals meanwhile); never ingest.
            try:
                result = await asyncio.to_thread(availability.refresh_recent, database_url,
                                                 settings.database_schema, settings, clock())
            except Exception as exc:
                log.warning("availability facts refresh failed: %s", exc)
            else:
                if result.days:
                    log.info("availability facts computed for %d local days (%s .. %s)",
                             len(result.days), result.days[-1], result.days[0])

    @app.timer(settings.metrics_lag_interval_seconds)  # type: ignore[untyped-decorator]
    async def _sample_lag() -> None:
        # Metrics only: a failed sample is logged, never allowed to stop ingestion.
        try:
            await lag.sample(app.consumer)
        except Exception as exc:
            log.warning("consumer lag sample failed: %s", exc)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoked(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Another worker may own these partitions next: rebuild from the database later.
        for monitor in monitors.values():
            monitor.reset()
        for sink in sinks:
            sink.forget_offsets()

    return app


def _ingest_agent(app: faust.App, ingestor: Ingestor, settings: Settings) -> Callable[[Any], Any]:
    async def prepare(events: Sequence[Any]) -> Prepared:
        return await ingestor.prepare([
            RawMessage(e.message.topic, e.message.partition, e.message.offset, e.value)
            for e in events
        ])

    async def agent(stream: Any) -> None:
        batcher = AckAfterCommit(max_messages=settings.batch_max_messages,
                                 within=settings.batch_within_seconds,
                                 prepare=prepare, commit=ingestor.commit, staged=ingestor.staged)
        try:
            await batcher.run(stream)
        except Exception as exc:
            # Bad input never gets here (it is dead-lettered) and database outages are
            # retried inside the sink; anything else is a bug. Stop the whole worker so
            # its supervisor restarts it and the unacknowledged batch is redelivered,
            # rather than leaving a worker that runs but ingests nothing.
            log.exception("ingest agent for %s crashed; stopping the worker", ingestor.family)
            await app.crash(exc)
            raise

    return agent


def _liveness_agent(monitors: dict[str, LivenessMonitor], settings: Settings) -> Callable[[Any], Any]:
    async def agent(stream: Any) -> AsyncIterator[None]:
        async for value in stream:
            obs = Observations.from_bytes(value)
            monitor = monitors.get(obs.feed)
            if monitor is None:
                log.error("observations for unknown feed %r ignored", obs.feed)
                continue
            delay = 0.1
            while True:
                try:
                    await monitor.handle(obs)
                    break
                except psycopg.OperationalError as exc:
                    log.warning("liveness %s: database unavailable (%s); retrying", obs.feed, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, settings.db_retry_max_seconds)
            yield None

    return agent

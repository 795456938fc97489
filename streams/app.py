"""The faust app: one ingest agent per family topic, and the liveness derivation.

Assembled in one place (``build_app``) so the pipeline's stages are visible together:
decode → dead-letter → store (COPY, offsets, what each batch added) → liveness
derivation from the stored events → state intervals → state topic (from an outbox).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import faust
import psycopg
from faust.tables import TableManager

from citybrain import availability
from citybrain.kernel.clock import Clock, utc_now
from citybrain.kernel.errors import StoreError
from citybrain.kernel.settings import FAMILIES, Settings
from streams import facts, lag
from streams.batcher import AckAfterCommit
from streams.derivation import LivenessDeriver
from streams.ingest import LIVENESS_FEEDS, Ingestor
from streams.intake import App, Intake, IntakeSource, weigh
from streams.sink import DeadLetter, EventSink

log = logging.getLogger(__name__)


class _Tables(TableManager):
    """faust's table manager without the second it sleeps on start, waiting for tables
    still to be declared: this app declares none (the database holds every state) and
    all its agents and timers before the worker starts."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class Worker(faust.Worker):
    """faust's worker, closing its event loop 0.1 s after the last task ended instead of
    mode's 1 s: every service has stopped and every task has been awaited (or cancelled)
    by then, and only the callbacks they scheduled are left to run."""

    async def _sentinel_task(self) -> None:
        await asyncio.sleep(0.1)


def build_app(
    settings: Settings,
    bootstrap: str,
    database_url: str,
    *,
    clock: Clock = utc_now,
) -> faust.App:
    datadir = settings.data_dir / "faust" / settings.worker_id
    datadir.mkdir(parents=True, exist_ok=True)
    buffered = max(settings.batch_max_messages * 4, 4096)  # messages per topic, at most
    buffered_bytes = settings.batch_max_bytes * 4  # and bytes of their values
    app = App(
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
        stream_buffer_maxsize=buffered,
        stream_wait_empty=False,
        TableManager=_Tables,
    )
    dlq = settings.dead_letter_topic
    state_topic = settings.state_change_topic
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

    for family in FAMILIES:
        sink = EventSink(database_url, settings.database_schema, family,
                         retry_max_seconds=settings.db_retry_max_seconds,
                         facts=facts.deriver(family, settings))
        sinks.append(sink)
        ingestor = Ingestor(family, settings, sink, dead_letter=dead_letter, clock=clock)
        topic = app.topic(settings.topic(family), key_type=bytes, value_type=bytes)
        intake = app.intake(settings.topic(family), buffered, buffered_bytes)
        app.agent(topic, name=f"ingest-{family}")(_ingest_agent(app, intake, ingestor, settings))

    # One deriver per feed in every worker; the one holding the feed's advisory lock
    # derives, the others stand by (a worker killed or cut off loses the lock with its
    # connection). It reads the stored events, so Kafka partition ownership, rebalances
    # and the order of deliveries do not enter the intervals.
    derivers = [LivenessDeriver(feed, settings, database_url) for feed in LIVENESS_FEEDS]

    async def publish_state(deriver: LivenessDeriver) -> None:
        # The outbox holds state changes committed with their intervals; they leave it
        # once the broker has them (a crash in between publishes them again).
        while rows := await asyncio.to_thread(deriver.outbox):
            pending = [await app.producer.send(state_topic, asset_id.encode(), payload,
                                               None, None, None)
                       for _, asset_id, payload in rows]
            await asyncio.gather(*pending)
            await asyncio.to_thread(deriver.published, [i for i, _, _ in rows])

    liveness_topics = {settings.topic(feed) for feed in LIVENESS_FEEDS}

    @app.timer(settings.liveness_tick_seconds)  # type: ignore[untyped-decorator]
    async def _derive_liveness() -> None:
        # This worker's partitions with messages not stored yet hold the horizon back
        # (each worker records its own; the derivation may run in another).
        ends = []
        for tp in app.consumer.assignment():
            high = app.consumer.highwater(tp) if tp.topic in liveness_topics else None
            if high is not None:
                ends.append((tp.topic, tp.partition, int(high)))
        try:
            await asyncio.to_thread(derivers[0].note_highwaters, ends)
        except (psycopg.Error, StoreError) as exc:
            log.warning("liveness: cannot record partition ends (%s); retrying", exc)
            return
        # A backlog is folded in bounded steps, each committed, one step per feed in turn:
        # the feeds' watermarks move together (the slowest is the alerter's pipeline clock
        # in replays), not one feed to the end and then the next. Every feed takes its step
        # in every round: one caught up in an early round falls behind again while ingest
        # goes on, and left out it would stand still until the others caught up.
        pending = list(derivers)
        while pending:
            behind = []
            for deriver in derivers:
                try:
                    result = await asyncio.to_thread(deriver.tick)
                    if not result.leader:
                        continue
                    await publish_state(deriver)
                except (psycopg.Error, StoreError) as exc:
                    # Waits and retries at the next tick, from the stored checkpoint.
                    log.warning("liveness %s: database unavailable (%s); retrying", deriver.feed,
                                str(exc).strip().splitlines()[0] if str(exc) else exc)
                    continue
                if not (result.caught_up or result.folded_to is None):
                    behind.append(deriver)
            pending = behind

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
        # Another worker may own these partitions next: read applied offsets afresh.
        for sink in sinks:
            sink.forget_offsets()

    return app


def _ingest_agent(app: App, intake: Intake, ingestor: Ingestor,
                  settings: Settings) -> Callable[[Any], Any]:
    async def agent(stream: Any) -> None:
        # The agent's channel subscribes the topic (faust assigns and rebalances its
        # partitions); its messages arrive through the intake, a fetch at a time
        # (streams/intake.py), not through the stream.
        aiter(stream.channel)
        batcher = AckAfterCommit(max_messages=settings.batch_max_messages,
                                 within=settings.batch_within_seconds,
                                 max_bytes=settings.batch_max_bytes, weigh=weigh,
                                 prepare=ingestor.prepare, commit=ingestor.commit,
                                 staged=ingestor.staged)
        app.flow_control.manage_queue(batcher)  # type: ignore[arg-type]
        try:
            await batcher.run(IntakeSource(app, intake))
        except Exception as exc:
            # Bad input never gets here (it is dead-lettered) and database outages are
            # retried inside the sink; anything else is a bug. Stop the whole worker so
            # its supervisor restarts it and the unacknowledged batch is redelivered,
            # rather than leaving a worker that runs but ingests nothing.
            log.exception("ingest agent for %s crashed; stopping the worker", ingestor.family)
            await app.crash(exc)
            raise

    return agent

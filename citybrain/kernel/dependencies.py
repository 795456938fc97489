"""Starting while a server is down: wait for the database and the broker, then go on.

The worker, the alerter and the API call ``wait_for_database`` / ``wait_for_broker``
before they first use a server, so a process started before PostgreSQL or Kafka (a
host's boot order, a compose file, a database restarting) waits instead of exiting:
each failed try is logged with the server it waits for, why, and when it tries again;
the delay doubles from ``Backoff.first`` up to ``Backoff.cap`` and the wait never gives
up on its own. A stop signal ends it at once (``citybrain.kernel.runtime.stop_on_signals``
makes SIGINT and SIGTERM unwind the process, so it stops what it started). Settings
that can never work (a malformed URL, a refused password) are errors at once.

The waiting is logged in English, like every log record (what an engineer greps a
supervisor's log for); the errors are in the current language (``use_language``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from psycopg.conninfo import conninfo_to_dict

from citybrain.kernel.errors import BrokerError, CitybrainError, StoreError
from citybrain.kernel.i18n import Catalogue

log = logging.getLogger(__name__)
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Probe = Callable[[], None]
Sleep = Callable[[float], None]


class Unavailable(CitybrainError):
    """A server cannot be reached yet; its message says why (what a probe raises)."""


@dataclass(frozen=True)
class Backoff:
    """Delays between tries: ``first``, doubling, at most ``cap`` seconds."""

    first: float = 0.5
    cap: float = 15.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.cap)


def wait_until_up(what: str, probe: Probe, *, backoff: Backoff = Backoff(),
                  sleep: Sleep = time.sleep) -> int:
    """Call ``probe`` until it returns; after each ``Unavailable`` log ``what`` is waited
    for, why and the next delay, and sleep. Returns how many tries failed."""
    failed = 0
    for delay in backoff.delays():
        try:
            probe()
        except Unavailable as exc:
            failed += 1
            log.warning("waiting for %s: %s; next try in %.1f s", what, exc, delay)
            sleep(delay)
            continue
        if failed:
            log.warning("%s is up after %d failed tries; starting", what, failed)
        return failed
    raise AssertionError("unreachable: the delays never end")


def describe_database(url: str) -> str:
    """Where a libpq URL points, without its credentials: ``the database db at host:port``."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database (unparsable CITYBRAIN_DATABASE_URL)"
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or "5432")
    where = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"
    name = params.get("dbname")
    return f"the database {name} at {where}" if name else f"the database at {where}"


def database_probe(url: str, *, timeout: float = 5.0) -> Probe:
    """Connect once and close: ``Unavailable`` while the server cannot take a session,
    ``StoreError`` when the URL or the credentials are wrong (waiting cannot help)."""
    def probe() -> None:
        try:
            conn = psycopg.connect(url, connect_timeout=max(int(timeout), 1))
        except psycopg.ProgrammingError as exc:  # a malformed conninfo
            raise StoreError(_("invalid database URL: {error}; check CITYBRAIN_DATABASE_URL").format(
                error=exc)) from exc
        except psycopg.OperationalError as exc:
            reason = _first_line(exc)
            if (exc.sqlstate or "").startswith("28"):  # invalid authorization
                raise StoreError(_("the database refused the login: {reason}; "
                                   "check CITYBRAIN_DATABASE_URL").format(reason=reason)) from exc
            raise Unavailable(reason) from exc
        conn.close()
    return probe


def broker_probe(bootstrap: str, *, timeout: float = 5.0) -> Probe:
    """Fetch the cluster metadata once: ``Unavailable`` while no bootstrap server answers."""
    async def metadata() -> None:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
        try:
            await asyncio.wait_for(client.bootstrap(), timeout * 2)
        finally:
            await client.close()

    def probe() -> None:
        _reachable(bootstrap, timeout)  # the operating system's reason, when no one listens
        try:
            with _quiet("aiokafka"):  # it logs an error per refused connection; we say it once
                asyncio.run(metadata())
        except (KafkaError, OSError, TimeoutError) as exc:
            raise Unavailable(f"no cluster metadata yet ({_first_line(exc) or type(exc).__name__})"
                              ) from exc
    return probe


def _reachable(bootstrap: str, timeout: float) -> None:
    """Return once one bootstrap server accepts a connection, else ``Unavailable``."""
    reasons = []
    for server in (s.strip() for s in bootstrap.split(",") if s.strip()):
        host, colon, port = server.rpartition(":")
        if not colon or not port.isdigit():
            host, port = server, "9092"  # Kafka's default port
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout):
                return
        except OSError as exc:
            reasons.append(exc.strerror or str(exc) or type(exc).__name__)
    raise Unavailable(", ".join(dict.fromkeys(reasons)) or "no bootstrap server")


def wait_for_database(url: str, *, backoff: Backoff = Backoff(), sleep: Sleep = time.sleep) -> None:
    """Return once the database at ``url`` takes a session; wait (logged) while it does not."""
    wait_until_up(describe_database(url), database_probe(url), backoff=backoff, sleep=sleep)


def wait_for_broker(bootstrap: str, *, backoff: Backoff = Backoff(), sleep: Sleep = time.sleep) -> None:
    """Return once a broker of ``bootstrap`` answers; wait (logged) while none does."""
    if not bootstrap:
        raise BrokerError(_("no broker address; set CITYBRAIN_KAFKA_BOOTSTRAP"))
    wait_until_up(f"the broker at {bootstrap}", broker_probe(bootstrap), backoff=backoff, sleep=sleep)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Only critical records from ``logger`` and the loggers under it, meanwhile."""
    target = logging.getLogger(logger)
    before = target.level
    target.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        target.setLevel(before)

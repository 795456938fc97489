"""``make demo``: the whole pipeline on a simulated city, then a summary a person can read.

Starts the embedded broker and database unless CITYBRAIN_* settings name real ones,
migrates, imports the simulated registry, runs worker processes and the alerter,
produces a simulated day, waits until every produced message is stored, folded into the
liveness intervals and read by the alerter, stops the processes, prints what was stored
next to what was injected, and checks its own story: each injected failure against the
incident it should have opened (citybrain/demo/check.py). A failed check is an exit
status of 1, after the whole summary.

Every wait lasts as long as the pipeline makes progress — a slow or loaded machine only
makes it slower — and shows a progress bar with counts; a step that has not moved for
``STALLED_S`` stops the demo with what is stuck and where to look.

Everything it prints is in the reader's language (Settings.language: zh-CN unless
CITYBRAIN_LANGUAGE=en), from the demo's catalogue (citybrain/demo/locale), with
departments, districts and assets by their registry names; the files it writes keep
their keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from alerts.detection.rules import load_rules
from alerts.incidents.lifecycle import OPEN_STATUSES
from alerts.watermark_clock import WatermarkClock
from citybrain.demo.alerts import (
    GroupRobotStandIn,
    MailStandIn,
    OnCallTeam,
    demo_policy_dir,
    print_incidents,
)
from citybrain.demo.check import expectations, judge, print_self_check, read_incidents
from citybrain.demo.citizens import print_citizens, print_evaluation, read_citizens, seed_assessments
from citybrain.demo.console_access import open_console, print_console
from citybrain.demo.evidence import print_evidence
from citybrain.demo.labels import MESSAGES, cell
from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.engine import WorkHours
from citybrain.indicators.model import ReportWindow
from citybrain.kernel import store
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import Translator
from citybrain.kernel.runtime import Endpoints, services
from citybrain.kernel.settings import FAMILIES, Settings
from citybrain.reports import build_report, render_scorecard, write_report
from citybrain.reports.presentation import Presentation
from citybrain.simulator import prepared as simulation
from dashboards.status import print_status, read_status
from schemas.assets import import_registry, load_registry, write_registry
from schemas.names import load_names
from streams.derivation import FEED_EVIDENCE
from streams.ingest import LIVENESS_FEEDS
from streams.topics import ensure_topics

# A wait never fails on time alone: only when nothing has moved for this long.
STALLED_S = 300.0
# The producer stays at most this far (event time) ahead of the pipeline clock, the
# slowest liveness watermark: on a loaded machine the replay slows down instead of
# piling hours of backlog in front of workers and alerter that then disagree on "now".
# The alerter's detection clock ignores event times further ahead of its processing
# clock than its future-skew bound (as absurd) and would stand still behind readings
# that far ahead: the demo's alerter gets a bound beyond the lead (ALERTER_SKEW). Each
# round trip (sent → stored → folded → the watermark moves) lets the replay on by LEAD.
LEAD = timedelta(minutes=12)
ALERTER_SKEW = LEAD + timedelta(minutes=3)
# Once the alerter has read everything and no escalation step is due: its last decisions
# (timeline entries, the simulated team's answers) have stopped changing for this long.
QUIET_S = 2.0
POLL_S = 0.5
PLAIN_EVERY_S = 15.0  # without a terminal (a CI log), where a step stands, this often


class Stalled(CitybrainError):
    """A step of the demo made no progress for STALLED_S."""


def run_demo(settings: Settings, *, days: float, speed: float, workers: int, out: Path,
             console: Console, scale: float = 1.0) -> int:
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
    t = MESSAGES.translator(demo.language)

    with services(demo, fresh_database=True) as ep:
        if settings.database_url:
            store.drop_schema(ep.database_url, demo.database_schema)
        st = store.migrate(ep.database_url, demo.database_schema, storage=demo.storage)
        broker = (t.gettext("{address} (embedded)").format(address=ep.kafka_bootstrap)
                  if ep.embedded_broker else ep.kafka_bootstrap)
        database = (t.gettext("embedded PostgreSQL") if ep.embedded_database
                    else t.gettext("configured server"))
        console.print(cell(t.gettext("Citybrain demo — broker {broker}, database {database} ({mode}, schema"
                                     " {schema})").format(broker=broker, database=database, mode=st.mode,
                                                          schema=st.schema)), style="bold")

        start = simulation.window_start(now, timedelta(days=days))
        city = simulation.prepare(seed=7, scale=scale, start=start, days=days)
        registry_file = out / "registry.yaml"
        write_registry(city.registry, registry_file)
        with store.connect(ep.database_url, demo.database_schema) as conn:
            report = import_registry(conn, load_registry(registry_file))
        console.print(cell(t.gettext("Registry {file}: {departments} departments, {districts} districts,"
                                     " {assets} assets imported").format(
            file=registry_file, departments=report.departments, districts=report.districts,
            assets=report.assets)))
        asyncio.run(ensure_topics(ep.kafka_bootstrap, demo))

        mail, robot = MailStandIn(), GroupRobotStandIn()
        mail.start()
        robot.start()
        # The incident workflow runs on the replayed city's clock (alerts/watermark_clock.py); pages
        # go to stand-ins for the mail server and the operations centre's group robot.
        alerter_env = {
            "CITYBRAIN_ALERTER_CLOCK": "pipeline",
            "CITYBRAIN_ALERTER_TICK_SECONDS": "0.05",
            "CITYBRAIN_ESCALATION_POLICY_DIR": str(demo_policy_dir(out, robot.url).resolve()),
            "CITYBRAIN_SMTP_HOST": "127.0.0.1", "CITYBRAIN_SMTP_PORT": str(mail.port),
            "CITYBRAIN_OPERATIONS_CENTRE_DEPARTMENT": city.registry.departments[0].department_id,
            # Readings reach the alerter up to LEAD ahead of the pipeline clock (see LEAD);
            # replayed events are all in the wall clock's past, so ingest's check is unchanged.
            "CITYBRAIN_MAX_FUTURE_SKEW_SECONDS": str(int(ALERTER_SKEW.total_seconds())),
        }
        clock = WatermarkClock(ep.database_url, demo.database_schema, start)
        team = OnCallTeam(ep.database_url, demo.database_schema, clock, demo.language)
        procs = _start_workers(demo, ep, workers, out)
        procs.append(_start(["alerter"], {**_worker_env(demo, ep, 0), **alerter_env}, out / "alerter.log"))
        try:
            tally = simulation.Tally()
            console.print(cell(t.gettext("Simulating {days} day(s) from {start} at {speed}× …").format(
                days=f"{days:g}", start=start.isoformat(), speed=f"{speed:g}")))
            clock.start()
            team.start()
            sent = asyncio.run(_produce(city, demo, ep, speed, tally, console, procs, clock))
            console.print(cell(t.gettext("Produced {sent} messages ({malformed} deliberately malformed,"
                                         " {duplicates} producer retries) in {seconds} s").format(
                sent=f"{sent:,}", malformed=tally.malformed, duplicates=tally.duplicates,
                seconds=f"{time.monotonic() - t0:.0f}")))
            produced_at = time.monotonic()
            _drain(demo, ep, tally, procs, console)
            console.print(cell(t.gettext("All messages stored {seconds} s after the last was produced")
                               .format(seconds=f"{time.monotonic() - produced_at:.1f}")))
            _settle_liveness(demo, ep, city.end, procs, console)
            _wait_for_alerter(demo, ep, tally, procs, console, clock, team)
        finally:
            team.stop()
            clock.stop()
            _stop_workers(procs)
            mail.stop()
            robot.stop()

        with store.connect(ep.database_url, demo.database_schema) as conn:
            status = read_status(conn)
            console.rule(t.gettext("Summary"))
            print_status(console, status)
            console.rule(t.gettext("Injected failures and what the pipeline recorded"))
            print_evidence(console, conn, city, demo)
            window = ReportWindow(start, city.end, demo.tz)
            console.rule(t.gettext("Incidents and the 30-minute response"))
            print_incidents(console, conn, window, mail=mail, robot=robot, team=team,
                            language=demo.language)
            console.rule(t.gettext("Self-check"))
            assets = city.registry.assets
            children: dict[str, list[str]] = {}
            for a in assets:
                if a.parent_id is not None:
                    children.setdefault(a.parent_id, []).append(a.asset_id)
            expected = expectations(city.scenario, load_rules(demo.alert_rules_path),
                                    intervals={a.asset_id: a.expected_interval_s for a in assets},
                                    children=children, tolerance=demo.liveness_tolerance,
                                    end=city.end)
            names = load_names(conn, demo.language, {e.asset for e in expected})
            told = print_self_check(console, judge(expected, read_incidents(conn), demo.tz, names),
                                    logs=str(out / "alerter.log"), language=demo.language)
            console.rule(t.gettext("Citizens: portal, 好差评, 12345"))
            print_citizens(console, read_citizens(conn, window), demo)
            seed_assessments(conn, demo, datetime.now(UTC))
            console.rule(t.gettext("Five-key scorecard"))
            indicators = len(load_catalogue())
            with _bar(console, t, t.gettext("Indicator report"), indicators, t.gettext("indicators")) as step:
                doc = build_report(conn, window, department=None, generated_by="citybrain demo",
                                   generated_at=datetime.now(UTC), workers=demo.report_workers,
                                   work_hours=WorkHours.of(demo), on_result=lambda _: step.advance())
            report_file = out / "report.xlsx"
            view = Presentation.load(conn, demo.language)
            write_report(doc, "xlsx", report_file, view=view)
            console.print(render_scorecard(doc, view))
            print_evaluation(console, doc, demo)
            console.print(cell(t.gettext("Indicator report (XLSX, with definitions and provenance) written"
                                         " to {file} — data SHA-256 {sha256}").format(
                file=report_file, sha256=doc.provenance.data_sha256)))
            console.rule(t.gettext("Console"))
            console_ok = print_console(console, conn, open_console(conn, demo, ep.database_url), demo)
        seconds = f"{time.monotonic() - t0:.0f}"
        console.print("\n" + cell(
            t.gettext("Done in {seconds} s. Files in {out}/ (registry, worker logs). The database is kept"
                      " in {data}/pgdata for `citybrain status`.").format(
                seconds=seconds, out=out, data=demo.data_dir) if ep.embedded_database
            else t.gettext("Done in {seconds} s.").format(seconds=seconds)))
    if not console_ok:
        console.print("[bold red]" + cell(t.gettext(
            "The console did not open a role's first page on the demo's data (see the table above)."
            " Exit status 1.")) + "[/bold red]")
        return 1
    if not told:
        console.print("[bold red]" + cell(t.gettext(
            "The self-check failed: an injected failure did not open the incident it should have (see"
            " the table above). Exit status 1.")) + "[/bold red]")
        return 1
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


Worker = tuple[subprocess.Popen[bytes], IO[bytes]]
Workers = list[Worker]


def _start(command: list[str], env: dict[str, str], log_file: Path) -> Worker:
    log = log_file.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "citybrain", *command], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    return proc, log


def _start_workers(demo: Settings, ep: Endpoints, n: int, out: Path) -> Workers:
    return [_start(["worker"], _worker_env(demo, ep, i), out / f"worker-{i}.log") for i in range(1, n + 1)]


def _check_workers(procs: Workers, t: Translator) -> None:
    for proc, log in procs:
        if proc.poll() is not None:
            raise CitybrainError(t.gettext("a worker exited with code {code}; see {log}").format(
                code=proc.returncode, log=log.name))


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


def _logs(procs: Workers, t: Translator, *, alerter: bool = False) -> str:
    names = [log.name for _, log in procs if log.name.endswith("alerter.log") == alerter]
    return ", ".join(names) or t.gettext("the demo's log files")


def _advice(logs: str, t: Translator) -> str:
    return t.gettext(
        "What to do: look for errors at the end of {logs}. If the machine is only busy, run the demo"
        " again when it is quieter, or a shorter stretch (`citybrain demo --days 0.25`); the database"
        " of this run is kept for `citybrain status` (same CITYBRAIN_DATA_DIR).").format(logs=logs)


# --- progress ----------------------------------------------------------------------------------

class _Step:
    """One long step on a progress bar with counts. It waits as long as its figure of
    progress moves; after STALLED_S without it ``saw`` raises ``Stalled``, naming the step,
    what is stuck and what to do."""

    def __init__(self, bars: Progress, task: TaskID, name: str, console: Console, t: Translator) -> None:
        self.bars, self.task, self.name, self.console, self.t = bars, task, name, console, t
        self.best: float | None = None
        self.moved = self.said = time.monotonic()

    def advance(self) -> None:
        self.bars.advance(self.task)

    def saw(self, done: float, *, progress: float | None = None, total: float | None = None,
            note: str = "", stuck: str = "") -> None:
        """``done`` of ``total`` on the bar; ``progress`` (default ``done``) is the figure
        that must keep growing; ``stuck`` says what holds the step when it does not."""
        now = time.monotonic()
        figure = done if progress is None else progress
        if self.best is None or figure > self.best:
            self.best, self.moved = figure, now
        self.bars.update(self.task, completed=done, total=total, note=note)
        if not self.console.is_terminal and now - self.said >= PLAIN_EVERY_S:
            self.said = now
            shown = self.bars.tasks[self.task]
            self.console.print(cell("  " + self.t.gettext("{step}: {done} of {total} {unit} {note}").format(
                step=self.name, done=f"{done:,.0f}", total=f"{shown.total or 0:,.0f}",
                unit=shown.fields.get("unit", ""), note=note).rstrip()))
        if now - self.moved > STALLED_S:
            raise Stalled(self.t.gettext("{step}: no progress for {seconds} s. {what}").format(
                step=self.name, seconds=f"{STALLED_S:.0f}", what=stuck or note))


@contextmanager
def _bar(console: Console, t: Translator, name: str, total: float, unit: str) -> Iterator[_Step]:
    bars = Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,.0f}/{task.total:,.0f} {task.fields[unit]}"),
                    TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console)
    with bars:
        task = bars.add_task(name, total=total, unit=unit, note="")
        step = _Step(bars, task, name, console, t)
        yield step
        bars.update(task, completed=bars.tasks[task].total)


def _clock_text(clock: WatermarkClock, tz: Any, t: Translator) -> str:
    if not clock.marks:
        return t.gettext("no liveness feed has a watermark yet")
    return t.gettext(", ").join(
        t.gettext("{feed} not started").format(feed=feed) if m is None
        else f"{feed} {m.astimezone(tz):%m-%d %H:%M:%S}" for feed, m in clock.marks.items())


# --- the steps -----------------------------------------------------------------------------------

class _AlerterFrontier:
    """How far (event time) the alerter has read the family topics it reads: the producer
    notes, per event time, how many messages of each family it had sent; the alerter's
    committed offsets (polled in its consumer group) say which of those it has read. An
    alerter still starting, or slow, holds the producer as the pipeline clock does."""

    def __init__(self, demo: Settings, ep: Endpoints, tally: simulation.Tally, start: datetime) -> None:
        self.demo, self.ep, self.tally = demo, ep, tally
        self.families = sorted({r.source for r in load_rules(demo.alert_rules_path)} - {"state"})
        self.at = start
        self.committed: dict[str, int] = dict.fromkeys(self.families, 0)
        self._notes: deque[tuple[datetime, dict[str, int]]] = deque()

    def note(self) -> None:
        """Before a message is sent: everything counted so far must be read to pass its time."""
        at = self.tally.last_event_time
        if at is not None and (not self._notes or self._notes[-1][0] < at):
            self._notes.append((at, {f: self.tally.per_family[f] for f in self.families}))

    async def follow(self, stop: asyncio.Event) -> None:
        from alerts.alerter import consumer_group

        consumer = AIOKafkaConsumer(bootstrap_servers=self.ep.kafka_bootstrap, enable_auto_commit=False,
                                    group_id=consumer_group(self.demo))
        await consumer.start()
        tps = {f: [TopicPartition(self.demo.topic(f), p) for p in range(self.demo.topic_partitions)]
               for f in self.families}
        try:
            while not stop.is_set():
                for f, parts in tps.items():
                    self.committed[f] = sum([await consumer.committed(tp) or 0 for tp in parts])
                while self._notes and all(self.committed[f] >= n for f, n in self._notes[0][1].items()):
                    self.at = self._notes.popleft()[0]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_S / 2)
        finally:
            await consumer.stop()


async def _produce(city: simulation.City, demo: Settings, ep: Endpoints, speed: float,
                   tally: simulation.Tally, console: Console, procs: Workers,
                   clock: WatermarkClock) -> int:
    minutes = (city.end - city.start).total_seconds() / 60
    alerter = _AlerterFrontier(demo, ep, tally, city.start)
    t = MESSAGES.translator(demo.language)

    def limit() -> datetime:
        # Before every feed has a watermark the clock reads the window's start.
        alerter.note()
        return min(clock(), alerter.at) + LEAD

    def stuck(at: datetime) -> str:
        tz = demo.tz
        if alerter.at < clock():
            return t.gettext("The producer waits for the alerter, which has read the messages up to {time}"
                             " only ({read}). {advice}").format(
                time=f"{alerter.at.astimezone(tz):%m-%d %H:%M:%S}",
                read=t.gettext(", ").join(t.gettext("{family} {count} read").format(family=f, count=f"{n:,}")
                                          for f, n in alerter.committed.items()),
                advice=_advice(_logs(procs, t, alerter=True), t))
        return t.gettext("The producer waits for the pipeline clock (the slowest liveness watermark), which"
                         " stands at {clock} while the next message is at {next}. Feed watermarks: {marks}."
                         " The workers fold the stored events into them. {advice}").format(
            clock=f"{clock().astimezone(tz):%m-%d %H:%M:%S}", next=f"{at.astimezone(tz):%m-%d %H:%M:%S}",
            marks=_clock_text(clock, tz, t), advice=_advice(_logs(procs, t), t))

    with _bar(console, t, t.gettext("Producing"), minutes, t.gettext("simulated min")) as step:
        def progress(n: int, at: datetime) -> None:
            _check_workers(procs, t)
            behind = min(clock(), alerter.at)
            note = (t.gettext("{count} messages · waiting for the pipeline (at {time})").format(
                        count=f"{n:,}", time=f"{behind.astimezone(demo.tz):%H:%M}")
                    if at > behind + LEAD else t.gettext("{count} messages · {time}").format(
                        count=f"{n:,}", time=f"{at.astimezone(demo.tz):%m-%d %H:%M}"))
            step.saw((at - city.start).total_seconds() / 60, note=note,
                     progress=n + clock().timestamp() + alerter.at.timestamp(), stuck=stuck(at))

        stop = asyncio.Event()
        following = asyncio.ensure_future(alerter.follow(stop))
        try:
            return await simulation.produce(city, demo, ep.kafka_bootstrap, speed=speed, tally=tally,
                                            on_progress=progress, limit=limit)
        finally:
            stop.set()
            await following


def _drain(demo: Settings, ep: Endpoints, tally: simulation.Tally,
           procs: Workers, console: Console) -> None:
    """Wait until the applied offsets account for every produced message."""
    topics = {demo.topic(f): tally.per_family[f] for f in FAMILIES}
    total = sum(topics.values())
    t = MESSAGES.translator(demo.language)
    with _bar(console, t, t.gettext("Storing"), total, t.gettext("messages")) as step, \
            store.connect(ep.database_url, demo.database_schema, autocommit=True) as conn:
        while True:
            applied = dict(conn.execute(
                "SELECT topic, sum(next_offset)::bigint FROM ingest_offsets GROUP BY topic"
            ).fetchall())
            behind = {topic: n - int(applied.get(topic, 0)) for topic, n in topics.items()}
            if all(b <= 0 for b in behind.values()):
                return
            _check_workers(procs, t)
            left = sum(max(b, 0) for b in behind.values())
            step.saw(total - left, stuck=t.gettext(
                "{count} produced messages are not stored: {topics}. The workers consume and store them."
                " {advice}").format(
                count=f"{left:,}",
                topics=t.gettext(", ").join(f"{topic} {b:,}" for topic, b in behind.items() if b > 0),
                advice=_advice(_logs(procs, t), t)))
            time.sleep(POLL_S)


def _settle_liveness(demo: Settings, ep: Endpoints, end: datetime, procs: Workers,
                     console: Console) -> None:
    """Wait until the liveness derivation has folded every stored event of each feed
    (its watermark reaches the feed's latest event): the intervals are then complete."""
    tables = {f: FEED_EVIDENCE[f][0] for f in LIVENESS_FEEDS}
    t = MESSAGES.translator(demo.language)
    with store.connect(ep.database_url, demo.database_schema, autocommit=True) as conn:
        first = {f: conn.execute(sql.SQL("SELECT min(occurred_at), max(occurred_at) FROM {}").format(
            sql.Identifier(table))).fetchone() for f, table in tables.items()}
        span = {f: (row[0], row[1]) for f, row in first.items() if row and row[1] is not None}
        total = sum((hi - lo).total_seconds() / 60 for lo, hi in span.values())
        with _bar(console, t, t.gettext("Deriving liveness"), total, t.gettext("simulated min")) as step:
            while True:
                marks = dict(conn.execute("SELECT feed, watermark FROM feed_watermarks").fetchall())
                behind = {f: hi for f, (_, hi) in span.items() if f not in marks or marks[f] < hi}
                if not behind:
                    return
                _check_workers(procs, t)
                done = sum((min(marks[f], hi) - lo).total_seconds() / 60
                           for f, (lo, hi) in span.items() if f in marks and marks[f] > lo)
                step.saw(done, note=t.gettext(", ").join(
                    t.gettext("{feed} at {time}").format(feed=f, time=f"{marks[f].astimezone(demo.tz):%H:%M}")
                    if f in marks else t.gettext("{feed} not started").format(feed=f)
                    for f in sorted(behind)),
                    stuck=t.gettext("The liveness derivation is stuck: {feeds} of {end}. {advice}").format(
                        feeds=t.gettext(", ").join(
                            t.gettext("feed {feed} folded to {time}").format(
                                feed=f, time=f"{marks[f].astimezone(demo.tz):%m-%d %H:%M:%S}")
                            if f in marks else t.gettext("feed {feed} not started").format(feed=f)
                            for f in sorted(behind)),
                        end=f"{end.astimezone(demo.tz):%m-%d %H:%M:%S}", advice=_advice(_logs(procs, t), t)))
                time.sleep(POLL_S)


async def _alerter_position(demo: Settings, ep: Endpoints, families: Sequence[str]
                            ) -> tuple[dict[str, int], int, int | None]:
    """(messages the alerter has committed per family topic, its committed position on
    the state-change topic, that topic's end or None when no fetch told it yet), read in
    the alerter's own consumer group."""
    from alerts.alerter import consumer_group

    consumer = AIOKafkaConsumer(bootstrap_servers=ep.kafka_bootstrap, group_id=consumer_group(demo),
                                enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        committed: dict[str, int] = {}
        for f in families:
            committed[f] = sum([await consumer.committed(TopicPartition(demo.topic(f), p)) or 0
                                for p in range(demo.topic_partitions)])
        topic = demo.state_change_topic
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        at = {tp: await consumer.committed(tp) or 0 for tp in tps}
        consumer.assign(tps)
        for tp, offset in at.items():
            consumer.seek(tp, offset)
        # The end from a fetch's high-water mark (a broker's ListOffsets may be off by a batch).
        for _ in range(20):
            await consumer.getmany(timeout_ms=100, max_records=1)
            if all(consumer.highwater(tp) is not None for tp in tps):
                break
        highs = [consumer.highwater(tp) for tp in tps]
        ends = None if None in highs else sum(h or 0 for h in highs)
        return committed, sum(at.values()), ends
    finally:
        await consumer.stop()


def _wait_for_alerter(demo: Settings, ep: Endpoints, tally: simulation.Tally, procs: Workers,
                      console: Console, clock: WatermarkClock, team: OnCallTeam) -> None:
    """Wait until the alerter has read every produced message of the families its rules
    read and every published state change, every escalation step due on the pipeline clock
    has run, and its timeline has stopped changing: the summary shows its complete work."""
    families = sorted({r.source for r in load_rules(demo.alert_rules_path)} - {"state"})
    produced = sum(tally.per_family[f] for f in families)
    quiet_since: float | None = None
    last: tuple[int, ...] = ()
    polls = team.polls
    t = MESSAGES.translator(demo.language)
    with _bar(console, t, t.gettext("Alerting"), produced, t.gettext("messages")) as step, \
            store.connect(ep.database_url, demo.database_schema, autocommit=True) as conn:
        while True:
            _check_workers(procs, t)
            committed, state_at, state_known = asyncio.run(_alerter_position(demo, ep, families))
            state_end = state_at if state_known is None else state_known
            row = conn.execute(
                "SELECT (SELECT count(*) FROM state_outbox),"
                " (SELECT count(*) FROM incidents WHERE status = ANY(%s)"
                "  AND next_escalation_at <= %s),"
                " (SELECT count(*) FROM incidents), (SELECT count(*) FROM incident_events)",
                (list(OPEN_STATUSES), clock())).fetchone()
            outbox, due, n_incidents, n_events = row if row else (0, 0, 0, 0)
            read = sum(min(committed[f], tally.per_family[f]) for f in families) + state_at
            total = produced + state_end + outbox
            caught_up = (all(committed[f] >= tally.per_family[f] for f in families)
                         and state_known is not None and state_at >= state_end and outbox == 0
                         and due == 0)
            now = time.monotonic()
            figure = (n_incidents, n_events)
            incidents = t.ngettext("{count} incident", "{count} incidents", n_incidents).format(
                count=n_incidents)
            if not caught_up or figure != last or quiet_since is None:
                quiet_since, last, polls = now, figure, team.polls
            elif now - quiet_since >= QUIET_S and team.polls >= polls + 2:
                step.saw(total, total=total, note=incidents)
                return
            if due:
                incidents += t.gettext(" · {count} escalation steps due").format(count=due)
            step.saw(read, progress=read + n_events, total=max(total, 1), note=incidents, stuck=t.gettext(
                "The alerter is stuck: it has read {families}, state changes {state_at} of {state_end}"
                " ({outbox} not yet published by the workers); {due} escalation steps are due on the"
                " pipeline clock at {clock}. {advice}").format(
                families=t.gettext(", ").join(
                    t.gettext("{family} {read} of {total}").format(
                        family=f, read=f"{committed[f]:,}", total=f"{tally.per_family[f]:,}")
                    for f in families),
                state_at=f"{state_at:,}", state_end=f"{state_end:,}", outbox=outbox, due=due,
                clock=f"{clock().astimezone(demo.tz):%m-%d %H:%M:%S}",
                advice=_advice(_logs(procs, t, alerter=True), t)))
            time.sleep(POLL_S)

"""The alerter (``citybrain alerter``): the one process that runs detection and escalation.

It sits at the package root because it is neither stage's alone: it feeds
``alerts.detection`` from the topics, writes what comes out through
``alerts.incidents.store``, and runs ``alerts.incidents.escalation`` with the
``alerts.notifiers``. It consumes, in a consumer group of its own (ingest is
unaffected), the state-change topic and the family topics its rules read, and for each
batch:

    skip records already applied → decode → Detection (rules → flapping → maintenance
    → topology) → ONE transaction: incidents.apply for each alert, detection's state and
    the offsets → kick the escalation loop → commit the offsets to Kafka (monitoring only)

The escalation loop (``alerts.incidents.escalation.run_due`` with the notifiers built
from settings) runs in a thread of its own every ``alerter_tick_seconds`` and at once
after an incident opened, so a page does not wait for the next tick.

* One active alerter: storm collapse needs every child of a parent in one process, so
  instances take a PostgreSQL advisory lock (per schema) and the others wait as hot
  standbys.
* Exactly once, whenever it is killed: a batch's incidents, everything detection holds
  (pending for-durations and consecutive counts, children held for their siblings,
  storm groups, alerts held by maintenance or flapping) and the offsets of the records
  applied commit together (alerts/detection/state.py explains why this and not a
  rebuild from the stored readings). A restart loads that state, resumes at those
  offsets and skips what the Kafka commit had not caught up with.
* First start (nothing stored yet): open incidents (their conditions are firing), open
  flapping marks and each watched dataset's last update are read back from the
  database. A consumer group with no committed offsets starts at the earliest retained
  ones, as ingest does: a first start replays what the broker still holds.
* Time: detection runs on event time (``alerts.detection.event_clock.EventClock``: the
  latest event time seen, moved on by the wall clock while nothing newer arrives, so
  holds and absences still expire when a feed goes quiet); processing time (``clock``,
  the wall clock or, in a replay, ``alerts.watermark_clock.WatermarkClock``) stamps
  incidents and drives escalation.
* Language: people read the alerter's titles and notifications, written in
  Settings.language where they are made; its own work (loading, refreshing, the
  escalation loop) runs in English (``in_english``), so what it logs or stores as
  evidence (a refused policy, a window it cannot extend) stays English.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from psycopg import sql

from alerts.detection.evaluate import AbsenceTracker, StateChange
from alerts.detection.event_clock import EventClock
from alerts.detection.flapping import FLAPPING_RULE
from alerts.detection.pipeline import Detection
from alerts.detection.rules import Absence, load_rules
from alerts.detection.state import DetectionState
from alerts.detection.topology import load_topology, registry_version
from alerts.incidents import escalation_policy
from alerts.incidents import store as incidents
from alerts.incidents.lifecycle import OPEN_STATUSES
from alerts.maintenance.calendar import calendar_version, load_calendar
from alerts.maintenance.windows import extend_horizon
from alerts.model import Alert, Severity
from citybrain.kernel import locks, store
from citybrain.kernel.clock import Clock, utc_now
from citybrain.kernel.errors import BrokerError, CitybrainError, StoreError
from citybrain.kernel.i18n import Catalogue, use_language
from citybrain.kernel.settings import Settings
from schemas.events import TABLES
from streams.decode import Decoder

log = logging.getLogger(__name__)
MESSAGES = Catalogue.of_package(__name__)          # alerts/locale
_ = MESSAGES.current
P = ParamSpec("P")
R = TypeVar("R")


def in_english(work: Callable[P, R]) -> Callable[P, R]:
    """``work`` in English: what it raises ends in the log (or as stored evidence)."""
    @functools.wraps(work)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with use_language("en"):
            return work(*args, **kwargs)
    return run

REGISTRY_REFRESH_SECONDS = 10.0
CALENDAR_REFRESH_SECONDS = 2.0
HORIZON_REFRESH_SECONDS = 3600.0
CLOCK_PART = "clock"      # the event clock's latest event time, stored with detection's state
Sink = Callable[[psycopg.Connection[Any], Alert, datetime], Any]
NotifyFn = Callable[..., Any]


def consumer_group(settings: Settings) -> str:
    return settings.alerter_consumer_group or f"{settings.consumer_group}-alerter"


# --- database side ---------------------------------------------------------------------------

def open_alerts(conn: psycopg.Connection[Any]) -> list[Alert]:
    rows = conn.execute(
        "SELECT rule_id, fingerprint, title, severity, coalesce(source_event_at, opened_at), asset_id,"
        " department_id, key, details FROM incidents WHERE status = ANY(%s)", (list(OPEN_STATUSES),)
    ).fetchall()
    return [Alert(rule_id=r[0], fingerprint=r[1], title=r[2], severity=Severity(r[3]), event_at=r[4],
                  asset_id=r[5], department_id=r[6], key=r[7], details=dict(r[8] or {})) for r in rows]


def last_matching(conn: psycopg.Connection[Any], family: str, cond: Absence) -> dict[str, datetime]:
    """Each asset's latest stored event matching an absence rule's ``where``."""
    clauses: list[sql.Composable] = [sql.SQL("true")]
    params: list[Any] = []
    for name, wanted in cond.where.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(name)))
        params.append(values)
    query = sql.SQL("SELECT asset_id, max(occurred_at) FROM {} WHERE {} GROUP BY asset_id").format(
        sql.Identifier(TABLES[family]), sql.SQL(" AND ").join(clauses))
    return {a: t for a, t in conn.execute(query, params).fetchall()}


def record_flapping(conn: psycopg.Connection[Any], alert: Alert) -> None:
    changes = int(alert.details.get("changes", 0))
    if alert.firing:
        conn.execute("INSERT INTO asset_flapping (asset_id, marked_at, changes) VALUES (%s, %s, %s)"
                     " ON CONFLICT DO NOTHING", (alert.asset_id, alert.event_at, changes))
    else:
        conn.execute("UPDATE asset_flapping SET cleared_at = %s, changes = greatest(changes, %s)"
                     " WHERE asset_id = %s AND cleared_at IS NULL", (alert.event_at, changes, alert.asset_id))


def default_sink(settings: Settings) -> Sink:
    def sink(conn: psycopg.Connection[Any], alert: Alert, now: datetime) -> Any:
        return incidents.apply(conn, alert, now=now, settings=settings)
    return sink


class _Connection:
    """One reconnecting connection (autocommit: every write is its own transaction block)."""

    def __init__(self, url: str, schema: str) -> None:
        self.url, self.schema = url, schema
        self._conn: psycopg.Connection[Any] | None = None

    def get(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = store.connect(self.url, self.schema, autocommit=True)
        return self._conn

    @contextlib.contextmanager
    def borrow(self) -> Iterator[psycopg.Connection[Any]]:
        yield self.get()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- escalation ------------------------------------------------------------------------------

class EscalationLoop:
    """``run_due`` every ``interval`` seconds and whenever kicked, in a thread of its own
    (it is synchronous and notifies with retries)."""

    def __init__(self, settings: Settings, database_url: str, clock: Clock,
                 notify: NotifyFn, interval: float) -> None:
        self._settings = settings
        self._conn = _Connection(database_url, settings.database_schema)
        self._clock = clock
        self._notify = notify
        self._interval = interval
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="escalation", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        self._kick.set()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        self._thread.join(30)
        self._conn.close()

    @in_english
    def _run(self) -> None:
        from alerts.incidents.escalation import run_due

        while not self._stop.is_set():
            self._kick.wait(self._interval)
            self._kick.clear()
            if self._stop.is_set():
                return
            try:
                done = run_due(self._conn.borrow, self._clock(), self._notify, settings=self._settings)
                self.runs += len(done)
            except (CitybrainError, psycopg.Error) as exc:
                log.warning("escalation loop: %s; retrying", exc)
                self._conn.close()
                self._stop.wait(1.0)
            except Exception:  # a bug must not end paging for good: log it and go on
                log.exception("escalation loop failed; retrying")
                self._stop.wait(1.0)


def notifier_thread(settings: Settings, clock: Clock) -> Any:
    """The escalation's NotifyFn over the notifiers built from settings."""
    from alerts.incidents.escalation import NotifierThread
    from alerts.notifiers import RetryPolicy, build_notifiers

    return NotifierThread(lambda: build_notifiers(settings, clock=clock),
                          retry=RetryPolicy.from_settings(settings))


# --- the worker ---------------------------------------------------------------------------------

class Alerter:
    def __init__(self, settings: Settings, bootstrap: str, database_url: str, *,
                 clock: Clock = utc_now, wall: Callable[[], float] = time.monotonic,
                 received: Clock = utc_now,
                 sink: Sink | None = None, notify: NotifyFn | None = None) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.url = database_url
        self.clock = clock
        self.wall = wall
        # When records arrive, by the wall clock: the reference for absurd event times, as
        # ingest applies it. Not ``clock``, which may be a replay's event-time clock (a
        # pipeline watermark behind the events it must still accept).
        self.received = received
        self.sink = sink or default_sink(settings)
        self._notify = notify
        self.rules = load_rules(settings.alert_rules_path)
        self.events = EventClock(clock, wall, timedelta(seconds=settings.max_future_skew_seconds))
        self._db = _Connection(database_url, settings.database_schema)
        self.detection: Detection | None = None
        self.state = DetectionState()
        self.applied = 0
        self._versions: dict[str, tuple[Any, ...]] = {}
        self._checked: dict[str, float] = {}

    # -- start-up ---------------------------------------------------------------------------------
    def _lead(self, stop: threading.Event) -> psycopg.Connection[Any]:
        """Wait until this instance holds the alerter lock (the others are standbys)."""
        lock = store.connect(self.url, self.settings.database_schema, autocommit=True)
        announced = False
        while not stop.is_set():
            row = lock.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                               (locks.ALERTER, self.settings.database_schema)).fetchone()
            if row and row[0]:
                return lock
            if not announced:
                log.warning("another alerter is active on schema %s; standing by",
                            self.settings.database_schema)
                announced = True
            stop.wait(2.0)
        lock.close()
        raise CitybrainError("stopped while standing by")

    @in_english
    def _load(self) -> Detection:
        conn = self._db.get()
        now = self.clock()
        added = extend_horizon(conn, now=now, horizon_days=self.settings.maintenance_horizon_days)
        topology = load_topology(conn)
        detection = Detection(self.rules, topology, load_calendar(conn, now), self.settings)
        stored = self.state.load(conn)
        if stored is not None:
            latest = stored.pop(CLOCK_PART, {}).get("latest")
            if latest is not None:
                self.events.resume(datetime.fromisoformat(latest))
            detection.load(stored)
        else:
            detection.restore(open_alerts(conn))
            for asset_id, marked_at in conn.execute(
                    "SELECT asset_id, marked_at FROM asset_flapping WHERE cleared_at IS NULL").fetchall():
                detection.flapping.restore(asset_id, marked_at, self.events.now())
        for rule in self.rules:
            tracker = detection.evaluator.trackers[rule.id]
            if isinstance(rule.condition, Absence) and isinstance(tracker, AbsenceTracker):
                for asset_id, at in last_matching(conn, rule.source, rule.condition).items():
                    # A stored update the topic no longer holds still proves the dataset
                    # fresh; a firing one clears on the update itself, read from the topic.
                    if stored is None or asset_id not in tracker.firing:
                        tracker.seed(asset_id, at)
        for problem in escalation_policy.problems(conn, self.settings):
            # Said at start, not only when an incident of that department opens.
            log.error("%s; incidents of that department escalate by the default policy", problem)
        self._versions = {"registry": registry_version(conn), "calendar": calendar_version(conn)}
        self._checked = {k: self.wall() for k in ("registry", "calendar", "horizon")}
        log.info("alerter: %d rules, %d assets, %d maintenance periods added; %s", len(self.rules),
                 len(topology), added,
                 f"detection state resumed at {sum(self.state.offsets.values())} applied records"
                 if stored is not None else "no stored detection state: rebuilt from open incidents")
        return detection

    def topics(self, detection: Detection) -> dict[str, str]:
        """topic → family (or "state")."""
        out = {self.settings.topic(f): f for f in sorted(detection.families)}
        out[self.settings.state_change_topic] = "state"  # flapping watches every state change
        return out

    # -- periodic refresh ------------------------------------------------------------------------
    def _due(self, what: str, every: float) -> bool:
        if self.wall() - self._checked.get(what, 0.0) < every:
            return False
        self._checked[what] = self.wall()
        return True

    @in_english
    def refresh(self, detection: Detection, now: datetime) -> None:
        conn = self._db.get()
        if self._due("horizon", HORIZON_REFRESH_SECONDS):
            extend_horizon(conn, now=self.clock(), horizon_days=self.settings.maintenance_horizon_days)
        if self._due("registry", REGISTRY_REFRESH_SECONDS):
            version = registry_version(conn)
            if version != self._versions.get("registry"):
                detection.set_topology(load_topology(conn))
                self._versions["registry"] = version
        if self._due("calendar", CALENDAR_REFRESH_SECONDS) or detection.calendar.stale_for(now):
            version = calendar_version(conn)
            if version != self._versions.get("calendar") or detection.calendar.stale_for(now):
                detection.set_calendar(load_calendar(conn, now))
                self._versions["calendar"] = version

    # -- one batch ----------------------------------------------------------------------------------
    def evaluate(self, detection: Detection, decoders: dict[str, Decoder], family_of: dict[str, str],
                 records: Sequence[Any]) -> list[Alert]:
        raw: list[Alert] = []
        processed_at = self.received()
        for record in records:
            family = family_of.get(record.topic)
            if family is None or record.value is None:
                continue
            if family == "state":
                try:
                    change = StateChange.from_message(record.value)
                except (ValueError, KeyError, TypeError) as exc:
                    log.debug("state change skipped: %s", exc)
                    continue
                self.events.observe(change.at)
                raw += detection.collect_state(change)
                continue
            # Bad input is ingest's business (it dead-letters it); here it is skipped.
            for event in decoders[family].decode(record.value, processed_at).events:
                self.events.observe(event.occurred_at)
                raw += detection.collect_reading(family, event)
        return detection.process(raw, self.events.now())

    def _apply(self, conn: psycopg.Connection[Any], alert: Alert) -> bool:
        try:
            with conn.transaction():  # a savepoint: a refused alert leaves the batch's other writes
                self.sink(conn, alert, self.clock())
                if alert.rule_id == FLAPPING_RULE:
                    record_flapping(conn, alert)
        except StoreError:
            raise
        except CitybrainError as exc:
            # The store refused this alert itself (not the database): retrying cannot
            # help, and stopping would replay it forever. Say so and go on.
            log.error("alert %s not stored: %s", alert.fingerprint, exc)
            return False
        return True

    def commit(self, detection: Detection, alerts: Sequence[Alert], offsets: dict[tuple[str, int], int],
               stop: threading.Event) -> bool | None:
        """Store the alerts, detection's state and the offsets in one transaction, retrying
        through database outages. Returns whether an alert fired (worth kicking
        escalation), or None when stopped before it committed."""
        parts = detection.snapshot()
        latest = self.events.latest
        parts[CLOCK_PART] = {} if latest is None else {"latest": latest.isoformat()}
        delay = 0.2
        while not stop.is_set():
            try:
                conn = self._db.get()
                with conn.transaction():
                    stored = [a for a in alerts if self._apply(conn, a)]
                    saved = self.state.save(conn, parts, offsets)
            except (StoreError, psycopg.Error) as exc:
                log.warning("cannot store %d alert(s) and detection state (%s); retrying (check the database"
                            " and `citybrain db migrate`)", len(alerts), exc)
                self._db.close()
                stop.wait(delay)
                delay = min(delay * 2, self.settings.db_retry_max_seconds)
                continue
            self.state.committed(saved)
            for alert in stored:
                log.info("alert %s %s: %s", "firing" if alert.firing else "cleared", alert.fingerprint,
                         alert.title)
            self.applied += len(stored)
            return any(a.firing for a in stored)
        return None

    def _forget_recreated(self, consumer: AIOKafkaConsumer, batch: dict[Any, Any]) -> None:
        """A partition that ends before what was applied was recreated (a broker that keeps
        topics in memory restarted while the database kept its state): forget its stored
        offset, or the alerter would skip its new records."""
        for tp in batch:
            stored = self.state.offsets.get((tp.topic, tp.partition), 0)
            end = consumer.highwater(tp)
            if end is not None and end < stored:
                log.warning("%s[%d] ends at offset %d, before the %d records already applied: the topic"
                            " was recreated; reading it from the start", tp.topic, tp.partition, end, stored)
                self.state.offsets[(tp.topic, tp.partition)] = 0

    # -- the loop -------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        halt = threading.Event()
        waiter = asyncio.ensure_future(stop.wait())
        # The threads' view of ``stop``: a commit retrying through a database outage gives
        # up when asked to stop (nothing of its batch committed, so a restart redoes it).
        waiter.add_done_callback(lambda _: halt.set())
        lock_task = asyncio.ensure_future(asyncio.to_thread(self._lead, halt))
        await asyncio.wait({waiter, lock_task}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            halt.set()
            with contextlib.suppress(CitybrainError):
                (await lock_task).close()
            return
        lock = lock_task.result()
        notify = self._notify or notifier_thread(self.settings, self.clock)
        escalation = EscalationLoop(self.settings, self.url, self.clock, notify,
                                    self.settings.alerter_tick_seconds)
        consumer: AIOKafkaConsumer | None = None
        try:
            # Paging needs only the database: it starts before the consumer, whose start
            # waits for the group to assign partitions; after a crash, that is until the
            # broker gives up on the dead member (the session timeout), and the pages
            # already due would wait as long.
            escalation.start()
            detection = self.detection = await asyncio.to_thread(self._load)
            family_of = self.topics(detection)
            decoders = {f: Decoder(f, max_bytes=self.settings.max_message_bytes,
                                   max_future_skew=timedelta(seconds=self.settings.max_future_skew_seconds),
                                   max_age=timedelta(days=self.settings.max_event_age_days))
                        for f in detection.families}
            consumer = AIOKafkaConsumer(
                *family_of, bootstrap_servers=self.bootstrap, group_id=consumer_group(self.settings),
                enable_auto_commit=False, auto_offset_reset="earliest",
                session_timeout_ms=int(self.settings.broker_session_timeout * 1000),
                heartbeat_interval_ms=max(int(self.settings.broker_session_timeout * 250), 100),
                fetch_max_wait_ms=50, max_partition_fetch_bytes=4 << 20,
            )
            try:
                await consumer.start()
            except KafkaError as exc:
                raise BrokerError(_("the alerter cannot reach the broker at {address}: {error}; check "
                                    "CITYBRAIN_KAFKA_BOOTSTRAP").format(address=self.bootstrap,
                                                                        error=exc)) from exc
            last_tick = 0.0
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=20_000)
                # Records the stored state already holds (the Kafka commit lags the database's).
                self._forget_recreated(consumer, batch)
                records = [r for rs in batch.values() for r in rs
                           if not self.state.applied(r.topic, r.partition, r.offset)]
                alerts = self.evaluate(detection, decoders, family_of, records)
                now = self.events.now()
                ticked = self.wall() - last_tick >= self.settings.alerter_tick_seconds
                if ticked:
                    last_tick = self.wall()
                    try:
                        await asyncio.to_thread(self.refresh, detection, now)
                    except (CitybrainError, psycopg.Error) as exc:
                        # Detection goes on with the registry and calendar it has.
                        log.warning("alerter: cannot refresh registry / maintenance (%s); retrying", exc)
                        self._db.close()
                    alerts += detection.advance(now)
                if records or alerts or ticked:
                    offsets = dict(self.state.offsets)
                    for r in records:
                        offsets[(r.topic, r.partition)] = max(offsets.get((r.topic, r.partition), 0),
                                                              r.offset + 1)
                    fired = await asyncio.to_thread(self.commit, detection, alerts, offsets, halt)
                    if fired is None:
                        break  # stopping: nothing of this batch committed, a restart redoes it
                    if fired:
                        escalation.kick()
                if batch:
                    await consumer.commit()
        finally:
            halt.set()
            escalation.stop()
            if consumer is not None:
                await consumer.stop()
            closing = getattr(notify, "close", None)
            if self._notify is None and closing is not None:  # ours: the notifiers' client and loop
                closing()
            self._db.close()
            lock.close()

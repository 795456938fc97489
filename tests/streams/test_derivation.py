"""Differential tests of the liveness derivation against the real database.

One simulated stretch of a city (failures included, and a silence of the whole iot feed)
is stored through the real ingest code and derived while it arrives, delivered in
several ways: in event-time order in small batches, as one burst, shuffled across
partitions, with live events interleaved into a replay (late evidence), with the deriver
replaced mid-way, and with its database connection cut mid-way. Every delivery must give
the same state intervals, gaps, current states and report bytes as the first.
(The same with real worker processes, a SIGKILL and a database outage:
test_derivation_processes.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import pytest

from citybrain.indicators.model import ReportWindow
from citybrain.kernel import store
from citybrain.kernel.settings import FAMILIES, Settings
from citybrain.reports.document import build_report
from citybrain.reports.writers import render_json
from citybrain.simulator import CityConfig
from citybrain.simulator import prepared as simulation
from citybrain.simulator.message import SimMessage
from schemas.assets import import_registry
from streams import facts
from streams.derivation import LivenessDeriver, TickResult, derive
from streams.ingest import LIVENESS_FEEDS, Ingestor, RawMessage
from streams.sink import DeadLetter, EventSink
from tests.helpers import fresh_schema

START = datetime(2026, 3, 2, 0, tzinfo=UTC)
HOURS = 8
CONFIG = CityConfig(seed=11, departments=3, districts=2, iot_devices=60, cameras=20, cloud_hosts=2,
                    services=8, links=4, datasets=4)
# The whole iot feed says nothing for 20 minutes: an ingestion gap, wherever it falls.
SILENCE = (START + timedelta(hours=5), START + timedelta(hours=5, minutes=20))


@dataclass(frozen=True)
class Delivery:
    """Messages as (partition, message), in the order they reach the sink, cut into batches."""

    name: str
    batches: list[list[tuple[int, SimMessage]]]


def city() -> simulation.City:
    return simulation.prepare(seed=CONFIG.seed, scale=1.0, start=START, days=HOURS / 24, config=CONFIG)


def day_messages() -> list[SimMessage]:
    return [m for m in city().messages()
            if not (m.family == "iot" and SILENCE[0] <= m.event_time < SILENCE[1])]


def _by_key(m: SimMessage, partitions: int) -> int:
    return int(hashlib.sha256(m.key or b"").hexdigest(), 16) % partitions


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def deliveries(messages: list[SimMessage]) -> dict[str, Delivery]:
    keyed = [(_by_key(m, 2), m) for m in messages]
    rng = random.Random(5)
    # (c) shuffled: three partitions chosen at random, each delivered in its own order,
    # the partitions' batches interleaved at random (one runs ahead of the others).
    per_partition: dict[int, list[tuple[int, SimMessage]]] = {0: [], 1: [], 2: []}
    for m in messages:
        p = rng.randrange(3)
        per_partition[p].append((p, m))
    shuffled: list[list[tuple[int, SimMessage]]] = []
    queues = {p: chunks(ms, rng.randint(50, 400)) for p, ms in per_partition.items()}
    while any(queues.values()):
        p = rng.choice([p for p, q in queues.items() if q])
        shuffled.append(queues[p].pop(0))
    # (d) a replay with live events interleaved: the first quarter arrives in order, then
    # the rest of the backlog and the live second half alternate, batch by batch.
    quarter, half = len(keyed) // 4, len(keyed) // 2
    backlog, live = chunks(keyed[quarter:half], 150), chunks(keyed[half:], 150)
    mixed = chunks(keyed[:quarter], 150)
    while backlog or live:
        if live:
            mixed.append(live.pop(0))
        if backlog:
            mixed.append(backlog.pop(0))
    return {
        "ordered": Delivery("ordered", chunks(keyed, 120)),
        "burst": Delivery("burst", [keyed]),
        "shuffled": Delivery("shuffled", shuffled),
        "replay+live": Delivery("replay+live", mixed),
    }


def settings_for(base: Settings, schema: str) -> Settings:
    # Every partition counts as delivering for the whole test (no processing-time idling),
    # and the lateness bound covers the whole stretch.
    return base.model_copy(update={"database_schema": schema, "liveness_idle_source_seconds": 3600.0,
                                   "liveness_lateness_seconds": 2 * 86400.0})


async def _store(settings: Settings, url: str, delivery: Delivery,
                 between: Callable[[int], None]) -> None:
    async def no_dlq(_: list[DeadLetter]) -> None:
        return None

    ingestors = {f: Ingestor(f, settings, EventSink(url, settings.database_schema, f,
                                                     facts=facts.deriver(f, settings)),
                             dead_letter=no_dlq,  # type: ignore[arg-type]
                             clock=lambda: START + timedelta(hours=HOURS, minutes=5))
                 for f in FAMILIES}
    offsets: dict[tuple[str, int], int] = {}
    for n, batch in enumerate(delivery.batches):
        per_family: dict[str, list[RawMessage]] = {}
        for partition, m in batch:
            tp = (settings.topic(m.family), partition)
            offsets[tp] = offsets.get(tp, -1) + 1
            per_family.setdefault(m.family, []).append(RawMessage(tp[0], partition, offsets[tp], m.value))
        for family, raws in per_family.items():
            ingestor = ingestors[family]
            await ingestor.commit(await ingestor.prepare(raws))
        await asyncio.to_thread(between, n)
    for ingestor in ingestors.values():
        await ingestor.sink.close()


def run_delivery(base: Settings, url: str, schema: str, delivery: Delivery, *,
                 fault: str | None = None) -> None:
    settings = settings_for(base, schema)
    with store.connect(url, schema, autocommit=True) as conn:
        import_registry(conn, city().registry)
    derivers = {f: LivenessDeriver(f, settings, url) for f in LIVENESS_FEEDS}
    cut_at = len(delivery.batches) // 2

    def between(n: int) -> None:
        if n % 3:
            return
        if n == cut_at and fault == "replaced":
            # The deriving worker dies: its in-memory fold is gone, its lock with it; a
            # new one takes over from what is stored.
            for feed, d in list(derivers.items()):
                d.close()
                derivers[feed] = LivenessDeriver(feed, settings, url)
        if n == cut_at and fault == "connection":
            # The database drops the deriver's connections (a restart, a failover).
            with store.connect(url, schema, autocommit=True) as admin:
                cut = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                    " WHERE application_name LIKE %s", (f"citybrain-liveness {schema}:%",)
                                    ).fetchone()
                assert cut == (len(derivers),)
        for d in derivers.values():
            with contextlib.suppress(psycopg.OperationalError):  # retried next tick, from the checkpoint
                d.tick()

    asyncio.run(_store(settings, url, delivery, between))
    for d in derivers.values():
        d.close()
    derive(settings, url)


def outcome(url: str, schema: str) -> dict[str, Any]:
    with store.connect(url, schema, autocommit=True) as conn:
        intervals = conn.execute("SELECT asset_id, state, started_at, ended_at, reason"
                                 " FROM state_intervals ORDER BY asset_id, started_at").fetchall()
        gaps = conn.execute("SELECT feed, after_at, until_at FROM feed_gaps ORDER BY 1, 2").fetchall()
        states = conn.execute("SELECT asset_id, state, since FROM asset_state ORDER BY 1").fetchall()
        marks = conn.execute("SELECT feed, watermark FROM feed_watermarks ORDER BY 1").fetchall()
        window = ReportWindow(START, START + timedelta(hours=HOURS), ZoneInfo("Asia/Shanghai"))
        doc = build_report(conn, window, department=None, generated_by="test",
                           generated_at=START + timedelta(days=1))
        report = render_json(doc)
    return {"intervals": intervals, "gaps": gaps, "states": states, "watermarks": marks,
            "report": report}


# The reference delivery's outcome per database: this module and
# test_derivation_processes.py compare with it, and it is the same whoever computes it.
_reference: dict[str, dict[str, Any]] = {}


def reference_outcome(base: Settings, url: str) -> dict[str, Any]:
    """The outcome of the stretch stored and derived in event-time order, in one process."""
    if url not in _reference:
        with fresh_schema(url) as schema:
            run_delivery(base, url, schema, deliveries(day_messages())["ordered"])
            _reference[url] = outcome(url, schema)
    return _reference[url]


@pytest.mark.integration
def test_every_delivery_gives_the_same_intervals_and_report(settings: Settings, database_url: str) -> None:
    messages = day_messages()
    plans = deliveries(messages)
    runs: list[tuple[str, Delivery, str | None]] = [
        ("burst", plans["burst"], None),
        ("shuffled", plans["shuffled"], None),
        ("replay+live", plans["replay+live"], None),
        ("deriver replaced mid-way", plans["shuffled"], "replaced"),
        ("connection cut mid-way", plans["replay+live"], "connection"),
    ]
    results: dict[str, dict[str, Any]] = {"ordered": reference_outcome(settings, database_url)}
    for name, delivery, fault in runs:
        with fresh_schema(database_url) as schema:
            run_delivery(settings, database_url, schema, delivery, fault=fault)
            results[name] = outcome(database_url, schema)
    reference = results["ordered"]
    # The stretch holds what the figures are about: outages, picture faults, the gap.
    states = {r[1] for r in reference["intervals"]}
    assert {"online", "offline", "unknown", "degraded"} <= states, states
    assert [g[0] for g in reference["gaps"]] == ["iot"]
    assert reference["gaps"][0][1] < SILENCE[0] and reference["gaps"][0][2] >= SILENCE[1]
    for name, got in results.items():
        for part in ("intervals", "gaps", "states", "watermarks"):
            assert got[part] == reference[part], f"{name}: {part} differ"
        assert got["report"] == reference["report"], f"{name}: report bytes differ"


def _beats(asset: str, start: datetime, end: datetime, every_s: int, tag: str) -> list[bytes]:
    out, at, n = [], start, 0
    while at < end:
        out.append(orjson.dumps({"event_id": f"{tag}-{asset}-{n}", "asset_id": asset,
                                 "occurred_at": at.isoformat()}))
        at += timedelta(seconds=every_s)
        n += 1
    return out


def _water(db: psycopg.Connection[Any], assets: tuple[str, ...], registered: datetime) -> None:
    from schemas.registry import Asset, Contact, Department, Registry

    import_registry(db, Registry(
        departments=(Department(department_id="water", name="Water",
                                first_responsible=Contact(name="Wang", role="first_responsible")),),
        assets=tuple(Asset(asset_id=a, kind="iot_device", department_id="water", expected_interval_s=60,
                           registered_at=registered) for a in assets)))


def _catch_up(deriver: LivenessDeriver, *, final: bool = False) -> list[TickResult]:
    """Tick until the fold reaches the horizon (a tick folds at most one chunk)."""
    results = [deriver.tick(final=final)]
    while not results[-1].caught_up:
        results.append(deriver.tick(final=final))
    return results


def _store_iot(settings: Settings, url: str, values: list[bytes], offset: int) -> None:
    """One batch of iot messages from partition 0, through the real ingest step."""
    async def go() -> None:
        async def no_dlq(_: list[DeadLetter]) -> None:
            return None
        ing = Ingestor("iot", settings, EventSink(url, settings.database_schema, "iot"),
                       dead_letter=no_dlq, clock=lambda: START + timedelta(days=2))  # type: ignore[arg-type]
        await ing.commit(await ing.prepare([RawMessage(settings.topic("iot"), 0, offset + i, v)
                                            for i, v in enumerate(values)]))
        await ing.sink.close()
    asyncio.run(go())


@pytest.mark.integration
def test_evidence_beyond_the_lateness_bound_is_counted_and_never_folded(
        settings: Settings, database_url: str, db: psycopg.Connection[Any]) -> None:
    from citybrain.kernel import metrics

    live = settings.model_copy(update={"liveness_lateness_seconds": 3600.0,
                                       "liveness_idle_source_seconds": 3600.0})
    def h(hours: float) -> datetime:
        return START + timedelta(hours=hours)

    _water(db, ("d1", "d2"), h(-24))

    # Three hours: d1 beats all along; d2 is silent from 1:40 to 1:56 (offline in between).
    _store_iot(live, database_url, _beats("d1", h(0), h(3), 60, "a")
               + _beats("d2", h(0), h(1 + 40 / 60), 60, "a") + _beats("d2", h(1 + 56 / 60), h(3), 60, "b"), 0)
    deriver = LivenessDeriver("iot", live, database_url)
    _catch_up(deriver, final=True)
    offline = [("d2", "offline", h(1) + timedelta(minutes=41, seconds=30), h(1 + 56 / 60))]
    before = db.execute("SELECT asset_id, state, started_at, ended_at FROM state_intervals"
                        " WHERE state = 'offline' ORDER BY 1, 3").fetchall()
    assert before == offline
    counted = metrics.LIVENESS_LATE_EVENTS.labels("iot")._value.get()
    # d2's heartbeats of 1:40-1:56 arrive now, more than an hour behind the derivation
    # (it reached 3:00): stored, recorded and counted, not folded.
    _store_iot(live, database_url, _beats("d2", h(1 + 40 / 60), h(1 + 56 / 60), 60, "late"), 10_000)
    result = deriver.tick(final=True)  # caught up before: one tick
    assert result.late_events == 16
    assert metrics.LIVENESS_LATE_EVENTS.labels("iot")._value.get() == counted + 16
    late = db.execute("SELECT feed, lo, events FROM liveness_late").fetchall()
    assert late == [("iot", h(1 + 40 / 60), 16)]
    assert db.execute("SELECT count(*) FROM iot_events WHERE asset_id = 'd2'").fetchone() == (180,)
    # ...and reported: a report over the window states them in its provenance.
    doc = build_report(db, ReportWindow(h(0), h(3), ZoneInfo("Asia/Shanghai")), department=None,
                       generated_by="test", generated_at=h(24))
    assert doc.provenance.late_evidence == (("iot", 16),)
    assert b'"late_evidence": {\n      "iot": 16\n    }' in render_json(doc)
    later = build_report(db, ReportWindow(h(2), h(3), ZoneInfo("Asia/Shanghai")), department=None,
                         generated_by="test", generated_at=h(24))
    assert later.provenance.late_evidence == ()
    # A later correction folds again from a checkpoint before the frozen point: the late
    # heartbeats stay out of it, so d2's outage stands, as any evaluator saw it before.
    _water(db, ("d3",), h(-24))
    again = _catch_up(deriver, final=True)[0]
    # (the refold starts inside the late range: the late heartbeats are in what it reads)
    assert again.restarted_from is not None and again.restarted_from < h(1 + 55 / 60)
    after = db.execute("SELECT asset_id, state, started_at, ended_at FROM state_intervals"
                       " WHERE state = 'offline' AND asset_id <> 'd3' ORDER BY 1, 3").fetchall()
    assert after == offline
    deriver.close()


@pytest.mark.integration
def test_late_evidence_retracts_an_outage_and_tells_alerting(
        settings: Settings, database_url: str, db: psycopg.Connection[Any]) -> None:
    live = settings.model_copy(update={"liveness_idle_source_seconds": 3600.0,
                                       "liveness_delay_seconds": 0.0})
    def m(minutes: float) -> datetime:
        return START + timedelta(minutes=minutes)

    _water(db, ("d1", "d2"), m(-60))

    def outbox() -> list[dict[str, Any]]:
        return [orjson.loads(p) for (p,) in db.execute("SELECT payload FROM state_outbox ORDER BY id")]

    deriver = LivenessDeriver("iot", live, database_url)
    _store_iot(live, database_url, _beats("d1", m(0), m(30), 60, "a") + _beats("d2", m(0), m(10), 60, "a"), 0)
    _catch_up(deriver)
    # As far as the evidence goes, d2 went silent after minute 9: offline at its deadline.
    assert [(o["asset_id"], o["state"]) for o in outbox()] == [
        ("d1", "online"), ("d2", "online"), ("d2", "offline")]
    db.execute("DELETE FROM state_outbox")  # published
    # d2's heartbeats of minutes 10-29 arrive late (a gateway's backlog): the outage is
    # retracted, not a second interval, and alerting is told d2 is online again.
    _store_iot(live, database_url, _beats("d2", m(10), m(30), 60, "b"), 1000)
    result = _catch_up(deriver)[0]
    assert result.restarted_from is not None
    rows = db.execute("SELECT asset_id, state, started_at, ended_at FROM state_intervals"
                      " ORDER BY 1, 3").fetchall()
    assert rows == [("d1", "online", m(0), None), ("d2", "online", m(0), None)]
    current = db.execute("SELECT state, since FROM asset_state WHERE asset_id = 'd2'").fetchone()
    assert current == ("online", m(0))
    assert outbox() == [{"asset_id": "d2", "feed": "iot", "state": "online", "previous": "offline",
                         "at": m(0).isoformat(), "reason": "corrected: late evidence"}]
    deriver.close()


@pytest.mark.integration
def test_a_database_from_before_the_derivation_keeps_its_history(
        settings: Settings, database_url: str, db: psycopg.Connection[Any]) -> None:
    # Intervals written by the former monitor, and its watermark, but no derivation state:
    # what lies more than the lateness bound behind that watermark is kept as stored; the
    # derivation takes over from there.
    live = settings.model_copy(update={"liveness_lateness_seconds": 3600.0,
                                       "liveness_idle_source_seconds": 0.5})
    def h(hours: float) -> datetime:
        return START + timedelta(hours=hours)

    _water(db, ("d1",), h(-24))
    db.execute("INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason) VALUES"
               " ('d1', 'offline', %s, %s, 'old'), ('d1', 'online', %s, NULL, 'old')", (h(0), h(1), h(1)))
    db.execute("INSERT INTO feed_watermarks (feed, watermark) VALUES ('iot', %s)", (h(4),))
    _store_iot(live, database_url, _beats("d1", h(1), h(5), 60, "a"), 0)
    derive(live, database_url)
    rows = db.execute("SELECT state, started_at, ended_at, reason FROM state_intervals ORDER BY 2").fetchall()
    # Kept: the old outage and the online stretch up to the origin (3:00); from there, the
    # events: online from the first report after the origin, to the last event folded.
    assert rows[0] == ("offline", h(0), h(1), "old")
    assert rows[1][:2] == ("online", h(1)) and rows[1][3] == "old"
    assert [r[0] for r in rows[2:]] == ["online"] and rows[2][1] > h(3) and rows[2][2] is None
    mark = db.execute("SELECT watermark, origin FROM feed_watermarks").fetchone()
    assert mark == (h(5) - timedelta(minutes=1), h(3))

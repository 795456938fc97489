"""One active alerter per schema: a second instance stands by until the first lets go, and
the lock holds up nothing else (the worker's availability facts refresh runs beside it)."""

from __future__ import annotations

import asyncio
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from alerts.alerter import Alerter
from citybrain import availability
from citybrain.kernel import locks
from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.settings import Settings
from streams.topics import ensure_topics
from tests.alerts.test_alerter import running_alerter
from tests.citybrain.indicators.city import SHANGHAI, asset, department, local, states
from tests.helpers import wait_for


def test_a_second_alerter_waits_for_the_lock(database_url: str, schema: str) -> None:
    settings = Settings(database_url=database_url, database_schema=schema)
    first = Alerter(settings, "unused:9092", database_url)
    second = Alerter(settings, "unused:9092", database_url)
    halt = threading.Event()
    lock = first._lead(halt)
    timer = threading.Timer(1.5, halt.set)
    timer.start()
    with pytest.raises(CitybrainError, match="standing by"):
        second._lead(halt)                       # held by the first: it waited until halted
    other = Settings(database_url=database_url, database_schema=f"{schema}_other")
    Alerter(other, "unused:9092", database_url)._lead(threading.Event()).close()  # per schema
    lock.close()                                 # the first one stops (or dies)
    taken = second._lead(threading.Event())      # now the standby takes over at once
    taken.close()


def alerter_leads(db: psycopg.Connection[Any], schema: str) -> bool:
    """Whether a session holds the alerter's lock of ``schema`` (two-int form: classid, objid)."""
    row = db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                     " AND objsubid = 2 AND classid = %s::oid AND objid = hashtext(%s)::oid",
                     (locks.ALERTER, schema)).fetchone()
    return row == (1,)


@pytest.mark.integration
def test_the_workers_facts_refresh_runs_while_an_alerter_leads(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    """The alerter's lock holds up other alerters only: the availability facts of ended days
    are written while a real alerter leads the schema (they once shared a lock key, and
    the worker's refresh skipped for as long as an alerter ran)."""
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    states(db, "A", ("online", local(SHANGHAI, 2026, 3, 1), None))
    asyncio.run(ensure_topics(settings.kafka_bootstrap or "", settings))
    log = tmp_path / "alerter.log"
    with running_alerter(settings, log) as proc:
        wait_for(lambda: alerter_leads(db, settings.database_schema), timeout=60,
                 what="the alerter to lead", alive=proc, log=log)
        # The worker's timer: 03-12 (Shanghai) ended 20 minutes ago, past the 15-minute settle time.
        now = local(SHANGHAI, 2026, 3, 13) + timedelta(minutes=20)
        facts = Settings(availability_settle_seconds=900, availability_days=3, availability_batch_days=7)
        done = availability.refresh_recent(settings.database_url or "", settings.database_schema, facts, now)
        assert done == availability.RefreshResult((date(2026, 3, 12), date(2026, 3, 11)), 2)
        assert proc.poll() is None and alerter_leads(db, settings.database_schema)  # both at once
    days = db.execute("SELECT day FROM availability_days ORDER BY day").fetchall()
    assert days == [(date(2026, 3, 11),), (date(2026, 3, 12),)]
    rows = db.execute("SELECT day, kind, department_id, scope_us, online_us FROM availability_daily"
                      " ORDER BY day").fetchall()
    day_us = 86_400_000_000  # whole days online
    assert rows == [(date(2026, 3, d), "iot_device", "water", day_us, day_us) for d in (11, 12)]

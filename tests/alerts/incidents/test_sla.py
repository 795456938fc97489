"""SLA deadlines per severity and breach facts, each stored exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg

from alerts.incidents import sla
from alerts.incidents import store as incidents
from alerts.model import Severity
from citybrain.kernel import audit, store
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, alert
from tests.helpers import count

ONCALL = audit.Actor(id="token:aa11", role="oncall", department="water")
M = timedelta(minutes=1)
H = timedelta(hours=1)


def test_default_deadlines_per_severity() -> None:
    settings = Settings()
    got = {s: sla.deadlines(settings, s, T0) for s in Severity}
    assert {s: d.response_due_at - T0 for s, d in got.items()} == dict.fromkeys(Severity, 30 * M)
    assert {s: d.resolution_due_at - T0 for s, d in got.items()} == {
        Severity.I: 2 * H, Severity.II: 4 * H, Severity.III: 24 * H, Severity.IV: 72 * H}


def test_deadlines_follow_settings(monkeypatch: Any) -> None:
    monkeypatch.setenv("CITYBRAIN_INCIDENT_RESPONSE_MINUTES", '{"I": 15}')
    settings = Settings()
    assert sla.deadlines(settings, Severity.I, T0).response_due_at == T0 + 15 * M
    assert sla.deadlines(settings, Severity.II, T0).response_due_at == T0 + 30 * M


def _open(conn: psycopg.Connection[Any], settings: Settings, asset: str, *, rule: str = "offline",
          severity: Severity = Severity.III) -> int:
    iid = incidents.apply(conn, alert(asset, rule=rule, severity=severity), now=T0,
                          settings=settings).incident_id
    assert iid is not None
    return iid


def test_response_breaches_recorded_once_and_only_when_nobody_responded_in_time(
        city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    silent = _open(city, inc_settings, "pump-1", rule="a")
    acked = _open(city, inc_settings, "pump-1", rule="b")
    auto = _open(city, inc_settings, "pump-1", rule="c")
    fixed = _open(city, inc_settings, "pump-1", rule="d")
    late = _open(city, inc_settings, "pump-1", rule="e")
    incidents.ack(city, acked, ONCALL, now=T0 + 10 * M)
    incidents.apply(city, alert("pump-1", rule="c", firing=False), now=T0 + 5 * M, settings=inc_settings)
    incidents.resolve(city, fixed, ONCALL, "fixed without ack", now=T0 + 20 * M)

    assert sla.record_breaches(city, T0 + 29 * M) == []          # nothing due yet
    incidents.ack(city, late, ONCALL, now=T0 + 40 * M)            # after its deadline
    first = sla.record_breaches(city, T0 + 41 * M)
    assert [(b.incident_id, b.kind) for b in first] == [(silent, "response"), (late, "response")]
    assert all(b.due_at == T0 + 30 * M and b.breached_at == T0 + 41 * M for b in first)
    assert sla.record_breaches(city, T0 + 50 * M) == []           # stored once
    assert count(city, "SELECT count(*) FROM sla_breaches") == 2
    assert count(city, "SELECT count(*) FROM incident_events WHERE kind = 'sla.breach'") == 2
    assert auto not in {b.incident_id for b in sla.breaches(city)}


def test_resolution_breach_per_severity(city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    slow = _open(city, inc_settings, "pump-1", rule="a", severity=Severity.I)
    quick = _open(city, inc_settings, "pump-1", rule="b", severity=Severity.I)
    minor = _open(city, inc_settings, "pump-1", rule="c", severity=Severity.IV)
    for iid in (slow, quick, minor):
        incidents.ack(city, iid, ONCALL, now=T0 + M)
    incidents.resolve(city, quick, ONCALL, "done", now=T0 + H)
    got = sla.record_breaches(city, T0 + 2 * H + M)
    assert [(b.incident_id, b.kind, b.severity) for b in got] == [(slow, "resolution", Severity.I)]
    later = sla.record_breaches(city, T0 + 73 * H)
    assert [(b.incident_id, b.kind) for b in later] == [(minor, "resolution")]


def test_concurrent_checkers_store_each_breach_once(database_url: str, schema: str,
                                                    city: psycopg.Connection[Any],
                                                    inc_settings: Settings) -> None:
    for n in range(10):
        _open(city, inc_settings, "pump-1", rule=f"r{n}")
    barrier = threading.Barrier(3)
    found: list[int] = []

    def check() -> None:
        with store.connect(database_url, schema, autocommit=True) as conn:
            barrier.wait(5)
            found.append(len(sla.record_breaches(conn, T0 + 31 * M)))

    threads = [threading.Thread(target=check) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sum(found) == 10 and len(found) == 3
    assert count(city, "SELECT count(*) FROM sla_breaches") == 10

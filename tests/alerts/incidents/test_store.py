"""The incident store on a frozen clock: open, repeat, auto-resolve, people's actions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from alerts.incidents import store as incidents
from alerts.incidents.lifecycle import IllegalTransition, IncidentStatus
from alerts.incidents.store import ChangeKind, Filters, IncidentConflict, IncidentInputError, IncidentNotFound
from alerts.model import Severity
from citybrain.kernel import audit, store
from citybrain.kernel.i18n import use_language
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, alert
from tests.helpers import count

ONCALL = audit.Actor(id="token:aa11", role="oncall", department="water")
OPERATOR = audit.Actor(id="token:bb22", role="operator")
M = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The refusals' wording is checked in English (and once in Chinese, below)."""
    with use_language("en"):
        yield


def kinds(conn: psycopg.Connection[Any], incident_id: int) -> list[str]:
    return [e.kind for e in incidents.timeline(conn, incident_id)]


def audit_actions(conn: psycopg.Connection[Any], incident_id: int) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT action, actor FROM audit_log WHERE subject = %s ORDER BY id",
                        (str(incident_id),)).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_first_firing_opens_an_incident_with_owner_deadlines_and_frozen_policy(
        city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    change = incidents.apply(city, alert("pump-1", severity=Severity.II, affected=("pump-2",)),
                             now=T0 + 5 * M, settings=inc_settings)
    assert change.kind is ChangeKind.opened and change.status is IncidentStatus.triggered
    assert change.new_assets == ("pump-1", "pump-2")
    assert change.incident_id is not None
    found = incidents.show(city, change.incident_id)
    assert found.department_id == "water"            # from the asset registry
    assert found.key == "infrastructure"             # from the asset registry
    assert found.opened_at == T0 + 5 * M              # processing time ...
    assert found.source_event_at == T0                # ... and event time, apart
    assert found.response_due_at == T0 + 35 * M
    assert found.resolution_due_at == T0 + 5 * M + timedelta(hours=4)   # severity II
    assert found.escalation_policy["source"] == "default.yaml"
    assert [s["after_minutes"] for s in found.escalation_policy["steps"]] == [0, 10, 20, 30]
    assert found.escalation_step == 0 and found.next_escalation_at == T0 + 5 * M
    assert found.assets == ("pump-1", "pump-2")
    assert [e.kind for e in found.timeline] == ["opened"]
    assert found.timeline[0].actor == "system"


def test_alert_department_wins_over_the_asset_registry(city: psycopg.Connection[Any],
                                                       inc_settings: Settings) -> None:
    change = incidents.apply(city, alert("pump-1", department="roads"), now=T0, settings=inc_settings)
    assert change.incident_id is not None
    assert incidents.show(city, change.incident_id).department_id == "roads"


def test_repeats_are_counted_on_the_open_incident(city: psycopg.Connection[Any],
                                                  inc_settings: Settings) -> None:
    first = incidents.apply(city, alert(), now=T0, settings=inc_settings)
    second = incidents.apply(city, alert(), now=T0 + M, settings=inc_settings)
    third = incidents.apply(city, alert(affected=("pump-2",)), now=T0 + 2 * M, settings=inc_settings)
    assert second.kind is ChangeKind.repeated and third.kind is ChangeKind.repeated
    assert first.incident_id == second.incident_id == third.incident_id
    assert third.new_assets == ("pump-2",)
    assert first.incident_id is not None
    found = incidents.show(city, first.incident_id)
    assert found.repeat_count == 3 and found.last_seen_at == T0 + 2 * M
    assert count(city, "SELECT count(*) FROM incidents") == 1
    assert kinds(city, first.incident_id) == ["opened", "assets.added"]


def test_two_workers_racing_on_one_fingerprint_open_one_incident(
        database_url: str, schema: str, city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    rounds = 15
    errors: list[BaseException] = []
    for n in range(rounds):
        barrier = threading.Barrier(2)

        def work(n: int = n, barrier: threading.Barrier = barrier) -> None:
            try:
                with store.connect(database_url, schema, autocommit=True) as conn:
                    barrier.wait(5)
                    incidents.apply(conn, alert(fingerprint=f"race-{n}"), now=T0, settings=inc_settings)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert not errors, errors
    rows = city.execute("SELECT fingerprint, count(*), sum(repeat_count) FROM incidents"
                        " GROUP BY fingerprint").fetchall()
    assert len(rows) == rounds
    assert all(r[1] == 1 and r[2] == 2 for r in rows), rows


def test_a_clearing_alert_auto_resolves_as_system(city: psycopg.Connection[Any],
                                                  inc_settings: Settings) -> None:
    opened = incidents.apply(city, alert(), now=T0, settings=inc_settings)
    cleared = incidents.apply(city, alert(firing=False, at=T0 + 3 * M), now=T0 + 4 * M,
                              settings=inc_settings)
    assert cleared.kind is ChangeKind.auto_resolved and cleared.incident_id == opened.incident_id
    assert cleared.incident_id is not None
    found = incidents.show(city, cleared.incident_id)
    assert found.status is IncidentStatus.resolved
    assert found.auto_resolved and found.resolved_by == "system" and found.resolved_at == T0 + 4 * M
    assert found.acknowledged_at is None          # nobody responded
    assert found.next_escalation_at is None
    entry = found.timeline[-1]
    assert (entry.kind, entry.actor, entry.detail["auto"]) == ("resolved", "system", True)
    assert audit_actions(city, cleared.incident_id) == [("incident.auto_resolve", "system")]
    # Nothing open any more: another clearing is unmatched; a new firing opens a new incident.
    assert incidents.apply(city, alert(firing=False), now=T0 + 5 * M,
                           settings=inc_settings).kind is ChangeKind.unmatched
    again = incidents.apply(city, alert(), now=T0 + 6 * M, settings=inc_settings)
    assert again.kind is ChangeKind.opened and again.incident_id != opened.incident_id


def test_ack_resolve_close_with_timeline_and_audit(city: psycopg.Connection[Any],
                                                   inc_settings: Settings) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    acked = incidents.ack(city, iid, ONCALL, now=T0 + 7 * M, note="looking")
    assert acked.status is IncidentStatus.acknowledged
    assert (acked.acknowledged_at, acked.acknowledged_by) == (T0 + 7 * M, ONCALL.id)
    assert acked.next_escalation_at is None
    incidents.assign(city, iid, ONCALL, "Li Na", now=T0 + 8 * M)
    incidents.comment(city, iid, ONCALL, "pump lost power", now=T0 + 9 * M)
    resolved = incidents.resolve(city, iid, ONCALL, "breaker reset", now=T0 + 20 * M)
    assert resolved.status is IncidentStatus.resolved and not resolved.auto_resolved
    assert resolved.acknowledged_at == T0 + 7 * M      # the first response is kept
    closed = incidents.close(city, iid, OPERATOR, now=T0 + 60 * M)
    assert closed.status is IncidentStatus.closed and closed.closed_at == T0 + 60 * M
    assert closed.assigned_to == "Li Na"
    assert kinds(city, iid) == ["opened", "acknowledged", "assigned", "comment", "resolved", "closed"]
    assert audit_actions(city, iid) == [
        ("incident.ack", ONCALL.id), ("incident.assign", ONCALL.id), ("incident.comment", ONCALL.id),
        ("incident.resolve", ONCALL.id), ("incident.close", OPERATOR.id)]
    entry = incidents.timeline(city, iid)[-2]
    assert entry.detail == {"from": "acknowledged", "to": "resolved", "note": "breaker reset"}
    assert entry.at == T0 + 20 * M and entry.actor == ONCALL.id


def test_a_person_resolving_without_ack_is_the_first_response(city: psycopg.Connection[Any],
                                                              inc_settings: Settings) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    found = incidents.resolve(city, iid, ONCALL, "fixed on site", now=T0 + 12 * M)
    assert found.status is IncidentStatus.resolved
    assert (found.acknowledged_at, found.acknowledged_by) == (T0 + 12 * M, ONCALL.id)


@pytest.mark.parametrize(("setup", "action", "message"), [
    ([], "close", "cannot go from awaiting response to closed (close); allowed from awaiting response:"
                  " acknowledged, resolved"),
    ([], "reopen", "cannot go from awaiting response to awaiting response (reopen)"),
    (["ack"], "ack",
     "cannot go from acknowledged to acknowledged (acknowledge); allowed from acknowledged: resolved"),
    (["resolve"], "ack", "cannot go from resolved to acknowledged (acknowledge); allowed from resolved:"
                         " closed, awaiting response"),
    (["resolve"], "resolve", "cannot go from resolved to resolved"),
    (["resolve", "close"], "reopen", "cannot go from closed to awaiting response (reopen); closed is final"),
    (["resolve", "close"], "ack", "cannot go from closed to acknowledged"),
])
def test_illegal_actions_raise_and_change_nothing(city: psycopg.Connection[Any], inc_settings: Settings,
                                                  setup: list[str], action: str, message: str) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    do = {
        "ack": lambda: incidents.ack(city, iid, ONCALL, now=T0 + M),
        "resolve": lambda: incidents.resolve(city, iid, ONCALL, "done", now=T0 + 2 * M),
        "close": lambda: incidents.close(city, iid, ONCALL, now=T0 + 3 * M),
        "reopen": lambda: incidents.reopen(city, iid, ONCALL, now=T0 + 4 * M),
    }
    for step in setup:
        do[step]()
    before = (incidents.show(city, iid), count(city, "SELECT count(*) FROM audit_log"))
    with pytest.raises(IllegalTransition) as caught:
        do[action]()
    assert message in str(caught.value)
    assert (incidents.show(city, iid), count(city, "SELECT count(*) FROM audit_log")) == before


def test_reopen_counts_and_restarts_the_frozen_ladder(city: psycopg.Connection[Any],
                                                      inc_settings: Settings) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    incidents.apply(city, alert(firing=False), now=T0 + 5 * M, settings=inc_settings)
    found = incidents.reopen(city, iid, OPERATOR, now=T0 + 40 * M, note="still down")
    assert found.status is IncidentStatus.triggered and found.reopened_count == 1
    assert found.resolved_at is None and not found.auto_resolved
    assert (found.escalation_step, found.next_escalation_at) == (0, T0 + 40 * M)
    assert found.opened_at == T0 and found.response_due_at == T0 + 30 * M   # same incident, same SLA
    assert found.timeline[-1].kind == "reopened"
    assert found.timeline[-1].detail == {"from": "resolved", "to": "triggered", "note": "still down"}
    # Acknowledging the reopened incident keeps the first response time (none here: now).
    acked = incidents.ack(city, iid, ONCALL, now=T0 + 41 * M)
    assert acked.acknowledged_at == T0 + 41 * M
    incidents.resolve(city, iid, ONCALL, "done", now=T0 + 50 * M)
    again = incidents.reopen(city, iid, OPERATOR, now=T0 + 55 * M)
    assert again.reopened_count == 2
    assert incidents.ack(city, iid, OPERATOR, now=T0 + 56 * M).acknowledged_at == T0 + 41 * M


def test_reopen_refused_while_a_newer_incident_holds_the_fingerprint(
        city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    old = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert old is not None
    incidents.resolve(city, old, ONCALL, "done", now=T0 + M)
    incidents.apply(city, alert(), now=T0 + 2 * M, settings=inc_settings)
    with pytest.raises(IncidentConflict, match="another incident with its fingerprint is open"):
        incidents.reopen(city, old, OPERATOR, now=T0 + 3 * M)
    assert incidents.show(city, old).status is IncidentStatus.resolved


def test_bad_input_and_unknown_incidents(city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    with pytest.raises(IncidentInputError, match="a resolution note must not be empty"):
        incidents.resolve(city, iid, ONCALL, "   ", now=T0 + M)
    with pytest.raises(IncidentInputError, match="a comment must not be empty"):
        incidents.comment(city, iid, ONCALL, "", now=T0 + M)
    with pytest.raises(IncidentNotFound, match="no incident 999999"):
        incidents.ack(city, 999999, ONCALL, now=T0 + M)
    with use_language("zh-CN"), pytest.raises(IncidentNotFound, match="未找到事件 999999"):
        incidents.ack(city, 999999, ONCALL, now=T0 + M)
    incidents.resolve(city, iid, ONCALL, "done", now=T0 + 2 * M)
    with pytest.raises(IncidentConflict, match=r"is resolved; only an open incident \(awaiting response or"):
        incidents.assign(city, iid, ONCALL, "Li Na", now=T0 + 3 * M)
    with use_language("zh-CN"), pytest.raises(IncidentConflict, match="当前为“已恢复”；只有未关闭的事件"):
        incidents.assign(city, iid, ONCALL, "Li Na", now=T0 + 3 * M)
    incidents.comment(city, iid, ONCALL, "post-mortem on Friday", now=T0 + 4 * M)   # always allowed
    assert kinds(city, iid) == ["opened", "resolved", "comment"]


def test_list_filters(city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    a = incidents.apply(city, alert("pump-1", severity=Severity.I, affected=("pump-2",)), now=T0,
                        settings=inc_settings).incident_id
    b = incidents.apply(city, alert("cam-9"), now=T0 + 10 * M, settings=inc_settings).incident_id
    c = incidents.apply(city, alert("pump-2", rule="packet-loss"), now=T0 + 20 * M,
                        settings=inc_settings).incident_id
    assert a is not None
    incidents.ack(city, a, ONCALL, now=T0 + M)

    def ids(**kw: Any) -> list[int]:
        return [i.incident_id for i in incidents.list_incidents(city, Filters(**kw))]

    assert ids() == [c, b, a]                                    # newest first
    assert ids(status=IncidentStatus.acknowledged) == [a]
    assert ids(severity=Severity.I) == [a]
    assert ids(department_id="roads") == [b]
    assert ids(asset_id="pump-2") == [c, a]                      # a through its affected assets
    assert ids(opened_from=T0 + 10 * M, opened_to=T0 + 20 * M) == [b]
    assert ids(limit=1) == [c]

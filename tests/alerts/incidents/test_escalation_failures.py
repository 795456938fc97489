"""What goes wrong in escalation stays with its own incident or page.

* A step that raises (here: a department whose registry contacts are malformed) is
  logged, written to that incident's timeline and to the audit log, and every other
  incident's steps still run.
* A policy no clock can run (``after_minutes: 1e300``) is refused where policies are
  read, with a message naming the field; an incident of that department pages by the
  default ladder and says why.
* Each page is claimed on its own, its attempt committed before it is sent: a worker
  that dies after a delivery leaves that attempt on the timeline, and the pages of the
  step it had not reached yet go out on the next run, each once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from alerts.incidents import escalation_policy
from alerts.incidents import store as incidents
from alerts.incidents.escalation import NotifierThread, run_due
from alerts.incidents.escalation_policy import PolicyError, parse_policy
from alerts.model import Notification, Outcome, Recipient
from alerts.notifiers.delivery import RetryPolicy
from citybrain.kernel import audit
from citybrain.kernel.i18n import use_language
from citybrain.kernel.settings import Settings
from schemas.assets import import_registry
from schemas.registry import Registry
from streams.topics import ensure_topics
from tests.alerts.incidents.conftest import T0, ConnFactory, Pager, alert
from tests.alerts.incidents.loopback import WebhookReceiver
from tests.alerts.incidents.test_two_workers import _webhook_only
from tests.alerts.receiver import receiver
from tests.alerts.test_alerter import running_alerter
from tests.helpers import count, produce, wait_for

ADMIN = audit.Actor(id="token:ad00", role="admin")


def kinds(db: psycopg.Connection[Any], incident_id: int) -> list[str]:
    return [e.kind for e in incidents.timeline(db, incident_id)]


def test_a_step_that_raises_stops_only_its_own_incident(
        city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory, pager: Pager,
        caplog: pytest.LogCaptureFixture) -> None:
    # Roads' contacts are not a list of contacts: resolving its on-call raises.
    city.execute("UPDATE departments SET contacts = '[1]'::jsonb WHERE department_id = 'roads'")
    bad = incidents.apply(city, alert("cam-9"), now=T0, settings=inc_settings).incident_id
    good = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
    assert bad is not None and good is not None and bad < good     # the bad one is first in line
    with caplog.at_level(logging.ERROR, logger="alerts.incidents.escalation"):
        runs = run_due(connect, T0, pager.notify, settings=inc_settings)
    assert [(r.incident_id, r.error is None) for r in runs] == [(bad, False), (good, True)]
    assert pager.recipients() == [("lina@water.example",)]         # water was paged
    assert "AttributeError" in (runs[0].error or "")
    # Logged, on the timeline, audited; its ladder stopped (not retried every tick).
    assert any(f"escalation of incident {bad}" in r.getMessage() for r in caplog.records)
    errors = [e for e in incidents.timeline(city, bad) if e.kind == "escalation.error"]
    assert len(errors) == 1 and errors[0].detail["step"] == 0
    assert "AttributeError" in errors[0].detail["error"]
    entry = city.execute("SELECT actor, subject, details->>'error' FROM audit_log"
                         " WHERE action = 'incident.escalation_error'").fetchall()
    assert [(a, s) for a, s, _ in entry] == [("system", str(bad))] and "AttributeError" in entry[0][2]
    assert incidents.show(city, bad).next_escalation_at is None
    assert incidents.show(city, bad).status.value == "triggered"    # still open, still visible
    # Ten minutes on, water's next step runs; roads' failure is not repeated.
    later = run_due(connect, T0 + timedelta(minutes=10), pager.notify, settings=inc_settings)
    assert [(r.incident_id, r.step) for r in later] == [(good, 1)]
    assert count(city, "SELECT count(*) FROM audit_log WHERE action = 'incident.escalation_error'") == 1


def test_after_minutes_1e300_is_refused_with_a_clear_message() -> None:
    huge = {"name": "x", "steps": [{"after_minutes": 0, "notify": ["group"]},
                                   {"after_minutes": 1e300, "notify": ["group"]}]}
    clear = r"steps\.1\.after_minutes: .*from 0 to 43200 \(30 days\), got 1e\+300"
    with use_language("en"), pytest.raises(PolicyError, match=clear):
        parse_policy(huge)
    with use_language("en"), pytest.raises(PolicyError, match=r"got inf"):
        parse_policy({"name": "x", "steps": [{"after_minutes": float("inf"), "notify": ["group"]}]})
    # The API's admin reads it in the platform's language (zh-CN by default).
    chinese = (r"^请求中的升级策略无效：steps\.1\.after_minutes: .*"
               r"after_minutes 须为 0 至 43200 之间的分钟数（30 天），实际为 1e\+300$")
    with pytest.raises(PolicyError, match=chinese):
        parse_policy(huge)


def test_a_department_with_a_refused_policy_pages_by_the_default_one(
        city: psycopg.Connection[Any], database_url: str, schema: str, connect: ConnFactory, pager: Pager,
        tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text("name: d\nsteps: [{after_minutes: 0, notify: [oncall]}]\n")
    (tmp_path / "water.yaml").write_text("name: w\nsteps: [{after_minutes: 0, notify: [oncall]},"
                                         " {after_minutes: 1e300, notify: [lead]}]\n")
    settings = Settings(database_url=database_url, database_schema=schema, escalation_policy_dir=tmp_path)
    with use_language("en"):   # as the alerter logs them
        problems = escalation_policy.problems(city, settings)
    assert problems == [
        "escalation policy water.yaml is invalid: steps.1.after_minutes: Value error, after_minutes must be"
        " a number of minutes from 0 to 43200 (30 days), got 1e+300"]
    iid = incidents.apply(city, alert("pump-1"), now=T0, settings=settings).incident_id
    assert iid is not None
    found = incidents.show(city, iid)
    assert found.escalation_policy["source"] == "default.yaml"
    warning = [e for e in found.timeline if e.kind == "escalation.warning"]
    assert len(warning) == 1 and "water.yaml is invalid" in warning[0].detail["warning"]
    assert count(city, "SELECT count(*) FROM audit_log WHERE action = 'incident.policy_refused'") == 1
    (run,) = run_due(connect, T0, pager.notify, settings=settings)
    assert run.error is None and pager.recipients() == [("lina@water.example",)]


class Crash(BaseException):
    """The process dying mid-run (not an error the loop would catch)."""


def test_a_crash_after_a_delivery_leaves_its_attempt_and_loses_no_other_page(
        city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory) -> None:
    with WebhookReceiver() as hook:
        policy = parse_policy({"name": "three", "steps": [{"after_minutes": 0, "notify": ["group"]}],
                               "groups": [{"name": f"hook-{i}", "channel": "webhook",
                                           "address": f"{hook.url}/{i}"} for i in range(3)]})
        escalation_policy.replace_policy(city, "water", policy, ADMIN, now=T0)
        iid = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
        assert iid is not None
        with NotifierThread(_webhook_only, retry=RetryPolicy(attempts=1)) as real:
            calls = 0

            def dies_after_the_second(n: Notification, r: Recipient, record: Any) -> Outcome:
                nonlocal calls
                calls += 1
                outcome = real(n, r, record)
                if calls == 2:
                    raise Crash  # delivered, but the outcome never reaches the database
                return outcome
            with pytest.raises(Crash):
                run_due(connect, T0, dies_after_the_second, settings=inc_settings)
            assert len(hook.requests) == 2
            # The next run (a restarted worker) sends the page the crash never reached.
            assert run_due(connect, T0, real, settings=inc_settings) == []
    assert Counter(q.path for q in hook.requests) == {"/hook/0": 1, "/hook/1": 1, "/hook/2": 1}
    timeline = kinds(city, iid)
    assert timeline.count("escalation.step") == 1
    assert timeline.count("notification.attempt") == 3       # every page sent is on the timeline
    assert timeline.count("notification.delivered") == 2      # the crashed one's outcome is unknown
    states = city.execute("SELECT state, count(*) FROM notification_sends GROUP BY 1 ORDER BY 1").fetchall()
    assert states == [("done", 2), ("sending", 1)]


def _department(dept: str, contacts: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"department_id": dept, "name": dept.title(), "contacts": contacts or [],
            "first_responsible": {"name": f"Head of {dept}", "role": "first_responsible"}}


def _portal(asset_id: str, dept: str) -> dict[str, Any]:
    return {"asset_id": asset_id, "kind": "portal", "department_id": dept, "expected_interval_s": 60,
            "registered_at": "2025-01-01T00:00:00+08:00"}


@pytest.mark.integration
def test_in_a_running_alerter_a_bad_policy_or_incident_holds_up_no_other_department(
        settings: Settings, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    """A real alerter: roads' policy cannot run (1e300 minutes) and parks' registry entry
    makes its step raise; both incidents open before water's, and water is still paged."""
    import_registry(db, Registry.model_validate({
        "departments": [_department("roads"), _department("parks"), _department("water")],
        "assets": [_portal(f"portal-{d[0]}", d) for d in ("roads", "parks", "water")]}))
    db.execute("UPDATE departments SET contacts = '[1]'::jsonb WHERE department_id = 'parks'")
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))
    log = tmp_path / "alerter.log"
    with receiver() as hook:
        policies = tmp_path / "policies"
        policies.mkdir()
        group = f"groups:\n  - {{name: ops, channel: webhook, address: '{hook.url}'}}\n"
        (policies / "default.yaml").write_text(
            "name: test\nsteps:\n  - {after_minutes: 0, notify: [oncall, group]}\n" + group)
        (policies / "roads.yaml").write_text(
            "name: roads\nsteps:\n  - {after_minutes: 0, notify: [group]}\n"
            "  - {after_minutes: 1e300, notify: [group]}\n" + group)
        with running_alerter(settings, log, CITYBRAIN_ESCALATION_POLICY_DIR=str(policies)) as proc:
            for n, asset_id in enumerate(("portal-r", "portal-p", "portal-w")):   # in this order
                event = {"event_id": f"sec-{n}", "asset_id": asset_id, "source": "ids",
                         "category": "intrusion", "occurred_at": datetime.now(UTC).isoformat(), "level": "I",
                         "title": "webshell"}
                message = [(asset_id.encode(), orjson.dumps(event))]
                asyncio.run(produce(boot, settings.topic("security"), message))
                def incident_opened(n: int = n) -> bool:
                    return count(db, "SELECT count(*) FROM incidents") == n + 1

                wait_for(incident_opened, timeout=60, what=f"incident {n + 1}", alive=proc, log=log)
            opened = [r[0] for r in db.execute("SELECT incident_id FROM incidents ORDER BY incident_id")]
            roads, parks, water = opened
            wait_for(lambda: {p["incident_id"] for p in hook.bodies()} >= {roads, water}, timeout=30,
                     what="roads' and water's pages", alive=proc, log=log)
            wait_for(lambda: count(db, "SELECT count(*) FROM audit_log"
                                       " WHERE action = 'incident.escalation_error'") == 1,
                     timeout=30, what="parks' failure audited", alive=proc, log=log)
    assert Counter(p["incident_id"] for p in hook.bodies()) == {roads: 1, water: 1}
    # Roads: its own ladder refused (the default one paged), said on its timeline and audited.
    assert incidents.show(db, roads).escalation_policy["source"] == "default.yaml"
    assert "escalation.warning" in kinds(db, roads)
    assert count(db, "SELECT count(*) FROM audit_log WHERE action = 'incident.policy_refused'"
                     " AND subject = %s", str(roads)) == 1
    # Parks: its step raised; logged, on its timeline, audited, and nothing else held up.
    assert "escalation.error" in kinds(db, parks)
    text = log.read_text(errors="replace")
    assert "roads.yaml is invalid: steps.1.after_minutes" in text
    assert f"escalation of incident {parks} (step 0) failed" in text


@pytest.mark.integration
def test_a_real_alerter_killed_twice_while_paging_sends_each_page_at_most_once_and_shows_every_attempt(
        settings: Settings, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    """66 incidents × 3 steps (0, 3 and 6 seconds) = 198 pages to a receiver that answers
    in 20 ms; the alerter is SIGKILLed twice while it pages and started again each time."""
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))
    log = tmp_path / "alerter.log"
    n_incidents, steps = 66, 3
    with WebhookReceiver(delay=0.02) as hook:
        policies = tmp_path / "policies"
        policies.mkdir()
        (policies / "default.yaml").write_text(
            "name: fast\nsteps:\n" + "".join(f"  - {{after_minutes: {0.05 * i:g}, notify: [group]}}\n"
                                             for i in range(steps))
            + f"groups:\n  - {{name: ops, channel: webhook, address: '{hook.url}'}}\n")
        env = {"CITYBRAIN_ESCALATION_POLICY_DIR": str(policies), "CITYBRAIN_ALERTER_TICK_SECONDS": "0.2"}
        events = [(f"asset-{i}".encode(), orjson.dumps({
            "event_id": f"sec-{i}", "asset_id": f"asset-{i}", "source": "ids", "category": "intrusion",
            "occurred_at": datetime.now(UTC).isoformat(), "level": "I", "title": "webshell"}))
            for i in range(n_incidents)]
        asyncio.run(produce(boot, settings.topic("security"), events))
        for kill_after in (30, 110):
            with running_alerter(settings, log, **env) as proc:
                def paged(k: int = kill_after) -> bool:
                    return len(hook.requests) >= k

                wait_for(paged, timeout=90, what=f"{kill_after} pages", alive=proc, log=log)
                proc.kill()                                   # SIGKILL, mid-paging
                proc.wait(10)

        def finished() -> bool:
            done = count(db, "SELECT count(*) FROM incidents WHERE escalation_step = %s", steps)
            return done == n_incidents and count(
                db, "SELECT count(*) FROM notification_sends WHERE state = 'pending'") == 0
        with running_alerter(settings, log, **env) as proc:
            wait_for(finished, timeout=120, what="every step run and every page claimed", alive=proc, log=log)
        received = Counter((q.body["incident_id"], q.body["step"]) for q in hook.requests)
    ids = [r[0] for r in db.execute("SELECT incident_id FROM incidents")]
    expected = {(i, s) for i in ids for s in range(steps)}
    in_doubt = {(i, s) for i, s in db.execute(
        "SELECT incident_id, step FROM notification_sends WHERE state = 'sending'").fetchall()}
    duplicated = sum(n - 1 for n in received.values())
    missed = expected - set(received)
    print(f"pages: {len(expected)} expected, {sum(received.values())} received, {duplicated} duplicated,"
          f" {len(missed)} missed, {len(in_doubt)} in doubt (attempt without outcome)")
    assert len(ids) == n_incidents and set(received) <= expected
    assert duplicated == 0                                   # never twice
    assert missed <= in_doubt                                # a page not received has its attempt shown
    attempts = Counter((e[0], e[1]) for e in db.execute(
        "SELECT incident_id, (detail->>'step')::int FROM incident_events"
        " WHERE kind = 'notification.attempt'"))
    assert set(attempts) == expected and set(attempts.values()) == {1}   # every page's attempt, once

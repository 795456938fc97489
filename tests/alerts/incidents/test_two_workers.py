"""Two escalation workers, each with its own database connection and its own notifiers,
run the same due steps at the same moment: every step is sent exactly once.

Deliveries go to a real HTTP receiver on loopback that answers slowly (30 ms), so both
workers are busy at the same time and would double-page if the lock, the step token or
the commit-before-notify order were wrong."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

from alerts.incidents import escalation_policy
from alerts.incidents import store as incidents
from alerts.incidents.escalation import NotifierThread, StepRun, run_due
from alerts.incidents.escalation_policy import parse_policy
from alerts.notifiers.delivery import RetryPolicy
from alerts.notifiers.registry import NotifierRegistry
from alerts.notifiers.webhook import WebhookNotifier
from citybrain.kernel import audit
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, ConnFactory, alert
from tests.alerts.incidents.loopback import WebhookReceiver
from tests.helpers import count

INCIDENTS = 24
M = timedelta(minutes=1)


def _webhook_only() -> NotifierRegistry:
    client = httpx.AsyncClient(timeout=5, trust_env=False)
    return NotifierRegistry([WebhookNotifier(client, ZoneInfo("Asia/Shanghai"))], client=client)


def _race(connect: ConnFactory, settings: Settings, now: Any) -> list[list[StepRun]]:
    barrier = threading.Barrier(2)
    results: list[list[StepRun]] = [[], []]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with NotifierThread(_webhook_only, retry=RetryPolicy(attempts=1)) as notify:
                barrier.wait(10)
                results[n] = run_due(connect, now, notify, settings=settings)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_two_workers_send_each_step_exactly_once(city: psycopg.Connection[Any], inc_settings: Settings,
                                                 connect: ConnFactory) -> None:
    with WebhookReceiver(delay=0.03) as receiver:
        policy = parse_policy({
            "name": "group-ladder",
            "steps": [{"after_minutes": 0, "notify": ["group"]}, {"after_minutes": 10, "notify": ["group"]}],
            "groups": [{"name": "water-hook", "channel": "webhook", "address": receiver.url}],
        })
        escalation_policy.replace_policy(city, "water", policy, audit.Actor("token:ad00", "admin"), now=T0)
        ids = set()
        for n in range(INCIDENTS):
            opened = incidents.apply(city, alert("pump-1", rule=f"rule-{n}"), now=T0, settings=inc_settings)
            ids.add(opened.incident_id)

        first = _race(connect, inc_settings, T0)
        second = _race(connect, inc_settings, T0 + 10 * M)

    runs = [r for batch in first + second for r in batch]
    assert all(len(batch) > 0 for batch in first + second), [len(b) for b in first + second]
    claimed = Counter((r.incident_id, r.step) for r in runs)
    assert set(claimed) == {(i, s) for i in ids for s in (0, 1)}
    assert max(claimed.values()) == 1
    # What the receiver got: one request per incident per step, nothing twice.
    received = Counter((q.body["incident_id"], q.body["step"]) for q in receiver.requests)
    assert len(receiver.requests) == 2 * INCIDENTS
    assert set(received) == set(claimed) and max(received.values()) == 1
    assert count(city, "SELECT count(*) FROM incident_events WHERE kind = 'escalation.step'") == 2 * INCIDENTS
    assert count(city, "SELECT count(*) FROM incident_events WHERE kind = 'notification.delivered'") \
        == 2 * INCIDENTS

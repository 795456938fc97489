"""Escalation on a frozen clock: the ladder at 0/10/20/30 minutes and whom each step reaches,
acknowledgement stopping it, a step reaching nobody, silences, frozen policies, failed
deliveries — pages go through the real notifiers to a loopback SMTP server and HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from alerts.incidents import escalation_policy, sla
from alerts.incidents import store as incidents
from alerts.incidents.escalation import NotifierThread, StepRun, run_due
from alerts.incidents.escalation_policy import PolicyError, parse_policy
from alerts.maintenance import windows as maintenance
from alerts.model import Severity
from alerts.notifiers import RetryPolicy, build_notifiers
from citybrain.kernel import audit, store
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import use_language
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, ConnFactory, Pager, alert
from tests.alerts.incidents.loopback import WebhookReceiver
from tests.helpers import count

ONCALL = audit.Actor(id="token:aa11", role="oncall", department="water")
ADMIN = audit.Actor(id="token:ad00", role="admin")
M = timedelta(minutes=1)
H = timedelta(hours=1)


def emails(run: StepRun) -> list[str]:
    return [r.address for r in run.recipients]


def test_the_default_ladder_at_0_10_20_30_minutes(city: psycopg.Connection[Any], inc_settings: Settings,
                                                  connect: ConnFactory, pager: Pager) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None

    def at(minutes: float) -> list[StepRun]:
        return run_due(connect, T0 + minutes * M, pager.notify, settings=inc_settings)

    step0 = at(0)
    assert [(r.step, emails(r)) for r in step0] == [(0, ["lina@water.example"])]
    assert step0[0].unresolved == ("the policy lists no group channels",)   # Sun Hao has IM only
    assert at(5) == [] and at(9.99) == []
    assert [(r.step, emails(r)) for r in at(10)] == [(1, ["lina@water.example", "zhao@water.example"])]
    assert [(r.step, emails(r)) for r in at(20)] == [(2, ["chen@water.example"])]
    assert at(29.99) == [] and sla.breaches(city) == []
    step3 = at(30)
    assert [(r.step, emails(r), r.breach_recorded) for r in step3] == [(3, ["wang@ops.example"], True)]
    assert [(b.incident_id, b.kind, b.breached_at) for b in sla.breaches(city)] == [
        (iid, "response", T0 + 30 * M)]
    assert at(120) == []                                    # the ladder has ended
    assert all(d.outcome.delivered for r in step0 + step3 for d in r.deliveries)
    # What the mail server received, in order: one mail per recipient per step.
    assert pager.recipients() == [("lina@water.example",), ("lina@water.example",), ("zhao@water.example",),
                                  ("chen@water.example",), ("wang@ops.example",)]
    assert "Subject:" in pager.mails[0].content and f"#{iid}" in pager.mails[0].content
    found = incidents.show(city, iid)
    assert (found.escalation_step, found.next_escalation_at) == (4, None)
    steps = [e for e in found.timeline if e.kind == "escalation.step"]
    assert [e.detail["step"] for e in steps] == [0, 1, 2, 3]
    assert [e.at for e in steps] == [T0, T0 + 10 * M, T0 + 20 * M, T0 + 30 * M]
    assert [[r["role"] for r in e.detail["recipients"]] for e in steps] == [
        ["oncall"], ["oncall", "lead"], ["first_responsible"], ["duty_supervisor"]]
    assert count(city, "SELECT count(*) FROM incident_events WHERE kind = 'notification.delivered'") == 5


def test_acknowledgement_stops_the_ladder(city: psycopg.Connection[Any], inc_settings: Settings,
                                          connect: ConnFactory, pager: Pager) -> None:
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    assert len(run_due(connect, T0, pager.notify, settings=inc_settings)) == 1
    incidents.ack(city, iid, ONCALL, now=T0 + 4 * M)
    for minutes in (10, 20, 30, 60):
        assert run_due(connect, T0 + minutes * M, pager.notify, settings=inc_settings) == []
    assert pager.recipients() == [("lina@water.example",)]
    assert sla.record_breaches(city, T0 + 31 * M) == []


def test_a_step_that_reaches_nobody_is_a_warning_and_the_ladder_goes_on(
        city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory, pager: Pager) -> None:
    iid = incidents.apply(city, alert("cam-9"), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    (run,) = run_due(connect, T0, pager.notify, settings=inc_settings)
    assert run.warning and run.recipients == () and run.deliveries == ()
    assert "no oncall contact with an e-mail in department roads" in run.unresolved
    warning = [e for e in incidents.timeline(city, iid) if e.kind == "escalation.warning"]
    assert len(warning) == 1 and warning[0].detail["warning"] == "step 0 reached nobody"
    found = incidents.show(city, iid)
    assert (found.escalation_step, found.next_escalation_at) == (1, T0 + 10 * M)
    # ... and the supervisor step, which does reach someone, still comes.
    runs = run_due(connect, T0 + 30 * M, pager.notify, settings=inc_settings)
    assert [(r.step, r.warning) for r in runs] == [(1, True), (2, True), (3, False)]
    assert pager.recipients() == [("wang@ops.example",)]


def test_a_silence_suppresses_pages_not_steps_or_breaches(city: psycopg.Connection[Any],
                                                          inc_settings: Settings, connect: ConnFactory,
                                                          pager: Pager) -> None:
    spec = maintenance.make_spec(kind="silence", scope="department", target="water",
                                 starts_at=T0 - 5 * M, ends_at=T0 + 15 * M, timezone="Asia/Shanghai",
                                 reason="pump house rewiring")
    maintenance.create(city, spec, ADMIN, now=T0 - 10 * M, horizon_days=1)
    iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
    assert iid is not None
    runs = [r for m in (0, 10, 20, 30) for r in run_due(connect, T0 + m * M, pager.notify,
                                                        settings=inc_settings)]
    assert [(r.step, r.silenced) for r in runs] == [(0, True), (1, True), (2, False), (3, False)]
    assert runs[0].recipients and runs[0].deliveries == ()     # resolved, just not paged
    assert pager.recipients() == [("chen@water.example",), ("wang@ops.example",)]
    assert [b.kind for b in sla.breaches(city, incident_id=iid)] == ["response"]


def test_policy_is_frozen_at_opening(city: psycopg.Connection[Any], inc_settings: Settings,
                                     connect: ConnFactory, pager: Pager) -> None:
    before = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
    leads_only = parse_policy({"name": "leads", "steps": [{"after_minutes": 0, "notify": ["lead"]}]})
    escalation_policy.replace_policy(city, "water", leads_only, ADMIN, now=T0 + M)
    after = incidents.apply(city, alert("pump-2"), now=T0 + 2 * M, settings=inc_settings).incident_id
    assert after is not None and before is not None
    runs = {r.incident_id: r for r in run_due(connect, T0 + 2 * M, pager.notify, settings=inc_settings)}
    assert emails(runs[before]) == ["lina@water.example"]     # the default it opened with
    assert emails(runs[after]) == ["zhao@water.example"]      # the edited policy
    assert incidents.show(city, after).escalation_policy["source"] == "database"
    assert incidents.show(city, before).escalation_policy["source"] == "default.yaml"
    edits = audit.entries(city, action="escalation_policy.replace")
    assert [(e.actor, e.subject) for e in edits] == [(ADMIN.id, "water")]
    assert run_due(connect, T0 + 60 * M, pager.notify, settings=inc_settings)   # before's later steps
    assert incidents.show(city, after).next_escalation_at is None            # one-step ladder ended


def test_department_yaml_overrides_the_default(city: psycopg.Connection[Any], inc_settings: Settings,
                                               tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text(
        "name: d\nsteps: [{after_minutes: 0, notify: [oncall]}]\n", encoding="utf-8")
    (tmp_path / "water.yaml").write_text(
        "name: water-night\nsteps:\n  - {after_minutes: 0, notify: [oncall, group]}\n"
        "  - {after_minutes: 5, notify: [lead]}\n"
        "groups: [{name: water-group, channel: wecom, address: 'https://robot.example/send?key=s3cret'}]\n",
        encoding="utf-8")
    settings = inc_settings.model_copy(update={"escalation_policy_dir": tmp_path})
    water = escalation_policy.policy_for(city, "water", settings)
    assert (water.source, water.policy.name, len(water.policy.steps)) == ("water.yaml", "water-night", 2)
    assert escalation_policy.policy_for(city, "roads", settings).source == "default.yaml"
    assert escalation_policy.policy_for(city, None, settings).source == "default.yaml"
    (tmp_path / "roads.yaml").write_text("name: r\nsteps: [{after_minutes: 5, notify: [oncall]},"
                                         " {after_minutes: 1, notify: [lead]}]\n", encoding="utf-8")
    # A department's invalid policy is refused, not fatal: its incidents take the default.
    with use_language("en"):
        refused = escalation_policy.policy_for(city, "roads", settings)
    assert refused.source == "default.yaml"
    why = refused.refused or ""
    assert "roads.yaml is invalid: " in why and "strictly increasing" in why
    (tmp_path / "default.yaml").write_text("name: d\nsteps: []\n", encoding="utf-8")
    with use_language("en"), pytest.raises(PolicyError, match=r"default\.yaml is invalid"):   # no fallback
        escalation_policy.policy_for(city, "roads", settings)


def test_failed_deliveries_are_timeline_entries(city: psycopg.Connection[Any], inc_settings: Settings,
                                                connect: ConnFactory, pager: Pager) -> None:
    with WebhookReceiver() as robot:
        robot.status = 404
        policy = parse_policy({
            "name": "group", "steps": [{"after_minutes": 0, "notify": ["group", "oncall"]}],
            "groups": [{"name": "water-hook", "channel": "webhook", "address": robot.url}]})
        escalation_policy.replace_policy(city, "water", policy, ADMIN, now=T0)
        iid = incidents.apply(city, alert(), now=T0, settings=inc_settings).incident_id
        (run,) = run_due(connect, T0, pager.notify, settings=inc_settings)
    assert [(d.recipient.channel, d.outcome.delivered) for d in run.deliveries] == [
        ("webhook", False), ("email", True)]
    assert len(robot.requests) == 1 and robot.requests[0].body["incident_id"] == iid
    assert iid is not None
    failed = [e for e in incidents.timeline(city, iid) if e.kind == "notification.failed"]
    assert len(failed) == 1 and "HTTP 404" in failed[0].detail["result"]
    # The step entry never shows a webhook's credentials (here: none, but only scheme and host).
    step = next(e for e in incidents.timeline(city, iid) if e.kind == "escalation.step")
    assert step.detail["recipients"][0]["address"].endswith("/…")


def test_running_again_at_the_same_moment_pages_nobody_twice(
        city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory, pager: Pager) -> None:
    incidents.apply(city, alert(), now=T0, settings=inc_settings)
    assert len(run_due(connect, T0, pager.notify, settings=inc_settings)) == 1
    assert run_due(connect, T0, pager.notify, settings=inc_settings) == []      # a restarted worker
    assert len(pager.mails) == 1


def test_run_due_records_resolution_breaches_on_the_way_out(
        city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory, pager: Pager) -> None:
    iid = incidents.apply(city, alert(severity=Severity.I), now=T0, settings=inc_settings).incident_id
    incidents.ack(city, iid or 0, ONCALL, now=T0 + M)            # no steps left to run
    assert run_due(connect, T0 + 2 * H, pager.notify, settings=inc_settings) == []
    assert [(b.incident_id, b.kind) for b in sla.breaches(city)] == [(iid, "resolution")]


def test_run_due_refuses_a_connection_inside_a_transaction(
        database_url: str, schema: str, city: psycopg.Connection[Any], inc_settings: Settings,
        pager: Pager) -> None:
    incidents.apply(city, alert(), now=T0, settings=inc_settings)
    with store.connect(database_url, schema) as busy:
        busy.execute("SELECT 1")                                  # opens a transaction

        @contextmanager
        def borrowed() -> Iterator[psycopg.Connection[Any]]:
            yield busy

        with pytest.raises(StoreError, match="outside any transaction"):
            run_due(borrowed, T0, pager.notify, settings=inc_settings)
    assert pager.mails == []


def _group_page(city: psycopg.Connection[Any], settings: Settings, connect: ConnFactory,
                **alert_changes: Any) -> dict[str, Any]:
    """The first step's page to the water department's group webhook, through the notifiers
    the settings build (their language included), as the receiver got it."""
    with WebhookReceiver() as robot:
        policy = parse_policy({
            "name": "group", "steps": [{"after_minutes": 0, "notify": ["oncall", "group"]}],
            "groups": [{"name": "water-hook", "channel": "webhook", "address": robot.url}]})
        escalation_policy.replace_policy(city, "water", policy, ADMIN, now=T0)
        incidents.apply(city, alert(**alert_changes), now=T0, settings=settings)
        with NotifierThread(lambda: build_notifiers(settings, clock=lambda: T0),
                            retry=RetryPolicy(attempts=1)) as notify:
            run_due(connect, T0, notify, settings=settings)
    (page,) = [r.body for r in robot.requests]
    return page


def test_a_page_names_the_department_and_assets_from_the_registry(
        city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory) -> None:
    page = _group_page(city, inc_settings, connect, affected=("pump-2",))
    assert (page["department"], page["department_name"]) == ("water", "市水务局")
    assert page["assets"] == [{"asset_id": "pump-1", "name": "1号水泵"},
                              {"asset_id": "pump-2", "name": "pump-2"}]
    assert page["asset_count"] == 2 and page["escalation_targets"] == ["oncall", "group"]
    assert page["response_due_at"] == "2026-03-02T01:30:00Z"                  # opened + 30 minutes
    assert page["subject"] == "【告警】III级(较大) 市水务局 · 1号水泵、pump-2：pump-1 offline（事件 #1）"
    assert page["text"] == "受影响资产（2 个）：1号水泵 (pump-1)、pump-2"
    message = page["message"]
    for line in ("部门：市水务局 (water)", "资产：1号水泵 (pump-1)、pump-2",
                 "开始时间：2026-03-02 09:00:00 中国标准时间 (Asia/Shanghai, UTC+08:00)",
                 "响应时限：2026-03-02 09:30 前（开启后 30 分钟内）",
                 "升级步骤：首次通知，通知值班人员、部门群",
                 "通知对象：water-hook（部门群）", "查看事件：https://citybrain.test/console/incidents/1"):
        assert line in message.splitlines(), (line, message)
    assert "citybrain incidents" not in message and "`" not in message


def test_a_page_in_english_uses_the_registry_names_in_english(
        city: psycopg.Connection[Any], inc_settings: Settings, connect: ConnFactory) -> None:
    english = inc_settings.model_copy(update={"language": "en"})
    page = _group_page(city, english, connect)
    assert page["language"] == "en" and page["department_name"] == "Water Authority"
    assert page["assets"] == [{"asset_id": "pump-1", "name": "Pump 1"}] and page["text"] == ""
    assert page["subject"] == ("【告警 Alert】Level III (major) Water Authority · Pump 1: pump-1 offline"
                               " (incident #1)")
    assert "Respond by: 2026-03-02 09:30 (30 min after opening)" in page["message"]
    assert "Escalation: first notice, to on-call, department group" in page["message"]
    assert "No one-click acknowledge link" in page["message"] and "citybrain incidents" not in page["message"]

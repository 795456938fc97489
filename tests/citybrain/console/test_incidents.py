"""The on-call pages over the whole app and the real database: the list scoped by
department, an incident's page (names, clocks, escalation, timeline, contacts only for
those who may see them), and each action — done by the store under the person's actor,
audited, on the timeline — refused to evaluators, to another department and without the
form's anti-forgery value."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from alerts.incidents import escalation_policy
from alerts.incidents import store as incidents
from alerts.incidents.escalation import run_due
from alerts.incidents.escalation_policy import parse_policy
from citybrain.kernel import audit
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, ConnFactory, Pager, alert
from tests.alerts.incidents.loopback import WebhookReceiver
from tests.citybrain.console.oncall import (  # noqa: F401
    Clock,
    box,
    city,
    client,
    clock,
    connect,
    console_settings,
    inc_settings,
    link_settings,
    pager,
    roads_incident,
    water_incident,
)
from tests.citybrain.console.support import csrf_of, sign_in, sign_in_with

M = timedelta(minutes=1)
ADMIN = audit.Actor(id="cli:test", role="admin")


def _section(html: str, section: str) -> str:
    found = re.search(rf'<section class="card"[^>]*id="{section}">(.*?)</section>', html, re.DOTALL)
    assert found is not None, section
    return found.group(1)


def _token(browser: TestClient, db: psycopg.Connection[Any], role: Role, department: str | None,
           name: str) -> tuple[str, str]:
    """Signed in with a new token: (its actor id, the session's csrf value)."""
    token, clear = tokens.create(db, role, department=department, name=name, created_by="test")
    return f"token:{token.token_id}", sign_in_with(browser, clear)


# --- the list -------------------------------------------------------------------------------

def test_the_list_is_scoped_by_department(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                          console_settings: Settings, water_incident: int,  # noqa: F811
                                          clock: Clock) -> None:  # noqa: F811
    roads = roads_incident(city, console_settings)
    clock.now = T0 + 5 * M
    sign_in(client, city, Role.oncall, "water", name="李娜")
    page = client.get("/console/incidents")
    assert page.status_code == 200, page.text
    listed = _section(page.text, "department")
    assert "市水务局的事件" in listed
    assert f"/console/incidents/{water_incident}" in listed and f"/console/incidents/{roads}" not in listed
    assert '<span class="sev sev-III" title="III级(较大)">III</span>' in listed and "待响应" in listed
    assert "市水务局 · 2026-03-02 09:00 CST 创建" in listed
    assert 'data-deadline="2026-03-02T01:30:00+00:00"' in listed and "剩余 25:00" in listed
    assert 'name="department"' not in listed               # an on-call person sees their department only
    refused = client.get("/console/incidents", params={"department": "roads"})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]

    client.cookies.clear()
    sign_in(client, city, Role.operator, None, name="王芳")
    everything = _section(client.get("/console/incidents").text, "department")
    assert f"/console/incidents/{water_incident}" in everything
    assert f"/console/incidents/{roads}" in everything
    assert "各部门的事件" in everything and "Roads Bureau" in everything
    only_roads = _section(client.get("/console/incidents", params={"department": "roads"}).text, "department")
    assert f"/console/incidents/{roads}" in only_roads
    assert f"/console/incidents/{water_incident}" not in only_roads
    severe = _section(client.get("/console/incidents", params={"severity": "II"}).text, "department")
    assert f"/console/incidents/{roads}" in severe and f"/console/incidents/{water_incident}" not in severe
    for bad in ({"status": "open; drop"}, {"severity": "V"}, {"department": "nowhere"}):
        answer = client.get("/console/incidents", params=bad)
        assert answer.status_code == 422 and "请从列表中选择" in answer.text, bad
        assert answer.headers["content-type"].startswith("text/html")


def test_my_incidents_are_those_assigned_to_me_or_acknowledged_by_me(
        client: TestClient, city: psycopg.Connection[Any], console_settings: Settings,  # noqa: F811
        water_incident: int) -> None:  # noqa: F811
    other = incidents.apply(city, alert("pump-2"), now=T0, settings=console_settings).incident_id
    actor, _ = _token(client, city, Role.oncall, "water", "Li Na")
    assert "暂无指派给您或由您确认的事件" in _section(client.get("/console/incidents").text, "mine")
    incidents.assign(city, water_incident, ADMIN, "Li Na", now=T0 + M)
    mine = _section(client.get("/console/incidents").text, "mine")
    assert f"/console/incidents/{water_incident}" in mine and f"/console/incidents/{other}" not in mine
    assert "指派给 Li Na" in mine
    assert other is not None
    incidents.ack(city, other, audit.Actor(actor, "oncall", "water"), now=T0 + 2 * M)
    mine = _section(client.get("/console/incidents").text, "mine")
    assert f"/console/incidents/{other}" in mine and "已于 2026-03-02 09:02 CST 响应" in mine


# --- the incident page ----------------------------------------------------------------------

def test_the_page_shows_names_clocks_escalation_and_timeline(
        client: TestClient, city: psycopg.Connection[Any], console_settings: Settings,  # noqa: F811
        connect: ConnFactory, pager: Pager, clock: Clock) -> None:  # noqa: F811
    with WebhookReceiver() as robot:
        hook = robot.url + "?key=sekrit-robot-key"
        policy = parse_policy({
            "name": "water", "groups": [{"name": "水务群", "channel": "webhook", "address": hook}],
            "steps": [{"after_minutes": 0, "notify": ["oncall", "group"]},
                      {"after_minutes": 10, "notify": ["lead", "group"]},
                      {"after_minutes": 30, "notify": ["first_responsible"], "record_breach": True}]})
        escalation_policy.replace_policy(city, "water", policy, ADMIN, now=T0)
        iid = incidents.apply(city, alert("pump-1", affected=("pump-2",)), now=T0,
                              settings=console_settings).incident_id
        run_due(connect, T0, pager.notify, settings=console_settings)
    assert iid is not None
    clock.now = T0 + 5 * M
    sign_in(client, city, Role.oncall, "water", name="李娜")
    page = client.get(f"/console/incidents/{iid}")
    assert page.status_code == 200, page.text
    html = page.text
    assert f"#{iid} pump-1 offline" in html and "待响应" in html
    what = _section(html, "what-happened")
    assert "市水务局 (water)" in what and "1号水泵 (pump-1)" in what and "pump-2" in what
    assert "<code>device-offline</code>" in what
    # The 30-minute response clock and the resolution clock (level III: 24 hours).
    assert "须于 2026-03-02 09:30 CST 前响应" in html and "剩余 25:00" in html
    assert "须于 2026-03-03 09:00 CST 前解决" in html and "剩余 23:55:00" in html
    assert html.count('data-left="剩余 {time}" data-overdue="已超时 {time}"') == 2
    # Escalation: step 1 done (Li Na by e-mail, the group by its name), steps 2 and 3 to come.
    escalation = _section(html, "escalation")
    assert "第 1 步" in escalation and "Li Na" in escalation and "lina@water.example" in escalation
    assert "于 2026-03-02 09:10 CST" in escalation and "Zhao Min" in escalation and "水务群" in escalation
    assert "于 2026-03-02 09:30 CST" in escalation and "Chen Jie" in escalation
    # The robot's address is shown to nobody; the acknowledge button comes first.
    assert "sekrit" not in html and robot.url not in html
    assert html.index('id="ack-form"') < html.index('id="response-clock"')
    timeline = _section(html, "timeline")
    assert "系统" in timeline and "创建" in timeline and "规则 device-offline" in timeline
    assert "2026-03-02 09:00:00 CST" in timeline

    # An evaluator reads the page: the names, but no e-mail address and no action.
    client.cookies.clear()
    sign_in(client, city, Role.evaluator, None, name="评估员")
    read = client.get(f"/console/incidents/{iid}").text
    assert "Li Na" in read and "lina@water.example" not in read and "zhao@water.example" not in read
    assert 'id="ack-form"' not in read and 'id="actions"' not in read and "sekrit" not in read


def test_each_action_works_is_audited_and_on_the_timeline(
        client: TestClient, city: psycopg.Connection[Any], water_incident: int,  # noqa: F811
        clock: Clock) -> None:  # noqa: F811
    iid = water_incident
    actor, csrf = _token(client, city, Role.oncall, "water", "李娜")
    base = f"/console/incidents/{iid}"
    clock.now = T0 + 4 * M
    done = client.post(f"{base}/ack", data={"csrf": csrf, "note": "在路上"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{base}?done=ack"
    page = client.get(done.headers["location"]).text
    assert "您已确认接单。升级通知已停止。" in page
    assert "李娜 于 2026-03-02 09:04 CST 确认接单" in page and "升级已停止：事件已确认接单。" in page
    found = incidents.show(city, iid)
    assert (found.status.value, found.acknowledged_by, found.acknowledged_at) == ("acknowledged", actor,
                                                                                  T0 + 4 * M)
    clock.now = T0 + 5 * M
    steps = [("assign", {"assignee": "Zhao Min"}), ("comment", {"text": "换了保险丝"}),
             ("resolve", {"note": "水泵已重启"}), ("reopen", {"note": "又掉线了"}),
             ("resolve", {"note": "更换电源"}), ("close", {})]
    for verb, fields in steps:
        answer = client.post(f"{base}/{verb}", data={"csrf": csrf, **fields}, follow_redirects=False)
        assert answer.status_code == 303, (verb, answer.text)
    found = incidents.show(city, iid)
    assert (found.status.value, found.assigned_to, found.reopened_count) == ("closed", "Zhao Min", 1)
    kinds = [(e.kind, e.actor) for e in found.timeline if e.actor != "system"]
    assert kinds == [("acknowledged", actor), ("assigned", actor), ("comment", actor), ("resolved", actor),
                     ("reopened", actor), ("resolved", actor), ("closed", actor)]
    logged = [(e.action, e.actor, e.role) for e in reversed(audit.entries(city)) if e.subject == str(iid)]
    assert logged == [(f"incident.{v}", actor, "oncall")
                      for v in ("ack", "assign", "comment", "resolve", "reopen", "resolve", "close")]
    page = client.get(base).text
    timeline = _section(page, "timeline")
    assert "指派给 Zhao Min" in timeline and "换了保险丝" in timeline and "更换电源" in timeline
    assert f'<b title="{actor}">李娜</b>' in timeline
    # A closed incident offers a comment only; an action its status forbids is a 409 page saying why.
    assert 'id="comment-form"' in page
    assert not any(f'id="{v}-form"' in page for v in ("ack", "assign", "resolve", "close", "reopen"))
    again = client.post(f"{base}/reopen", data={"csrf": csrf})
    assert again.status_code == 409 and "已关闭" in again.text and 'role="alert"' in again.text
    assert incidents.show(city, iid).status.value == "closed"


def test_a_resolution_needs_a_note(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                   water_incident: int) -> None:  # noqa: F811
    _, csrf = _token(client, city, Role.operator, None, "王芳")
    answer = client.post(f"/console/incidents/{water_incident}/resolve", data={"csrf": csrf, "note": "  "})
    assert answer.status_code == 422 and 'role="alert"' in answer.text
    long = client.post(f"/console/incidents/{water_incident}/comment",
                       data={"csrf": csrf, "text": "x" * 4001})
    assert long.status_code == 422 and "4000" in long.text
    assert incidents.show(city, water_incident).status.value == "triggered"
    assert [e.kind for e in incidents.show(city, water_incident).timeline] == ["opened"]


def test_an_evaluator_may_not_act(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                  water_incident: int) -> None:  # noqa: F811
    csrf = sign_in(client, city, Role.evaluator, None, name="评估员")
    assert client.get(f"/console/incidents/{water_incident}").status_code == 200
    for verb in ("ack", "comment", "resolve"):
        refused = client.post(f"/console/incidents/{water_incident}/{verb}",
                              data={"csrf": csrf, "note": "x", "text": "x"})
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"], verb
    assert incidents.show(city, water_incident).status.value == "triggered"
    assert audit.entries(city, action="incident.ack") == []


def test_an_oncall_of_another_department_is_refused(client: TestClient, city: psycopg.Connection[Any],  # noqa: F811
                                                    water_incident: int) -> None:  # noqa: F811
    csrf = sign_in(client, city, Role.oncall, "roads", name="周岚")
    page = client.get(f"/console/incidents/{water_incident}")
    assert page.status_code == 403 and "其他部门" in page.text and "pump-1" not in page.text
    acted = client.post(f"/console/incidents/{water_incident}/ack", data={"csrf": csrf})
    assert acted.status_code == 403
    assert incidents.show(city, water_incident).status.value == "triggered"


def test_an_action_without_its_anti_forgery_value_is_refused(
        client: TestClient, city: psycopg.Connection[Any], water_incident: int) -> None:  # noqa: F811
    csrf = sign_in(client, city, Role.oncall, "water", name="李娜")
    assert client.post(f"/console/incidents/{water_incident}/ack", data={}).status_code == 403
    wrong = csrf[:-1] + ("x" if csrf[-1] != "x" else "y")
    assert client.post(f"/console/incidents/{water_incident}/ack", data={"csrf": wrong}).status_code == 403
    elsewhere = client.post(f"/console/incidents/{water_incident}/ack", data={"csrf": csrf},
                            headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    assert incidents.show(city, water_incident).status.value == "triggered"
    page = client.get(f"/console/incidents/{water_incident}").text
    assert csrf_of(page) == csrf


def test_unknown_incidents_are_404_pages(client: TestClient, city: psycopg.Connection[Any]) -> None:  # noqa: F811
    csrf = sign_in(client, city, Role.operator, None, name="王芳")
    for path in ("/console/incidents/987654", "/console/incidents/abc"):
        page = client.get(path)
        assert page.status_code == 404 and "不存在事件" in page.text, path
    assert client.post("/console/incidents/987654/ack", data={"csrf": csrf}).status_code == 404

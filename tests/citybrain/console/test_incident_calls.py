"""Citizens' 12345 calls on the on-call pages and the API's incident detail: work orders
about an incident's asset, created while it was open, are linked to it (view
work_order_incidents); the list shows "市民来电 N" and puts the incident first, its page
lists the orders with their limits, and the API's detail counts them.

The water incident (pump-1) opened at T0 = 2026-03-02 09:00 Shanghai. Orders about pump-1
at 09:05 (urgent), 09:10 (urgent), 09:20 (help) are linked; one at 08:50, before the
incident opened, and one about another asset are not. The feed's watermark is the last
event, 09:40: the urgent 09:05 order responded at 09:30 (due 09:35: on time), the 09:10
one not at all (due 09:40: pending, the watermark is not past it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from citybrain.kernel.workdays import Calendars
from schemas.workorder_categories import load as load_categories
from streams import workorders
from tests.alerts.incidents.conftest import T0
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
from tests.citybrain.console.support import sign_in
from tests.citybrain.console.test_incidents import _section

M = timedelta(minutes=1)
E = workorders.Event


def _store(db: psycopg.Connection[Any], orders: dict[str, list[workorders.Event]],
           watermark: datetime) -> None:
    """The facts the hotline fact step would write for these orders."""
    categories = load_categories()
    for order_id, events in orders.items():
        order = workorders.fold(order_id, events, categories)
        db.execute(f"INSERT INTO work_orders ({', '.join(workorders.ORDER_COLUMNS)})"
                   f" VALUES ({', '.join(['%s'] * len(workorders.ORDER_COLUMNS))})", order.row())
        for limit in workorders.limits(order, categories, Calendars(), ZoneInfo("Asia/Shanghai"), watermark):
            db.execute(f"INSERT INTO work_order_limits ({', '.join(workorders.LIMIT_COLUMNS)})"
                       f" VALUES ({', '.join(['%s'] * len(workorders.LIMIT_COLUMNS))})", limit.row())


def _calls(db: psycopg.Connection[Any]) -> None:
    def created(at: datetime, category: str, asset: str = "pump-1") -> workorders.Event:
        return E(at, f"c-{at.isoformat()}", "created", category=category, subject_asset_id=asset,
                 channel="phone")

    _store(db, {
        "WO-1": [created(T0 + 5 * M, "urgent"), E(T0 + 30 * M, "r1", "responded")],
        "WO-2": [created(T0 + 10 * M, "urgent")],
        "WO-3": [created(T0 + 20 * M, "help"), E(T0 + 40 * M, "d3", "dispatched", department_id="water")],
        "WO-early": [created(T0 - 10 * M, "urgent")],
        "WO-other": [created(T0 + 15 * M, "urgent", asset="pump-2")],
    }, watermark=T0 + 40 * M)


def test_the_list_shows_the_calls_and_puts_the_incident_first(
        client: TestClient, city: psycopg.Connection[Any], console_settings: Settings,  # noqa: F811
        water_incident: int, clock: Clock) -> None:  # noqa: F811
    roads = roads_incident(city, console_settings)       # newer: listed first without calls
    _calls(city)
    clock.now = T0 + 45 * M
    sign_in(client, city, Role.operator, None, name="王芳")
    listed = _section(client.get("/console/incidents").text, "department")
    assert listed.index(f"/console/incidents/{water_incident}") < listed.index(f"/console/incidents/{roads}")
    assert listed.count("市民来电 3") == 1
    # One incident, whatever the number of calls; nothing paged for them.
    assert city.execute("SELECT count(*) FROM incidents").fetchone() == (2,)


def test_the_incident_page_and_the_api_list_the_linked_orders(
        client: TestClient, city: psycopg.Connection[Any], water_incident: int,  # noqa: F811
        clock: Clock) -> None:  # noqa: F811
    _calls(city)
    clock.now = T0 + 45 * M
    sign_in(client, city, Role.oncall, "water", name="李娜")
    calls = _section(client.get(f"/console/incidents/{water_incident}").text, "calls")
    assert "工单 3 个" in calls and "紧急 2 · 求助 1" in calls
    # newest first: WO-3 (help: response due the next working day, pending), WO-2 (urgent,
    # due 09:40 = the watermark: pending), WO-1 (responded 09:30, due 09:35: on time)
    assert calls.index("WO-3") < calls.index("WO-2") < calls.index("WO-1")
    assert "按时" in calls and "WO-early" not in calls and "WO-other" not in calls

    _, clear = tokens.create(city, Role.evaluator, department=None, name="eval", created_by="test")
    detail = client.get(f"/api/v1/incidents/{water_incident}", headers={"Authorization": f"Bearer {clear}"})
    assert detail.status_code == 200, detail.text
    shown = detail.json()["work_orders"]
    assert shown["count"] == 3 and shown["categories"] == {"urgent": 2, "help": 1}
    assert [(o["order_id"], o["response"]) for o in shown["latest"]] == [
        ("WO-3", "pending"), ("WO-2", "pending"), ("WO-1", "met")]

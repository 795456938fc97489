"""Incidents and SLA: what is open now (with links to each incident), MTTA/MTTR, breaches."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, sql, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-incidents"

MTTA = "ops.mtta"
MTTR = "ops.mttr"
RESPONSE_30 = "ops.response_30min_rate"
OFF_HOURS = "ops.offhours_ack_rate"

OPEN_COLUMNS = ("incident_id", "severity", "status", "title", "department", "district", "key", "asset_id",
                "opened_at", "acknowledged_at", "response_due_at", "minutes_open", "response_overdue")


def build(settings: Settings) -> Board:
    tz = settings.timezone
    board = Board(UID, "Citybrain · Incidents and SLA", settings, tags=("incidents", "sla"),
                  description="Open incidents, the 30-minute response, MTTA/MTTR and SLA breaches")
    board.variable(variables.department()).variable(variables.district()).variable(variables.key())
    board.variable(variables.api_url(settings.public_url))

    board.row("Open now")
    incident_link = {
        "title": "Incident ${__data.fields.incident_id}",
        "url": "${api_url}/api/v1/incidents/${__data.fields.incident_id}",
        "targetBlank": True,
    }
    board.panel(
        panels.listing("Open incidents", "Triggered or acknowledged; the incident id links to the "
                       "incident in the API (acknowledge and resolve there or with `citybrain incidents`)",
                       height=10)
        .override_by_name("incident_id", [model.DynamicConfigValue(id_val="links", value=[incident_link])])
        .override_by_name("minutes_open", [model.DynamicConfigValue(id_val="unit", value="m")])
        .override_by_name("response_overdue", panels.flag_cells(("overdue", "red"), ("", "transparent"))),
        SqlQuery(sql.OPEN_INCIDENTS, OPEN_COLUMNS),
    )

    board.row("Response")
    for indicator_id in (RESPONSE_30, OFF_HOURS, MTTA, MTTR):
        ind = indicator_sql.indicator(indicator_id)
        board.panel(panels.figure(ind, span=6, height=5),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=ind.name_en),
                             (ind.name_en,)))
    for indicator_id in (MTTA, MTTR):
        ind = indicator_sql.indicator(indicator_id)
        board.panel(panels.indicator_trend(ind, title=f"{ind.name_en} per day", span=12),
                    SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=ind.name_en),
                             ("time", ind.name_en), format="time_series"))

    board.row("SLA breaches")
    board.panel(
        barchart.Panel().title("Breaches per department")
        .description("Response (not acknowledged in time) and resolution (not resolved in time) "
                     "breaches recorded in the range")
        .x_field("department").stacking(common.StackingMode.NORMAL).orientation(common.VizOrientation.HORIZONTAL)
        .unit("none").span(12).height(10),
        SqlQuery(sql.BREACHES_BY_DEPARTMENT, ("department", "response", "resolution")),
    )
    board.panel(
        panels.trend("Incidents opened", "By severity, in the dashboard's interval", unit="none",
                     span=12, bars=True, stacked=True),
        SqlQuery(sql.INCIDENTS_OPENED, ("time", "metric", "value"), format="time_series"),
    )
    return board

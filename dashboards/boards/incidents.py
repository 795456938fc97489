"""Incidents and SLA: what is open now (with links to each incident), MTTA/MTTR, breaches."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart
from grafana_foundation_sdk.models import common

from citybrain.kernel.i18n import Language
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, sql, texts, variables
from dashboards.board import Board, SqlQuery
from dashboards.boards.overview import open_incident_columns

UID = "citybrain-incidents"

MTTA = "ops.mtta"
MTTR = "ops.mttr"
RESPONSE_30 = "ops.response_30min_rate"
OFF_HOURS = "ops.offhours_ack_rate"


def build(settings: Settings, language: Language) -> Board:
    tz = settings.timezone
    t = texts.translator(language)
    board = Board(UID, t.gettext("Incidents and SLA"), settings, language, tags=("incidents", "sla"),
                  description=t.gettext("Open incidents, the 30-minute response, MTTA/MTTR and "
                                        "SLA breaches"))
    board.variable(*variables.standard(t))

    board.row(t.gettext("Open now"))
    board.panel(
        panels.columns(
            panels.listing(t.gettext("Open incidents"),
                           t.gettext("Awaiting response or acknowledged; the incident and its number "
                                     "link to the incident (today its page in the API: acknowledge and "
                                     "resolve there or with `citybrain incidents`)"),
                           height=10),
            t, open_incident_columns(settings, t)),
        SqlQuery(sql.open_incidents(t), sql.OPEN_INCIDENT_COLUMNS),
    )

    board.row(t.gettext("Response"))
    for indicator_id in (RESPONSE_30, OFF_HOURS, MTTA, MTTR):
        ind = indicator_sql.indicator(indicator_id)
        name = indicator_sql.name_in(ind, language)
        board.panel(panels.figure(ind, t, span=6, height=5),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=name), (name,)))
    for indicator_id in (MTTA, MTTR):
        ind = indicator_sql.indicator(indicator_id)
        name = indicator_sql.name_in(ind, language)
        board.panel(panels.indicator_trend(ind, t, span=12),
                    SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=name),
                             ("time", name), format="time_series"))

    board.row(t.gettext("SLA breaches"))
    response, resolution = t.gettext("Response"), t.gettext("Resolution")
    board.panel(
        barchart.Panel().title(t.gettext("Breaches per department"))
        .description(t.gettext("Response (not acknowledged in time) and resolution (not resolved "
                               "in time) breaches recorded in the range"))
        .x_field("department").stacking(common.StackingMode.NORMAL).orientation(common.VizOrientation.HORIZONTAL)
        .unit("none").span(12).height(10),
        SqlQuery(sql.breaches_by_department(t, response=response, resolution=resolution),
                 ("department", response, resolution)),
    )
    board.panel(
        panels.severity_colors(panels.trend(
            t.gettext("Incidents opened"), t.gettext("By severity, per interval (at least an hour)"),
            unit="none", span=12, bars=True, stacked=True, min_interval="1h"), t),
        SqlQuery(sql.incidents_opened(t), ("time", "metric", "value"), format="time_series"),
    )
    return board

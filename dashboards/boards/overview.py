"""City overview: the five keys against their targets, open incidents, 30-minute response."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.models import common

from citybrain.indicators.catalogue import load_catalogue
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, sql, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-overview"

# The figure that heads each key on the overview (every indicator is in the scorecard).
HEADLINES = (
    ("Infrastructure", "infra.device_online_rate"),
    ("Data", "data.sharing_rate"),
    ("Systems", "system.availability"),
    ("Portals", "portal.availability_7x24"),
    ("Security", "security.data_leak_count"),
)
RESPONSE_30 = "ops.response_30min_rate"


def build(settings: Settings) -> Board:
    tz = settings.timezone
    board = Board(UID, "Citybrain · City overview", settings, tags=("overview",),
                  description="The five keys (五大重点) against their targets, open incidents, "
                              "and the 30-minute response mechanism")
    board.variable(variables.department()).variable(variables.district()).variable(variables.key())

    board.row("Five keys")
    for title, indicator_id in HEADLINES:
        ind = indicator_sql.indicator(indicator_id)
        board.panel(
            panels.figure(ind, title=f"{title}: {ind.name_en}", span=4, height=5),
            SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=ind.name_en), (ind.name_en,)),
        )
    response = indicator_sql.indicator(RESPONSE_30)
    board.panel(
        panels.figure(response, title="Responded within 30 min", span=4, height=5),
        SqlQuery(indicator_sql.total(RESPONSE_30, timezone=tz, label=response.name_en), (response.name_en,)),
    )
    card = (
        panels.listing("Scorecard against targets",
                       "Every catalogue indicator over the selected range, computed by its own SQL "
                       "file, next to its target. Met is empty when there is no data or no target.",
                       height=12)
        .override_by_name("Met", panels.flag_cells(("met", "green"), ("missed", "red")))
        .decimals(2)
    )
    board.panel(card, SqlQuery(
        indicator_sql.scorecard(list(load_catalogue()), timezone=tz),
        ("Key", "Indicator", "Value", "Target", "Unit", "Met", "Id"),
    ))

    board.row("Incidents and the 30-minute response")
    board.panel(
        bargauge.Panel().title("Open incidents by severity")
        .description("Triggered or acknowledged now; I is the most severe")
        .orientation(common.VizOrientation.VERTICAL).display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .unit("none").min(0).span(8).height(8),
        SqlQuery(sql.OPEN_INCIDENTS_BY_SEVERITY, ("Severity", "Open")),
    )
    board.panel(
        panels.indicator_trend(response, title="Responded within 30 minutes, per day", span=16),
        SqlQuery(indicator_sql.day_series(RESPONSE_30, timezone=tz, label="within 30 min"),
                 ("time", "within 30 min"), format="time_series"),
    )
    board.panel(
        panels.ranking(response, title="Responded within 30 minutes, by department"),
        SqlQuery(indicator_sql.by_member(RESPONSE_30, timezone=tz, dimension="department",
                                         label="within 30 min", member_label="department"),
                 ("department", "within 30 min")),
    )
    board.panel(
        panels.trend("Incidents opened", "By severity, in the dashboard's interval", unit="none",
                     span=12, bars=True, stacked=True),
        SqlQuery(sql.INCIDENTS_OPENED, ("time", "metric", "value"), format="time_series"),
    )
    return board

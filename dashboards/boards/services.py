"""Portals and business systems: round-the-clock availability and response time."""

from __future__ import annotations

from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-services"

PORTAL_AVAILABILITY = "portal.availability_7x24"
SYSTEM_AVAILABILITY = "system.availability"
RESPONSE_TIME = "portal.response_time_p95"
SERVICE_COUNT = "portal.service_count"


def build(settings: Settings) -> Board:
    tz = settings.timezone
    board = Board(UID, "Citybrain · Portals and systems", settings, tags=("portal", "system"),
                  description="7×24 availability of online services (网上业务办理7×24小时可用性), "
                              "system availability and portal response time")
    board.variable(variables.department()).variable(variables.district()).variable(variables.key())

    for heading, indicator_id in (("Portals: 7×24 availability", PORTAL_AVAILABILITY),
                                  ("Business systems: availability", SYSTEM_AVAILABILITY)):
        ind = indicator_sql.indicator(indicator_id)
        label = ind.name_en
        board.row(heading)
        board.panel(panels.figure(ind, span=6, height=8),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=label), (label,)))
        board.panel(panels.indicator_trend(ind, span=18),
                    SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=label),
                             ("time", label), format="time_series"))
        board.panel(
            panels.ranking(ind, title=f"{label}: least available (worst 20)", span=12, height=10),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="asset", label=label,
                                             member_label="service", limit=20, worst_first=True),
                     ("service", label)),
        )
        board.panel(
            panels.ranking(ind, title=f"{label} by department", span=12, height=10),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="department",
                                             label=label, member_label="department", worst_first=True),
                     ("department", label)),
        )

    board.row("Portal response time")
    response = indicator_sql.indicator(RESPONSE_TIME)
    count = indicator_sql.indicator(SERVICE_COUNT)
    board.panel(panels.figure(response, span=4, height=8),
                SqlQuery(indicator_sql.total(RESPONSE_TIME, timezone=tz, label=response.name_en),
                         (response.name_en,)))
    board.panel(panels.figure(count, span=4, height=8),
                SqlQuery(indicator_sql.total(SERVICE_COUNT, timezone=tz, label=count.name_en),
                         (count.name_en,)))
    board.panel(panels.indicator_trend(response, span=16),
                SqlQuery(indicator_sql.day_series(RESPONSE_TIME, timezone=tz, label=response.name_en),
                         ("time", response.name_en), format="time_series"))
    return board

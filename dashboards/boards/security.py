"""Security: events by level and category, and data-leak (失泄密) incidents."""

from __future__ import annotations

from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, sql, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-security"

BY_LEVEL = "security.incidents"
DATA_LEAKS = "security.data_leak_count"


def build(settings: Settings) -> Board:
    tz = settings.timezone
    board = Board(UID, "Citybrain · Security", settings, tags=("security",),
                  description="Security events by level and category; data-leak incidents")
    board.variable(variables.department()).variable(variables.district()).variable(variables.key())

    leaks = indicator_sql.indicator(DATA_LEAKS)
    levels = indicator_sql.indicator(BY_LEVEL)
    board.row("Incidents")
    board.panel(panels.figure(leaks, span=6, height=8),
                SqlQuery(indicator_sql.total(DATA_LEAKS, timezone=tz, label=leaks.name_en),
                         (leaks.name_en,)))
    board.panel(panels.figure(levels, title="Security incidents, all levels", span=6, height=8),
                SqlQuery(indicator_sql.total(BY_LEVEL, timezone=tz, label=levels.name_en),
                         (levels.name_en,)))
    board.panel(
        panels.ranking(levels, title="Security incidents per level", span=6, height=8),
        SqlQuery(indicator_sql.by_member(BY_LEVEL, timezone=tz, dimension="level",
                                         label=levels.name_en, member_label="level"),
                 ("level", levels.name_en)),
    )
    board.panel(
        panels.ranking(levels, title="Security incidents per category", span=6, height=8),
        SqlQuery(indicator_sql.by_member(BY_LEVEL, timezone=tz, dimension="category",
                                         label=levels.name_en, member_label="category"),
                 ("category", levels.name_en)),
    )

    board.row("Events over time")
    board.panel(
        panels.trend("Security events by level", "Events reported by IDS/WAF/EDR/SIEM/DLP/firewall, "
                     "per interval", unit="none", bars=True, stacked=True),
        SqlQuery(sql.SECURITY_BY_LEVEL, ("time", "metric", "value"), format="time_series"),
    )
    board.panel(
        panels.trend("Security events by category", "Per interval", unit="none", bars=True, stacked=True),
        SqlQuery(sql.SECURITY_BY_CATEGORY, ("time", "metric", "value"), format="time_series"),
    )
    board.panel(
        panels.listing("Data-leak events", "Category data_leak, newest first (at most 200)"),
        SqlQuery(sql.DATA_LEAK_EVENTS, ("time", "level", "source", "title", "asset_id", "department",
                                        "district")),
    )
    return board

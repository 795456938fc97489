"""Data: sharing, freshness and quality of the catalogued datasets."""

from __future__ import annotations

from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-data"

INDICATORS = ("data.sharing_rate", "data.open_rate", "data.freshness_rate", "data.quality_pass_rate")


def build(settings: Settings) -> Board:
    tz = settings.timezone
    board = Board(UID, "Citybrain · Data", settings, tags=("data",),
                  description="Sharing, opening, freshness and quality of catalogued datasets")
    board.variable(variables.department()).variable(variables.district()).variable(variables.key())

    board.row("This range")
    for indicator_id in INDICATORS:
        ind = indicator_sql.indicator(indicator_id)
        board.panel(panels.figure(ind, span=6, height=6),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=ind.name_en),
                             (ind.name_en,)))
    board.row("Per day and per department")
    for indicator_id in INDICATORS:
        ind = indicator_sql.indicator(indicator_id)
        board.panel(panels.indicator_trend(ind, span=12),
                    SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=ind.name_en),
                             ("time", ind.name_en), format="time_series"))
        board.panel(
            panels.ranking(ind, title=f"{ind.name_en} by department", span=12),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="department",
                                             label=ind.name_en, member_label="department",
                                             worst_first=True),
                     ("department", ind.name_en)),
        )
    return board

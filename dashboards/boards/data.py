"""Data: sharing, freshness and quality of the catalogued datasets."""

from __future__ import annotations

from citybrain.kernel.i18n import Language
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, texts, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-data"

INDICATORS = ("data.sharing_rate", "data.open_rate", "data.freshness_rate", "data.quality_pass_rate")


def build(settings: Settings, language: Language) -> Board:
    tz = settings.timezone
    t = texts.translator(language)
    board = Board(UID, t.gettext("Data"), settings, language, tags=("data",),
                  description=t.gettext("Sharing, opening, freshness and quality of catalogued datasets"))
    board.variable(*variables.standard(t))

    board.row(t.gettext("This range"))
    for indicator_id in INDICATORS:
        ind = indicator_sql.indicator(indicator_id)
        name = indicator_sql.name_in(ind, language)
        board.panel(panels.figure(ind, t, span=6, height=6),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=name), (name,)))
    board.row(t.gettext("Per day and per department"))
    for indicator_id in INDICATORS:
        ind = indicator_sql.indicator(indicator_id)
        name = indicator_sql.name_in(ind, language)
        board.panel(panels.indicator_trend(ind, t, span=12),
                    SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=name),
                             ("time", name), format="time_series"))
        board.panel(
            panels.ranking(ind, t, title=t.gettext("{name} by department").format(name=name), span=12),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="department",
                                             label=name, member_label="department", language=language,
                                             worst_first=True),
                     ("department", name)),
        )
    return board

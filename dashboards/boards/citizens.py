"""The citizens' side: portal use, 好差评 ratings and 12345 work orders.

What the evaluation table's effect and capability rows ask about people — how many use the
unified portal, how they rate its services, how the hotline answers them — from the same
indicator SQL the reports run (one figure per indicator for the range, its daily trend,
and per department where the indicator breaks down by department).
"""

from __future__ import annotations

from citybrain.kernel.i18n import N_, Language
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, texts, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-citizens"

# (row heading, the indicators shown as figures, the one drawn as a daily trend, the ones
# ranked by department)
ROWS: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    (N_("Unified portal: users and services"),
     ("portal.dau", "portal.mau", "portal.user_coverage", "portal.online_transaction_share"),
     "portal.dau", ("portal.online_transaction_share",)),
    (N_("Service ratings: good ratings and rectification"),
     ("portal.ratings", "portal.rating_good_rate", "portal.rectification_on_time_rate",
      "portal.return_visit_rate"),
     "portal.rating_good_rate", ("portal.rating_good_rate",)),
    (N_("12345 hotline: work orders on time"),
     ("ops.hotline_response_on_time_rate", "ops.hotline_completion_on_time_rate",
      "ops.hotline_satisfaction_rate", "ops.hotline_reopen_rate"),
     "ops.hotline_response_on_time_rate",
     ("ops.hotline_response_on_time_rate", "ops.hotline_completion_on_time_rate")),
)


def build(settings: Settings, language: Language) -> Board:
    tz = settings.timezone
    t = texts.translator(language)
    board = Board(UID, t.gettext("Citizens: portal, ratings, 12345"), settings, language,
                  tags=("portal", "ops"),
                  description=t.gettext("Portal users and services, service ratings and the rectification "
                                        "of bad ones, 12345 work orders against their time limits"))
    board.variable(*variables.standard(t))
    for heading, figures, trend, ranked in ROWS:
        board.row(t.gettext(heading))
        for indicator_id in figures:
            ind = indicator_sql.indicator(indicator_id)
            label = indicator_sql.name_in(ind, language)
            board.panel(panels.figure(ind, t, span=6, height=6),
                        SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=label), (label,)))
        ind = indicator_sql.indicator(trend)
        label = indicator_sql.name_in(ind, language)
        board.panel(panels.indicator_trend(ind, t, span=24 - 8 * len(ranked)),
                    SqlQuery(indicator_sql.day_series(trend, timezone=tz, label=label),
                             ("time", label), format="time_series"))
        for indicator_id in ranked:
            ind = indicator_sql.indicator(indicator_id)
            label = indicator_sql.name_in(ind, language)
            board.panel(
                panels.ranking(ind, t, title=t.gettext("{name} by department").format(name=label),
                               span=8, height=8),
                SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="department",
                                                 label=label, member_label="department", language=language,
                                                 worst_first=True),
                         ("department", label)),
            )
    return board

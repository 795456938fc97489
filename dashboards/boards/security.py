"""Security: events by level and category, and data-leak (失泄密) incidents."""

from __future__ import annotations

from citybrain.kernel.i18n import N_, Language
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, sql, texts, variables
from dashboards.board import Board, SqlQuery
from dashboards.panels import Column

UID = "citybrain-security"

BY_LEVEL = "security.incidents"
DATA_LEAKS = "security.data_leak_count"


def build(settings: Settings, language: Language) -> Board:
    tz = settings.timezone
    t = texts.translator(language)
    board = Board(UID, t.gettext("Security"), settings, language, tags=("security",),
                  description=t.gettext("Security events by level and category; data-leak incidents"))
    board.variable(*variables.standard(t))

    leaks = indicator_sql.indicator(DATA_LEAKS)
    levels = indicator_sql.indicator(BY_LEVEL)
    leaks_name = indicator_sql.name_in(leaks, language)
    levels_name = indicator_sql.name_in(levels, language)
    board.row(t.gettext("Incidents"))
    board.panel(panels.figure(leaks, t, span=6, height=8),
                SqlQuery(indicator_sql.total(DATA_LEAKS, timezone=tz, label=leaks_name), (leaks_name,)))
    board.panel(panels.figure(levels, t, title=t.gettext("Security incidents, all levels"), span=6, height=8),
                SqlQuery(indicator_sql.total(BY_LEVEL, timezone=tz, label=levels_name), (levels_name,)))
    for dimension, title, labels in (("level", N_("Security incidents per level"), texts.SEVERITIES),
                                     ("category", N_("Security incidents per category"),
                                      texts.SECURITY_CATEGORIES)):
        # A bar gauge names its bars by the query's values: the labels come from the SQL.
        board.panel(
            panels.ranking(levels, t, title=t.gettext(title), span=6, height=8),
            SqlQuery(indicator_sql.rows(BY_LEVEL, timezone=tz, dimension=dimension,
                                        select=f"{texts.sql_label(t, labels, 'ind.member')} AS {dimension}, "
                                               f'ind.value AS "{levels_name}"',
                                        order_by="ind.member"),
                     (dimension, levels_name)),
        )

    board.row(t.gettext("Events over time"))
    board.panel(
        panels.severity_colors(panels.trend(
            t.gettext("Security events by level"),
            t.gettext("Events reported by IDS/WAF/EDR/SIEM/DLP/firewall, per interval"),
            unit="none", bars=True, stacked=True), t),
        SqlQuery(sql.security_by_level(t), ("time", "metric", "value"), format="time_series"),
    )
    board.panel(
        panels.trend(t.gettext("Security events by category"), t.gettext("Per interval"), unit="none",
                     bars=True, stacked=True),
        SqlQuery(sql.security_by_category(t), ("time", "metric", "value"), format="time_series"),
    )
    board.panel(
        panels.columns(
            panels.listing(t.gettext("Data-leak events"), t.gettext("Newest first (at most 200)")), t, {
                "time": Column(N_("Time")),
                "level": Column(N_("Level"), texts.SEVERITIES, colored="text"),
                "source": Column(N_("Source")),
                "title": Column(N_("Event")),
                "asset": Column(N_("Asset")),
                "department": Column(N_("Department")),
                "district": Column(N_("District")),
            }),
        SqlQuery(sql.data_leak_events(t), sql.DATA_LEAK_COLUMNS),
    )
    return board

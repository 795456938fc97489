"""Portals and business systems: round-the-clock availability and response time."""

from __future__ import annotations

from citybrain.kernel.i18n import N_, Language
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, texts, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-services"

PORTAL_AVAILABILITY = "portal.availability_7x24"
SYSTEM_AVAILABILITY = "system.availability"
RESPONSE_TIME = "portal.response_time_p95"
SERVICE_COUNT = "portal.service_count"


def build(settings: Settings, language: Language) -> Board:
    tz = settings.timezone
    t = texts.translator(language)
    board = Board(UID, t.gettext("Portals and systems"), settings, language, tags=("portal", "system"),
                  description=t.gettext("7×24 availability of online services, system availability "
                                        "and portal response time"))
    board.variable(*variables.standard(t))

    for heading, indicator_id in ((N_("Portals: 7×24 availability"), PORTAL_AVAILABILITY),
                                  (N_("Business systems: availability"), SYSTEM_AVAILABILITY)):
        ind = indicator_sql.indicator(indicator_id)
        label = indicator_sql.name_in(ind, language)
        board.row(t.gettext(heading))
        board.panel(panels.figure(ind, t, span=6, height=8),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=label), (label,)))
        board.panel(panels.indicator_trend(ind, t, span=18),
                    SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=label),
                             ("time", label), format="time_series"))
        board.panel(
            panels.ranking(ind, t, title=t.gettext("{name}: least available (worst 20)").format(name=label),
                           span=12, height=10),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="asset", label=label,
                                             member_label="service", language=language, limit=20,
                                             worst_first=True),
                     ("service", label)),
        )
        board.panel(
            panels.ranking(ind, t, title=t.gettext("{name} by department").format(name=label),
                           span=12, height=10),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="department",
                                             label=label, member_label="department", language=language,
                                             worst_first=True),
                     ("department", label)),
        )

    board.row(t.gettext("Portal response time"))
    response = indicator_sql.indicator(RESPONSE_TIME)
    count = indicator_sql.indicator(SERVICE_COUNT)
    response_name = indicator_sql.name_in(response, language)
    count_name = indicator_sql.name_in(count, language)
    board.panel(panels.figure(response, t, span=4, height=8),
                SqlQuery(indicator_sql.total(RESPONSE_TIME, timezone=tz, label=response_name),
                         (response_name,)))
    board.panel(panels.figure(count, t, span=4, height=8),
                SqlQuery(indicator_sql.total(SERVICE_COUNT, timezone=tz, label=count_name), (count_name,)))
    board.panel(panels.indicator_trend(response, t, span=16),
                SqlQuery(indicator_sql.day_series(RESPONSE_TIME, timezone=tz, label=response_name),
                         ("time", response_name), format="time_series"))
    return board

"""City overview, the operations centre's wall: what the centre is judged on, at a glance.

Top to bottom: the figure heading each key and *today's* 30-minute response; the five
keys' composite scores with their bands (as the reports score them); the incidents open
now, by severity and one by one (department names, a link to each incident); the
30-minute response over the range; the scorecard of every indicator against its target.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from alerts.incidents.urls import incident_url
from citybrain.indicators.catalogue import load_catalogue
from citybrain.kernel.i18n import N_, Language, Translator
from citybrain.kernel.settings import Settings
from citybrain.reports.scorecard import BANDS, weights_from_settings
from dashboards import indicator_sql, panels, sql, texts, variables
from dashboards.board import Board, SqlQuery
from dashboards.panels import Column

UID = "citybrain-overview"

# The figure that heads each key on the overview (every indicator is in the scorecard):
# (the key, its indicator).
# (the key, its indicator, a shorter name where the catalogue's would not fit the panel).
HEADLINES: tuple[tuple[str, str, str | None], ...] = (
    ("infrastructure", "infra.device_online_rate", None),
    ("data", "data.sharing_rate", None),
    ("system", "system.availability", None),
    ("portal", "portal.availability_7x24", N_("7×24 availability")),
    ("security", "security.data_leak_count", None),
)
RESPONSE_30 = "ops.response_30min_rate"
# The band at or above the last bound of citybrain.reports.scorecard.BANDS.
TOP_BAND = "mature"

SCORE_COLUMNS = ("key", "score")
SCORECARD_COLUMNS = ("key", "indicator", "value", "target", "unit", "met", "indicator_id")


def open_incident_columns(settings: Settings, t: Translator) -> dict[str, Column]:
    """The open-incident table's columns (shared with the incidents board): headers,
    labels of severity, status and key, and each row's link to its incident."""
    link = (N_("Open the incident"), incident_url(settings.public_url, "${__data.fields.incident_id}"))
    return {
        "incident_id": Column(N_("No."), unit="none", link=link, width=60),
        "severity": Column(N_("Severity"), texts.SEVERITIES, colored="text", width=120),
        "status": Column(N_("Status"), texts.INCIDENT_STATUSES, colored="text", width=80),
        "title": Column(N_("Incident"), link=link),
        "department": Column(N_("Department"), width=120),
        "district": Column(N_("District"), width=100),
        "key": Column(N_("Key"), texts.KEYS),
        "asset": Column(N_("Asset")),
        "opened_at": Column(N_("Opened"), width=170),
        "acknowledged_at": Column(N_("Acknowledged"), width=170),
        "response_due_at": Column(N_("Response due"), width=170),
        "minutes_open": Column(N_("Open for"), unit=panels.minutes_unit(t), width=95),
        "response_overdue": Column(N_("Response"), texts.OVERDUE, colored="background", width=80),
    }


def _scores_panel(t: Translator) -> bargauge.Panel:
    # The bands' colours from their lower bounds: (None, the lowest band), (55, start-up), ...
    uppers = [upper for upper, _ in BANDS]
    names = [band for _, band in BANDS] + [TOP_BAND]
    steps = [model.Threshold(value=lower, color=texts.BANDS[band].color)
             for lower, band in zip([None, *uppers], names, strict=True)]
    ranges = [f"{texts.text(t, texts.BANDS, band)} {lower:g}–{upper:g}"
              for lower, upper, band in zip([0.0, *uppers], uppers, names, strict=False)]
    ranges.append(f"{texts.text(t, texts.BANDS, TOP_BAND)} ≥ {uppers[-1]:g}")
    return (
        bargauge.Panel().title(t.gettext("Scores of the five keys and operations"))
        .description(t.gettext(
            "Composite score per key over the range, 0–100, as the evaluation reports score it: "
            "the weighted attainment of each indicator with a target and a value (capped at its "
            "target). An indicator without data is left out, never counted as 0 or 100; a key with "
            "nothing to score shows no score. Bands: {bands}.").format(bands=" / ".join(ranges)))
        .orientation(common.VizOrientation.HORIZONTAL).display_mode(common.BarGaugeDisplayMode.BASIC)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .unit("none").decimals(2).min(0).max(100)
        .thresholds(dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
        .no_value(t.gettext("no data")).span(7).height(9)
    )


def build(settings: Settings, language: Language) -> Board:
    tz = settings.timezone
    t = texts.translator(language)
    board = Board(UID, t.gettext("City overview"), settings, language, tags=("overview",),
                  description=t.gettext("The five keys against their targets and their scores, "
                                        "open incidents, and the 30-minute response mechanism"))
    board.variable(*variables.standard(t))
    catalogue = list(load_catalogue())

    board.row(t.gettext("Five keys"))
    for key, indicator_id, short in HEADLINES:
        ind = indicator_sql.indicator(indicator_id)
        name = indicator_sql.name_in(ind, language)
        board.panel(
            panels.figure(ind, t, title=t.gettext("{key}: {indicator}").format(
                key=texts.text(t, texts.KEYS, key), indicator=t.gettext(short) if short else name),
                span=4, height=4),
            SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=name), (name,)),
        )
    response = indicator_sql.indicator(RESPONSE_30)
    today = t.gettext("Today: responded within 30 minutes")
    board.panel(
        panels.figure(response, t, title=today, span=4, height=4).description(t.gettext(
            "Incidents opened today (the local day in {zone} of the range's end, up to that end) "
            "acknowledged within 30 minutes of opening, as a share of those that can be judged: "
            "an incident still inside its 30 minutes is not counted yet, one that resolved "
            "itself within them is left out. The indicator {id} over today.").format(
                zone=tz, id=response.id)),
        SqlQuery(indicator_sql.total(RESPONSE_30, timezone=tz, label=today,
                                     start=indicator_sql.today_start(tz)), (today,)),
    )

    weights, _source = weights_from_settings(settings)
    board.panel(_scores_panel(t), SqlQuery(
        indicator_sql.key_scores(catalogue, timezone=tz, language=language, t=t, weights=weights or {},
                                 bands=BANDS, top_band=TOP_BAND),
        SCORE_COLUMNS))
    board.panel(
        bargauge.Panel().title(t.gettext("Open incidents by severity"))
        .description(t.gettext("Awaiting response or acknowledged, now; level I is the most severe"))
        .orientation(common.VizOrientation.HORIZONTAL).display_mode(common.BarGaugeDisplayMode.BASIC)
        .name_placement(common.BarGaugeNamePlacement.TOP)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        # None open is green, any open is red.
        .thresholds(dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(
            [model.Threshold(value=None, color="green"), model.Threshold(value=1, color="red")]))
        .unit("none").decimals(0).min(0).span(4).height(9),
        SqlQuery(sql.open_incidents_by_severity(t), ("severity", "open")),
    )
    shown = ("severity", "status", "title", "department", "minutes_open", "response_overdue",
             "incident_id")
    board.panel(
        panels.columns(
            panels.listing(t.gettext("Open incidents"),
                           t.gettext("Most severe first, then oldest; the incident and its number "
                                     "link to the incident (today its page in the API)"),
                           span=13, height=9),
            t, {name: column if name in shown else Column(column.header, hidden=True)
                for name, column in open_incident_columns(settings, t).items()}),
        SqlQuery(sql.open_incidents(t), sql.OPEN_INCIDENT_COLUMNS),
    )

    board.row(t.gettext("The 30-minute response"))
    response_name = indicator_sql.name_in(response, language)
    # The last seven days whatever the range: a wall shows the week's trend.
    board.panel(
        panels.indicator_trend(response, t, span=8, title=t.gettext("{name}, last 7 days").format(
            name=response_name)).time_from("7d").hide_time_override(True),
        SqlQuery(indicator_sql.day_series(RESPONSE_30, timezone=tz, label=response_name),
                 ("time", response_name), format="time_series"),
    )
    board.panel(
        panels.ranking(response, t, title=t.gettext("{name} by department").format(name=response_name),
                       span=8),
        SqlQuery(indicator_sql.by_member(RESPONSE_30, timezone=tz, dimension="department",
                                         label=response_name, member_label="department",
                                         language=language, worst_first=True),
                 ("department", response_name)),
    )
    board.panel(
        panels.severity_colors(panels.trend(
            t.gettext("Incidents opened"), t.gettext("By severity, per interval (at least an hour)"),
            unit="none", span=8, bars=True, stacked=True, min_interval="1h"), t),
        SqlQuery(sql.incidents_opened(t), ("time", "metric", "value"), format="time_series"),
    )

    board.row(t.gettext("Scorecard"))
    card = panels.columns(
        panels.listing(t.gettext("Scorecard against targets"),
                       t.gettext("Every catalogue indicator over the selected range, computed by its "
                                 "own SQL file, next to its target. Met is empty when there is no data "
                                 "or no target."),
                       height=13).decimals(2),
        t, {
            "key": Column(N_("Key"), texts.KEYS, width=120),
            "indicator": Column(N_("Indicator")),
            "value": Column(N_("Value"), width=120),
            "target": Column(N_("Target"), width=120),
            "unit": Column(N_("Unit"), texts.UNITS, width=90),
            "met": Column(N_("Target met"), texts.MET, colored="background", width=100),
            "indicator_id": Column(N_("Indicator id")),
        })
    board.panel(card, SqlQuery(
        indicator_sql.scorecard(catalogue, timezone=tz, language=language), SCORECARD_COLUMNS))
    return board

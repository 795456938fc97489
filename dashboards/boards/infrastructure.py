"""Infrastructure: device online rate, camera intact rate, links, and a map of what is down."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, geomap
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import geomap as geomap_model

from citybrain.kernel.i18n import N_, Language, Translator
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, sql, texts, variables
from dashboards.board import Board, SqlQuery
from dashboards.panels import Column

UID = "citybrain-infrastructure"

ONLINE = "infra.device_online_rate"
CAMERA = "infra.camera_intact_rate"
PACKET_LOSS = "infra.packet_loss_rate"
LATENCY = "infra.latency_p95"
STABILITY = "infra.link_stability"
CAMERA_FIGURES = ("infra.camera_access_rate", "infra.camera_sharing_rate")
CLOUD = ("infra.cloud_fulfilment_rate", "infra.cloud_utilisation")

# Breakdown dimension → the title of its ranking ("{name} by district").
BY = {"district": N_("{name} by district"), "department": N_("{name} by department")}


def _indicator_block(board: Board, indicator_id: str, tz: str, *, breakdowns: tuple[str, ...]) -> None:
    t, language = board.t, board.language
    ind = indicator_sql.indicator(indicator_id)
    label = indicator_sql.name_in(ind, language)
    board.panel(panels.figure(ind, t, span=6, height=8),
                SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=label), (label,)))
    board.panel(panels.indicator_trend(ind, t, span=18),
                SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=label),
                         ("time", label), format="time_series"))
    for dimension in breakdowns:
        board.panel(
            panels.ranking(ind, t, title=t.gettext(BY[dimension]).format(name=label), span=12),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension=dimension,
                                             label=label, member_label=dimension, language=language,
                                             worst_first=True),
                     (dimension, label)),
        )


def _series_by(board: Board, indicator_id: str, tz: str, *, dimension: str, member: str) -> None:
    """One line per department (district) over the local days: the indicator's
    ``<member>_day`` rows, whose member ``<id>|YYYY-MM-DD`` the query splits into the
    series name (the registry's name of the id) and the day (the day is always the last 10
    characters; ids may hold '|')."""
    t, language = board.t, board.language
    ind = indicator_sql.indicator(indicator_id)
    zone = indicator_sql.quote_literal(tz)
    join, name = indicator_sql.member_name(member, "left(ind.member, -11)", language)
    board.panel(
        panels.trend(t.gettext(BY[member]).format(name=indicator_sql.name_in(ind, language)),
                     panels.describe(ind, t), unit=panels.unit_of(ind, t), span=12)
        .thresholds(panels.target_thresholds(ind))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)),
        SqlQuery(indicator_sql.rows(
            indicator_id, timezone=tz, dimension=dimension, join=join,
            select=f'(local_midnight(right(ind.member, 10)::date, {zone})) AS "time", '
                   f"{name} AS metric, ind.value AS value",
            order_by="1, 2"),
            ("time", "metric", "value"), format="time_series"),
    )


def _figures(board: Board, indicator_ids: tuple[str, ...], tz: str) -> None:
    for indicator_id in indicator_ids:
        ind = indicator_sql.indicator(indicator_id)
        name = indicator_sql.name_in(ind, board.language)
        board.panel(panels.figure(ind, board.t, span=24 // len(indicator_ids), height=5),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=name), (name,)))


def offline_map(t: Translator) -> geomap.Panel:
    markers = (
        common_builders.MapLayerOptions().type("markers").name(t.gettext("Offline assets"))
        .location(common_builders.FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS)
                  .latitude("latitude").longitude("longitude"))
        .config({"style": {"size": {"fixed": 6}, "color": {"fixed": "red"}, "opacity": 0.8,
                           "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"}},
                 "showLegend": True})
        .tooltip(True)
    )
    return (
        geomap.Panel().title(t.gettext("Offline assets on the map"))
        .description(t.gettext("Assets offline now, placed by the registry's latitude/longitude; "
                               "assets without coordinates are in the list beside the map"))
        .basemap(common_builders.MapLayerOptions().type("default").name(t.gettext("Basemap")))
        .layers([markers])
        .view(geomap.MapViewConfig().id("fit").all_layers(True).zoom(11))
        .tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS))
        .span(14).height(14)
    )


def offline_columns(t: Translator) -> dict[str, Column]:
    return {
        "asset_id": Column(N_("Asset id")),
        "name": Column(N_("Asset")),
        "kind": Column(N_("Kind"), texts.ASSET_KINDS),
        "key": Column(N_("Key"), texts.KEYS),
        "department": Column(N_("Department")),
        "district": Column(N_("District")),
        "offline_since": Column(N_("Offline since")),
        "minutes_offline": Column(N_("Offline for"), unit=panels.minutes_unit(t)),
        "latitude": Column(N_("Latitude"), hidden=True),
        "longitude": Column(N_("Longitude"), hidden=True),
    }


def build(settings: Settings, language: Language) -> Board:
    tz = settings.timezone
    t = texts.translator(language)
    board = Board(UID, t.gettext("Infrastructure"), settings, language, tags=("infrastructure",),
                  description=t.gettext("Devices, cameras and links: online and intact rates, packet "
                                        "loss, latency, and where assets are down"))
    board.variable(*variables.standard(t))

    board.row(t.gettext("Devices online"))
    # Per district and per department as trends (rankings hide when a district went down).
    _indicator_block(board, ONLINE, tz, breakdowns=())
    _series_by(board, ONLINE, tz, dimension="district_day", member="district")
    _series_by(board, ONLINE, tz, dimension="department_day", member="department")
    board.row(t.gettext("Cameras"))
    _indicator_block(board, CAMERA, tz, breakdowns=("district", "department"))
    _figures(board, CAMERA_FIGURES, tz)
    board.row(t.gettext("Links"))
    for indicator_id in (PACKET_LOSS, LATENCY, STABILITY):
        ind = indicator_sql.indicator(indicator_id)
        name = indicator_sql.name_in(ind, language)
        board.panel(panels.figure(ind, t, span=4, height=9),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=name), (name,)))
        board.panel(
            panels.ranking(ind, t, title=t.gettext("{name} per link (worst 20)").format(name=name),
                           span=8, height=9),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="asset",
                                             label=name, member_label="link", language=language,
                                             limit=20, worst_first=True),
                     ("link", name)),
        )

    board.row(t.gettext("Gov cloud"))
    _figures(board, CLOUD, tz)

    board.row(t.gettext("Down now"))
    board.panel(
        bargauge.Panel().title(t.gettext("Assets by state"))
        .description(t.gettext("In-service assets per liveness state now; unknown: the platform "
                               "has had no data from them"))
        .orientation(common.VizOrientation.HORIZONTAL).display_mode(common.BarGaugeDisplayMode.BASIC)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color("blue"))
        .unit("none").decimals(0).min(0).span(24).height(5),
        SqlQuery(sql.assets_by_state(t), ("state", "assets")),
    )
    board.panel(offline_map(t), SqlQuery(sql.offline_map(t), sql.OFFLINE_COLUMNS))
    board.panel(
        panels.columns(panels.listing(t.gettext("Offline assets"), t.gettext("Longest offline first"),
                                      span=10, height=14), t, offline_columns(t)),
        SqlQuery(sql.offline_list(t), sql.OFFLINE_COLUMNS),
    )
    return board

"""Infrastructure: device online rate, camera intact rate, links, and a map of what is down."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import geomap as geomap_model

from citybrain.kernel.settings import Settings
from dashboards import indicator_sql, panels, sql, variables
from dashboards.board import Board, SqlQuery

UID = "citybrain-infrastructure"

ONLINE = "infra.device_online_rate"
CAMERA = "infra.camera_intact_rate"
PACKET_LOSS = "infra.packet_loss_rate"
LATENCY = "infra.latency_p95"
STABILITY = "infra.link_stability"
CAMERA_FIGURES = ("infra.camera_access_rate", "infra.camera_sharing_rate")
CLOUD = ("infra.cloud_fulfilment_rate", "infra.cloud_utilisation")

OFFLINE_COLUMNS = ("asset_id", "name", "kind", "key", "department", "district", "offline_since",
                   "minutes_offline", "latitude", "longitude")


def _indicator_block(board: Board, indicator_id: str, tz: str, *, breakdowns: tuple[str, ...]) -> None:
    ind = indicator_sql.indicator(indicator_id)
    label = ind.name_en
    board.panel(panels.figure(ind, span=6, height=8),
                SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=label), (label,)))
    board.panel(panels.indicator_trend(ind, span=18),
                SqlQuery(indicator_sql.day_series(indicator_id, timezone=tz, label=label),
                         ("time", label), format="time_series"))
    for dimension in breakdowns:
        board.panel(
            panels.ranking(ind, title=f"{label} by {dimension}", span=12),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension=dimension,
                                             label=label, member_label=dimension, worst_first=True),
                     (dimension, label)),
        )


def _series_by(board: Board, indicator_id: str, tz: str, *, dimension: str, member_label: str) -> None:
    """One line per department (district) over the local days: the indicator's
    ``<member_label>_day`` rows, whose member ``<id>|YYYY-MM-DD`` the query splits into the
    series name and the day (the day is always the last 10 characters; ids may hold '|')."""
    ind = indicator_sql.indicator(indicator_id)
    zone = indicator_sql.quote_literal(tz)
    board.panel(
        panels.trend(f"{ind.name_en} by {member_label}", panels.describe(ind), unit=panels.unit_of(ind),
                     span=12).thresholds(panels.target_thresholds(ind))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)),
        SqlQuery(indicator_sql.rows(
            indicator_id, timezone=tz, dimension=dimension,
            select=f'(local_midnight(right(ind.member, 10)::date, {zone})) AS "time", '
                   "left(ind.member, -11) AS metric, ind.value AS value",
            order_by="1, 2"),
            ("time", "metric", "value"), format="time_series"),
    )


def _figures(board: Board, indicator_ids: tuple[str, ...], tz: str) -> None:
    for indicator_id in indicator_ids:
        ind = indicator_sql.indicator(indicator_id)
        board.panel(panels.figure(ind, span=24 // len(indicator_ids), height=5),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=ind.name_en),
                             (ind.name_en,)))


def offline_map() -> geomap.Panel:
    markers = (
        common_builders.MapLayerOptions().type("markers").name("Offline assets")
        .location(common_builders.FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS)
                  .latitude("latitude").longitude("longitude"))
        .config({"style": {"size": {"fixed": 6}, "color": {"fixed": "red"}, "opacity": 0.8,
                           "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"}},
                 "showLegend": True})
        .tooltip(True)
    )
    return (
        geomap.Panel().title("Offline assets on the map")
        .description("Assets offline now (asset_state), placed by the registry's latitude/longitude; "
                     "assets without coordinates are in the list beside the map")
        .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
        .layers([markers])
        .view(geomap.MapViewConfig().id("fit").all_layers(True).zoom(11))
        .tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS))
        .span(14).height(14)
    )


def build(settings: Settings) -> Board:
    tz = settings.timezone
    board = Board(UID, "Citybrain · Infrastructure", settings, tags=("infrastructure",),
                  description="Devices, cameras and links: online and intact rates, packet loss, latency, "
                              "and where assets are down")
    board.variable(variables.department()).variable(variables.district()).variable(variables.key())

    board.row("Devices online")
    # Per district and per department as trends (rankings hide when a district went down).
    _indicator_block(board, ONLINE, tz, breakdowns=())
    _series_by(board, ONLINE, tz, dimension="district_day", member_label="district")
    _series_by(board, ONLINE, tz, dimension="department_day", member_label="department")
    board.row("Cameras")
    _indicator_block(board, CAMERA, tz, breakdowns=("district", "department"))
    _figures(board, CAMERA_FIGURES, tz)
    board.row("Links")
    for indicator_id in (PACKET_LOSS, LATENCY, STABILITY):
        ind = indicator_sql.indicator(indicator_id)
        board.panel(panels.figure(ind, span=4, height=9),
                    SqlQuery(indicator_sql.total(indicator_id, timezone=tz, label=ind.name_en),
                             (ind.name_en,)))
        board.panel(
            panels.ranking(ind, title=f"{ind.name_en} per link (worst 20)", span=8, height=9),
            SqlQuery(indicator_sql.by_member(indicator_id, timezone=tz, dimension="asset",
                                             label=ind.name_en, member_label="link", limit=20,
                                             worst_first=True),
                     ("link", ind.name_en)),
        )

    board.row("Gov cloud")
    _figures(board, CLOUD, tz)

    board.row("Down now")
    board.panel(offline_map(), SqlQuery(sql.OFFLINE_MAP, OFFLINE_COLUMNS))
    board.panel(
        panels.listing("Offline assets", "Longest offline first", span=10, height=14)
        .override_by_name("minutes_offline", [model.DynamicConfigValue(id_val="unit", value="m")]),
        SqlQuery(sql.OFFLINE_LIST, OFFLINE_COLUMNS),
    )
    return board

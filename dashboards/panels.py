"""Panel shapes the dashboards reuse: a figure against its target, a trend, a ranking, a list."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from citybrain.indicators.model import Indicator

# Catalogue units → Grafana units.
UNITS = {"%": "percent", "ms": "ms", "count": "none", "minutes": "m"}


def unit_of(ind: Indicator) -> str:
    return UNITS.get(ind.unit, "none")


def target_thresholds(ind: Indicator) -> dash.ThresholdsConfig:
    """Green on the right side of the catalogue's target, red on the wrong side."""
    good, bad = "green", "red"
    if ind.target is None:
        steps = [model.Threshold(value=None, color="blue")]
    elif ind.direction == "higher":
        steps = [model.Threshold(value=None, color=bad), model.Threshold(value=ind.target, color=good)]
    else:
        steps = [model.Threshold(value=None, color=good), model.Threshold(value=ind.target, color=bad)]
    return dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


def _target_text(ind: Indicator) -> str:
    if ind.target is None:
        return "no target (a count to watch)"
    sign = "≥" if ind.direction == "higher" else "≤"
    return f"target {sign} {ind.target:g} {ind.unit}"


def describe(ind: Indicator) -> str:
    return (f"{ind.name_en} ({ind.name_zh}), {_target_text(ind)}. {ind.formula} "
            f"[indicator {ind.id} v{ind.version}]")


def figure(ind: Indicator, *, title: str | None = None, span: int = 6, height: int = 5) -> stat.Panel:
    """The indicator's figure for the dashboard's time range, coloured by its target."""
    return (
        stat.Panel().title(title or ind.name_en).description(describe(ind))
        .unit(unit_of(ind)).decimals(2 if ind.unit == "%" else 1).thresholds(target_thresholds(ind))
        .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .no_value("no data").span(span).height(height)
    )


def count(title: str, description: str, *, span: int = 6, height: int = 5) -> stat.Panel:
    return (
        stat.Panel().title(title).description(description).unit("none").decimals(0)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .no_value("0").span(span).height(height)
    )


def trend(title: str, description: str, *, unit: str, span: int = 12, height: int = 8,
          bars: bool = False, stacked: bool = False) -> timeseries.Panel:
    panel = (
        timeseries.Panel().title(title).description(description).unit(unit)
        .span(span).height(height).line_width(2).fill_opacity(15 if not bars else 80)
        .legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM).show_legend(True))
    )
    if bars:
        panel.draw_style(common.GraphDrawStyle.BARS)
    if stacked:
        panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    return panel


def indicator_trend(ind: Indicator, *, title: str | None = None, span: int = 12) -> timeseries.Panel:
    return trend(title or f"{ind.name_en} per day", describe(ind), unit=unit_of(ind), span=span,
                 bars=True).thresholds(target_thresholds(ind)).thresholds_style(
                     common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE))


def ranking(ind: Indicator, *, title: str, span: int = 12, height: int = 8) -> bargauge.Panel:
    """One bar per breakdown member (department, district, asset), coloured by target."""
    return (
        bargauge.Panel().title(title).description(describe(ind)).unit(unit_of(ind))
        .thresholds(target_thresholds(ind)).orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .min(0).span(span).height(height).no_value("no data")
    )


def listing(title: str, description: str, *, span: int = 24, height: int = 9) -> table.Panel:
    return table.Panel().title(title).description(description).span(span).height(height)


def link(title: str, url: str) -> dash.DashboardLink:
    return dash.DashboardLink(title).type(model.DashboardLinkType.LINK).url(url).target_blank(True)


def flag_cells(yes: tuple[str, str], no: tuple[str, str]) -> list[model.DynamicConfigValue]:
    """Field overrides showing a boolean column as coloured words: (text, colour) for each."""
    return [
        model.DynamicConfigValue(id_val="custom.cellOptions",
                                 value={"type": "color-background", "mode": "basic"}),
        model.DynamicConfigValue(id_val="mappings", value=[{"type": "value", "options": {
            "true": {"text": yes[0], "color": yes[1], "index": 0},
            "false": {"text": no[0], "color": no[1], "index": 1}}}]),
    ]

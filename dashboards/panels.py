"""Panel shapes the dashboards reuse: a figure against its target, a trend, a ranking, a
list, and the columns of a list (header, value labels, unit, links) — all in the
language of the translator they are given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from citybrain.indicators.model import Indicator
from citybrain.kernel.i18n import Translator
from dashboards import texts
from dashboards.indicator_sql import name_in

# Catalogue units → Grafana units. Minutes are a custom suffix in the board's language:
# Grafana's own minute unit prints "min" whatever the language.
UNITS = {"%": "percent", "ms": "ms", "count": "none"}


def minutes_unit(t: Translator) -> str:
    return "suffix: " + t.gettext("min")


def unit_of(ind: Indicator, t: Translator) -> str:
    if ind.unit == "minutes":
        return minutes_unit(t)
    return UNITS.get(ind.unit, "none")


def decimals_of(ind: Indicator) -> int:
    return {"%": 2, "count": 0}.get(ind.unit, 1)


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


def _target_text(ind: Indicator, t: Translator) -> str:
    if ind.target is None:
        return t.gettext("no target (a count to watch)")
    unit = texts.text(t, texts.UNITS, ind.unit)
    if ind.direction == "higher":
        return t.gettext("target ≥ {target} {unit}").format(target=f"{ind.target:g}", unit=unit)
    return t.gettext("target ≤ {target} {unit}").format(target=f"{ind.target:g}", unit=unit)


def describe(ind: Indicator, t: Translator) -> str:
    """The indicator's name, target and catalogue reference in the translator's language;
    the formula too where the catalogue states it in that language (it states formulas in
    English only, and a Chinese tooltip does not switch language halfway: the formula is
    in every report's export and in the indicator's SQL file)."""
    text = t.gettext("{name}, {target}. [indicator {id} v{version}]").format(
        name=name_in(ind, t.language), target=_target_text(ind, t), id=ind.id, version=ind.version)
    return f"{text} {ind.formula}" if t.language == "en" else text


def figure(ind: Indicator, t: Translator, *, title: str | None = None, span: int = 6,
           height: int = 5) -> stat.Panel:
    """The indicator's figure for the dashboard's time range, coloured by its target."""
    return (
        stat.Panel().title(title or name_in(ind, t.language)).description(describe(ind, t))
        .unit(unit_of(ind, t)).decimals(decimals_of(ind)).thresholds(target_thresholds(ind))
        .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .no_value(t.gettext("no data")).span(span).height(height)
    )


def count(title: str, description: str, *, span: int = 6, height: int = 5) -> stat.Panel:
    return (
        stat.Panel().title(title).description(description).unit("none").decimals(0)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .no_value("0").span(span).height(height)
    )


def trend(title: str, description: str, *, unit: str, span: int = 12, height: int = 8,
          bars: bool = False, stacked: bool = False, min_interval: str | None = None) -> timeseries.Panel:
    """A time series; ``min_interval`` is the smallest bucket ``$__interval`` may take (counts
    per bucket read better in hours than in Grafana's auto interval of seconds)."""
    panel = (
        timeseries.Panel().title(title).description(description).unit(unit)
        .span(span).height(height).line_width(2).fill_opacity(15 if not bars else 80)
        .legend(common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM).show_legend(True))
    )
    if bars:
        # A bar covers its bucket (a day, an interval) from the bucket's start, the time the
        # query gives it: aligned after that time, a day's bar sits on its own day.
        panel.draw_style(common.GraphDrawStyle.BARS).bar_alignment(common.BarAlignment.AFTER)
    if stacked:
        panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if min_interval is not None:
        panel.interval(min_interval)
    return panel


def indicator_trend(ind: Indicator, t: Translator, *, title: str | None = None,
                    span: int = 12, height: int = 8) -> timeseries.Panel:
    name = name_in(ind, t.language)
    # Each day's bar in its target colour (red on the wrong side), the target as a line.
    return trend(title or t.gettext("{name} per day").format(name=name), describe(ind, t),
                 unit=unit_of(ind, t), span=span, height=height, bars=True).thresholds(
                     target_thresholds(ind)).thresholds_style(
                     common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
                 ).color_scheme(dash.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))


def severity_colors(panel: timeseries.Panel, t: Translator) -> timeseries.Panel:
    """Series named by severity (``texts.sql_label``) in their severity's colour."""
    for label in texts.SEVERITIES.values():
        panel.override_by_name(t.gettext(label.text), [model.DynamicConfigValue(
            id_val="color", value={"mode": "fixed", "fixedColor": label.color})])
    return panel


def series_labels(panel: timeseries.Panel, t: Translator, legend: str,
                  **labels: Mapping[str, texts.Label]) -> timeseries.Panel:
    """Series a Prometheus query names by label values (its ``legend``, e.g. ``{{state}}``
    or ``失败 {{channel}}（{{outcome}}）``) shown with the values' labels instead: Grafana maps
    no series name, but an override matched by the name renames the series (and, where one
    label names it, gives it the label's colour). A value without a label keeps its name."""
    combinations: list[tuple[str, str, str]] = [(legend, legend, "text")]
    for field, values in labels.items():
        combinations = [(name.replace("{{" + field + "}}", value),
                         shown.replace("{{" + field + "}}", t.gettext(label.text)),
                         label.color if len(labels) == 1 else "text")
                        for name, shown, _ in combinations for value, label in values.items()]
    for name, shown, color in combinations:
        properties = [model.DynamicConfigValue(id_val="displayName", value=shown)]
        if color != "text":
            properties.append(model.DynamicConfigValue(
                id_val="color", value={"mode": "fixed", "fixedColor": color}))
        panel.override_by_name(name, properties)
    return panel


def ranking(ind: Indicator, t: Translator, *, title: str, span: int = 12, height: int = 8) -> bargauge.Panel:
    """One bar per breakdown member (department, district, asset), coloured by target."""
    return (
        bargauge.Panel().title(title).description(describe(ind, t)).unit(unit_of(ind, t))
        .decimals(decimals_of(ind)).thresholds(target_thresholds(ind)).orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .min(0).span(span).height(height).no_value(t.gettext("no data"))
    )


@dataclass(frozen=True)
class Column:
    """How a table shows one column of its query: the header (a msgid), its values'
    labels (``texts`` tables) or unit, cells coloured by their label (the text or the
    background), a link, hidden."""

    header: str
    labels: Mapping[str, texts.Label] | None = None
    colored: Literal["text", "background"] | None = None
    unit: str | None = None
    link: tuple[str, str] | None = None   # (title msgid, URL with Grafana placeholders)
    hidden: bool = False
    width: int | None = None


def listing(title: str, description: str, *, span: int = 24, height: int = 9) -> table.Panel:
    return table.Panel().title(title).description(description).span(span).height(height)


def columns(panel: table.Panel, t: Translator, spec: Mapping[str, Column]) -> table.Panel:
    """Headers, value labels, units and links of a table's columns, by the query's column
    names (English ids, which the SQL keeps): a field override per column, Grafana's own
    way of renaming and mapping one field (the override's "Display name" and "Value
    mappings"), so a data link can still name the field by its id."""
    for name, column in spec.items():
        props = [model.DynamicConfigValue(id_val="displayName", value=t.gettext(column.header))]
        if column.labels is not None:
            props.append(model.DynamicConfigValue(
                id_val="mappings",
                value=texts.value_mappings(t, column.labels, colored=column.colored is not None)))
        if column.colored == "text":
            props.append(model.DynamicConfigValue(id_val="custom.cellOptions",
                                                  value={"type": "color-text"}))
        elif column.colored == "background":
            props.append(model.DynamicConfigValue(id_val="custom.cellOptions",
                                                  value={"type": "color-background", "mode": "basic"}))
        if column.unit is not None:
            props.append(model.DynamicConfigValue(id_val="unit", value=column.unit))
        if column.link is not None:
            link_title, url = column.link
            props.append(model.DynamicConfigValue(id_val="links", value=[
                {"title": t.gettext(link_title), "url": url, "targetBlank": True}]))
        if column.hidden:
            props.append(model.DynamicConfigValue(id_val="custom.hidden", value=True))
        if column.width is not None:
            props.append(model.DynamicConfigValue(id_val="custom.width", value=column.width))
        panel.override_by_name(name, props)
    return panel


def link(title: str, url: str) -> dash.DashboardLink:
    return dash.DashboardLink(title).type(model.DashboardLinkType.LINK).url(url).target_blank(True)

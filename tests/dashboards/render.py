"""Render a dashboard's panels from their SQL on a simulated city, as Grafana's dark wall would.

No Grafana server runs here, so this draws what one would show: every PostgreSQL target of
the dashboard JSON is expanded the way Grafana expands it (``grafana_macros``) and run on the
database; the page is then laid out on Grafana's grid (24 columns, 30 px rows, 8 px gaps)
from the JSON's own ``gridPos``, titles, units, decimals, thresholds, value mappings, column
headers (``displayName`` overrides) and hidden columns, and Chromium takes the picture.
Stat panels, bar gauges, tables and time series (bars or lines, an SVG) are drawn; it is an
imitation of Grafana's look, not Grafana.

    .venv/bin/python -m tests.dashboards.render         # writes docs/screens/dashboard-overview.png
    .venv/bin/python -m tests.dashboards.render --demo  # the same on what `make demo` left:
                                                        # docs/screens/dashboard-overview-demo.png

uses ``CITYBRAIN_DATABASE_URL`` or, unset, an embedded PostgreSQL; the city is loaded into a
schema of its own, dropped afterwards. ``tests/dashboards/test_render.py`` runs the same.
"""

from __future__ import annotations

import html
import itertools
import math
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from citybrain.kernel import store
from citybrain.kernel.i18n import Language
from citybrain.kernel.runtime import EmbeddedDatabase
from citybrain.kernel.settings import Settings
from dashboards.board import POSTGRES_TYPE, Board, folder_title
from dashboards.boards import overview
from dashboards.build import committed_settings
from tests.chromium import chromium, shoot
from tests.dashboards import city
from tests.dashboards.grafana_macros import (
    ALL,
    QueryContext,
    Selection,
    Variable,
    expand,
    parse_interval,
)

ROOT = Path(__file__).resolve().parents[2]
SCREEN = ROOT / "docs" / "screens" / "dashboard-overview.png"
WIDTH = 1600

# Grafana's grid and its dark theme (Grafana 11).
CELL, GAP, PAD = 30, 8, 16
HEADER = 104
BG, PANEL_BG, BORDER = "#111217", "#181b1f", "rgba(204, 204, 220, 0.12)"
TEXT, MUTED = "#ccccdc", "rgba(204, 204, 220, 0.65)"
COLORS = {"green": "#73BF69", "dark-red": "#C4162A", "red": "#F2495C", "orange": "#FF9830",
          "yellow": "#FADE2A", "blue": "#5794F2", "text": TEXT, "transparent": "transparent",
          "purple": "#B877D9"}
# Grafana's classic palette, the colour of the n-th series.
PALETTE = ("#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#705DA0")
LIGHT = {"#73BF69", "#FADE2A", "#F2CC0C", "#FF9830"}  # backgrounds that take dark text
# Grafana's own words around a dashboard (its UI in zh-Hans, GF_USERS_DEFAULT_LANGUAGE in
# compose, or in English): the breadcrumb's home and dashboards, the time picker's "to".
GRAFANA_UI = {"zh-CN": ("首页", "仪表板", "至"), "en": ("Home", "Dashboards", "to")}


@dataclass(frozen=True)
class Frame:
    """What one panel's first SQL target returned."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


# -- running the panels ---------------------------------------------------------------------

def panel_interval(panel: Mapping[str, Any], time_from: datetime, time_to: datetime) -> timedelta:
    """``$__interval`` as Grafana computes it: the range over the panel's width in pixels
    (its max data points), rounded, never below the panel's min interval."""
    width = max(1, int(panel["gridPos"]["w"] / 24 * (WIDTH - 2 * PAD)))
    auto = (time_to - time_from) / width
    nice = next((step for step in (timedelta(seconds=s) for s in (1, 5, 10, 15, 30, 60, 300, 600, 900,
                                                                   1800, 3600, 7200, 21600, 43200,
                                                                   86400)) if step >= auto),
                timedelta(days=1))
    minimum = parse_interval(panel["interval"]) if panel.get("interval") else timedelta(0)
    return max(nice, minimum)


def panel_range(panel: Mapping[str, Any], time_from: datetime,
                time_to: datetime) -> tuple[datetime, datetime]:
    """The panel's own range: a relative time override ("7d") ends where the dashboard's
    range ends ("now" is the end of the city's window here)."""
    if panel.get("timeFrom"):
        return time_to - parse_interval(panel["timeFrom"]), time_to
    return time_from, time_to


def variables_all(document: Mapping[str, Any], conn: psycopg.Connection[Any],
                  base: QueryContext) -> dict[str, Selection]:
    """Every variable at "All", with the options its query (or list) gives."""
    selections = {}
    for v in document["templating"].get("list", []):
        if v["type"] == "query":
            options = tuple(str(r[0]) for r in conn.execute(expand(v["query"], base).encode()).fetchall())
        elif v["type"] == "custom":
            options = tuple(o.split(" : ")[-1].strip() for o in v["query"].split(","))
        else:
            continue
        variable = Variable(v["name"], multi=bool(v.get("multi")), include_all=bool(v.get("includeAll")),
                            all_value=v.get("allValue"), options=options)
        selections[v["name"]] = Selection(variable, ALL)
    return selections


def run_panels(document: Mapping[str, Any], conn: psycopg.Connection[Any], *, time_from: datetime,
               time_to: datetime) -> dict[int, Frame]:
    """Each SQL panel's first target, expanded for the range with every variable at "All"."""
    base = QueryContext(time_from=time_from, time_to=time_to)
    selections = variables_all(document, conn, base)
    frames = {}
    for panel in document["panels"]:
        targets = [t for t in panel.get("targets", []) if t["datasource"]["type"] == POSTGRES_TYPE]
        if not targets:
            continue
        start, end = panel_range(panel, time_from, time_to)
        ctx = QueryContext(time_from=start, time_to=end, selections=selections,
                           interval=panel_interval(panel, start, end))
        cur = conn.execute(expand(targets[0]["rawSql"], ctx).encode())
        frames[panel["id"]] = Frame(tuple(d.name for d in cur.description or ()), cur.fetchall())
    return frames


# -- formatting values the way the panel's field config says -------------------------------

def color(name: str | None) -> str:
    if not name:
        return TEXT
    return COLORS.get(name, name)


def threshold_color(value: float | None, thresholds: Mapping[str, Any] | None) -> str | None:
    if value is None or not thresholds:
        return None
    found = None
    for step in thresholds.get("steps", []):
        if step.get("value") is None or value >= step["value"]:
            found = step["color"]
    return color(found)


def number(value: float, decimals: int | None) -> str:
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    return f"{value:,.{decimals}f}".replace(",", "")


def formatted(value: Any, config: Mapping[str, Any], tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        v = float(value)
        unit, decimals = config.get("unit"), config.get("decimals")
        if unit == "percent":
            return number(v, decimals) + "%"
        if unit == "ms":
            return number(v, decimals) + " ms"
        if isinstance(unit, str) and unit.startswith("suffix:"):
            return number(v, decimals) + unit.removeprefix("suffix:")
        return number(v, decimals)
    return str(value)


def mapped(value: Any, config: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The value mapping's (text, colour) for a value, or None."""
    key = ("true" if value else "false") if isinstance(value, bool) else str(value)
    for mapping in config.get("mappings", []):
        if mapping.get("type") == "value" and key in mapping["options"]:
            result = mapping["options"][key]
            return result.get("text", key), result.get("color")
    return None


def field_config(panel: Mapping[str, Any], column: str) -> dict[str, Any]:
    """The panel's defaults with the overrides for ``column`` (by name) applied."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    config: dict[str, Any] = {k: v for k, v in defaults.items() if k != "custom"}
    config["custom"] = dict(defaults.get("custom", {}))
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["id"] == "byName" and override["matcher"]["options"] == column:
            for prop in override["properties"]:
                if prop["id"].startswith("custom."):
                    config["custom"][prop["id"].removeprefix("custom.")] = prop["value"]
                else:
                    config[prop["id"]] = prop["value"]
    return config


# -- drawing the panels ----------------------------------------------------------------------

def esc(text: object) -> str:
    return html.escape(str(text))


def stat(panel: Mapping[str, Any], frame: Frame, tz: ZoneInfo) -> str:
    config = field_config(panel, frame.columns[-1] if frame.columns else "")
    value = frame.rows[-1][-1] if frame.rows else None
    if value is None:
        return f'<div class="stat"><span class="big muted">{esc(config.get("noValue", ""))}</span></div>'
    shown = formatted(value, config, tz)
    background = threshold_color(float(value), config.get("thresholds"))
    if panel.get("options", {}).get("colorMode") == "background" and background:
        ink = "#111217" if background in LIGHT else "#ffffff"
        return (f'<div class="stat" style="background: linear-gradient(120deg, {background}, '
                f'{background}cc); color: {ink}"><span class="big">{esc(shown)}</span></div>')
    return (f'<div class="stat"><span class="big" style="color: {background or TEXT}">'
            f'{esc(shown)}</span></div>')


def bargauge(panel: Mapping[str, Any], frame: Frame, tz: ZoneInfo) -> str:
    first = frame.rows[0] if frame.rows else ()
    value_column = next((c for c, v in zip(frame.columns, first, strict=False)
                         if isinstance(v, (int, float, Decimal)) or v is None), frame.columns[-1])
    name_column = next(c for c in frame.columns if c != value_column)
    config = field_config(panel, value_column)
    index = frame.columns.index(value_column)
    values = [None if r[index] is None else float(r[index]) for r in frame.rows]
    low = config.get("min", 0.0)
    high = config.get("max") or max([v for v in values if v is not None] + [1.0])
    scheme = config.get("color", {})
    fixed = scheme.get("fixedColor") if scheme.get("mode") == "fixed" else None
    gradient = panel.get("options", {}).get("displayMode") == "gradient"
    on_top = panel.get("options", {}).get("namePlacement") == "top"
    bars = []
    for row, value in zip(frame.rows, values, strict=True):
        name = row[frame.columns.index(name_column)]
        if value is None:
            share, ink, shown = 0.0, MUTED, config.get("noValue", "")
        else:
            share = max(0.0, min(1.0, (value - low) / (high - low))) if high > low else 0.0
            ink = color(fixed) if fixed else (threshold_color(value, config.get("thresholds")) or TEXT)
            shown = formatted(value, config, tz)
        fill = ink
        if gradient and value is not None and not fixed:
            steps = [threshold_color(low + (high - low) * k / 4, config.get("thresholds")) for k in range(5)]
            fill = f"linear-gradient(90deg, {', '.join(s or ink for s in steps)})"
            fill = f"{fill}; background-size: {100 / share if share else 100:.1f}% 100%"
        bar = (f'<div class="bar-track"><div class="bar" style="width: {share * 100:.1f}%; '
               f'background: {fill}"></div></div>'
               f'<div class="bar-value" style="color: {ink}">{esc(shown)}</div>')
        if on_top:
            bars.append(f'<div class="bar-stack"><div class="bar-top">{esc(name)}</div>'
                        f'<div class="bar-row">{bar}</div></div>')
        else:
            bars.append(f'<div class="bar-row"><div class="bar-name">{esc(name)}</div>{bar}</div>')
    return f'<div class="bars">{"".join(bars)}</div>'


def _width(config: Mapping[str, Any]) -> str:
    width = config["custom"].get("width")
    return f"width: {width}px" if width else ""


def table(panel: Mapping[str, Any], frame: Frame, tz: ZoneInfo) -> str:
    shown = []
    for index, column in enumerate(frame.columns):
        config = field_config(panel, column)
        if config["custom"].get("hidden"):
            continue
        shown.append((index, column, config))
    head = "".join(
        f'<th style="{_width(c)}">{esc(c.get("displayName", name))}</th>' for _, name, c in shown)
    body = []
    for row in frame.rows:
        cells = []
        for index, _name, config in shown:
            value = row[index]
            label = mapped(value, config)
            text, ink = label if label else (formatted(value, config, tz), None)
            cell = config["custom"].get("cellOptions", {}).get("type")
            style = ""
            if cell == "color-text" and ink:
                style = f"color: {color(ink)}"
            elif cell == "color-background" and ink and value is not None:
                bg = color(ink)
                style = f"background: {bg}; color: {'#111217' if bg in LIGHT else '#ffffff'}"
            # A cell with a data link reads as a link.
            text_html = f'<span class="link">{esc(text)}</span>' if config.get("links") else esc(text)
            cells.append(f'<td style="{style}">{text_html}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def as_time(value: Any) -> datetime:
    """A time column's value: a timestamp, or epoch seconds ($__timeGroup without
    TimescaleDB), which Grafana's SQL datasource turns into a time as well."""
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), tz=UTC)


def _series(frame: Frame) -> tuple[list[str], dict[str, dict[datetime, float]]]:
    """Series name → time → value, from a long frame (time, metric, value) or a wide one."""
    series: dict[str, dict[datetime, float]] = {}
    if frame.columns[:3] == ("time", "metric", "value"):
        for at, metric, value in frame.rows:
            if value is not None:
                series.setdefault(str(metric), {})[as_time(at)] = float(value)
    else:
        for row in frame.rows:
            for name, value in zip(frame.columns[1:], row[1:], strict=True):
                if value is not None:
                    series.setdefault(name, {})[as_time(row[0])] = float(value)
    return list(series), series


def _ticks(low: float, high: float) -> list[float]:
    span = high - low or 1.0
    raw = span / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) / step) + 1)]


def timeseries(panel: Mapping[str, Any], frame: Frame, tz: ZoneInfo, *, width: int, height: int,
               time_from: datetime, time_to: datetime, interval: timedelta) -> str:
    names, series = _series(frame)
    config = field_config(panel, "")
    custom = config["custom"]
    bars = custom.get("drawStyle") == "bars"
    stacked = custom.get("stacking", {}).get("mode") == "normal"
    legend_h = 26 if panel.get("options", {}).get("legend", {}).get("showLegend") else 0
    w, h = width - 24, height - 40 - legend_h
    left, bottom = 46, 22
    plot_w, plot_h = w - left - 8, h - bottom - 6
    times = sorted({t for s in series.values() for t in s})
    totals = {t: sum(s.get(t, 0.0) for s in series.values()) for t in times}
    peak = max(totals.values() if stacked else [v for s in series.values() for v in s.values()] or [1.0])
    steps = config.get("thresholds", {}).get("steps", [])
    thresholds = [s["value"] for s in steps if s.get("value") is not None]
    if custom.get("thresholdsStyle", {}).get("mode") == "line":
        peak = max([peak, *thresholds])
    high = _ticks(0.0, peak * 1.05 or 1.0)[-1]
    if high < peak:
        high = peak * 1.1
    span_s = (time_to - time_from).total_seconds()

    def x(at: datetime) -> float:
        return left + (at - time_from).total_seconds() / span_s * plot_w

    def y(v: float) -> float:
        return 6 + plot_h - v / high * plot_h

    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for level in _ticks(0.0, high):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
                     f'stroke="rgba(204,204,220,0.08)"/>')
        label = formatted(level, {"unit": config.get("unit"), "decimals": 0}, tz)
        parts.append(f'<text x="{left - 6}" y="{y(level) + 4:.1f}" text-anchor="end" class="axis">'
                     f'{esc(label)}</text>')
    # Ticks at local hours, or at local midnights over more than two days; a midnight
    # reads as its date.
    days = span_s > 2 * 86400
    first = time_from.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    first = (first.replace(hour=0) + timedelta(days=1)) if days else first + timedelta(hours=1)
    step = timedelta(days=1) if days else timedelta(hours=max(1, math.ceil(span_s / 3600 / 8)))
    tick = first
    while tick < time_to:
        local = tick.astimezone(tz)
        text = local.strftime("%m-%d") if local.hour == 0 else local.strftime("%H:%M")
        parts.append(f'<text x="{x(tick):.1f}" y="{h - 6}" text-anchor="middle" class="axis">{text}</text>')
        tick += step
    # Bars are 0.6 of the spacing of the points (Grafana's bar width factor), placed after
    # their time (bar alignment 1) or centred on it.
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    spacing = min(gaps) if gaps else interval.total_seconds()
    bar_w = max(2.0, spacing / span_s * plot_w * custom.get("barWidthFactor", 0.6))
    after = custom.get("barAlignment") == 1
    parts.append(f'<defs><clipPath id="plot"><rect x="{left}" y="0" width="{plot_w}" height="{h}"/>'
                 '</clipPath></defs><g clip-path="url(#plot)">')
    base = dict.fromkeys(times, 0.0)
    for n, name in enumerate(names):
        fixed = field_config(panel, name).get("color", {})
        ink = color(fixed["fixedColor"]) if fixed.get("mode") == "fixed" else PALETTE[n % len(PALETTE)]
        points = sorted(series[name].items())
        if bars:
            for at, value in points:
                x0 = x(at) if after else x(at) - bar_w / 2
                y0 = base[at] if stacked else 0.0
                fill = ink
                if config.get("color", {}).get("mode") == "thresholds":
                    fill = threshold_color(value, config.get("thresholds")) or ink
                parts.append(f'<rect x="{x0:.1f}" y="{y(y0 + value):.1f}" width="{bar_w:.1f}" '
                             f'height="{max(0.5, y(y0) - y(y0 + value)):.1f}" fill="{fill}" '
                             'fill-opacity="0.8"/>')
                if stacked:
                    base[at] = y0 + value
        else:
            line = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in points)
            parts.append(f'<polyline points="{line}" fill="none" stroke="{ink}" stroke-width="2"/>')
    parts.append("</g>")
    if custom.get("thresholdsStyle", {}).get("mode") == "line":
        for step_ in config.get("thresholds", {}).get("steps", []):
            if step_.get("value") is not None:
                parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(step_["value"]):.1f}" '
                             f'y2="{y(step_["value"]):.1f}" stroke="{color(step_["color"])}" '
                             'stroke-dasharray="6 4" stroke-width="1.5"/>')
    parts.append("</svg>")
    legend = ""
    if legend_h:
        inks = []
        for n, name in enumerate(names):
            scheme = field_config(panel, name).get("color", {})
            if scheme.get("mode") == "fixed":
                inks.append(color(scheme["fixedColor"]))
            elif scheme.get("mode") == "thresholds":  # the colour of the latest value
                latest = sorted(series[name].items())[-1][1]
                inks.append(threshold_color(latest, config.get("thresholds")) or PALETTE[n % len(PALETTE)])
            else:
                inks.append(PALETTE[n % len(PALETTE)])
        legend = '<div class="legend">' + "".join(
            f'<span><i style="background: {ink}"></i>{esc(name)}</span>'
            for ink, name in zip(inks, names, strict=True)) + "</div>"
    return "".join(parts) + legend


# -- the page --------------------------------------------------------------------------------

def _box(pos: Mapping[str, int]) -> tuple[int, int, int, int]:
    col = (WIDTH - 2 * PAD - 23 * GAP) / 24
    left = PAD + pos["x"] * (col + GAP)
    width = pos["w"] * col + (pos["w"] - 1) * GAP
    top = HEADER + pos["y"] * (CELL + GAP)
    height = pos["h"] * CELL + (pos["h"] - 1) * GAP
    return round(left), round(top), round(width), round(height)


def page_height(document: Mapping[str, Any]) -> int:
    bottom = max(int(p["gridPos"]["y"]) + int(p["gridPos"]["h"]) for p in document["panels"])
    return HEADER + bottom * (CELL + GAP) + PAD


CSS = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: {BG}; color: {TEXT}; width: {WIDTH}px;
       font-family: Inter, "Noto Sans CJK SC", "Noto Sans SC", "Helvetica Neue", Arial, sans-serif;
       font-size: 13px; position: relative; }}
.top {{ height: 40px; border-bottom: 1px solid {BORDER}; display: flex; align-items: center;
        padding: 0 {PAD}px; gap: 10px; color: {MUTED}; background: #181b1f; }}
.top b {{ color: {TEXT}; font-weight: 500; }}
.logo {{ width: 22px; height: 22px; border-radius: 4px;
         background: linear-gradient(135deg, #F05A28, #FBCA0A); }}
.controls {{ position: absolute; top: 48px; left: {PAD}px; right: {PAD}px; height: 32px;
             display: flex; gap: 8px; align-items: center; }}
.var {{ display: flex; border: 1px solid {BORDER}; border-radius: 2px; height: 32px; align-items: center; }}
.var span {{ padding: 0 10px; height: 100%; display: flex; align-items: center; }}
.var span:first-child {{ background: #22252b; color: {TEXT}; border-right: 1px solid {BORDER}; }}
.spacer {{ flex: 1; }}
.panel {{ position: absolute; background: {PANEL_BG}; border: 1px solid {BORDER}; border-radius: 2px;
          overflow: hidden; display: flex; flex-direction: column; }}
.panel h2 {{ margin: 0; padding: 6px 10px 0 10px; height: 30px; font-size: 14px; font-weight: 500;
             white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.panel .body {{ flex: 1; padding: 4px 10px 8px 10px; position: relative; overflow: hidden; }}
.row {{ position: absolute; font-size: 16px; font-weight: 500; display: flex; align-items: center;
         gap: 8px; }}
.row::before {{ content: "⌄"; color: {MUTED}; font-size: 14px; }}
.stat {{ position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; }}
.stat .big {{ font-size: 40px; font-weight: 500; }}
.muted {{ color: {MUTED}; }}
.bars {{ display: flex; flex-direction: column; justify-content: space-around; height: 100%; gap: 6px; }}
.bar-row {{ display: flex; align-items: center; gap: 10px; flex: 1; max-height: 44px; }}
.bar-name {{ width: 38%; text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.bar-stack {{ display: flex; flex-direction: column; flex: 1; min-height: 0; }}
.bar-top {{ font-size: 12px; color: {TEXT}; white-space: nowrap; }}
.bar-track {{ flex: 1; height: 70%; background: rgba(204, 204, 220, 0.06); }}
.bar {{ height: 100%; }}
.bar-value {{ width: 78px; font-size: 20px; font-weight: 500; text-align: right; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
th {{ text-align: left; font-weight: 500; color: #6e9fff; padding: 6px 8px;
      border-bottom: 1px solid {BORDER}; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
td {{ padding: 5px 8px; border-bottom: 1px solid {BORDER}; white-space: nowrap; overflow: hidden;
      text-overflow: ellipsis; height: 32px; }}
.link {{ color: #6e9fff; }}
.axis {{ fill: {MUTED}; font-size: 11px; font-family: inherit; }}
.legend {{ display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; padding-top: 2px; }}
.legend i {{ display: inline-block; width: 14px; height: 4px; margin-right: 6px; vertical-align: middle; }}
"""


def html_page(document: Mapping[str, Any], frames: Mapping[int, Frame], *, time_from: datetime,
              time_to: datetime, home: str, dashboards: str, folder: str, until: str) -> str:
    tz = ZoneInfo(document["timezone"])
    parts = [f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>{CSS}</style></head>'
             f'<body style="height: {page_height(document)}px">',
             f'<div class="top"><div class="logo"></div><span>{esc(home)}</span>›<span>{esc(dashboards)}'
             f'</span>›<span>{esc(folder)}</span>›<b>{esc(document["title"])}</b></div>']
    controls = []
    for v in document["templating"].get("list", []):
        if v.get("label"):
            current = v.get("current", {}).get("text")
            text = current[0] if isinstance(current, list) else current
            controls.append(f'<div class="var"><span>{esc(v["label"])}</span>'
                            f'<span>{esc(text)} ▾</span></div>')
    for link in document.get("links", []):
        controls.append(f'<div class="var"><span>{esc(link["title"])} ▾</span></div>')
    local = (time_from.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
             time_to.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"))
    controls.append('<div class="spacer"></div>')
    controls.append(f'<div class="var"><span>⏱ {local[0]} {esc(until)} {local[1]}</span></div>')
    controls.append(f'<div class="var"><span>⟳ {esc(document.get("refresh", ""))}</span></div>')
    parts.append(f'<div class="controls">{"".join(controls)}</div>')
    for panel in document["panels"]:
        left, top, width, height = _box(panel["gridPos"])
        if panel["type"] == "row":
            parts.append(f'<div class="row" style="left: {left}px; top: {top}px; width: {width}px; '
                         f'height: {height}px">{esc(panel["title"])}</div>')
            continue
        frame = frames.get(panel["id"], Frame((), []))
        if panel["type"] == "stat":
            body = stat(panel, frame, tz)
        elif panel["type"] == "bargauge":
            body = bargauge(panel, frame, tz)
        elif panel["type"] == "table":
            body = table(panel, frame, tz)
        elif panel["type"] == "timeseries":
            start, end = panel_range(panel, time_from, time_to)
            body = timeseries(panel, frame, tz, width=width, height=height, time_from=start,
                              time_to=end, interval=panel_interval(panel, start, end))
        else:
            raise ValueError(f"panel type {panel['type']} is not drawn here")
        parts.append(f'<div class="panel" style="left: {left}px; top: {top}px; width: {width}px; '
                     f'height: {height}px"><h2>{esc(panel["title"])}</h2>'
                     f'<div class="body">{body}</div></div>')
    parts.append("</body></html>")
    return "".join(parts)


def screenshot(page: Path, out: Path, *, width: int, height: int) -> None:
    browser = chromium()
    if browser is None:
        raise RuntimeError("Chromium is not installed (Debian: apt-get install -y chromium)")
    shoot(browser, page, out, width=width, height=height)


# -- the overview on the simulated city --------------------------------------------------------

@contextmanager
def loaded_city(database_url: str, data_dir: Path) -> Iterator[tuple[str, city.LoadedCity]]:
    """The simulated city of the panel-SQL tests, in a schema of its own (dropped after)."""
    schema = f"t_render_{uuid.uuid4().hex[:10]}"
    store.migrate(database_url, schema)
    try:
        settings = Settings(database_url=database_url, database_schema=schema, topic_prefix="sim",
                            data_dir=data_dir)
        with store.connect(database_url, schema, autocommit=True) as conn:
            yield schema, city.load(conn, settings, database_url)
    finally:
        store.drop_schema(database_url, schema)


@dataclass(frozen=True)
class Rendered:
    board: Board
    frames: dict[int, Frame]
    html: Path
    png: Path


def render_overview(database_url: str, schema: str, out: Path, *, work: Path,
                    language: str = "zh-CN", time_from: datetime = city.START,
                    time_to: datetime = city.END,
                    build: Callable[[Settings, Language], Board] = overview.build) -> Rendered:
    """A board (the overview unless ``build`` says another) over a window (the simulated
    city's by default): HTML in ``work``, PNG at ``out``."""
    board = build(committed_settings(), "zh-CN" if language == "zh-CN" else "en")
    document = board.to_json()
    options = f"-c search_path={schema} -c default_transaction_read_only=on"
    with psycopg.connect(database_url, autocommit=True, options=options) as conn:
        frames = run_panels(document, conn, time_from=time_from, time_to=time_to)
    home, dashboards, until = GRAFANA_UI[board.language]
    page = html_page(document, frames, time_from=time_from, time_to=time_to, home=home,
                     dashboards=dashboards, folder=folder_title(board.language), until=until)
    work.mkdir(parents=True, exist_ok=True)
    html_path = work / f"{board.uid}.html"
    html_path.write_text(page, encoding="utf-8")
    screenshot(html_path, out, width=WIDTH, height=page_height(document))
    return Rendered(board, frames, html_path, out)


DEMO_SCREEN = ROOT / "docs" / "screens" / "dashboard-overview-demo.png"


def render_demo() -> Path:
    """The overview on the data ``make demo`` left behind, over the demo's simulated day.

    The demo keeps its database (the embedded one in CITYBRAIN_DATA_DIR, default
    .citybrain/, schema ``citybrain``; a configured server's schema ``citybrain_demo``);
    the window runs from its first stored event to its last, so "today" is the demo's
    last simulated day.
    """
    settings = Settings()
    database = None if settings.database_url else EmbeddedDatabase(settings.data_dir)
    url = settings.database_url if database is None else database.start()
    assert url is not None
    schema = settings.database_schema if database is not None else "citybrain_demo"
    try:
        with psycopg.connect(url, autocommit=True,
                             options=f"-c search_path={schema}") as conn:
            first, last = conn.execute(
                "SELECT min(occurred_at), max(occurred_at) FROM iot_events").fetchone() or (None, None)
        if first is None or last is None:
            raise SystemExit(f"no demo data in schema {schema}: run `make demo` first")
        with tempfile.TemporaryDirectory(prefix="citybrain-render-") as tmp:
            render_overview(url, schema, DEMO_SCREEN, work=Path(tmp), language=settings.language,
                            time_from=first, time_to=last)
    finally:
        if database is not None:
            database.stop()
    return DEMO_SCREEN


def main() -> None:
    if "--demo" in sys.argv[1:]:
        print(render_demo().relative_to(ROOT))
        return
    with tempfile.TemporaryDirectory(prefix="citybrain-render-") as tmp:
        work = Path(tmp)
        configured = os.environ.get("CITYBRAIN_DATABASE_URL")
        database = None if configured else EmbeddedDatabase(work / "db", fresh=True)
        url = configured if database is None else database.start()
        assert url is not None
        try:
            with loaded_city(url, work / "city") as (schema, _):
                rendered = render_overview(url, schema, SCREEN, work=work)
        finally:
            if database is not None:
                database.stop()
    print(rendered.png.relative_to(ROOT))


if __name__ == "__main__":
    main()

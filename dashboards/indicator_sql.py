"""An indicator's own SQL file, turned into a Grafana panel query.

A panel never carries a copy of an indicator's formula: it loads the indicator's ``.sql``
file from the catalogue and substitutes its four psycopg placeholders with what Grafana
fills in at query time —

=====================  ==========================================================
``%(start)s``          ``$__timeFrom()``  (the dashboard range's start, UTC)
``%(end)s``            ``$__timeTo()``    (its end)
``%(tz)s``             the zone literal, e.g. ``'Asia/Shanghai'`` (Settings.timezone)
``%(department)s``     ``$department``: a quoted id, or ``NULL`` for "All" (the
                       variable's custom all value)
=====================  ==========================================================

— and wraps the text as a sub-query from which the panel selects the breakdown rows it
shows (``dimension = 'day'`` for a trend, ``'district'`` for a bar gauge, ``'total'`` for
a stat). Change the ``.sql`` file, rebuild, and every report and panel moves together.

A panel about *today* (``today_start``) gives ``%(start)s`` the local midnight of the day
the dashboard's range ends in, in the report's zone: the figure a report over "today so
far" gives. Department, district and asset members are shown by their registry names in
the board's language (``schemas.names``), the id where none is registered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.model import KEYS, Indicator
from citybrain.kernel.i18n import Language, Translator
from dashboards import texts
from dashboards.errors import DashboardError
from schemas.names import name_sql

DEPARTMENT_VARIABLE = "department"
TIME_FROM = "$__timeFrom()"
# Breakdown dimensions whose members are registry ids: (table, id column, alias).
REGISTRY_MEMBERS: Mapping[str, tuple[str, str, str]] = {
    "department": ("departments", "department_id", "d"),
    "district": ("districts", "district_id", "di"),
    "asset": ("assets", "asset_id", "a"),
}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def indicator(indicator_id: str) -> Indicator:
    """The catalogue entry; a dashboard naming an unknown indicator does not build."""
    for found in load_catalogue():
        if found.id == indicator_id:
            return found
    known = ", ".join(sorted(i.id for i in load_catalogue()))
    raise DashboardError(
        f"dashboard panel names indicator {indicator_id!r}, which the catalogue does not have "
        f"(citybrain/indicators/catalogue.yaml has: {known}); fix the builder or the catalogue"
    )


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def name_in(ind: Indicator, language: Language) -> str:
    """The indicator's name as the catalogue gives it in ``language``."""
    return ind.name_zh if language == "zh-CN" else ind.name_en


def today_start(timezone: str) -> str:
    """The local midnight (``timezone``) of the day the dashboard's range ends in."""
    zone = quote_literal(timezone)
    return f"local_midnight(($__timeTo()::timestamptz AT TIME ZONE {zone})::date, {zone})"


def grafana_text(ind: Indicator, *, timezone: str, start: str = TIME_FROM) -> str:
    """The indicator's SQL with Grafana's macros and variables in place of its placeholders
    (``start``: what stands for the window's start, the range's start unless given)."""
    if "$" in ind.sql:
        # Grafana would read $name as a variable or $name(...) as a macro.
        raise DashboardError(f"{ind.sql_file}: contains '$', which Grafana would interpolate; "
                             "the indicator SQL must not use dollar quoting or $n parameters")
    values = {
        "start": start if start == TIME_FROM else f"({start})",
        "end": "$__timeTo()",
        "tz": quote_literal(timezone),
        "department": f"${DEPARTMENT_VARIABLE}",
    }

    def substitute(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise DashboardError(f"{ind.sql_file}: unknown placeholder %({name})s")
        return values[name]

    return _PLACEHOLDER.sub(substitute, ind.sql).rstrip().rstrip(";")


def rows(indicator_id: str, *, timezone: str, dimension: str, select: str,
         order_by: str | None = None, where: str | None = None, join: str = "",
         start: str = TIME_FROM) -> str:
    """``SELECT <select> FROM (<indicator SQL>) AS ind <join> WHERE dimension = <dimension>``.

    ``select`` names the columns the panel shows, read from the indicator's output columns
    (``member``, ``value``, ``numerator``, ``denominator``, ...); ``join`` may add the
    registry row of the member (``member_join``).
    """
    ind = indicator(indicator_id)
    if dimension != "total" and dimension not in ind.breakdowns:
        raise DashboardError(f"indicator {ind.id} has no {dimension!r} breakdown "
                             f"(it has {', '.join(ind.breakdowns) or 'none'})")
    body = grafana_text(ind, timezone=timezone, start=start)
    filters = [f"ind.dimension = {quote_literal(dimension)}"] + ([where] if where else [])
    # The newline before ')' matters: the file may end in a line comment.
    return (
        f"-- indicator {ind.id} v{ind.version}, from citybrain/indicators/sql/{ind.sql_file}\n"
        f"SELECT {select}\nFROM (\n{body}\n) AS ind{join}\nWHERE " + " AND ".join(filters)
        + (f"\nORDER BY {order_by}" if order_by else "")
    )


def member_name(dimension: str, member: str, language: Language) -> tuple[str, str]:
    """(join, expression): the registry row of a department, district or asset member and
    its display name in ``language`` (the member itself where the registry has no row,
    e.g. ``(none)``); other dimensions' members are shown as they are."""
    if dimension not in REGISTRY_MEMBERS:
        return "", member
    table, id_column, alias = REGISTRY_MEMBERS[dimension]
    join = f"\nLEFT JOIN {table} {alias} ON {alias}.{id_column} = {member}"
    return join, f"coalesce({name_sql(alias, language).as_string(None)}, {member})"


def day_series(indicator_id: str, *, timezone: str, label: str) -> str:
    """The indicator's per-day figure as a time series (local midnights of ``timezone``)."""
    zone = quote_literal(timezone)
    return rows(indicator_id, timezone=timezone, dimension="day",
                select=f'(local_midnight(ind.member::date, {zone})) AS "time", '
                       f'ind.value AS "{label}"',
                order_by="1")


def total(indicator_id: str, *, timezone: str, label: str, start: str = TIME_FROM) -> str:
    """The indicator's figure for the whole window (one row)."""
    return rows(indicator_id, timezone=timezone, dimension="total",
                select=f'ind.value AS "{label}"', start=start)


def by_member(indicator_id: str, *, timezone: str, dimension: str, label: str,
              member_label: str, language: Language, limit: int | None = None,
              worst_first: bool = False) -> str:
    """One row per breakdown member (department, district, asset, ...), a department,
    district or asset by its name in ``language``.

    ``worst_first`` orders by the indicator's direction (lowest first for a rate to
    maximise, highest first for a loss or a latency), for "the worst N" rankings.
    """
    ind = indicator(indicator_id)
    join, member = member_name(dimension, "ind.member", language)
    if worst_first:
        order = "ind.value ASC NULLS LAST" if ind.direction == "higher" else "ind.value DESC NULLS LAST"
        order += f", {member}"
    else:
        order = member
    if limit is not None:
        order += f" LIMIT {int(limit)}"
    return rows(indicator_id, timezone=timezone, dimension=dimension, join=join,
                select=f'{member} AS "{member_label}", ind.value AS "{label}"', order_by=order)


def _card(indicators: Sequence[Indicator], *, timezone: str, language: Language,
          weights: Mapping[str, float]) -> str:
    """Every indicator's window figure next to its target and weight, one row each (UNION
    ALL of the indicators' own SQL)."""
    if not indicators:
        raise DashboardError("the scorecard needs at least one indicator")
    branches = []
    for ind in indicators:
        target = "NULL::float8" if ind.target is None else f"{float(ind.target)!r}::float8"
        weight = float(weights.get(ind.id, ind.weight))
        branches.append(
            f"-- indicator {ind.id} v{ind.version}, from citybrain/indicators/sql/{ind.sql_file}\n"
            f"SELECT {quote_literal(ind.key)} AS key, {quote_literal(ind.id)} AS indicator_id,\n"
            f"       {quote_literal(name_in(ind, language))} AS indicator, ind.value::float8 AS value,\n"
            f"       {target} AS target, {quote_literal(ind.unit)} AS unit,\n"
            f"       {quote_literal(ind.direction)} AS direction, {weight!r}::float8 AS weight\n"
            f"FROM (\n{grafana_text(ind, timezone=timezone)}\n) AS ind\n"
            "WHERE ind.dimension = 'total'"
        )
    return "\nUNION ALL\n".join(branches)


# ``$key`` filters the five keys; the response indicators (key ``ops``) always show.
# PostgreSQL drops the branches a ``$key`` selection rules out at plan time, so a
# narrower selection also runs fewer indicator queries.
KEY_FILTER = "card.key IN ($key) OR card.key = 'ops'"
KEY_ORDER = "ARRAY[" + ", ".join(quote_literal(k) for k in KEYS) + "]"


def scorecard(indicators: Sequence[Indicator], *, timezone: str, language: Language) -> str:
    """Every indicator's window figure next to its target, one row each, the indicator by
    its name in ``language``; ``met`` is NULL without a value or a target."""
    union = _card(indicators, timezone=timezone, language=language, weights={})
    return (
        "SELECT card.key, card.indicator, card.value, card.target, card.unit,\n"
        "       CASE WHEN card.value IS NULL OR card.target IS NULL THEN NULL\n"
        "            WHEN card.direction = 'higher' THEN card.value >= card.target\n"
        "            ELSE card.value <= card.target END AS met,\n"
        "       card.indicator_id\n"
        f"FROM (\n{union}\n) AS card\n"
        f"WHERE {KEY_FILTER}\n"
        f"ORDER BY array_position({KEY_ORDER}, card.key), card.indicator_id"
    )


def key_scores(indicators: Sequence[Indicator], *, timezone: str, language: Language, t: Translator,
               weights: Mapping[str, float], bands: Sequence[tuple[float, str]], top_band: str) -> str:
    """Each key's composite score (0–100) over the range and its band, as the reports'
    scorecard computes them (``citybrain.reports.scorecard``: weighted attainment of the
    indicators with a target and a value; an indicator without data is left out, never
    counted as 0 or 100; a key with nothing scored has no score, NULL). One row per key:
    ``key`` is the key's name and its band in ``language`` (the bar's label: a bar gauge
    takes row names from the query as they are), ``score`` the score rounded to 2
    decimals, the band taken from the rounded score. ``bands`` are the (upper bound, band)
    pairs below ``top_band``."""
    union = _card(indicators, timezone=timezone, language=language, weights=weights)
    band = "CASE WHEN s.score IS NULL THEN " + quote_literal(t.gettext("no data"))
    for upper, name in bands:
        band += f" WHEN s.score < {float(upper)!r} THEN {quote_literal(texts.text(t, texts.BANDS, name))}"
    band += f" ELSE {quote_literal(texts.text(t, texts.BANDS, top_band))} END"
    keys = ", ".join(f"({quote_literal(k)}, {n})" for n, k in enumerate(KEYS))
    return (
        f"WITH card AS (\n{union}\n),\n"
        "scored AS (\n"
        "    -- attainment 0–1: value/target (higher is better) or target/value (lower is better),\n"
        "    -- capped at 1; a lower-is-better value <= 0 attains 1; a higher-is-better target <= 0\n"
        "    -- is attained by any value >= target\n"
        "    SELECT card.key, card.weight,\n"
        "           CASE WHEN card.direction = 'higher' THEN\n"
        "                     CASE WHEN card.target <= 0\n"
        "                          THEN CASE WHEN card.value >= card.target THEN 1.0 ELSE 0.0 END\n"
        "                          ELSE least(1.0, greatest(0.0, card.value / card.target)) END\n"
        "                WHEN card.value <= 0 THEN 1.0\n"
        "                ELSE least(1.0, greatest(0.0, card.target / card.value)) END AS attainment\n"
        "    FROM card\n"
        "    WHERE card.target IS NOT NULL AND card.value IS NOT NULL AND card.weight > 0\n"
        "),\n"
        "s AS (\n"
        "    SELECT k.key, k.position,\n"
        "           round((100.0 * sum(sc.weight * sc.attainment) / sum(sc.weight))::numeric, 2)::float8\n"
        "               AS score\n"
        f"    FROM (VALUES {keys}) AS k(key, position)\n"
        "    LEFT JOIN scored sc ON sc.key = k.key\n"
        "    GROUP BY k.key, k.position\n"
        ")\n"
        f"SELECT ({texts.sql_label(t, texts.KEYS, 's.key')}) || ' · ' || ({band}) AS key,\n"
        "       s.score\n"
        "FROM s\n"
        "WHERE s.key IN ($key) OR s.key = 'ops'\n"
        "ORDER BY s.position"
    )

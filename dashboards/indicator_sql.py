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
"""

from __future__ import annotations

import re

from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.model import Indicator
from dashboards.errors import DashboardError

DEPARTMENT_VARIABLE = "department"

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


def grafana_text(ind: Indicator, *, timezone: str) -> str:
    """The indicator's SQL with Grafana's macros and variables in place of its placeholders."""
    if "$" in ind.sql:
        # Grafana would read $name as a variable or $name(...) as a macro.
        raise DashboardError(f"{ind.sql_file}: contains '$', which Grafana would interpolate; "
                             "the indicator SQL must not use dollar quoting or $n parameters")
    values = {
        "start": "$__timeFrom()",
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
         order_by: str | None = None, where: str | None = None) -> str:
    """``SELECT <select> FROM (<indicator SQL>) WHERE dimension = <dimension>``.

    ``select`` names the columns the panel shows, read from the indicator's output columns
    (``member``, ``value``, ``numerator``, ``denominator``, ...).
    """
    ind = indicator(indicator_id)
    if dimension != "total" and dimension not in ind.breakdowns:
        raise DashboardError(f"indicator {ind.id} has no {dimension!r} breakdown "
                             f"(it has {', '.join(ind.breakdowns) or 'none'})")
    body = grafana_text(ind, timezone=timezone)
    filters = [f"ind.dimension = {quote_literal(dimension)}"] + ([where] if where else [])
    # The newline before ')' matters: the file may end in a line comment.
    return (
        f"-- indicator {ind.id} v{ind.version}, from citybrain/indicators/sql/{ind.sql_file}\n"
        f"SELECT {select}\nFROM (\n{body}\n) AS ind\nWHERE " + " AND ".join(filters)
        + (f"\nORDER BY {order_by}" if order_by else "")
    )


def day_series(indicator_id: str, *, timezone: str, label: str) -> str:
    """The indicator's per-day figure as a time series (local midnights of ``timezone``)."""
    zone = quote_literal(timezone)
    return rows(indicator_id, timezone=timezone, dimension="day",
                select=f'(local_midnight(ind.member::date, {zone})) AS "time", '
                       f'ind.value AS "{label}"',
                order_by="1")


def total(indicator_id: str, *, timezone: str, label: str) -> str:
    """The indicator's figure for the whole window (one row)."""
    return rows(indicator_id, timezone=timezone, dimension="total",
                select=f'ind.value AS "{label}"')


def by_member(indicator_id: str, *, timezone: str, dimension: str, label: str,
              member_label: str, limit: int | None = None, worst_first: bool = False) -> str:
    """One row per breakdown member (department, district, asset, ...).

    ``worst_first`` orders by the indicator's direction (lowest first for a rate to
    maximise, highest first for a loss or a latency), for "the worst N" rankings.
    """
    ind = indicator(indicator_id)
    if worst_first:
        order = "ind.value ASC NULLS LAST" if ind.direction == "higher" else "ind.value DESC NULLS LAST"
        order += ", ind.member"
    else:
        order = "ind.member"
    if limit is not None:
        order += f" LIMIT {int(limit)}"
    return rows(indicator_id, timezone=timezone, dimension=dimension,
                select=f'ind.member AS "{member_label}", ind.value AS "{label}"', order_by=order)


def scorecard(indicators: list[Indicator], *, timezone: str) -> str:
    """Every indicator's window figure next to its target, one row each (UNION ALL of the
    indicators' own SQL). ``$key`` filters the five keys; response indicators (key ``ops``)
    always show. PostgreSQL drops the branches a ``$key`` selection rules out at plan time,
    so a narrower selection also runs fewer indicator queries."""
    if not indicators:
        raise DashboardError("the scorecard needs at least one indicator")
    branches = []
    for ind in indicators:
        target = "NULL::float8" if ind.target is None else f"{float(ind.target)!r}::float8"
        branches.append(
            f"-- indicator {ind.id} v{ind.version}, from citybrain/indicators/sql/{ind.sql_file}\n"
            f"SELECT {quote_literal(ind.key)} AS key, {quote_literal(ind.id)} AS indicator_id,\n"
            f"       {quote_literal(ind.name_en)} AS indicator, ind.value::float8 AS value,\n"
            f"       {target} AS target, {quote_literal(ind.unit)} AS unit,\n"
            f"       {quote_literal(ind.direction)} AS direction\n"
            f"FROM (\n{grafana_text(ind, timezone=timezone)}\n) AS ind\n"
            "WHERE ind.dimension = 'total'"
        )
    union = "\nUNION ALL\n".join(branches)
    return (
        'SELECT card.key AS "Key", card.indicator AS "Indicator", card.value AS "Value",\n'
        '       card.target AS "Target", card.unit AS "Unit",\n'
        "       CASE WHEN card.value IS NULL OR card.target IS NULL THEN NULL\n"
        "            WHEN card.direction = 'higher' THEN card.value >= card.target\n"
        '            ELSE card.value <= card.target END AS "Met",\n'
        '       card.indicator_id AS "Id"\n'
        f"FROM (\n{union}\n) AS card\n"
        "WHERE card.key IN ($key) OR card.key = 'ops'\n"
        "ORDER BY array_position(ARRAY['infrastructure', 'data', 'system', 'portal', 'security', 'ops'],"
        " card.key), card.indicator"
    )

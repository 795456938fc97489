"""Expand a panel's SQL the way Grafana 11.6 does before PostgreSQL sees it.

Grafana rewrites a PostgreSQL panel's ``rawSql`` in three passes, in this order:

1. **Template variables, in the browser** (``templateSrv.replace`` with the SQL datasource's
   ``interpolateVariable``): ``$name``, ``${name}``, ``[[name]]``. A single value of a
   variable without multi-value or "All" is inserted with its single quotes doubled but
   not quoted; with multi-value or "All" each value is quoted (``'a'``) and several are
   joined with commas. "All" means every option, unless the variable has a custom
   ``allValue``, which is inserted verbatim (never quoted or escaped). Built-in
   ``$__interval``, ``$__interval_ms``, ``$__from``, ``$__to`` are replaced here too.
2. **Global SQL substitutions, in the backend** (``sqleng.Interpolate``): ``$__interval_ms``,
   ``$__interval`` (``gtime.FormatInterval``), ``$__unixEpochFrom()``, ``$__unixEpochTo()``.
3. **The PostgreSQL macro engine** (``pkg/tsdb/grafana-postgresql-datasource/macros.go``):
   every ``$name(args)`` is a macro — ``$__timeFilter(col)`` → ``col BETWEEN '<from>' AND
   '<to>'`` (RFC 3339 UTC), ``$__timeFrom()``/``$__timeTo()`` → the quoted bound,
   ``$__timeGroup(col, '5m')`` → ``floor(extract(epoch from col)/300)*300`` or, with the
   datasource's ``timescaledb`` option, ``time_bucket('300.000s',col)``;
   ``$__timeGroupAlias`` adds ``AS "time"``; an unknown macro is an error.

The tests run every panel's SQL through ``expand`` against the real database, so a panel
that works here is the panel Grafana will run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dashboards.errors import DashboardError

ALL = "$__all"  # what Grafana stores as the current value when "All" is selected


class MacroError(DashboardError):
    """A panel's SQL uses a macro or variable Grafana would reject."""


@dataclass(frozen=True)
class Variable:
    """A dashboard template variable as the SQL datasource sees it."""

    name: str
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None  # custom "All" value, inserted verbatim
    options: tuple[str, ...] = ()  # the values its query returned ("All" = these)


@dataclass(frozen=True)
class Selection:
    """A variable and what the user picked: one value, several, or ``ALL``."""

    variable: Variable
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class QueryContext:
    """One panel request: the dashboard time range, the panel interval, the variables."""

    time_from: datetime
    time_to: datetime
    interval: timedelta = timedelta(minutes=1)
    timescaledb: bool = False
    selections: Mapping[str, Selection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time_from.tzinfo is None or self.time_to.tzinfo is None:
            raise ValueError("the time range must be time-zone aware")


def expand(sql: str, ctx: QueryContext) -> str:
    """All three passes, in Grafana's order."""
    return expand_macros(interpolate_globals(interpolate_variables(sql, ctx), ctx), ctx)


# -- pass 1: template variables (browser) -------------------------------------------------

# Grafana's variableRegex (public/app/features/variables/utils.ts, also used by scenes).
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def _quote_literal(value: str) -> str:
    # PostgresQueryModel.quoteLiteral
    return "'" + value.replace("'", "''") + "'"


def _format(value: str | Sequence[str], variable: Variable, fmt: str | None) -> str:
    if fmt is None:
        # SqlDatasource.interpolateVariable
        if isinstance(value, str):
            if variable.multi or variable.include_all:
                return _quote_literal(value)
            return value.replace("'", "''")
        return ",".join(_quote_literal(v) for v in value)
    values = [value] if isinstance(value, str) else list(value)
    if fmt == "raw":
        return ",".join(values)
    if fmt == "csv":
        return ",".join(values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "sqlstring":
        return ",".join(_quote_literal(v) for v in values)
    raise MacroError(f"variable format {fmt!r} of ${{{variable.name}}} is not supported here; "
                     "use no format, raw, csv, singlequote or sqlstring")


def _selected(selection: Selection, fmt: str | None) -> str:
    variable, value = selection.variable, selection.value
    if value == ALL or value == (ALL,):
        if not variable.include_all:
            raise MacroError(f"variable {variable.name} has no All option")
        if variable.all_value is not None:
            # scenes' CustomAllValue: verbatim unless the format is text/percentencode.
            return variable.all_value
        return _format(variable.options, variable, fmt)
    if isinstance(value, tuple) and not variable.multi and len(value) != 1:
        raise MacroError(f"variable {variable.name} is single-valued; got {value!r}")
    return _format(value, variable, fmt)


def interpolate_variables(sql: str, ctx: QueryContext) -> str:
    builtins = {
        "__interval": format_interval(ctx.interval),
        "__interval_ms": str(int(ctx.interval / timedelta(milliseconds=1))),
        "__from": str(_epoch_ms(ctx.time_from)),
        "__to": str(_epoch_ms(ctx.time_to)),
    }

    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if m.group(5):
            raise MacroError(f"field paths (${{{name}.{m.group(5)}}}) are not supported here")
        if name in ctx.selections:
            return _selected(ctx.selections[name], fmt)
        if name in builtins:
            return builtins[name]
        return m.group(0)  # not a variable: Grafana leaves it as it is

    return _VARIABLE.sub(replace, sql)


# -- pass 2: global substitutions (backend sqleng.Interpolate) ------------------------------

def interpolate_globals(sql: str, ctx: QueryContext) -> str:
    sql = sql.replace("$__interval_ms", str(int(ctx.interval / timedelta(milliseconds=1))))
    sql = sql.replace("$__interval", format_interval(ctx.interval))
    sql = sql.replace("$__unixEpochFrom()", str(_epoch(ctx.time_from)))
    return sql.replace("$__unixEpochTo()", str(_epoch(ctx.time_to)))


# -- pass 3: the PostgreSQL macro engine -------------------------------------------------------

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")


def expand_macros(sql: str, ctx: QueryContext) -> str:
    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "__timeGroup":
            # Pre-5.3 compatibility: a ',' right after the macro's first occurrence means
            # it is a select column, which gets the "time" alias.
            index = sql.find(m.group(0))
            if index >= 0:
                index += len(m.group(0))
                if index < len(sql) and sql[index] == ",":
                    name = "__timeGroupAlias"
        args = [a.strip(" ") for a in m.group(2).split(",")]
        return _macro(name, args, ctx)

    return _MACRO.sub(replace, sql)


def _macro(name: str, args: list[str], ctx: QueryContext) -> str:
    start, end = _rfc3339(ctx.time_from), _rfc3339(ctx.time_to)
    column = args[0] if args and args[0] else None
    if name == "__time":
        return f'{_need(column, name)} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {_need(column, name)}) as "time"'
    if name == "__timeFilter":
        return f"{_need(column, name)} BETWEEN '{start}' AND '{end}'"
    if name == "__timeFrom":
        return f"'{start}'"
    if name == "__timeTo":
        return f"'{end}'"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval and optional fill value")
        if len(args) == 3:
            raise MacroError(f"macro {name} with a fill value: fill modes are not expanded here")
        seconds = parse_interval(args[1].strip("'")).total_seconds()
        if ctx.timescaledb:
            group = f"time_bucket('{seconds:.3f}s',{args[0]})"
        else:
            group = f"floor(extract(epoch from {args[0]})/{go_float(seconds)})*{go_float(seconds)}"
        return group + (' AS "time"' if name == "__timeGroupAlias" else "")
    if name == "__unixEpochFilter":
        col = _need(column, name)
        return f"{col} >= {_epoch(ctx.time_from)} AND {col} <= {_epoch(ctx.time_to)}"
    if name == "__unixEpochGroup" or name == "__unixEpochGroupAlias":
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval and optional fill value")
        seconds = parse_interval(args[1].strip("'")).total_seconds()
        group = f"floor(({args[0]})/{go_float(seconds)})*{go_float(seconds)}"
        return group + (' AS "time"' if name == "__unixEpochGroupAlias" else "")
    raise MacroError(f"unknown macro {name!r}: Grafana's PostgreSQL datasource would fail the query")


def _need(column: str | None, name: str) -> str:
    if column is None:
        raise MacroError(f"missing time column argument for macro {name}")
    return column


# -- Go's formatting, reproduced ------------------------------------------------------------

def _epoch(t: datetime) -> int:
    return int(t.timestamp() // 1)


def _epoch_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000 // 1)


def _rfc3339(t: datetime) -> str:
    """Go's ``t.UTC().Format(time.RFC3339Nano)``: trailing zeros of the fraction dropped."""
    u = t.astimezone(UTC)
    text = u.strftime("%Y-%m-%dT%H:%M:%S")
    if u.microsecond:
        text += "." + f"{u.microsecond:06d}".rstrip("0")
    return text + "Z"


def go_float(x: float) -> str:
    """Go's ``%v`` for a float64: the shortest digits, in exponent form when the decimal
    exponent is below -4 or at least 6 (so 1 day is ``86400`` but 12 days ``1.0368e+06``)."""
    if x == 0:
        return "0"
    d = Decimal(repr(x)).normalize()
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    exp = len(digits) + exponent - 1
    if exp < -4 or exp >= 6:
        rest = "".join(map(str, digits[1:]))
        mantissa = str(digits[0]) + ("." + rest if rest else "")
        return f"{'-' if sign else ''}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    return format(d, "f")


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_interval(text: str) -> timedelta:
    """``gtime.ParseInterval``: Go durations (``1h30m``, ``500ms``) plus ``d`` and ``w``.

    Calendar units (``M``, ``y``) depend on the server's clock in Grafana; they are
    rejected here rather than guessed.
    """
    if not text:
        raise MacroError("empty interval")
    if text[-1] in "dw" and text[:-1].isdigit():
        return timedelta(days=int(text[:-1]) * (7 if text[-1] == "w" else 1))
    if text[-1] in "My":
        raise MacroError(f"calendar interval {text!r}: use d or w")
    pos, seconds = 0, 0.0
    for m in _GO_DURATION.finditer(text):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        if text == "0":
            return timedelta(0)
        raise MacroError(f"error parsing interval {text}")
    return timedelta(seconds=seconds)


def format_interval(interval: timedelta) -> str:
    """``gtime.FormatInterval``: the largest whole unit (y, d, h, m, s, ms)."""
    ms = int(interval / timedelta(milliseconds=1))
    for unit, size in (("y", 365 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000),
                       ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"

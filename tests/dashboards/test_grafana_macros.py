"""The expander against Grafana's own documented and tested expansions.

Macro cases are those of Grafana's PostgreSQL macro engine tests
(pkg/tsdb/grafana-postgresql-datasource/macros_test.go); variable cases follow the SQL
datasource's ``interpolateVariable`` and scenes' custom "All" value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.dashboards.grafana_macros import (
    ALL,
    MacroError,
    QueryContext,
    Selection,
    Variable,
    expand,
    format_interval,
    go_float,
    parse_interval,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
TO = FROM + timedelta(minutes=5)


def ctx(*, time_from: datetime = FROM, time_to: datetime = TO, interval: timedelta = timedelta(minutes=1),
        timescaledb: bool = False, selections: dict[str, Selection] | None = None) -> QueryContext:
    return QueryContext(time_from=time_from, time_to=time_to, interval=interval, timescaledb=timescaledb,
                        selections=selections or {})


@pytest.mark.parametrize(("sql", "expected"), [
    ("select $__time(time_column)", 'select time_column AS "time"'),
    ("select min($__time(time_column))", 'select min(time_column AS "time")'),
    ("WHERE $__timeFilter(time_column)",
     "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'"),
    ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
    ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
    ("SELECT $__timeGroup(time_column,'5m'), value",
     'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value'),
    ("SELECT $__timeGroup(time_column,'5m') as time, value",
     "SELECT floor(extract(epoch from time_column)/300)*300 as time, value"),
    ("SELECT $__timeGroup(time_column,'5m')", "SELECT floor(extract(epoch from time_column)/300)*300"),
    ("SELECT $__timeGroupAlias(time_column,'5m')",
     'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"'),
    ("$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"),
    ("select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300"),
    ("SELECT $__unixEpochGroupAlias(time_column+time_adjustment,'5m')",
     'SELECT floor((time_column+time_adjustment)/300)*300 AS "time"'),
])
def test_macros_expand_as_grafana_does(sql: str, expected: str) -> None:
    assert expand(sql, ctx()) == expected


@pytest.mark.parametrize(("sql", "expected"), [
    ("GROUP BY $__timeGroup(time_column,'5m')", "GROUP BY time_bucket('300.000s',time_column)"),
    ("GROUP BY $__timeGroup(time_column , '5m')", "GROUP BY time_bucket('300.000s',time_column)"),
    ("GROUP BY $__timeGroup(time_column , '12d')", "GROUP BY time_bucket('1036800.000s',time_column)"),
    ("GROUP BY $__timeGroup(time_column , '20ms')", "GROUP BY time_bucket('0.020s',time_column)"),
])
def test_time_group_with_timescaledb_is_time_bucket(sql: str, expected: str) -> None:
    assert expand(sql, ctx(timescaledb=True)) == expected


def test_time_filter_keeps_fractional_seconds_like_go() -> None:
    start = datetime(1960, 2, 1, 7, 0, 0, 500_000, tzinfo=UTC)
    end = datetime(1980, 2, 3, 8, 0, 0, 500_000, tzinfo=UTC)
    assert expand("WHERE $__timeFilter(t)", ctx(time_from=start, time_to=end)) == \
        "WHERE t BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'"


def test_interval_is_formatted_by_the_backend_rules() -> None:
    sql = "SELECT $__interval, $__interval_ms, $__timeGroupAlias(t, $__interval)"
    assert expand(sql, ctx(interval=timedelta(minutes=10))) == \
        'SELECT 10m, 600000, floor(extract(epoch from t)/600)*600 AS "time"'


def test_unknown_macro_fails_like_grafana() -> None:
    with pytest.raises(MacroError, match="unknown macro"):
        expand("SELECT $__nope(x)", ctx())
    with pytest.raises(MacroError, match="missing time column"):
        expand("WHERE $__timeFilter()", ctx())


DEPT = Variable("department", include_all=True, all_value="NULL", options=("water", "roads"))
DIST = Variable("district", multi=True, include_all=True, options=("d1", "d2", "(none)"))
PLAIN = Variable("label")


@pytest.mark.parametrize(("selections", "expected"), [
    # "All" with a custom all value: inserted verbatim, never quoted.
    ({"department": Selection(DEPT, ALL)}, "NULL::text IS NULL OR x = NULL"),
    # One value of a variable that has "All": quoted.
    ({"department": Selection(DEPT, "water")}, "'water'::text IS NULL OR x = 'water'"),
    # Quotes inside a value are doubled.
    ({"department": Selection(DEPT, "o'neil")}, "'o''neil'::text IS NULL OR x = 'o''neil'"),
])
def test_single_value_variables(selections: dict[str, Selection], expected: str) -> None:
    sql = "$department::text IS NULL OR x = ${department}"
    assert expand(sql, ctx(selections=selections)) == expected


def test_multi_value_and_all_expand_to_quoted_lists() -> None:
    sql = "d IN ($district) AND e IN ([[district]])"
    picked = expand(sql, ctx(selections={"district": Selection(DIST, ("d1", "d2"))}))
    assert picked == "d IN ('d1','d2') AND e IN ('d1','d2')"
    everything = expand(sql, ctx(selections={"district": Selection(DIST, ALL)}))
    assert everything == "d IN ('d1','d2','(none)') AND e IN ('d1','d2','(none)')"


def test_plain_variable_is_escaped_not_quoted_and_unknown_names_stay() -> None:
    sql = "SELECT '$label', $other, $1, $__timeFrom()"
    out = expand(sql, ctx(selections={"label": Selection(PLAIN, "it's")}))
    assert out == "SELECT 'it''s', $other, $1, '2018-04-12T18:00:00Z'"


def test_formats_and_misuse() -> None:
    sel = {"district": Selection(DIST, ("d1", "d2"))}
    assert expand("${district:csv}", ctx(selections=sel)) == "d1,d2"
    assert expand("${district:sqlstring}", ctx(selections=sel)) == "'d1','d2'"
    with pytest.raises(MacroError, match="not supported"):
        expand("${district:json}", ctx(selections=sel))
    with pytest.raises(MacroError, match="single-valued"):
        expand("$department", ctx(selections={"department": Selection(DEPT, ("a", "b"))}))
    with pytest.raises(MacroError, match="no All option"):
        expand("$label", ctx(selections={"label": Selection(PLAIN, ALL)}))


@pytest.mark.parametrize(("seconds", "text"), [
    (300.0, "300"), (86400.0, "86400"), (604800.0, "604800"), (1036800.0, "1.0368e+06"),
    (0.02, "0.02"), (1e-05, "1e-05"), (2592000.0, "2.592e+06"),
])
def test_floats_print_like_go(seconds: float, text: str) -> None:
    assert go_float(seconds) == text


@pytest.mark.parametrize(("text", "expected", "formatted"), [
    ("5m", timedelta(minutes=5), "5m"), ("1h30m", timedelta(minutes=90), "1h"),
    ("500ms", timedelta(milliseconds=500), "500ms"), ("2d", timedelta(days=2), "2d"),
    ("1w", timedelta(days=7), "7d"), ("90s", timedelta(seconds=90), "1m"),
])
def test_intervals_parse_and_format_like_gtime(text: str, expected: timedelta, formatted: str) -> None:
    assert parse_interval(text) == expected
    assert format_interval(expected) == formatted


def test_calendar_and_garbage_intervals_are_rejected() -> None:
    for bad in ("1M", "1y", "5 minutes", "m", ""):
        with pytest.raises(MacroError):
            parse_interval(bad)

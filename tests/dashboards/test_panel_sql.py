"""Every panel's SQL runs against the real database loaded with a simulated city.

The SQL is taken from the dashboard JSON, expanded the way Grafana 11.6 expands it
(variables in the browser, then the backend's macros) for several variable selections,
and run as the read-only role Grafana's datasource logs in as (made by
dashboards/provisioning/postgres/10-grafana-reader.sh, which grants only what is read);
each query must return the columns its panel reads. Indicator panels must also give the
figures the indicator engine (and so every report) gives for the same window: they run the
same SQL file, and so must the new overview panels: the five keys' scores (the reports'
scorecard) and today's 30-minute response (the indicator over today). Both languages'
boards run: their SQL differs in the names and labels it selects.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.engine import compute
from citybrain.indicators.model import Indicator, ReportWindow
from citybrain.kernel import store
from citybrain.kernel.i18n import LANGUAGES
from citybrain.kernel.settings import Settings
from citybrain.reports.scorecard import band_for, score_keys
from dashboards import indicator_sql, texts
from dashboards.board import POSTGRES_TYPE, Board
from dashboards.build import boards, committed_settings
from schemas.names import load_names
from tests.dashboards import city, reader
from tests.dashboards.grafana_macros import ALL, QueryContext, Selection, Variable, expand

SETTINGS = committed_settings()
BOARDS = {b.uid: b for b in boards(SETTINGS)}
INTERVAL = timedelta(minutes=5)


@pytest.fixture(scope="module")
def loaded(database_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, city.LoadedCity]]:
    schema = f"t_dash_{uuid.uuid4().hex[:10]}"
    store.migrate(database_url, schema)
    try:
        settings = Settings(database_url=database_url, database_schema=schema, topic_prefix="sim",
                            data_dir=Path(tmp_path_factory.mktemp("city")))
        with store.connect(database_url, schema, autocommit=True) as conn:
            yield schema, city.load(conn, settings, database_url)
    finally:
        store.drop_schema(database_url, schema)


@pytest.fixture(scope="module")
def grafana_conn(database_url: str, loaded: tuple[str, city.LoadedCity]) -> Iterator[psycopg.Connection[Any]]:
    """What Grafana's datasource gets: the role the provisioning script makes (the schema on
    its search path, read-only, SELECT on what the panels read and nothing else), no session
    settings of the indicator engine (work hours, jit). Without psql the script cannot run:
    then the owner reads, read-only, and the grants go unchecked."""
    schema, _ = loaded
    if not reader.HAVE_PSQL:
        options = f"-c search_path={schema} -c default_transaction_read_only=on -c statement_timeout=30000"
        with psycopg.connect(database_url, autocommit=True, options=options) as conn:
            yield conn
        return
    with reader.grafana_role(database_url, schema) as url, psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        yield conn


def variables(document: dict[str, Any], conn: psycopg.Connection[Any]) -> dict[str, Variable]:
    """The dashboard's variables with their options, resolved as Grafana does on load."""
    found: dict[str, Variable] = {}
    base = QueryContext(time_from=city.START, time_to=city.END, interval=INTERVAL)
    for v in document["templating"]["list"]:
        if v["type"] == "query":
            cur = conn.execute(expand(v["query"], base))
            names = [d.name for d in cur.description or ()]
            assert names[:2] == ["__value", "__text"], (v["name"], names)
            options = tuple(str(r[0]) for r in cur.fetchall())
        elif v["type"] == "custom":
            # "text : value" pairs; the value goes into the SQL.
            options = tuple(o.split(" : ")[-1].strip() for o in v["query"].split(","))
        else:
            continue  # constants (links only) are not used in SQL
        found[v["name"]] = Variable(v["name"], multi=bool(v.get("multi")),
                                    include_all=bool(v.get("includeAll")),
                                    all_value=v.get("allValue"), options=options)
    return found


def scenarios(loaded_city: city.LoadedCity) -> dict[str, dict[str, str | tuple[str, ...]]]:
    return {
        "all": {"department": ALL, "district": ALL, "key": ALL},
        "one department": {"department": loaded_city.departments[0], "district": ALL, "key": ALL},
        "two districts, two keys": {"department": ALL, "district": loaded_city.districts[:2],
                                    "key": ("infrastructure", "security")},
    }


def sql_targets(document: dict[str, Any]) -> dict[tuple[int, str], tuple[str, str, str]]:
    """(panel id, refId) → (panel title, rawSql, format) of every PostgreSQL target."""
    found = {}
    for panel in document["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["type"] == POSTGRES_TYPE:
                found[(panel["id"], target["refId"])] = (panel["title"], target["rawSql"], target["format"])
    return found


# Panels allowed to be empty on the simulated city (their titles in every language): one
# data-leak event exists, and a filtered scenario may exclude it.
MAY_BE_EMPTY = {texts.translator(language).gettext("Data-leak events") for language in LANGUAGES}


@pytest.mark.parametrize("uid", sorted(u for u, b in BOARDS.items() if b.sql_panels))
def test_every_panel_query_runs_and_returns_its_columns(uid: str, loaded: tuple[str, city.LoadedCity],
                                                        grafana_conn: psycopg.Connection[Any]) -> None:
    board: Board = BOARDS[uid]
    document = board.to_json()
    targets = sql_targets(document)
    expected = {(p.panel_id, p.query.ref_id): p.query for p in board.sql_panels}
    assert set(targets) == set(expected)  # the JSON holds exactly the queries the board declared
    known = variables(document, grafana_conn)
    problems: list[str] = []
    for name, picks in scenarios(loaded[1]).items():
        selections = {v: Selection(known[v], pick) for v, pick in picks.items() if v in known}
        ctx = QueryContext(time_from=city.START, time_to=city.END, interval=INTERVAL, selections=selections)
        for key, (title, raw, fmt) in sorted(targets.items()):
            query = expected[key]
            assert raw == query.sql and fmt == query.format
            sql = expand(raw, ctx)
            assert "$" not in sql.replace("$__", ""), f"{title}: unexpanded variable in\n{sql}"
            try:
                cur = grafana_conn.execute(sql.encode())
            except psycopg.Error as exc:
                problems.append(f"[{name}] {title}: {exc}")
                continue
            columns = tuple(d.name for d in cur.description or ())
            rows = cur.fetchall()
            if columns != query.columns:
                problems.append(f"[{name}] {title}: columns {columns}, panel reads {query.columns}")
            if fmt == "time_series" and rows and columns[0] == "time":
                assert all(r[0] is not None for r in rows), title
            if name == "all" and not rows and title not in MAY_BE_EMPTY:
                problems.append(f"[{name}] {title}: no rows on the simulated city")
    assert not problems, "\n".join(problems)


def test_the_city_is_not_trivial(loaded: tuple[str, city.LoadedCity],
                                 grafana_conn: psycopg.Connection[Any]) -> None:
    _, loaded_city = loaded
    assert loaded_city.messages > 5000
    assert len(loaded_city.departments) >= 3 and len(loaded_city.districts) >= 3
    counts = dict(grafana_conn.execute(
        "SELECT 'offline', count(*) FROM asset_state WHERE state = 'offline' UNION ALL "
        "SELECT 'intervals', count(*) FROM state_intervals UNION ALL "
        "SELECT 'security', count(*) FROM security_events UNION ALL "
        "SELECT 'open incidents', count(*) FROM incidents WHERE status IN ('triggered', 'acknowledged')"
    ).fetchall())
    assert counts["offline"] >= 5 and counts["intervals"] > 100
    assert counts["security"] > 5 and counts["open incidents"] > 5


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("indicator", load_catalogue(), ids=lambda i: i.id)
def test_indicator_panels_show_what_the_reports_compute(
        indicator: Indicator, loaded: tuple[str, city.LoadedCity],
        grafana_conn: psycopg.Connection[Any], database_url: str) -> None:
    schema, loaded_city = loaded
    tz = SETTINGS.timezone
    window = ReportWindow(city.START, city.END, ZoneInfo(tz))
    dept_var = Variable("department", include_all=True, all_value="NULL",
                        options=loaded_city.departments)
    with store.connect(database_url, schema) as engine_conn:
        for department in (None, loaded_city.departments[0]):
            result = compute(engine_conn, indicator, window, department=department)
            pick = ALL if department is None else department
            ctx = QueryContext(time_from=city.START, time_to=city.END, interval=INTERVAL,
                               selections={"department": Selection(dept_var, pick)})
            total = indicator_sql.total(indicator.id, timezone=tz, label="v")
            rows = grafana_conn.execute(expand(total, ctx).encode()).fetchall()
            assert len(rows) == 1
            assert _same(rows[0][0], result.figure.value), (department, rows[0][0], result.figure.value)
            # The time series a panel draws: per day, or per month for a monthly figure (MAU).
            series = "day" if "day" in indicator.breakdowns else "month"
            day = indicator_sql.rows(indicator.id, timezone=tz, dimension=series,
                                     select="ind.member, ind.value", order_by="1")
            panel_days = {m: v for m, v in grafana_conn.execute(expand(day, ctx).encode()).fetchall()}
            engine_days = {b.member: b.figure.value for b in result.breakdowns if b.dimension == series}
            assert panel_days.keys() == engine_days.keys()
            assert all(_same(panel_days[d], engine_days[d]) for d in engine_days), (panel_days, engine_days)
    if series == "month":
        assert set(engine_days) == {"2026-03"}
        return
    # The window crosses a local midnight: two local days (a day with nothing in scope,
    # e.g. no resource request, is absent from both). Figures judged at a deadline days
    # after their event (a bad rating's rectification, a work order's return visit) have
    # none in the simulated city's two days: then both sides say no data.
    assert set(engine_days) <= {"2026-03-01", "2026-03-02"}
    assert engine_days or result.figure.value is None
    if indicator.availability:
        assert len(engine_days) == 2


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("dimension", ["district", "department"])
def test_online_rate_series_panels_split_the_engine_rows(
        dimension: str, language: str, loaded: tuple[str, city.LoadedCity],
        grafana_conn: psycopg.Connection[Any], database_url: str) -> None:
    """The trend per district (department) is the engine's '<id>|<day>' rows, split into a
    series named by the registry's name of the id and the day's local midnight."""
    schema, _ = loaded
    tz = ZoneInfo(SETTINGS.timezone)
    board = BOARDS["citybrain-infrastructure" + ("" if language == "zh-CN" else "-en")]
    indicator = indicator_sql.indicator("infra.device_online_rate")
    name = indicator_sql.name_in(indicator, board.language)
    title = board.t.gettext(f"{{name}} by {dimension}").format(name=name)
    [query] = [p.query for p in board.sql_panels if p.panel_title == title]
    dept_var = Variable("department", include_all=True, all_value="NULL", options=())
    ctx = QueryContext(time_from=city.START, time_to=city.END, interval=INTERVAL,
                       selections={"department": Selection(dept_var, ALL)})
    panel = {(metric, t.astimezone(tz).date().isoformat()): value
             for t, metric, value in grafana_conn.execute(expand(query.sql, ctx).encode()).fetchall()}
    with store.connect(database_url, schema) as engine_conn:
        result = compute(engine_conn, indicator, ReportWindow(city.START, city.END, tz))
        names = load_names(engine_conn, board.language, asset_ids=())
    name_of = names.district if dimension == "district" else names.department
    engine = {(name_of(b.member[:-11]), b.member[-10:]): b.figure.value
              for b in result.breakdowns if b.dimension == f"{dimension}_day"}
    assert engine and panel.keys() == engine.keys()
    assert all(_same(panel[k], engine[k]) for k in engine), (panel, engine)
    if language == "zh-CN":  # the simulated registry names every department and district in Chinese
        assert all(re.search(r"[\u4e00-\u9fff]", metric) for metric, _ in panel)


def _overview(language: str) -> Board:
    return BOARDS["citybrain-overview" if language == "zh-CN" else "citybrain-overview-en"]


def _context(department: str | None, loaded_city: city.LoadedCity) -> QueryContext:
    """The whole city (or one department), every district and key, over the city's window."""
    dept_var = Variable("department", include_all=True, all_value="NULL", options=loaded_city.departments)
    district_var = Variable("district", multi=True, include_all=True,
                            options=(*loaded_city.districts, "(none)"))
    key_var = Variable("key", multi=True, include_all=True,
                       options=("infrastructure", "data", "system", "portal", "security"))
    return QueryContext(time_from=city.START, time_to=city.END, interval=INTERVAL, selections={
        "department": Selection(dept_var, ALL if department is None else department),
        "district": Selection(district_var, ALL), "key": Selection(key_var, ALL)})


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_scores_panel_shows_the_reports_scorecard(
        language: str, loaded: tuple[str, city.LoadedCity],
        grafana_conn: psycopg.Connection[Any], database_url: str) -> None:
    """Each key's score and band on the overview are those of the report's scorecard for
    the same window and department; a key with nothing to score has no score."""
    schema, loaded_city = loaded
    board = _overview(language)
    t = board.t
    title = t.gettext("Scores of the five keys and operations")
    [query] = [p.query for p in board.sql_panels if p.panel_title == title]
    window = ReportWindow(city.START, city.END, ZoneInfo(SETTINGS.timezone))
    for department in (None, loaded_city.departments[0]):
        rows = grafana_conn.execute(expand(query.sql, _context(department, loaded_city)).encode()
                                    ).fetchall()
        with store.connect(database_url, schema) as engine_conn:
            card = score_keys([compute(engine_conn, ind, window, department=department)
                               for ind in load_catalogue()])
        assert len(rows) == len(card.keys) == 6
        for (label, score), key_score in zip(rows, card.keys, strict=True):
            key_text = texts.text(t, texts.KEYS, key_score.key)
            band_text = (t.gettext("no data") if key_score.band is None
                         else texts.text(t, texts.BANDS, key_score.band))
            assert label == f"{key_text} · {band_text}", (label, key_score)
            if key_score.score is None:
                assert score is None
            else:
                assert score is not None and math.isclose(score, key_score.score, abs_tol=0.005), \
                    (key_score.key, score, key_score.score)
                assert band_for(score) == key_score.band
        scored = [ks for ks in card.keys if ks.score is not None]
        assert len(scored) >= 4, card  # the simulated city gives most keys a score


@pytest.mark.parametrize("language", LANGUAGES)
def test_todays_30_minute_response_is_the_indicator_over_today(
        language: str, loaded: tuple[str, city.LoadedCity],
        grafana_conn: psycopg.Connection[Any], database_url: str) -> None:
    """'Today' is the local day (report zone) of the range's end, from its midnight to that
    end: the figure a report over today so far gives, whatever the range's start."""
    schema, loaded_city = loaded
    board = _overview(language)
    title = board.t.gettext("Today: responded within 30 minutes")
    [query] = [p.query for p in board.sql_panels if p.panel_title == title]
    tz = ZoneInfo(SETTINGS.timezone)
    indicator = indicator_sql.indicator("ops.response_30min_rate")
    # The window ends at 02:00 local on 2 March: today is 00:00–02:00 on 2 March.
    midnight = city.END.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    assert midnight > city.START
    with store.connect(database_url, schema) as engine_conn:
        expected = compute(engine_conn, indicator, ReportWindow(midnight, city.END, tz)).figure
        whole = compute(engine_conn, indicator, ReportWindow(city.START, city.END, tz)).figure
    [(value,)] = grafana_conn.execute(expand(query.sql, _context(None, loaded_city)).encode()
                                      ).fetchall()
    assert expected.denominator and expected.denominator > 0  # incidents opened today were judged
    assert _same(value, expected.value)
    assert whole.denominator is not None and whole.denominator > expected.denominator


def test_open_incidents_show_names_and_the_link_goes_to_the_incident(
        loaded: tuple[str, city.LoadedCity], grafana_conn: psycopg.Connection[Any]) -> None:
    board = _overview("zh-CN")
    [query] = [p.query for p in board.sql_panels if p.panel_title == "待处置事件"]
    rows = grafana_conn.execute(expand(query.sql, _context(None, loaded[1])).encode()).fetchall()
    columns = dict(zip(query.columns, zip(*rows, strict=True), strict=True))
    registry = dict(grafana_conn.execute("SELECT department_id, name_zh FROM departments").fetchall())
    assert rows and set(columns["department"]) <= set(registry.values())
    assert set(columns["status"]) <= {"triggered", "acknowledged"}
    # Most severe first: the severities come in the order I, II, III, IV.
    order = ["I", "II", "III", "IV"]
    positions = [order.index(s) for s in columns["severity"]]
    assert positions == sorted(positions)
    document = board.to_json()
    [panel] = [p for p in document["panels"] if p["title"] == "待处置事件"]
    links = [prop["value"][0]["url"] for o in panel["fieldConfig"]["overrides"] for prop in o["properties"]
             if prop["id"] == "links"]
    assert links and all(u == f"{SETTINGS.public_url}/console/incidents/${{__data.fields.incident_id}}"
                         for u in links)


def test_a_key_with_nothing_to_score_has_no_score(loaded: tuple[str, city.LoadedCity],
                                                  grafana_conn: psycopg.Connection[Any]) -> None:
    """Unknown stays unknown: a key whose indicators have no target or no data gets no
    score and reads "no data", never 0 or 100."""
    t = texts.translator("zh-CN")
    indicators = [indicator_sql.indicator(i) for i in ("portal.service_count", "security.data_leak_count")]
    sql = indicator_sql.key_scores(indicators, timezone=SETTINGS.timezone, language="zh-CN", t=t,
                                   weights={}, bands=((55.0, "preparation"), (70.0, "start-up"),
                                                      (85.0, "growth")), top_band="mature")
    rows = dict(grafana_conn.execute(expand(sql, _context(None, loaded[1])).encode()).fetchall())
    assert rows["服务门户 · 无数据"] is None  # the service count is a count to watch, no target
    assert rows["基础设施 · 无数据"] is None  # no infrastructure indicator in this card
    assert rows["安全保障 · 准备期"] == 0.0   # one data leak against a target of none

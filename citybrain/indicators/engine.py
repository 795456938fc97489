"""Compute indicators from the store: one catalogue entry, one window, one scope.

Each indicator's SQL file returns rows ``(dimension, member, value, numerator,
denominator, adjusted_value, unknown_share)``: one with dimension ``total`` (the figure)
and one per breakdown member. The engine only binds the four parameters and maps rows to
``IndicatorResult``; every number is computed by the SQL a Grafana panel can run too.

As of: the caller passes its clock (``now``; a report passes its generated-at time, so
``--generated-at`` reproduces an export) and the SQL runs over [start, as_of) with
``as_of = min(window end, now)``; a window wholly after ``now`` gives "no data" without
running any SQL. Each liveness feed's watermark bounds its assets' time further, in the
SQL itself (so a Grafana panel applies it too); the engine reads the watermarks with the
figures only to state them (``AsOf.feeds``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time
from queue import Empty, SimpleQueue
from threading import Event
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from citybrain.indicators.catalogue import CatalogueError, load_catalogue
from citybrain.indicators.model import (
    DIMENSIONS,
    AsOf,
    Breakdown,
    Dimension,
    Figure,
    Indicator,
    IndicatorResult,
    ReportWindow,
)
from citybrain.kernel import store
from citybrain.kernel.errors import StoreError
from citybrain.kernel.settings import Settings
from schemas.registry import LIVENESS_FEED

__all__ = ["WorkHours", "compute", "compute_all", "load_catalogue", "read_as_of", "snapshot_connections"]

LIVENESS_FEEDS: tuple[str, ...] = tuple(sorted({f for f in LIVENESS_FEED.values() if f}))

COLUMNS = ("dimension", "member", "value", "numerator", "denominator", "adjusted_value",
           "unknown_share")


@dataclass(frozen=True)
class WorkHours:
    """Working hours Monday–Friday in the report's time zone; the rest is off-hours.

    The SQL reads them from the session settings ``citybrain.work_start`` /
    ``citybrain.work_end`` (with 08:30 / 17:30 as its fallback), which keeps the query's
    parameters down to the four a Grafana panel substitutes.
    """

    start: time = time(8, 30)
    end: time = time(17, 30)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("working hours must end after they start")

    @classmethod
    def of(cls, settings: Settings) -> WorkHours:
        return cls(settings.work_hours_start, settings.work_hours_end)


def _figure(row: dict[str, Any]) -> Figure:
    return Figure(value=row["value"], numerator=row["numerator"], denominator=row["denominator"],
                  adjusted_value=row["adjusted_value"], unknown_share=row["unknown_share"])


def read_as_of(conn: psycopg.Connection[Any], window: ReportWindow, now: datetime | None) -> AsOf:
    """What a computation over ``window`` at ``now`` covers: ``at = min(window end, now)``
    (the window's end when ``now`` is None) and each liveness feed's time, the earlier of
    ``at`` and its watermark, read on ``conn`` (so on the figures' snapshot when that is
    where they are computed)."""
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    at = window.end if now is None else min(window.end, now)
    try:
        marks = dict(conn.execute("SELECT feed, watermark FROM feed_watermarks").fetchall())
    except psycopg.Error as exc:
        raise StoreError(f"reading the liveness feeds' watermarks failed: {exc}; check that the schema "
                         "is migrated (`citybrain db migrate`)") from exc
    return AsOf(at, tuple((f, at if marks.get(f) is None else min(at, marks[f])) for f in LIVENESS_FEEDS))


def _result(indicator: Indicator, window: ReportWindow, department: str | None,
            rows: Sequence[dict[str, Any]], as_of: AsOf) -> IndicatorResult:
    total: Figure | None = None
    breakdowns: list[Breakdown] = []
    for row in rows:
        dimension = row["dimension"]
        if dimension == "total":
            if total is not None:
                raise CatalogueError(f"{indicator.sql_file} returned two total rows")
            total = _figure(row)
            continue
        if dimension not in indicator.breakdowns:
            raise CatalogueError(
                f"{indicator.sql_file} returned dimension {dimension!r}, which catalogue entry "
                f"{indicator.id} does not list in its breakdowns {list(indicator.breakdowns)}")
        breakdowns.append(Breakdown(dimension=_dimension(dimension), member=str(row["member"]),
                                    figure=_figure(row)))
    order = {d: n for n, d in enumerate(indicator.breakdowns)}
    breakdowns.sort(key=lambda b: (order[b.dimension], b.member))
    return IndicatorResult(indicator=indicator, window=window, department=department,
                           figure=total if total is not None else Figure(value=None),
                           breakdowns=tuple(breakdowns), as_of=as_of)


def _dimension(name: str) -> Dimension:
    for dimension in DIMENSIONS:
        if dimension == name:
            return dimension
    raise CatalogueError(f"unknown dimension {name!r}")


def compute(conn: psycopg.Connection[Any], indicator: Indicator, window: ReportWindow, *,
            department: str | None = None, work_hours: WorkHours | None = None,
            now: datetime | None = None) -> IndicatorResult:
    """One indicator over ``window`` for the whole city or one department, as of ``now``
    (the caller's clock; None: the window has ended) — see the module docstring.

    Runs in a transaction of its own (a savepoint inside the caller's, if one is open).
    The settings it makes (working hours, jit off) are transaction-local: they end with
    that transaction, or with the caller's when it ran inside one.
    """
    return _compute(conn, indicator, window, department=department, work_hours=work_hours, now=now)


def _compute(conn: psycopg.Connection[Any], indicator: Indicator, window: ReportWindow, *,
             department: str | None, work_hours: WorkHours | None, now: datetime | None = None,
             as_of: AsOf | None = None) -> IndicatorResult:
    hours = work_hours or WorkHours()
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            if as_of is None:
                as_of = read_as_of(conn, window, now)
            if as_of.at <= window.start:
                # The window lies wholly after now: nothing in it has happened.
                return _result(indicator, window, department, (), as_of)
            params = {"start": window.start, "end": as_of.at, "tz": window.tz.key,
                      "department": department}
            cur.execute("SELECT set_config('citybrain.work_start', %s, true),"
                        " set_config('citybrain.work_end', %s, true),"
                        # JIT compilation costs more than these queries take to run.
                        " set_config('jit', 'off', true)",
                        (hours.start.isoformat(), hours.end.isoformat()))
            cur.execute(indicator.sql.encode(), params)
            if cur.description is None or tuple(c.name for c in cur.description) != COLUMNS:
                got = [c.name for c in cur.description or ()]
                raise CatalogueError(f"{indicator.sql_file} returns columns {got}, expected {list(COLUMNS)}")
            rows = cur.fetchall()
    except psycopg.Error as exc:
        reason = exc.diag.message_primary or str(exc).partition("\n")[0]
        raise StoreError(
            f"computing {indicator.id} ({indicator.sql_file}) failed: {reason}; check that the "
            "schema is migrated (`citybrain db migrate`)") from exc
    return _result(indicator, window, department, rows, as_of)


def compute_all(conn: psycopg.Connection[Any], window: ReportWindow, *, department: str | None = None,
                work_hours: WorkHours | None = None,
                indicators: Iterable[Indicator] | None = None, workers: int = 1,
                then: Callable[[IndicatorResult], object] | None = None,
                now: datetime | None = None) -> list[IndicatorResult]:
    """Every catalogue indicator (or the ones given) over one window and scope, in
    catalogue order, as of ``now`` (see ``compute``); every result carries the same
    ``as_of``, read once.

    ``workers`` > 1 computes them side by side on that many new connections to ``conn``'s
    database, all reading one snapshot (see ``snapshot_connections``): the figures are
    those of a single moment even while ingest writes, and they see only committed data.
    With 1 they run one after the other on ``conn`` itself (and see its uncommitted rows).
    ``then`` is called with each result as soon as it is computed (on the thread that
    computed it), so its caller's per-result work overlaps the SQL still running.
    """
    chosen = load_catalogue() if indicators is None else tuple(indicators)
    if workers <= 1 or len(chosen) <= 1:
        as_of = read_as_of(conn, window, now)
        results = []
        for i in chosen:
            results.append(_compute(conn, i, window, department=department, work_hours=work_hours,
                                    as_of=as_of))
            if then is not None:
                then(results[-1])
        return results
    todo: SimpleQueue[tuple[int, Indicator]] = SimpleQueue()
    # Heavy ones first (stable otherwise): started last, one of them would run alone at
    # the end while the other connections sit idle.
    for n, indicator in sorted(enumerate(chosen), key=lambda e: not e[1].heavy):
        todo.put((n, indicator))
    done: dict[int, IndicatorResult] = {}
    failed = Event()

    def drain(worker: psycopg.Connection[Any]) -> None:
        # Each thread owns one connection and takes the next indicator when it is free,
        # so a slow indicator does not hold up the rest; after a failure the report is
        # lost anyway, so the others stop taking work.
        while not failed.is_set():
            try:
                n, indicator = todo.get_nowait()
            except Empty:
                return
            try:
                done[n] = _compute(worker, indicator, window, department=department, work_hours=work_hours,
                                   as_of=as_of)
                if then is not None:
                    then(done[n])
            except BaseException:
                failed.set()
                raise

    with snapshot_connections(conn, min(workers, len(chosen))) as conns, \
            ThreadPoolExecutor(len(conns), thread_name_prefix="indicators") as pool:
        as_of = read_as_of(conns[0], window, now)  # on the figures' snapshot
        for future in [pool.submit(drain, c) for c in conns]:
            future.result()  # re-raises the first failure (a StoreError naming the indicator)
    return [done[n] for n in range(len(chosen))]


@contextlib.contextmanager
def snapshot_connections(conn: psycopg.Connection[Any],
                         count: int) -> Iterator[list[psycopg.Connection[Any]]]:
    """``count`` new connections with ``conn``'s parameters (database, user, search_path),
    each in a read-only REPEATABLE READ transaction on the same snapshot: the first
    exports its snapshot (pg_export_snapshot) and the others import it, so every query
    on any of them sees the database exactly as of one moment. Rolled back and closed on
    exit."""
    # get_parameters() leaves the password out; it is added back, never logged.
    conninfo = make_conninfo("", **conn.info.get_parameters(), password=conn.info.password or None)
    opened: list[psycopg.Connection[Any]] = []
    try:
        try:
            for _ in range(count):
                c = psycopg.connect(conninfo)
                opened.append(c)
                store.extension_on_path(c)  # as ``conn`` has it (store.connect)
                c.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                c.read_only = True
            exported = opened[0].execute("SELECT pg_export_snapshot()").fetchone()
            if exported is None:
                raise StoreError("pg_export_snapshot() returned nothing")
            for c in opened[1:]:
                # The first statement of the importing transaction.
                c.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(exported[0])))
        except psycopg.Error as exc:
            raise StoreError(
                f"opening {count} connections on one snapshot for the report failed: {exc}; "
                "lower CITYBRAIN_REPORT_WORKERS or raise the server's max_connections") from exc
        yield opened
    finally:
        for c in opened:
            with contextlib.suppress(psycopg.Error):
                c.rollback()
            c.close()

"""The portal usage family's daily and monthly facts (migration 026): who was active on
each local day and month, and the day's sign-ins and transactions per system, channel,
service item and department.

The sink adds each batch's newly stored rows to them in the statement that stores the
rows (``ingest_ctes``). The user tables are sets (ON CONFLICT DO NOTHING), so they are
the same whatever the batching, order or repetition of the deliveries; usage_daily adds
only rows the INSERT actually stored, like the probe and cloud rollups. ``rebuild_days``
and ``rebuild_all`` recompute them from usage_events (streams/rollups.py calls them from
``rebuild`` and ``set_zone``). Days are local days of rollup_zone's zone, found from the
instant (rollups.DAY_OF), never from a computed midnight.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg import sql

# In the order the sink's statement writes them (rebuild and set_zone lock them in it).
TABLES: tuple[str, ...] = ("usage_user_days", "usage_user_months", "usage_daily")
# The raw columns the facts read, for the sink's RETURNING list.
COLUMNS: tuple[str, ...] = ("occurred_at", "asset_id", "action", "user_key", "channel",
                            "service_id", "department_id", "fully_online")
DAY_OF = "(e.occurred_at AT TIME ZONE z.tz)::date"
DAILY_COLUMNS = ("day", "asset_id", "channel", "service_id", "department_id", "sign_ins",
                 "transactions", "fully_online")
NONE = sql.SQL("")


def _user_days(source: sql.Composable, where: sql.Composable = NONE) -> sql.Composed:
    # Sorted, so two statements writing overlapping keys take them in one order.
    return sql.SQL(
        "INSERT INTO usage_user_days (day, user_key, asset_id)"
        " SELECT DISTINCT " + DAY_OF + ", decode(e.user_key, 'hex'), e.asset_id"
        " FROM {source} e CROSS JOIN rollup_zone z WHERE true {where}"
        " ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING"
    ).format(source=source, where=where)


def _user_months(source: sql.Composable, where: sql.Composable = NONE) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO usage_user_months (month, user_key, asset_id)"
        " SELECT DISTINCT date_trunc('month', " + DAY_OF + ")::date, decode(e.user_key, 'hex'),"
        " e.asset_id FROM {source} e CROSS JOIN rollup_zone z WHERE true {where}"
        " ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING"
    ).format(source=source, where=where)


def _daily(source: sql.Composable, where: sql.Composable = NONE, add: bool = False) -> sql.Composed:
    upsert = sql.SQL(
        " ON CONFLICT (day, asset_id, channel, service_id, department_id) DO UPDATE SET"
        " sign_ins = usage_daily.sign_ins + excluded.sign_ins,"
        " transactions = usage_daily.transactions + excluded.transactions,"
        " fully_online = usage_daily.fully_online + excluded.fully_online") if add else NONE
    return sql.SQL(
        "INSERT INTO usage_daily ({cols})"
        " SELECT " + DAY_OF + ", e.asset_id, e.channel, coalesce(e.service_id, ''),"
        " coalesce(e.department_id, ''),"
        " count(*) FILTER (WHERE e.action = 'sign_in'),"
        " count(*) FILTER (WHERE e.action = 'transaction'),"
        " count(*) FILTER (WHERE e.action = 'transaction' AND e.fully_online)"
        " FROM {source} e CROSS JOIN rollup_zone z WHERE true {where}"
        " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5{upsert}"
    ).format(cols=sql.SQL(", ").join(map(sql.Identifier, DAILY_COLUMNS)), source=source,
             where=where, upsert=upsert)


def ingest_ctes(source: str) -> sql.Composed:
    """The data-modifying CTEs (``name AS (...),`` each) adding the rows of ``source``
    (the batch's newly stored rows) to the three tables."""
    src = sql.Identifier(source)
    return sql.Composed([
        sql.SQL(" usage_user_days AS ({} RETURNING 1),").format(_user_days(src)),
        sql.SQL(" usage_user_months AS ({} RETURNING 1),").format(_user_months(src)),
        sql.SQL(" usage_daily AS ({} RETURNING 1),").format(_daily(src, add=True)),
    ])


def rebuild_days(conn: psycopg.Connection[Any], first: date, last: date,
                 params: dict[str, Any]) -> None:
    """Replace the facts of local days first..last, and of the months they fall in, by
    aggregations of usage_events. ``params`` has the raw rows' index range ("from", "to")
    and the days ("first", "last"), as streams/rollups.py passes them; the caller holds
    the tables' lock."""
    conn.execute("DELETE FROM usage_user_days WHERE day >= %s AND day <= %s", (first, last))
    conn.execute("DELETE FROM usage_daily WHERE day >= %s AND day <= %s", (first, last))
    where = sql.SQL(
        "AND e.occurred_at >= %(from)s AND e.occurred_at < %(to)s"
        " AND " + DAY_OF + " BETWEEN %(first)s AND %(last)s")
    conn.execute(_user_days(sql.Identifier("usage_events"), where), params)
    conn.execute(_daily(sql.Identifier("usage_events"), where), params)
    # A month is the union of its days: the months these days fall in, from all their days.
    months = {"lo": first.replace(day=1), "hi": last.replace(day=1)}
    conn.execute("DELETE FROM usage_user_months WHERE month >= %(lo)s AND month <= %(hi)s", months)
    conn.execute(
        "INSERT INTO usage_user_months (month, user_key, asset_id)"
        " SELECT DISTINCT date_trunc('month', day)::date, user_key, asset_id"
        " FROM usage_user_days WHERE date_trunc('month', day)::date BETWEEN %(lo)s AND %(hi)s"
        " ORDER BY 1, 2, 3", months)


def rebuild_all(conn: psycopg.Connection[Any]) -> None:
    """Replace every fact by an aggregation of all of usage_events (after a zone change);
    the caller holds the tables' lock."""
    for table in TABLES:
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    events = sql.Identifier("usage_events")
    conn.execute(_user_days(events))
    conn.execute(_user_months(events))
    conn.execute(_daily(events))

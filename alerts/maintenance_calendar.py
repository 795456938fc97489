"""The alerter's maintenance calendar: window periods in memory, indexed by scope.

Detection checks every alert against planned maintenance; asking the database each
time would cost a query per alert, so the alerter loads the periods around its clock
and reloads them when the windows change (``calendar_version``) or the clock leaves
the loaded range. ``alerts.maintenance`` owns the windows and their periods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from alerts.topology import AssetInfo

Connection = psycopg.Connection[Any]


@dataclass(frozen=True)
class Period:
    window_id: int
    kind: str
    scope: str
    target: str | None
    starts_at: datetime
    ends_at: datetime


class Calendar:
    """Periods around the alerter's clock, indexed by scope, so each alert is checked in
    memory; reloaded when the windows change (``calendar_version``) or the clock leaves
    the loaded range."""

    def __init__(self, periods: Iterable[Period] = (), *, loaded: tuple[datetime, datetime] | None = None
                 ) -> None:
        self._by_scope: dict[tuple[str, str | None], list[Period]] = {}
        for p in periods:
            self._by_scope.setdefault((p.scope, p.target), []).append(p)
        self.loaded = loaded

    def covers(self, asset: AssetInfo | None, asset_id: str | None, at: datetime,
               kinds: tuple[str, ...] = ("maintenance",)) -> bool:
        keys: list[tuple[str, str | None]] = [("all", None)]
        if asset_id is not None:
            keys.append(("asset", asset_id))
        if asset is not None:
            keys += [("department", asset.department_id), ("district", asset.district_id)]
            keys += [("tag", t) for t in asset.tags]
        for key in keys:
            for p in self._by_scope.get(key, ()):
                if p.kind in kinds and p.starts_at <= at < p.ends_at:
                    return True
        return False

    def stale_for(self, now: datetime) -> bool:
        if self.loaded is None:
            return True
        lo, hi = self.loaded
        return not (lo + CALENDAR_MARGIN <= now <= hi - CALENDAR_MARGIN)


CALENDAR_MARGIN = timedelta(days=1)


def load_calendar(conn: Connection, now: datetime) -> Calendar:
    lo, hi = now - 2 * CALENDAR_MARGIN, now + 2 * CALENDAR_MARGIN
    rows = conn.execute(
        "SELECT p.window_id, w.kind, w.scope, w.target, p.starts_at, p.ends_at"
        " FROM maintenance_periods p JOIN maintenance_windows w USING (window_id)"
        " WHERE p.ends_at > %s AND p.starts_at < %s",
        (lo, hi),
    ).fetchall()
    return Calendar((Period(*r) for r in rows), loaded=(lo, hi))


def calendar_version(conn: Connection) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT count(*), max(created_at), max(removed_at), max(retroactive_at),"
        " (SELECT count(*) FROM maintenance_periods) FROM maintenance_windows"
    ).fetchone()
    return tuple(row) if row else ()

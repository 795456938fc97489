"""The alerter's maintenance calendar: window periods in memory, indexed by scope.

Detection checks every alert against planned maintenance; asking the database each
time would cost a query per alert, so the alerter loads the periods around its clock
and reloads them when the windows change (``calendar_version``) or the clock leaves
the loaded range. ``CalendarMuter`` answers the ``Muter`` question
(``alerts.maintenance.muter``) from them; ``alerts.maintenance.windows`` owns the
windows and their periods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import psycopg

from alerts.maintenance.windows import Kind

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
    """Periods around the alerter's clock, indexed by scope (``all``: target None), so each
    alert is checked in memory; reloaded when the windows change (``calendar_version``)
    or the clock leaves the loaded range."""

    def __init__(self, periods: Iterable[Period] = (), *, loaded: tuple[datetime, datetime] | None = None
                 ) -> None:
        self._by_scope: dict[tuple[str, str | None], list[Period]] = {}
        for p in periods:
            self._by_scope.setdefault((p.scope, p.target), []).append(p)
        self.loaded = loaded

    def periods(self, scope: str, target: str | None) -> Sequence[Period]:
        """The loaded periods of the windows with this scope and target."""
        return self._by_scope.get((scope, target), ())

    def stale_for(self, now: datetime) -> bool:
        if self.loaded is None:
            return True
        lo, hi = self.loaded
        return not (lo + CALENDAR_MARGIN <= now <= hi - CALENDAR_MARGIN)


class AssetScope(Protocol):
    """The registry facts a window's scope can name (``alerts.detection.topology.AssetInfo``)."""

    @property
    def department_id(self) -> str | None: ...

    @property
    def district_id(self) -> str | None: ...

    @property
    def tags(self) -> tuple[str, ...]: ...


class CalendarMuter:
    """The ``Muter`` over a calendar in memory: ``registry`` gives an asset's facts (None:
    not registered, so only ``all`` and its own ``asset`` windows can cover it)."""

    def __init__(self, calendar: Calendar, registry: Callable[[str], AssetScope | None],
                 kinds: Sequence[Kind]) -> None:
        self._calendar = calendar
        self._registry = registry
        self._kinds = tuple(kinds)

    def mutes(self, asset_id: str | None, at: datetime, *, department_id: str | None = None) -> bool:
        keys: list[tuple[str, str | None]] = [("all", None)]
        if department_id is not None:
            keys.append(("department", department_id))
        if asset_id is not None:
            keys.append(("asset", asset_id))
            asset = self._registry(asset_id)
            if asset is not None:
                keys += [("department", asset.department_id), ("district", asset.district_id)]
                keys += [("tag", t) for t in asset.tags]
        return any(p.kind in self._kinds and p.starts_at <= at < p.ends_at
                   for scope, target in keys for p in self._calendar.periods(scope, target))


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

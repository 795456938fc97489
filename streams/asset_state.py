"""Reading the liveness state the derivation keeps current: which assets are offline now.

``asset_state`` holds one row per tracked asset, its state and since when, written with
the intervals by ``streams.derivation`` (an asset the derivation never saw has no row:
it is untracked, not offline). ``offline_now`` is what the operators' overview and the
Grafana "offline assets" panel (``dashboards.sql``) show: in-service assets whose state
is ``offline``, longest offline first, bounded, with the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)          # streams/locale
_ = MESSAGES.current


@dataclass(frozen=True)
class OfflineAsset:
    asset_id: str
    kind: str
    department_id: str | None
    since: datetime


@dataclass(frozen=True)
class OfflineNow:
    assets: tuple[OfflineAsset, ...]   # at most the limit asked for, longest offline first
    total: int                         # all of them


def offline_now(conn: psycopg.Connection[Any], *, now: datetime, department: str | None,
                limit: int = 50) -> OfflineNow:
    """In-service assets offline at ``now`` (of ``department``'s, or all for None)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    try:
        rows = conn.execute(
            "SELECT s.asset_id, a.kind, a.department_id, s.since, count(*) OVER ()"
            " FROM asset_state s JOIN assets a ON a.asset_id = s.asset_id"
            " WHERE s.state = 'offline' AND s.since <= %(now)s"
            "   AND (a.retired_at IS NULL OR a.retired_at > %(now)s)"
            "   AND (%(dept)s::text IS NULL OR a.department_id = %(dept)s)"
            " ORDER BY s.since, s.asset_id LIMIT %(limit)s",
            {"now": now, "dept": department, "limit": limit}).fetchall()
    except psycopg.Error as exc:
        raise StoreError(_("cannot read the assets' liveness state: {error}; run `citybrain db migrate`"
                           ).format(error=exc)) from exc
    total = int(rows[0][4]) if rows else 0   # limit >= 1: no row means none offline
    return OfflineNow(tuple(OfflineAsset(str(r[0]), str(r[1]), r[2], r[3]) for r in rows), total)

"""Does a window cover this asset at this instant? One question, one interface.

Two places ask it, as Alertmanager's inhibitor and silencer both answer ``Muter.Mutes``:

* detection's maintenance stage (``alerts.detection.mute``), for every alert, thousands a
  second: ``CalendarMuter`` (``alerts.maintenance.calendar``) answers from the periods
  the alerter holds in memory, with the registry's facts of the asset;
* escalation (``alerts.incidents.escalation``), once per step before it pages:
  ``SqlMuter`` (here) asks the database — the stored periods and the ``assets`` table.

Both read the same periods (``maintenance_periods``, counted from each window's
creation, see ``alerts.maintenance.windows``) and the same scope rules: a window covers
an asset when its scope is ``all``, the asset itself, or the asset's department,
district or one of its tags; ``department_id`` names an incident's own department (an
incident without an asset is covered by its department's window). The start is
inclusive, the end exclusive. ``kinds`` is what the asker is muted by: detection holds
*alerts* for maintenance only (``HOLDS_ALERTS``); escalation holds *pages* for
maintenance and silences (``HOLDS_PAGES``) — planned work pages nobody.
tests/alerts/maintenance/test_muter.py runs both on the same cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import psycopg

from alerts.maintenance.windows import Kind
from citybrain.kernel.errors import StoreError

Connection = psycopg.Connection[Any]

HOLDS_ALERTS: tuple[Kind, ...] = ("maintenance",)             # no alert, no incident
HOLDS_PAGES: tuple[Kind, ...] = ("maintenance", "silence")    # the incident opens; nobody is paged


class Muter(Protocol):
    def mutes(self, asset_id: str | None, at: datetime, *, department_id: str | None = None) -> bool:
        """Whether a window of this muter's kinds covers the asset (or, given, the
        department) at ``at``."""
        ...


_COVERS = """
WITH a AS (SELECT department_id, district_id, tags FROM assets WHERE asset_id = %(asset)s)
SELECT EXISTS (
  SELECT 1 FROM maintenance_periods p JOIN maintenance_windows w USING (window_id)
   WHERE w.kind = ANY(%(kinds)s) AND p.starts_at <= %(at)s AND %(at)s < p.ends_at
     AND (w.scope = 'all'
          OR (w.scope = 'asset' AND w.target = %(asset)s)
          OR (w.scope = 'department'
              AND (w.target = %(dept)s OR w.target IN (SELECT department_id FROM a)))
          OR (w.scope = 'district' AND w.target IN (SELECT district_id FROM a))
          OR (w.scope = 'tag' AND w.target IN (SELECT unnest(tags) FROM a))))
"""


class SqlMuter:
    """The stored windows, one query per question (escalation asks once per step)."""

    def __init__(self, conn: Connection, kinds: Sequence[Kind]) -> None:
        self._conn = conn
        self._kinds = list(kinds)

    def mutes(self, asset_id: str | None, at: datetime, *, department_id: str | None = None) -> bool:
        try:
            row = self._conn.execute(_COVERS, {"kinds": self._kinds, "asset": asset_id, "dept": department_id,
                                               "at": at}).fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"cannot read maintenance windows: {exc}; run `citybrain db migrate`") from exc
        return bool(row and row[0])

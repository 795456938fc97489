"""The two ``Muter``s answer alike: the same stored windows, the same questions, each
implementation on the real database — ``SqlMuter`` (escalation) querying it,
``CalendarMuter`` (detection) over the calendar and registry loaded from it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from alerts.detection.topology import load_topology
from alerts.maintenance import windows
from alerts.maintenance.calendar import CalendarMuter, load_calendar
from alerts.maintenance.muter import HOLDS_ALERTS, HOLDS_PAGES, Muter, SqlMuter
from alerts.maintenance.windows import Kind, make_spec
from citybrain.kernel import audit
from tests.alerts.registry import load

ADMIN = audit.Actor(id="token:test", role="admin")
NOW = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)
Conn = psycopg.Connection[Any]


def slot(n: int) -> datetime:
    """The start of the n-th one-hour window (each window has its own hour, two apart)."""
    return NOW + timedelta(hours=2 * n - 1)


MINUTE = timedelta(minutes=1)
HALF = timedelta(minutes=30)
# (window kind, scope, target): window n runs [slot(n), slot(n) + 1 h).
WINDOWS: list[tuple[Kind, str, str | None]] = [
    ("maintenance", "tag", "riverside"),       # 1: pump-1 carries the tag
    ("maintenance", "district", "west"),       # 2: pump-2 and cam-9
    ("silence", "department", "roads"),        # 3: cam-9 and portal-1
    ("maintenance", "all", None),              # 4
    ("maintenance", "department", "water"),    # 5: pump-1 and pump-2
    ("maintenance", "asset", "portal-1"),      # 6
    ("silence", "asset", "cam-9"),             # 7
    ("maintenance", "asset", "pump-2"),        # 8: removed half-way through
]
A, P = HOLDS_ALERTS, HOLDS_PAGES
# (kinds, asset, department, at, muted, why)
CASES: list[tuple[tuple[Kind, ...], str | None, str | None, datetime, bool, str]] = [
    (A, "pump-1", None, slot(1) + HALF, True, "a tag the asset carries"),
    (A, "pump-1", None, slot(1), True, "the start is inclusive"),
    (A, "pump-1", None, slot(1) + 2 * HALF, False, "the end is exclusive"),
    (A, "pump-1", None, slot(1) - MINUTE, False, "before the start"),
    (A, "pump-2", None, slot(1) + HALF, False, "an asset without the tag"),
    (P, "pump-1", None, slot(1) + HALF, True, "maintenance holds pages too"),
    (A, "pump-2", None, slot(2) + HALF, True, "the asset's district"),
    (A, "cam-9", None, slot(2) + HALF, True, "the asset's district"),
    (A, "pump-1", None, slot(2) + HALF, False, "another district"),
    (A, "portal-1", None, slot(2) + HALF, False, "an asset without a district"),
    (A, "portal-1", None, slot(3) + HALF, False, "a silence holds no alert"),
    (P, "portal-1", None, slot(3) + HALF, True, "a silence of the asset's department (the registry's)"),
    (P, "portal-1", "roads", slot(3) + HALF, True, "a silence of the incident's department"),
    (P, None, "roads", slot(3) + HALF, True, "an incident without an asset: its department"),
    (P, "not-registered", "roads", slot(3) + HALF, True, "an unregistered asset: the incident's department"),
    (P, "not-registered", None, slot(3) + HALF, False, "an unregistered asset has no department"),
    (P, "pump-1", "water", slot(3) + HALF, False, "another department"),
    (P, "portal-1", "roads", slot(3) + 2 * HALF, False, "a silence's end is exclusive"),
    (A, "portal-1", None, slot(4) + HALF, True, "everything"),
    (A, "not-registered", None, slot(4) + HALF, True, "everything, registered or not"),
    (A, None, None, slot(4) + HALF, True, "everything, even without an asset"),
    (P, "pump-1", "water", slot(4) + HALF, True, "maintenance pages nobody either"),
    (A, "pump-2", None, slot(5) + HALF, True, "the asset's department"),
    (A, "cam-9", None, slot(5) + HALF, False, "another department's asset"),
    (P, None, "water", slot(5) + HALF, True, "an incident without an asset: its department"),
    (A, "portal-1", None, slot(6) + HALF, True, "the asset itself"),
    (A, "cam-9", None, slot(6) + HALF, False, "another asset"),
    (A, "cam-9", None, slot(7) + HALF, False, "a silence holds no alert"),
    (P, "cam-9", None, slot(7) + HALF, True, "a silence of the asset"),
    (P, "pump-2", None, slot(7) + HALF, False, "another asset"),
    (A, "pump-2", None, slot(8) + MINUTE, True, "before the window was removed"),
    (A, "pump-2", None, slot(8) + HALF + MINUTE, False, "after it was removed: its period was cut"),
]


def sql(conn: Conn, kinds: Sequence[Kind]) -> Muter:
    return SqlMuter(conn, kinds)


def calendar(conn: Conn, kinds: Sequence[Kind]) -> Muter:
    return CalendarMuter(load_calendar(conn, NOW), load_topology(conn).get, kinds)


@pytest.mark.parametrize("make", [sql, calendar], ids=["sql", "calendar"])
def test_both_muters_answer_the_same_cases(db: Conn, make: Callable[[Conn, Sequence[Kind]], Muter]) -> None:
    load(db)
    for n, (kind, scope, target) in enumerate(WINDOWS, start=1):
        spec = make_spec(kind=kind, scope=scope, target=target, starts_at=slot(n),
                         ends_at=slot(n) + timedelta(hours=1), timezone="Asia/Shanghai", reason="test")
        window = windows.create(db, spec, ADMIN, now=NOW, horizon_days=30)
    windows.remove(db, window.window_id, ADMIN, now=slot(len(WINDOWS)) + HALF)
    muters = {kinds: make(db, kinds) for kinds in (A, P)}
    wrong = [(asset, department, at.isoformat(), why) for kinds, asset, department, at, muted, why in CASES
             if muters[kinds].mutes(asset, at, department_id=department) != muted]
    assert wrong == []

"""Rows for the golden tests, written straight into a test's schema.

Every helper inserts exactly what it is given, so a test's expectations can be computed
by hand from the calls it makes. Times are aware datetimes; ``Clock`` turns "hour n of
the window" into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from citybrain.indicators.catalogue import find
from citybrain.indicators.engine import compute
from citybrain.indicators.model import Figure, IndicatorResult, ReportWindow

Conn = psycopg.Connection[Any]
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
HOUR = 3600.0


@dataclass(frozen=True)
class Clock:
    """Hour n of a window that starts at ``start``."""

    start: datetime

    def __call__(self, hours: float) -> datetime:
        return self.start + timedelta(hours=hours)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local wall-clock time in ``tz``, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


def window(start: datetime, end: datetime, tz: ZoneInfo = SHANGHAI) -> ReportWindow:
    return ReportWindow(start, end, tz)


def department(db: Conn, *ids: str) -> None:
    for dept in ids:
        db.execute("INSERT INTO departments (department_id, name) VALUES (%s, %s)", (dept, dept.title()))


def district(db: Conn, *ids: str) -> None:
    for dist in ids:
        db.execute("INSERT INTO districts (district_id, name) VALUES (%s, %s)", (dist, dist.title()))


def asset(db: Conn, asset_id: str, kind: str, dept: str, *, district: str | None = None,
          registered: datetime = LONG_AGO, retired: datetime | None = None,
          tags: Sequence[str] = (), shared_with: Sequence[str] = (), interval: int | None = 60,
          key: str = "infrastructure") -> None:
    db.execute(
        "INSERT INTO assets (asset_id, kind, key, department_id, district_id, expected_interval_s,"
        " shared_with, tags, registered_at, retired_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (asset_id, kind, key, dept, district, interval, list(shared_with), list(tags), registered, retired),
    )


def states(db: Conn, asset_id: str, *spans: tuple[str, datetime, datetime | None]) -> None:
    """State intervals (state, started_at, ended_at or None while current)."""
    for state, started, ended in spans:
        db.execute("INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
                   " VALUES (%s, %s, %s, %s, 'test')", (asset_id, state, started, ended))


def maintenance(db: Conn, scope: str, target: str | None, *periods: tuple[datetime, datetime],
                kind: str = "maintenance", removed_at: datetime | None = None) -> int:
    """A window with its absolute periods; returns its id."""
    first = periods[0]
    row = db.execute(
        "INSERT INTO maintenance_windows (kind, scope, target, starts_at, ends_at, timezone, reason,"
        " created_by, removed_at) VALUES (%s, %s, %s, %s, %s, 'UTC', 'test', 'test', %s)"
        " RETURNING window_id", (kind, scope, target, first[0], first[1], removed_at)).fetchone()
    assert row is not None
    for starts, ends in periods:
        db.execute("INSERT INTO maintenance_periods (window_id, starts_at, ends_at) VALUES (%s, %s, %s)",
                   (row[0], starts, ends))
    return int(row[0])


_seq = iter(range(1, 10**9))


def probe(db: Conn, asset_id: str, at: datetime, *, target: str = "link", ok: bool = True,
          latency: float | None = None, sent: int | None = None, lost: int | None = None) -> None:
    db.execute("INSERT INTO probe_events (occurred_at, event_id, asset_id, target_kind, ok, latency_ms,"
               " packets_sent, packets_lost) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
               (at, f"p{next(_seq)}", asset_id, target, ok, latency, sent, lost))


def usage(db: Conn, asset_id: str, at: datetime, *, cpu: tuple[float, float],
          mem: tuple[float, float], disk: tuple[float, float]) -> None:
    """One usage sample: (used, allocated) per resource."""
    db.execute("INSERT INTO cloud_events (occurred_at, event_id, asset_id, kind, cpu_used_cores,"
               " cpu_alloc_cores, mem_used_gb, mem_alloc_gb, storage_used_gb, storage_alloc_gb)"
               " VALUES (%s, %s, %s, 'usage', %s, %s, %s, %s, %s, %s)",
               (at, f"u{next(_seq)}", asset_id, *cpu, *mem, *disk))


def request(db: Conn, asset_id: str, request_id: str, requested: datetime, lead_hours: float | None,
            fulfilled: datetime | None = None) -> None:
    """A resource request as filed and, when ``fulfilled`` is given, as fulfilled."""
    sql = ("INSERT INTO cloud_events (occurred_at, event_id, asset_id, kind, request_id, resource_type,"
           " requested_at, fulfilled_at, agreed_lead_hours) VALUES (%s, %s, %s, 'request', %s, 'vm',"
           " %s, %s, %s)")
    db.execute(sql, (requested, f"{request_id}:filed", asset_id, request_id, requested, None, lead_hours))
    if fulfilled is not None:
        db.execute(sql, (fulfilled, f"{request_id}:done", asset_id, request_id, requested, fulfilled,
                         lead_hours))


def data(db: Conn, asset_id: str, at: datetime, action: str, *, passed: bool | None = None) -> None:
    db.execute("INSERT INTO data_events (occurred_at, event_id, asset_id, action, passed)"
               " VALUES (%s, %s, %s, %s, %s)", (at, f"d{next(_seq)}", asset_id, action, passed))


def security(db: Conn, asset_id: str, at: datetime, level: str, category: str) -> None:
    db.execute("INSERT INTO security_events (occurred_at, event_id, asset_id, source, category, level,"
               " title, details) VALUES (%s, %s, %s, 'ids', %s, %s, 'test', %s)",
               (at, f"s{next(_seq)}", asset_id, category, level, Jsonb({})))


def incident(db: Conn, dept: str | None, opened: datetime, *, severity: str = "II",
             key: str | None = "infrastructure", acked: datetime | None = None,
             resolved: datetime | None = None, auto: bool = False) -> None:
    status = "resolved" if resolved else "acknowledged" if acked else "triggered"
    n = next(_seq)
    db.execute(
        "INSERT INTO incidents (fingerprint, rule_id, title, severity, status, key, department_id,"
        " opened_at, acknowledged_at, resolved_at, auto_resolved, last_seen_at, response_due_at,"
        " resolution_due_at) VALUES (%s, 'rule', 'test', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (f"fp{n}", severity, status, key, dept, opened, acked, resolved, auto, opened,
         opened + timedelta(minutes=30), opened + timedelta(hours=4)),
    )


def run(db: Conn, indicator_id: str, win: ReportWindow, department: str | None = None) -> IndicatorResult:
    return compute(db, find(indicator_id), win, department=department)


def member(result: IndicatorResult, dimension: str, name: str) -> Figure | None:
    """The figure of one breakdown member; None when the member is absent."""
    found = [b.figure for b in result.breakdowns if b.dimension == dimension and b.member == name]
    assert len(found) <= 1, f"{dimension} {name} listed {len(found)} times"
    return found[0] if found else None


def members(result: IndicatorResult, dimension: str) -> dict[str, float | None]:
    """Member → value of one breakdown dimension."""
    return {b.member: b.figure.value for b in result.breakdowns if b.dimension == dimension}

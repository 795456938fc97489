"""The demo's evidence lines against the real database: injected camera faults vs recorded states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from citybrain.demo.evidence import EVIDENCE
from citybrain.simulator import InjectedFailure
from citybrain.simulator.city import CityConfig
from citybrain.simulator.prepared import City
from citybrain.simulator.scenario import Scenario
from schemas.registry import Registry

T0 = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # midnight in Asia/Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def fault(camera: str, kind: str, start: float, end: float) -> InjectedFailure:
    return InjectedFailure("camera_picture_fault", (camera,), minutes(start), minutes(end),
                           f"picture fault {kind}", (("fault", kind),))


def line(db: psycopg.Connection[Any], f: InjectedFailure) -> str:
    city = City(CityConfig(), Registry(), Scenario((f,)), T0, 1.0)
    return EVIDENCE["camera_picture_fault"](db, f, city, SHANGHAI)


def interval(db: psycopg.Connection[Any], camera: str, state: str, start: float, end: float | None) -> None:
    db.execute("INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
               " VALUES (%s, %s, %s, %s, 'test')",
               (camera, state, minutes(start), None if end is None else minutes(end)))


def test_picture_fault_line_names_the_recorded_degraded_interval(db: psycopg.Connection[Any]) -> None:
    for m in range(60, 100):
        db.execute("INSERT INTO video_events (occurred_at, event_id, asset_id, online, faults)"
                   " VALUES (%s, %s, 'cam-1', true, ARRAY['frozen'])", (minutes(m), f"e{m}"))
    interval(db, "cam-1", "online", 0, 60)
    interval(db, "cam-1", "degraded", 60, 100)
    interval(db, "cam-1", "online", 100, None)
    assert line(db, fault("cam-1", "frozen", 60, 100)) == (
        "40 reports with picture faults, 0 reports offline; degraded 01:00:00–01:40:00 (1 interval)"
    )


def test_offline_variant_and_missing_or_open_intervals(db: psycopg.Connection[Any]) -> None:
    interval(db, "cam-2", "offline", 30, None)
    assert line(db, fault("cam-2", "offline", 30, 75)).endswith("; offline 00:30:00–still open (1 interval)")
    # Degraded somewhere else in the day does not count for this fault's window.
    interval(db, "cam-3", "degraded", 500, 510)
    assert line(db, fault("cam-3", "black", 30, 60)).endswith("; no degraded interval")

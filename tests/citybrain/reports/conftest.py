"""The small city the `citybrain report` tests run against (test_cli, test_as_of)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest


@pytest.fixture
def city(db: psycopg.Connection[Any]) -> None:
    """Two departments, one iot device each, with open intervals and no feed watermark
    (so only the report's time bounds them): water's is online throughout; traffic's is
    offline 2026-02-28T22:00Z – 2026-03-01T04:00Z (06:00–12:00 local on 03-01), online
    before and after."""
    db.execute("INSERT INTO departments (department_id, name)"
               " VALUES ('water', 'Water'), ('traffic', 'Traffic')")
    db.execute(
        "INSERT INTO assets (asset_id, kind, key, department_id, expected_interval_s, registered_at)"
        " VALUES ('iot-w', 'iot_device', 'infrastructure', 'water', 30, '2026-01-01T00:00Z'),"
        "        ('iot-t', 'iot_device', 'infrastructure', 'traffic', 30, '2026-01-01T00:00Z')")
    db.execute(
        "INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason) VALUES"
        " ('iot-w', 'online', '2026-02-01T00:00Z', NULL, 'heartbeat'),"
        " ('iot-t', 'online', '2026-02-01T00:00Z', '2026-02-28T22:00Z', 'heartbeat'),"
        " ('iot-t', 'offline', '2026-02-28T22:00Z', '2026-03-01T04:00Z', 'heartbeat timeout'),"
        " ('iot-t', 'online', '2026-03-01T04:00Z', NULL, 'heartbeat')")

"""What the store holds now: read_status counts, print_status shows them."""

from __future__ import annotations

from typing import Any

import psycopg
from rich.console import Console

from dashboards.status import KEYS, STATES, UNTRACKED, print_status, read_status
from streams.liveness import State

ROWS = """
INSERT INTO departments (department_id, name) VALUES ('water', 'Water');
INSERT INTO assets (asset_id, kind, key, department_id, expected_interval_s, registered_at, retired_at)
VALUES ('d1', 'iot_device', 'infrastructure', 'water', 60, '2026-01-01Z', NULL),
       ('d2', 'iot_device', 'infrastructure', 'water', 60, '2026-01-01Z', NULL),
       ('cam', 'camera', 'infrastructure', 'water', 60, '2026-01-01Z', NULL),
       ('host', 'cloud_host', 'infrastructure', 'water', 60, '2026-01-01Z', NULL),
       ('p1', 'portal', 'portal', 'water', 60, '2026-01-01Z', NULL),
       ('old', 'iot_device', 'infrastructure', 'water', 60, '2026-01-01Z', '2026-02-01Z');
INSERT INTO asset_state (asset_id, feed, state, since)
VALUES ('d1', 'iot', 'online', '2026-03-01Z'), ('d2', 'iot', 'unknown', '2026-03-02 07:30Z'),
       ('cam', 'video', 'degraded', '2026-03-02 07:00Z'), ('old', 'iot', 'offline', '2026-02-01Z');
INSERT INTO feed_watermarks (feed, watermark) VALUES ('iot', '2026-03-02 07:59:30Z');
"""


def test_the_states_are_the_liveness_states_and_untracked() -> None:
    # Maintenance is not among them: it comes from maintenance windows, not liveness.
    assert STATES == ("online", "degraded", "offline", "unknown", "untracked")
    assert set(STATES) == {*State, UNTRACKED}
    assert KEYS == ("infrastructure", "data", "system", "portal", "security")


def test_assets_by_key_and_state_read_and_printed(db: psycopg.Connection[Any]) -> None:
    for statement in ROWS.split(";\n"):
        if statement.strip():
            db.execute(statement)
    st = read_status(db)
    # The retired 'old' is left out; the host and the portal were never tracked.
    assert st.assets["infrastructure"] == {"online": 1, "degraded": 1, "offline": 0, "unknown": 1,
                                           "untracked": 1}
    assert st.assets["portal"][UNTRACKED] == 1
    assert set(st.assets) == set(KEYS)
    assert st.watermarks == {"iot": "2026-03-02T07:59:30+00:00"}

    console = Console(record=True, width=200)
    print_status(console, st)
    rows = {cells[0]: cells[1:] for line in console.export_text().splitlines()
            if len(cells := line.replace("┃", " ").replace("│", " ").split()) == 1 + len(STATES)}
    assert rows["key"] == list(STATES)
    assert rows["infrastructure"] == ["1", "1", "0", "1", "1"]
    assert rows["portal"] == ["0", "0", "0", "0", "1"]
    assert "security" not in rows  # keys without assets are not shown

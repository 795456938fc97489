"""What the store holds now: read_status counts, print_status shows them."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from rich.console import Console

from citybrain.kernel.i18n import Language
from dashboards.status import KEYS, STATES, UNTRACKED, Status, print_status, read_status
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

    # The JSON keeps the ids; a person reads the keys, states and families by name: in
    # Chinese by default (the command's current language), in English when asked.
    zh, en = printed(st), printed(st, "en")
    for text, header, first, second, family, untracked in (
            (zh, "重点领域", "基础设施", "服务门户", "物联网", "未跟踪"),
            (en, "Key", "Infrastructure", "Service portals", "IoT", "Untracked")):
        rows = {cells[0]: cells[1:] for line in text.splitlines()
                if len(cells := [c.strip() for c in re.split("[┃│]", line)[1:-1]]) == 1 + len(STATES)}
        assert rows[header][-1] == untracked
        assert rows[first] == ["1", "1", "0", "1", "1"]
        assert rows[second] == ["0", "0", "0", "0", "1"]
        assert len(rows) == 3  # keys without assets are not shown
        assert f"{family} 2026-03-02T07:59:30+00:00" in text  # the iot feed's watermark
    assert rows["Key"] == ["Online", "Degraded", "Offline", "Unknown", "Untracked"]
    assert "各类别已入库事件" in zh and "Stored events per family" in en
    assert "infrastructure" not in zh + en and "offline" not in zh + en


def printed(st: Status, language: Language | None = None) -> str:
    console = Console(record=True, width=200)
    print_status(console, st, language)
    return console.export_text()


def test_dead_letters_are_counted_by_reason_and_the_reasons_named(db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO dead_letters (topic, partition, \"offset\", reason, raw)"
               " VALUES ('t', 0, 1, 'invalid JSON (line 1)', ''), ('t', 0, 2, 'invalid JSON', ''),"
               " ('t', 0, 3, 'events[3].status: Input should be online or offline', '')")
    st = read_status(db)
    # The JSON keeps the reason classes as they are; the table names them.
    assert st.dead_letter_reasons == {"invalid JSON": 2, "invalid field status": 1}
    zh, en = printed(st, "zh-CN"), printed(st, "en")
    assert "JSON 无效" in zh and "字段 status 无效" in zh and "死信：3" in zh
    assert "invalid JSON" in en and "invalid field status" in en and "Dead-lettered: 3" in en

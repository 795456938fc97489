"""`citybrain maintenance add|list|rm` against the real database, in the platform's language
(zh-CN by default, English where CITYBRAIN_LANGUAGE=en)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from typer.testing import CliRunner

from citybrain.cli import app
from tests.alerts.registry import load


def test_add_list_remove(database_url: str, schema: str, db: psycopg.Connection[Any]) -> None:
    load(db)
    env = {"CITYBRAIN_DATABASE_URL": database_url, "CITYBRAIN_DATABASE_SCHEMA": schema}
    runner = CliRunner(env=env)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    bad = runner.invoke(app, ["maintenance", "add", "--scope", "asset", "--target", "pump-1",
                              "--start", f"{tomorrow}T02:00", "--end", f"{tomorrow}T04:00",
                              "--rrule", "FREQ=NEVER", "--tz", "Europe/Nowhere", "--reason", "x"])
    assert bad.exit_code == 1 and isinstance(bad.exception, Exception)
    message = str(bad.exception)   # field names as the API's; what is wrong in Chinese
    assert "recurrence: RRULE 无效" in message and "timezone: 未知的 IANA 时区 'Europe/Nowhere'" in message
    added = runner.invoke(app, ["maintenance", "add", "--scope", "asset", "--target", "pump-1",
                                "--start", f"{tomorrow}T02:00", "--end", f"{tomorrow}T04:00",
                                "--rrule", "FREQ=WEEKLY", "--tz", "Europe/Berlin", "--reason", "patching",
                                "-o", "json"])
    assert added.exit_code == 0, added.output
    window = orjson.loads(added.stdout)[0]
    assert window["recurrence"] == "FREQ=WEEKLY" and window["created_by"].startswith("cli:")
    listed = orjson.loads(runner.invoke(app, ["maintenance", "list", "-o", "json"]).stdout)
    assert [w["window_id"] for w in listed] == [window["window_id"]]
    table = runner.invoke(app, ["maintenance", "list"])
    assert "patching" in table.stdout and "FREQ=WEEKLY" in table.stdout
    for said in ("编号", "类型", "范围", "维护", "资产", "计入起点", "开始时间"):
        assert said in table.stdout, (said, table.stdout)
    removed = runner.invoke(app, ["maintenance", "rm", str(window["window_id"]), "-o", "json"])
    assert removed.exit_code == 0 and orjson.loads(removed.stdout)[0]["removed_at"] is not None
    assert orjson.loads(runner.invoke(app, ["maintenance", "list", "-o", "json"]).stdout) == []
    assert db.execute("SELECT count(*) FROM maintenance_periods").fetchone() == (0,)  # all were future
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
    assert actions == ["maintenance.add", "maintenance.remove"]


def test_add_late_and_count_the_past(database_url: str, schema: str, db: psycopg.Connection[Any]) -> None:
    load(db)
    runner = CliRunner(env={"CITYBRAIN_DATABASE_URL": database_url, "CITYBRAIN_DATABASE_SCHEMA": schema,
                            "CITYBRAIN_LANGUAGE": "en"})
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    common = ["maintenance", "add", "--scope", "asset", "--target", "pump-1", "--tz", "UTC",
              "--reason", "valve swap"]
    late = runner.invoke(app, [*common, "--start", start, "--end", end])
    assert late.exit_code == 0, late.output
    assert "does not count" in late.stdout and "maintenance retroactive" in late.stdout
    assert "Counts from" in late.stdout and "maintenance" in late.stdout   # headers and kinds in English
    window = orjson.loads(runner.invoke(app, ["maintenance", "list", "-o", "json"]).stdout)[0]
    assert window["counts_from"] > window["starts_at"] and window["retroactive_by"] is None
    approved = runner.invoke(app, ["maintenance", "retroactive", str(window["window_id"]),
                                   "--reason", "crew log", "-o", "json"])
    assert approved.exit_code == 0, approved.output
    after = orjson.loads(approved.stdout)[0]
    assert after["counts_from"] == after["starts_at"] and after["retroactive_by"].startswith("cli:")
    yesterday = [*common, "--start", (now - timedelta(days=1)).isoformat(),
                 "--end", (now - timedelta(days=1, hours=-1)).isoformat()]
    assert runner.invoke(app, yesterday).exit_code == 1                  # nothing after now
    past = runner.invoke(app, [*yesterday, "--retroactive", "paper permit", "-o", "json"])
    assert past.exit_code == 0, past.output
    assert orjson.loads(past.stdout)[0]["retroactive_reason"] == "paper permit"
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
    assert actions == ["maintenance.add", "maintenance.retroactive", "maintenance.add",
                       "maintenance.retroactive"]

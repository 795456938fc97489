"""`citybrain maintenance add|list|rm` against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from typer.testing import CliRunner

from citybrain.cli import app
from tests.alerts.detection.registry import load


def test_add_list_remove(database_url: str, schema: str, db: psycopg.Connection[Any]) -> None:
    load(db)
    env = {"CITYBRAIN_DATABASE_URL": database_url, "CITYBRAIN_DATABASE_SCHEMA": schema}
    runner = CliRunner(env=env)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    bad = runner.invoke(app, ["maintenance", "add", "--scope", "asset", "--target", "pump-1",
                              "--start", f"{tomorrow}T02:00", "--end", f"{tomorrow}T04:00",
                              "--rrule", "FREQ=NEVER", "--tz", "Europe/Nowhere", "--reason", "x"])
    assert bad.exit_code == 1 and isinstance(bad.exception, Exception)
    message = str(bad.exception)
    assert "recurrence: invalid RRULE" in message and "timezone: unknown IANA" in message
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
    removed = runner.invoke(app, ["maintenance", "rm", str(window["window_id"]), "-o", "json"])
    assert removed.exit_code == 0 and orjson.loads(removed.stdout)[0]["removed_at"] is not None
    assert orjson.loads(runner.invoke(app, ["maintenance", "list", "-o", "json"]).stdout) == []
    assert db.execute("SELECT count(*) FROM maintenance_periods").fetchone() == (0,)  # all were future
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
    assert actions == ["maintenance.add", "maintenance.remove"]

"""``citybrain.reports.exports``: an export recorded with its bytes and digests, the history
by department, a stored copy given back only when it still hashes to its recorded digest;
and the CLI's audit entry naming the SHA-256 of the file it wrote."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from citybrain.kernel.audit import Actor
from citybrain.kernel.settings import Settings
from citybrain.reports import exports
from citybrain.reports.window import report_window, zone
from citybrain.reports.writers import Format
from tests.citybrain.reports.command import citybrain

AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
WINDOW = report_window("2026-03-01", "2026-03-01", zone("Asia/Shanghai"))


def make(db: psycopg.Connection[Any], settings: Settings, department: str | None, actor: Actor,
         fmt: Format = "csv") -> exports.Export:
    file = exports.produce(db, WINDOW, department=department, fmt=fmt, language="zh-CN", actor=actor,
                           at=AT, settings=settings)
    return exports.record(db, file, actor, at=AT)


@pytest.mark.usefixtures("city")
def test_record_history_and_fetch(db: psycopg.Connection[Any], settings: Settings) -> None:
    db.execute("INSERT INTO api_tokens (token_id, token_sha256, name, role, created_by)"
               " VALUES ('abc123', '\\x01', '李娜', 'evaluator', 'test')")
    by_token = Actor("token:abc123", "evaluator")
    water = make(db, settings, "water", by_token)
    city = make(db, settings, None, Actor("code:王伟", "evaluator"))
    [(audit_id, details)] = db.execute("SELECT id, details FROM audit_log WHERE action = 'report.export'"
                                       " ORDER BY id LIMIT 1").fetchall()
    assert (water.audit_id, details["export_id"], details["file_sha256"]) == (
        audit_id, water.export_id, water.file_sha256)
    # Newest first; a department's history holds its own exports only.
    assert [e.export_id for e in exports.history(db)] == [city.export_id, water.export_id]
    assert [e.export_id for e in exports.history(db, "water")] == [water.export_id]
    assert exports.history(db, "traffic") == []
    # The person, not the audit name: the token's holder, the name a code was sent to.
    assert {e.export_id: e.person for e in exports.history(db)} == {water.export_id: "李娜",
                                                                    city.export_id: "王伟"}
    found = exports.fetch(db, water.export_id)
    assert found is not None
    entry, body = found
    assert hashlib.sha256(body).hexdigest() == entry.file_sha256 == water.file_sha256
    assert (entry.window_from, entry.window_to, entry.timezone) == (
        "2026-03-01T00:00:00+08:00", "2026-03-02T00:00:00+08:00", "Asia/Shanghai")
    assert entry.window.start == WINDOW.start and entry.window.end == WINDOW.end
    assert exports.fetch(db, 10_000) is None and exports.find(db, 10_000) is None

    db.execute("UPDATE report_exports SET content = overlay(content PLACING '\\x58'::bytea FROM 1 FOR 1)"
               " WHERE export_id = %s", (water.export_id,))
    with pytest.raises(exports.DamagedExport, match="存档副本已损坏"):
        exports.fetch(db, water.export_id)
    assert exports.fetch(db, city.export_id) is not None


@pytest.mark.usefixtures("city")
def test_the_cli_audit_entry_names_the_files_digest(settings: Settings, db: psycopg.Connection[Any],
                                                    tmp_path: Path) -> None:
    target = tmp_path / "march-1.xlsx"
    out = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", "xlsx",
                    "-o", str(target), settings=settings)
    assert out.returncode == 0, out.stderr
    [(details,)] = db.execute("SELECT details FROM audit_log WHERE action = 'report.export'").fetchall()
    assert details["file_sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    # A file written by the command is not kept in the history (it is on the evaluator's disk).
    assert db.execute("SELECT count(*) FROM report_exports").fetchone() == (0,)

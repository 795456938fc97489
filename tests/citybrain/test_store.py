from __future__ import annotations

from typing import Any

import psycopg

from citybrain import store


def test_migrate_is_idempotent_and_reports_mode(database_url: str, schema: str) -> None:
    again = store.migrate(database_url, schema)
    assert again.pending == []
    assert again.applied == [m.version for m in store.migrations()]
    # No TimescaleDB here: the plain PostgreSQL path is chosen and said so.
    assert again.mode == ("timescaledb" if again.timescale_available else "postgresql")


def test_event_tables_match_contracts(db: psycopg.Connection[Any]) -> None:
    from schemas.events import MODELS, TABLES

    for family, model in MODELS.items():
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (TABLES[family],),
        ).fetchall()
        columns = [r[0] for r in rows]
        assert columns[: len(model.COLUMNS)] == list(model.COLUMNS), family
        assert columns[len(model.COLUMNS):] == ["received_at"], family

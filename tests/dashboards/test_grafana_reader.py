"""The database init script that creates Grafana's read-only role, run on the real server."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SCRIPT = Path(__file__).resolve().parents[2] / "dashboards/provisioning/postgres/10-grafana-reader.sh"


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed; the init script is untested")
def test_grafana_role_reads_the_schema_and_nothing_else(db: psycopg.Connection[Any], database_url: str,
                                                        schema: str) -> None:
    params = conninfo_to_dict(database_url)
    owner = db.execute("SELECT current_user").fetchone()
    assert owner is not None
    role = f"grafana_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "POSTGRES_USER": owner[0], "POSTGRES_DB": str(params.get("dbname") or "postgres"),
           "PGHOST": str(params.get("host") or ""), "PGPORT": str(params.get("port") or "5432"),
           "PGPASSWORD": str(params.get("password") or ""), "GRAFANA_DB_USER": role,
           "GRAFANA_DB_PASSWORD": "reader-pw", "CITYBRAIN_DATABASE_SCHEMA": schema}
    try:
        result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        # A table created after the script ran (a later migration) is readable too.
        db.execute("CREATE TABLE later_table (x int)")
        db.execute("INSERT INTO departments (department_id, name) VALUES ('water', 'Water')")
        reader = {k: v for k, v in params.items() if k not in ("user", "password", "options")}
        with psycopg.connect(make_conninfo(**{k: str(v) for k, v in reader.items()}, user=role,
                                           password="reader-pw")) as conn:
            path = conn.execute("SHOW search_path").fetchone()
            # Then public, where the TimescaleDB image creates the extension (time_bucket).
            assert path is not None and path[0] == f"{schema}, public"
            # Panels name tables without a schema, as the application does.
            assert conn.execute("SELECT name FROM departments").fetchall() == [("Water",)]
            assert conn.execute("SELECT count(*) FROM later_table").fetchone() == (0,)
            conn.rollback()
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO departments (department_id, name) VALUES ('x', 'X')")
    finally:
        db.execute(f'DROP OWNED BY "{role}"')
        db.execute(f'DROP ROLE IF EXISTS "{role}"')

"""Grafana's database role made by the provisioning script, for tests that read as it."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SCRIPT = Path(__file__).resolve().parents[2] / "dashboards/provisioning/postgres/10-grafana-reader.sh"
HAVE_PSQL = shutil.which("psql") is not None


def run_script(database_url: str, schema: str, role: str, password: str) -> None:
    """Runs the script as the schema's owner (the connection ``database_url`` gives)."""
    params = conninfo_to_dict(database_url)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    env = {**os.environ, "POSTGRES_USER": row[0], "POSTGRES_DB": str(params.get("dbname") or "postgres"),
           "PGHOST": str(params.get("host") or ""), "PGPORT": str(params.get("port") or "5432"),
           "PGPASSWORD": str(params.get("password") or ""), "GRAFANA_DB_USER": role,
           "GRAFANA_DB_PASSWORD": password, "CITYBRAIN_DATABASE_SCHEMA": schema}
    result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def reader_url(database_url: str, role: str, password: str) -> str:
    params = conninfo_to_dict(database_url)
    kept = {k: str(v) for k, v in params.items() if k not in ("user", "password", "options")}
    return make_conninfo(**kept, user=role, password=password)


def drop_role(database_url: str, role: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        if conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


@contextmanager
def grafana_role(database_url: str, schema: str) -> Iterator[str]:
    """A fresh role made by the script for ``schema``; yields its connection string."""
    role, password = f"grafana_{uuid.uuid4().hex[:8]}", "reader-pw"
    try:
        run_script(database_url, schema, role, password)
        yield reader_url(database_url, role, password)
    finally:
        drop_role(database_url, role)

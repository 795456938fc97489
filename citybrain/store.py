"""The database: connections, migrations and the storage mode (TimescaleDB or PostgreSQL).

Every object lives in one schema (``CITYBRAIN_DATABASE_SCHEMA``); connections set
``search_path`` to it, so tests can run each in a schema of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from citybrain import locks
from citybrain.errors import StoreError


def connect(url: str, schema: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(url, autocommit=autocommit, options=f"-c search_path={schema}")
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot connect to the database: {exc}; check CITYBRAIN_DATABASE_URL"
        ) from exc
    return conn


async def connect_async(url: str, schema: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url, options=f"-c search_path={schema}")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    timescale_sql: str | None


def migrations() -> list[Migration]:
    root = resources.files("schemas") / "migrations"
    found: list[Migration] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        version = int(entry.name.split("_", 1)[0])
        ts = root / "timescale" / entry.name
        found.append(
            Migration(
                version=version,
                name=entry.name.removesuffix(".sql"),
                sql=entry.read_text(encoding="utf-8"),
                timescale_sql=ts.read_text(encoding="utf-8") if ts.is_file() else None,
            )
        )
    return found


@dataclass(frozen=True)
class StoreStatus:
    schema: str
    mode: str  # "timescaledb" or "postgresql"
    timescale_available: bool
    applied: list[int]
    pending: list[int]
    server_version: str


def _timescale_available(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def _timescale_installed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def migrate(url: str, schema: str) -> StoreStatus:
    """Apply pending migrations in order, each in its own transaction, and report."""
    with connect(url, schema) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (locks.MIGRATION,))
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL, mode text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                if _timescale_available(conn) and not _timescale_installed(conn):
                    # The extension lives in the database, not the schema: create it once.
                    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                use_timescale = _timescale_installed(conn)
                mode = "timescaledb" if use_timescale else "postgresql"
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                for m in migrations():
                    if m.version in done:
                        continue
                    conn.execute(m.sql.encode())
                    if use_timescale and m.timescale_sql:
                        conn.execute(m.timescale_sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, mode) VALUES (%s, %s, %s)",
                        (m.version, m.name, mode),
                    )
        except psycopg.Error as exc:
            raise StoreError(f"migration failed: {exc}") from exc
    return status(url, schema)


def status(url: str, schema: str) -> StoreStatus:
    with connect(url, schema, autocommit=True) as conn:
        try:
            available = _timescale_available(conn)
            installed = _timescale_installed(conn)
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.schema_migrations",)
            ).fetchone()
            applied: list[int] = []
            if exists and exists[0]:
                applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
            version_row = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"cannot read the migration status: {exc}") from exc
    known = [m.version for m in migrations()]
    return StoreStatus(
        schema=schema,
        mode="timescaledb" if installed else "postgresql",
        timescale_available=available,
        applied=applied,
        pending=[v for v in known if v not in applied],
        server_version=str(version_row[0]) if version_row else "?",
    )


def drop_schema(url: str, schema: str) -> None:
    with connect(url, schema, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

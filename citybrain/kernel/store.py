"""The database: connections, migrations and the storage mode (TimescaleDB or PostgreSQL).

Every object lives in one schema (``CITYBRAIN_DATABASE_SCHEMA``); connections set
``search_path`` to it, so tests can run each in a schema of their own. Where the
TimescaleDB extension lives in another schema (``public``, as the official image and
most DBAs create it), that schema follows on the ``search_path``, so the extension's
functions (``time_bucket``, ``by_range``, ...) resolve by their plain names.

The storage mode is chosen once per schema, by its first migration, and kept in
``storage_mode``: every later run reads it and never re-detects (nor tries to create)
the extension. ``CITYBRAIN_STORAGE`` decides the first choice: ``auto`` takes
TimescaleDB when the server can run it and plain PostgreSQL otherwise (with one warning
when TimescaleDB is installed but not preloaded), ``timescaledb`` refuses to fall back,
``postgresql`` never uses the extension.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import psycopg
from psycopg import sql

from citybrain.kernel import locks
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import Catalogue, use_language

log = logging.getLogger(__name__)
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Storage = Literal["auto", "timescaledb", "postgresql"]

# What an operator does about a server that lists TimescaleDB without preloading it (the
# warning below is logged, so it stays English; the errors say it in the current language).
PRELOAD_FIX = ("add shared_preload_libraries = 'timescaledb' to postgresql.conf (or run"
               " timescaledb-tune) and restart PostgreSQL")


def _preload_fix() -> str:
    return _("add shared_preload_libraries = 'timescaledb' to postgresql.conf (or run"
             " timescaledb-tune) and restart PostgreSQL")

# Appends the extension's schema to the search_path unless it is on it already.
_EXTENSION_ON_PATH = (
    "SELECT set_config('search_path', concat_ws(', ', current_setting('search_path'),"
    " (SELECT quote_ident(n.nspname) FROM pg_extension e"
    "  JOIN pg_namespace n ON n.oid = e.extnamespace"
    "  WHERE e.extname = 'timescaledb' AND n.nspname <> ALL (current_schemas(false)))), false)"
)


def extension_on_path(conn: psycopg.Connection[Any]) -> None:
    """Put the TimescaleDB extension's schema on ``conn``'s search_path, after the schemas
    already there (for connections not made by ``connect``: the API's pool, a report's
    parallel connections). Leaves no transaction open."""
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute(_EXTENSION_ON_PATH)
    finally:
        conn.autocommit = autocommit


def connect(url: str, schema: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}")
        try:
            conn.execute(_EXTENSION_ON_PATH)
            conn.autocommit = autocommit
        except BaseException:
            conn.close()
            raise
    except psycopg.Error as exc:
        raise StoreError(
            _("cannot connect to the database: {error}; check CITYBRAIN_DATABASE_URL").format(error=exc)
        ) from exc
    return conn


async def connect_async(url: str, schema: str) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(
        url, autocommit=True, options=f"-c search_path={schema}")
    try:
        await conn.execute(_EXTENSION_ON_PATH)
        await conn.set_autocommit(False)
    except BaseException:
        await conn.close()
        raise
    return conn


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
    # "timescaledb" or "postgresql": the mode the schema was migrated in (before its first
    # migration, the one ``db migrate`` would choose; "none" when it would refuse).
    mode: str
    mode_reason: str  # why, e.g. "extension 2.28.3 in schema public"
    timescale_available: bool  # the server lists the extension
    timescale: str  # what the server offers, e.g. "2.28.3 in schema public, preloaded"
    applied: list[int]
    pending: list[int]
    server_version: str


@dataclass(frozen=True)
class Timescale:
    """What the server and the database offer of TimescaleDB."""

    available: str | None  # the default version, when the server lists the extension
    installed: str | None  # the version created in this database
    schema: str | None  # where it was created
    preloaded: bool  # its loader is in shared_preload_libraries

    def describe(self) -> str:
        if self.installed:
            where = f"{self.installed} in schema {self.schema}"
            return where + (", preloaded" if self.preloaded else ", not preloaded")
        if self.available:
            return f"{self.available} available" + (
                ", preloaded" if self.preloaded else ", not preloaded")
        return "not installed on this server"


def probe_timescale(conn: psycopg.Connection[Any]) -> Timescale:
    # shared_preload_libraries is readable by superusers only; the settings the loader
    # defines when it is preloaded are visible to everyone (pg_settings leaves out the
    # placeholders a mere "timescaledb.x = y" line in postgresql.conf would create).
    row = conn.execute(
        "SELECT (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " e.extversion, n.nspname,"
        " EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.disable_load')"
        " FROM (SELECT 1) one"
        " LEFT JOIN pg_extension e ON e.extname = 'timescaledb'"
        " LEFT JOIN pg_namespace n ON n.oid = e.extnamespace"
    ).fetchone()
    assert row is not None
    return Timescale(available=row[0], installed=row[1], schema=row[2], preloaded=bool(row[3]))


@dataclass(frozen=True)
class Choice:
    """The storage mode a schema's first migration takes, and why."""

    mode: Literal["timescaledb", "postgresql"]
    reason: str
    create_extension: bool = False
    warning: str | None = None


def choose(storage: Storage, ts: Timescale, schema: str) -> Choice:
    """The mode of a schema not migrated yet; a StoreError when ``storage`` cannot be met."""
    if storage == "postgresql":
        return Choice("postgresql", "CITYBRAIN_STORAGE=postgresql")
    if ts.preloaded and ts.installed:
        return Choice("timescaledb", f"extension {ts.installed} in schema {ts.schema}")
    if ts.preloaded and ts.available:
        return Choice("timescaledb", "", create_extension=True)
    if ts.installed or ts.available:
        if storage == "timescaledb":
            raise StoreError(
                _("CITYBRAIN_STORAGE=timescaledb, but TimescaleDB is installed on the server"
                  " without being preloaded: {fix}, then migrate again").format(fix=_preload_fix()))
        return Choice(
            "postgresql", "CITYBRAIN_STORAGE=auto and timescaledb is not preloaded",
            warning=(
                f"TimescaleDB is installed on the database server but not preloaded, so schema"
                f" {schema} is created for plain PostgreSQL and stays so. To use TimescaleDB,"
                f" {PRELOAD_FIX}, then migrate a new schema (CITYBRAIN_DATABASE_SCHEMA); to"
                " choose plain PostgreSQL knowingly, set CITYBRAIN_STORAGE=postgresql."))
    if storage == "timescaledb":
        raise StoreError(
            _("CITYBRAIN_STORAGE=timescaledb, but the database server has no TimescaleDB"
              " extension: install TimescaleDB 2.x for this PostgreSQL, {fix}, then"
              " migrate again; or set CITYBRAIN_STORAGE=auto to use plain PostgreSQL").format(
                fix=_preload_fix()))
    return Choice("postgresql", "CITYBRAIN_STORAGE=auto and the server has no timescaledb extension")


_STORAGE_MODE = (
    "CREATE TABLE IF NOT EXISTS storage_mode ("
    " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
    " mode text NOT NULL CHECK (mode IN ('timescaledb', 'postgresql')),"
    " reason text NOT NULL,"
    " chosen_at timestamptz NOT NULL DEFAULT now())"
)
_LEGACY = "as recorded with its migrations (applied before the mode was kept in storage_mode)"


def _recorded(conn: psycopg.Connection[Any], schema: str) -> tuple[str, str] | None:
    """The mode the schema was migrated in, and why; None before its first migration."""
    found = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
        (f"{schema}.storage_mode", f"{schema}.schema_migrations"),
    ).fetchone()
    if found and found[0]:
        row = conn.execute("SELECT mode, reason FROM storage_mode").fetchone()
        if row:
            return str(row[0]), str(row[1])
    if found and found[1]:
        # Schemas migrated before storage_mode existed: every migration row names its mode.
        legacy = conn.execute("SELECT mode FROM schema_migrations ORDER BY version LIMIT 1").fetchone()
        if legacy:
            return str(legacy[0]), _LEGACY
    return None


def _kept(storage: Storage, mode: str, reason: str, schema: str, ts: Timescale) -> None:
    """A migrated schema keeps its mode: refuse a setting or a server that contradicts it."""
    if storage != "auto" and storage != mode:
        raise StoreError(
            _("schema {schema} was migrated for {mode} ({reason}), but CITYBRAIN_STORAGE={storage}:"
              " a schema keeps the storage mode of its first migration. Set CITYBRAIN_STORAGE=auto"
              " or {mode}, or migrate a new schema (CITYBRAIN_DATABASE_SCHEMA) for {storage}").format(
                schema=schema, mode=mode, reason=reason, storage=storage))
    if mode == "timescaledb" and not (ts.installed and ts.preloaded):
        raise StoreError(
            _("schema {schema} was migrated for TimescaleDB, but the extension is"
              " {extension} now: {fix} (and CREATE EXTENSION timescaledb"
              " if it was removed from the database)").format(
                schema=schema, extension=ts.describe(), fix=_preload_fix()))


def _create_extension(conn: psycopg.Connection[Any]) -> None:
    # In public, where the official image and most DBAs put it, so every schema of the
    # database sees it and dropping a Citybrain schema never drops it; in this schema
    # when public is missing or closed to this user.
    if conn.execute("SELECT to_regnamespace('public') IS NOT NULL").fetchone() == (True,):
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb SCHEMA public")
            return
        except psycopg.errors.InsufficientPrivilege:
            pass
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")


def migrate(url: str, schema: str, *, storage: Storage = "auto") -> StoreStatus:
    """Apply pending migrations in order, in one transaction, and report.

    The first migration of a schema chooses its storage mode (``storage``, i.e.
    CITYBRAIN_STORAGE) and records it; later ones keep it.
    """
    warning: str | None = None
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
                ts = probe_timescale(conn)
                recorded = _recorded(conn, schema)
                conn.execute(_STORAGE_MODE)
                mode: str
                if recorded is None:
                    choice = choose(storage, ts, schema)
                    mode, reason, warning = choice.mode, choice.reason, choice.warning
                    if choice.create_extension:
                        _create_extension(conn)
                        conn.execute(_EXTENSION_ON_PATH)  # its schema, if another
                        ts = probe_timescale(conn)
                        reason = f"extension {ts.installed} in schema {ts.schema}, created by db migrate"
                else:
                    mode, reason = recorded
                    _kept(storage, mode, reason, schema, ts)
                conn.execute(
                    "INSERT INTO storage_mode (mode, reason) VALUES (%s, %s)"
                    " ON CONFLICT (only_row) DO NOTHING", (mode, reason))
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                for m in migrations():
                    if m.version in done:
                        continue
                    conn.execute(m.sql.encode())
                    if mode == "timescaledb" and m.timescale_sql:
                        conn.execute(m.timescale_sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, mode) VALUES (%s, %s, %s)",
                        (m.version, m.name, mode),
                    )
        except psycopg.Error as exc:
            raise StoreError(_("migration failed: {error}").format(error=exc)) from exc
    if warning:
        log.warning("%s", warning)
    return status(url, schema, storage=storage)


def status(url: str, schema: str, *, storage: Storage = "auto") -> StoreStatus:
    with connect(url, schema, autocommit=True) as conn:
        try:
            ts = probe_timescale(conn)
            recorded = _recorded(conn, schema)
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.schema_migrations",)
            ).fetchone()
            applied: list[int] = []
            if exists and exists[0]:
                applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
            version_row = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as exc:
            raise StoreError(_("cannot read the migration status: {error}").format(error=exc)) from exc
    mode: str
    if recorded is not None:
        mode, reason = recorded
    else:
        try:
            # The reason is data (``db status -o json``, stable English), not a message.
            with use_language("en"):
                choice = choose(storage, ts, schema)
            mode = choice.mode
            reason = "not migrated yet; db migrate would choose it: " + (
                f"CITYBRAIN_STORAGE={storage} and it would create extension {ts.available}"
                if choice.create_extension else choice.reason)
        except StoreError as exc:
            mode, reason = "none", f"not migrated yet; db migrate would refuse: {exc}"
    known = [m.version for m in migrations()]
    return StoreStatus(
        schema=schema,
        mode=mode,
        mode_reason=reason,
        timescale_available=ts.available is not None,
        timescale=ts.describe(),
        applied=applied,
        pending=[v for v in known if v not in applied],
        server_version=str(version_row[0]) if version_row else "?",
    )


def drop_schema(url: str, schema: str) -> None:
    with connect(url, schema, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

"""The schemas the tests get (tests/schema_pool.py): one handed on from an earlier test is
what a migration leaves — same structure, same rows, same sequences — under a name of
its own; one that cannot be vouched for is dropped instead."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from citybrain.kernel import store
from tests import schema_pool
from tests.schema_pool import SchemaPool


def _exists(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (name,)).fetchone() == (True,)


def _contents(url: str, name: str) -> dict[str, Any]:
    """Every table's rows (the migration's timestamps left out) and every sequence's next value."""
    with store.connect(url, name, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (name,))]
        got: dict[str, Any] = {}
        for table in tables:
            cur = conn.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table)))
            keep = [i for i, d in enumerate(cur.description or ())
                    if d.name not in ("applied_at", "chosen_at")]
            got[table] = [tuple(row[i] for i in keep) for row in cur.fetchall()]
        for (seq,) in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = %s ORDER BY 1",
                                   (name,)).fetchall():
            got[f"nextval {seq}"] = conn.execute("SELECT nextval(%s)", (seq,)).fetchone()
        got["fingerprint"] = schema_pool._fingerprint(conn, name)
        # What the planner knows: no column statistics, and the tables' files as new.
        got["statistics"] = conn.execute(
            "SELECT count(*) FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid"
            " WHERE c.relnamespace = %s::text::regnamespace", (name,)).fetchone()
        got["sizes"] = conn.execute(
            "SELECT relname, relpages, reltuples, pg_relation_size(oid) FROM pg_class"
            " WHERE relnamespace = %s::text::regnamespace AND relkind = 'r'"
            " AND relname NOT IN ('schema_migrations', 'storage_mode', 'rollup_zone') ORDER BY 1",
            (name,)).fetchall()
        return got


def test_a_handed_on_schema_is_what_a_migration_leaves_under_a_new_name(database_url: str) -> None:
    pool = SchemaPool(database_url)
    first = pool.take()
    with store.connect(database_url, first, autocommit=True) as db:
        db.execute("INSERT INTO departments (department_id, name) VALUES ('water', 'Water')")
        db.execute("INSERT INTO audit_log (actor, action, subject) VALUES ('test', 'x', 'y')")
        db.execute("INSERT INTO districts (district_id, name) VALUES ('d1', 'North')")
        db.execute("DELETE FROM districts")  # empty again, its page left behind
        db.execute("ANALYZE departments")
        db.execute("SELECT nextval('incidents_incident_id_seq')")
        db.execute("UPDATE rollup_zone SET tz = 'Europe/Paris'")
        db.execute("DELETE FROM schema_migrations WHERE version = 19")
    pool.give_back(first)
    second = pool.take()
    reference = f"{second}_reference"
    try:
        assert second != first
        with store.connect(database_url, second, autocommit=True) as db:
            assert not _exists(db, first)
        store.migrate(database_url, reference)
        got, want = _contents(database_url, second), _contents(database_url, reference)
        assert got == want
    finally:
        store.drop_schema(database_url, reference)
        pool.close()


def test_a_schema_changed_or_still_in_use_is_dropped(database_url: str) -> None:
    pool = SchemaPool(database_url)
    altered = pool.take()
    with store.connect(database_url, altered, autocommit=True) as db:
        db.execute("ALTER TABLE departments ADD COLUMN extra text")
    pool.give_back(altered)
    used = pool.take()
    try:
        assert used != altered
        # A session of the test's process still running there (its name says so).
        with psycopg.connect(database_url, autocommit=True, application_name=f"worker {used}") as other:
            pool.give_back(used)
            for name in (altered, used):
                assert not _exists(other, name), name
    finally:
        pool.close()

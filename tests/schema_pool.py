"""Freshly migrated schemas for the tests, without migrating one for each test.

Migrating a schema creates some 130 tables, indexes and sequences, 13 functions and 58
triggers: 0.15–0.35 s of catalog work per test, for some 500 database tests. So a schema
a test is done with is handed to the next one instead of being dropped, when it can be
brought back to exactly the state a migration leaves:

* nothing else uses it: no other session holds a lock on one of its tables or an advisory
  lock of the project (a process of the test still running), and no other session's
  application name mentions it;
* its structure is what the migration made: the fingerprint of its catalog entries
  (tables, columns and defaults, indexes, constraints, triggers and whether they are
  enabled, functions, types, sequences, policies, privileges, owners) is unchanged;
* it is in the plain PostgreSQL storage mode (TimescaleDB keeps chunks and jobs in
  schemas of its own, so a TimescaleDB schema is always dropped), and the session's
  user is a superuser (who may clear the planner's statistics).

Then, in one transaction, every table written to is truncated, its statistics and
activity counters cleared, the rows the migration wrote (``schema_migrations``,
``storage_mode``, ``rollup_zone``) are put back as they were, every sequence is set back
to where the migration left it, and the schema is renamed to a new ``t_…`` name: each
test still gets a name of its own, so a session that outlived its test (with
``search_path`` set to the old name) finds nothing. Any doubt, or any error, and the
schema is dropped as before; the next test then gets a newly migrated one.
``CITYBRAIN_TEST_MIGRATE_EACH=1`` migrates a schema for every test instead, to rule the
pool out when a test misbehaves.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from citybrain.kernel import locks, store

Row = tuple[Any, ...]

# A schema's structure, as the catalogs describe it: one sorted list per kind of
# object, each entry as text. ``n`` is the schema's pg_namespace row.
_PARTS = (
    ("format('%s:%s:%s:%s:%s:%s:%s', c.relname, c.relkind, c.relpersistence, c.relowner::regrole,"
     " c.relacl, c.reloptions, c.relrowsecurity)",
     "pg_class c WHERE c.relnamespace = n.oid"),
    ("format('%s.%s:%s:%s:%s:%s:%s', c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),"
     " a.attnotnull, a.attidentity, pg_get_expr(d.adbin, d.adrelid))",
     "pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
     " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
     " WHERE c.relnamespace = n.oid AND a.attnum > 0 AND NOT a.attisdropped"),
    ("pg_get_indexdef(i.indexrelid)",
     "pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = n.oid"),
    ("format('%s:%s', co.conname, pg_get_constraintdef(co.oid))",
     "pg_constraint co WHERE co.connamespace = n.oid"),
    ("format('%s:%s', pg_get_triggerdef(t.oid), t.tgenabled)",
     "pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = n.oid AND NOT t.tgisinternal"),
    ("format('%s(%s):%s:%s:%s', p.proname, pg_get_function_arguments(p.oid), md5(p.prosrc), p.proconfig,"
     " p.proacl)",
     "pg_proc p WHERE p.pronamespace = n.oid"),
    ("format('%s:%s', t.typname, t.typtype)", "pg_type t WHERE t.typnamespace = n.oid"),
    ("format('%s:%s:%s:%s:%s', c.relname, s.seqstart, s.seqincrement, s.seqmin, s.seqmax)",
     "pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = n.oid"),
    ("format('%s:%s', c.relname, pg_get_viewdef(c.oid))",
     "pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('v', 'm')"),
    ("format('%s:%s:%s', p.polname, p.polcmd, pg_get_expr(p.polqual, p.polrelid))",
     "pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = n.oid"),
    ("d.defaclacl::text", "pg_default_acl d WHERE d.defaclnamespace = n.oid"),
    ("x.stxname::text", "pg_statistic_ext x WHERE x.stxnamespace = n.oid"),
    ("format('%s:%s', n.nspowner::regrole, n.nspacl)", "(SELECT) one"),
)
# Index definitions always name the schema, and a recycled schema is renamed: the
# fingerprint leaves the name out.
_FINGERPRINT = sql.SQL("SELECT md5(replace(concat_ws(' | ', {}), n.nspname || '.', ''))"
                       " FROM pg_namespace n WHERE n.nspname = %s").format(sql.SQL(", ").join(
    sql.SQL("(SELECT string_agg(e, ',' ORDER BY e) FROM (SELECT {} AS e FROM {}) s)").format(
        sql.SQL(expr.replace("%", "%%")), sql.SQL(source))
    for expr, source in _PARTS))

# Another session at work in the schema: a lock on one of its tables, an advisory lock
# of the project (a test's process still running, whatever its schema: the embedded
# database serves this session only), or its name in an application name.
_BUSY = """
SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
               WHERE c.relnamespace = %(ns)s::text::regnamespace AND l.pid <> pg_backend_pid())
    OR EXISTS (SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.pid <> pg_backend_pid()
                 AND l.classid::bigint = ANY(%(keys)s))
    OR EXISTS (SELECT 1 FROM pg_stat_activity a
               WHERE a.pid <> pg_backend_pid() AND strpos(a.application_name, %(ns)s::text) > 0)
"""


@dataclass
class _Schema:
    """A schema the pool made, with what its migration left in it."""

    name: str
    fingerprint: str
    tables: list[str]
    seeds: dict[str, tuple[list[str], list[Row]]]   # table -> (columns, rows in column order)
    sequences: dict[str, tuple[int, int | None]]   # sequence -> (start, last value or None)
    recyclable: bool


def _new_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def _fingerprint(conn: psycopg.Connection[Any], name: str) -> str | None:
    row = conn.execute(_FINGERPRINT, (name,)).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def _rows(conn: psycopg.Connection[Any], table: str) -> tuple[list[str], list[Row]]:
    cur = conn.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table)))
    columns = [d.name for d in cur.description or ()]
    return columns, [tuple(r) for r in cur.fetchall()]


def _sequences(conn: psycopg.Connection[Any], name: str) -> dict[str, tuple[int, int | None]]:
    rows = conn.execute("SELECT sequencename, start_value, last_value FROM pg_sequences"
                        " WHERE schemaname = %s", (name,)).fetchall()
    return {str(r[0]): (int(r[1]), None if r[2] is None else int(r[2])) for r in rows}


def _nonempty(conn: psycopg.Connection[Any], tables: list[str]) -> list[str]:
    if not tables:
        return []
    probes = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {} WHERE EXISTS (SELECT 1 FROM {})").format(sql.Literal(t), sql.Identifier(t))
        for t in tables)
    return [str(r[0]) for r in conn.execute(probes).fetchall()]


class SchemaPool:
    """The schemas of one database (one test session), handed out one test at a time."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.reuse = os.environ.get("CITYBRAIN_TEST_MIGRATE_EACH") != "1"
        self._free: list[_Schema] = []
        self._taken: dict[str, _Schema] = {}

    def take(self) -> str:
        schema = self._free.pop() if self._free else self._migrate()
        self._taken[schema.name] = schema
        return schema.name

    def give_back(self, name: str) -> None:
        schema = self._taken.pop(name, None)
        if schema is not None and self.reuse and schema.recyclable and self._recycle(schema):
            self._free.append(schema)
        else:
            store.drop_schema(self.url, name)

    def close(self) -> None:
        for schema in [*self._free, *self._taken.values()]:
            store.drop_schema(self.url, schema.name)
        self._free.clear()
        self._taken.clear()

    def _migrate(self) -> _Schema:
        name = _new_name()
        store.migrate(self.url, name)
        with store.connect(self.url, name, autocommit=True) as conn:
            tables = [str(r[0]) for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (name,))]
            seeds = {t: _rows(conn, t) for t in _nonempty(conn, tables)}
            mode = conn.execute("SELECT mode FROM storage_mode").fetchone()
            # Clearing the planner's statistics (pg_statistic) takes a superuser.
            superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
            return _Schema(name=name, fingerprint=_fingerprint(conn, name) or "", tables=tables,
                           seeds=seeds, sequences=_sequences(conn, name),
                           recyclable=mode == ("postgresql",) and superuser == (True,))

    def _recycle(self, schema: _Schema) -> bool:
        """Bring the schema back to what its migration left, under a new name; False when
        that cannot be vouched for (the caller drops it)."""
        new = _new_name()
        try:
            with store.connect(self.url, schema.name) as conn, conn.transaction():
                # Rather than wait behind a session that still holds something, drop it.
                conn.execute("SET LOCAL lock_timeout = '2s'")
                busy = conn.execute(_BUSY, {"ns": schema.name, "keys": list(locks.KEYS.values())}
                                    ).fetchone()
                if busy != (False,) or _fingerprint(conn, schema.name) != schema.fingerprint:
                    return False
                # Every table written to (rows, or pages the test's deletes left) is emptied
                # to new files, as a new table has; the tables the migration filled are
                # compared and put back below. CASCADE: an empty table may reference one
                # that is not.
                written = [str(r[0]) for r in conn.execute(
                    "SELECT relname FROM pg_class WHERE relnamespace = %s::text::regnamespace"
                    " AND relkind = 'r' AND pg_relation_size(oid) > 0", (schema.name,))
                    if r[0] not in schema.seeds]
                if written:
                    conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(
                        sql.SQL(", ").join(sql.Identifier(t) for t in written)))
                # TRUNCATE keeps the planner's statistics of the columns and the activity
                # counters (which time autovacuum); a new table has neither.
                conn.execute("DELETE FROM pg_catalog.pg_statistic s USING pg_catalog.pg_class c"
                             " WHERE c.oid = s.starelid AND c.relnamespace = %s::text::regnamespace",
                             (schema.name,))
                conn.execute("SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class"
                             " WHERE relnamespace = %s::text::regnamespace", (schema.name,))
                for table, (columns, rows) in schema.seeds.items():
                    if _rows(conn, table) == (columns, rows):
                        continue
                    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                    with conn.cursor() as cur:
                        cur.executemany(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
                            sql.SQL(", ").join(sql.Placeholder() * len(columns))), rows)
                now = _sequences(conn, schema.name)
                for seq, (start, last) in schema.sequences.items():
                    if now.get(seq) != (start, last):
                        # is_called false: the next nextval() returns the start, as when new.
                        conn.execute("SELECT setval(format('%%I.%%I', %s::text, %s::text)::regclass, %s, %s)",
                                     (schema.name, seq, start if last is None else last, last is not None))
                conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(schema.name), sql.Identifier(new)))
        except psycopg.Error:
            return False
        schema.name = new
        return True


_pools: dict[str, SchemaPool] = {}


def pool(database_url: str) -> SchemaPool:
    found = _pools.get(database_url)
    if found is None:
        found = _pools[database_url] = SchemaPool(database_url)
    return found


def close(database_url: str) -> None:
    """Drop the schemas the pool keeps (at the end of the session)."""
    found = _pools.pop(database_url, None)
    if found is not None:
        found.close()

"""Every PostgreSQL advisory lock of the project, one key each.

Advisory locks share one namespace per database: two components that pick the same
key exclude each other, whatever they meant by it (the alerter's leader lock and the
availability facts refresher once shared a key, so the facts were never computed while
an alerter ran). So every key is listed here, with who takes it and why, and nowhere
else: ``tests/citybrain/kernel/test_locks.py`` checks that the keys are distinct and that every
``pg_*advisory*lock`` call in the code takes its key from this module.

Two forms are in use. A lock for the whole database takes one key
(``pg_advisory_xact_lock(key)``). A lock for one schema (tests run each in a schema of
its own, and a demo may share a database with production) takes the key and a hash of
the schema, ``(key, hashtext(schema))``, so schemas never wait for one another. All keys
fit the two-int form (0 < key < 2**31).
"""

from __future__ import annotations

from typing import Final

# store.migrate, pg_advisory_xact_lock(MIGRATION), for the migration's transaction:
# one migrator at a time in the database (schemas and the timescaledb extension are
# created there, and two workers starting together must not both apply a migration).
MIGRATION: Final = 0x0C17B4A1

# alerts.alerter.Alerter._lead, pg_try_advisory_lock(ALERTER, hashtext(schema)), held by
# the leading alerter's session for as long as it runs: one active alerter per schema
# (storm collapse needs every child of a parent in one process); the others stand by.
ALERTER: Final = 0x0C17B4A2

# citybrain.availability.refresh (the worker's timer, the rollups rebuild command,
# bench.report), pg_try_advisory_xact_lock(AVAILABILITY_REFRESH, hashtext(current_schema())),
# for the refresh's transaction: one refresher of the availability facts per schema; a
# second one skips.
AVAILABILITY_REFRESH: Final = 0x0C17B4A3

# The liveness deriver (streams/derivation.py), pg_try_advisory_lock(LIVENESS_DERIVER,
# hashtext(schema || ':' || feed)) (``current_schema()`` for schema, or the parameters of
# ``liveness_deriver``), held by its session while it derives: one active deriver of
# state intervals per schema and feed.
LIVENESS_DERIVER: Final = 0x0C17B4A4

# Every key by name (the test checks they are distinct).
KEYS: Final[dict[str, int]] = {
    "MIGRATION": MIGRATION,
    "ALERTER": ALERTER,
    "AVAILABILITY_REFRESH": AVAILABILITY_REFRESH,
    "LIVENESS_DERIVER": LIVENESS_DERIVER,
}


def liveness_deriver(schema: str, feed: str) -> tuple[int, str]:
    """The parameters of ``pg_try_advisory_lock(%s, hashtext(%s))`` (and of the matching
    ``pg_advisory_unlock``) for the liveness deriver of one schema and feed:
    ``(LIVENESS_DERIVER, schema || ':' || feed)``."""
    return LIVENESS_DERIVER, f"{schema}:{feed}"

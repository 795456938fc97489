"""Facts derived from a family's stored events, written with the events.

Some families describe things with a life of several steps: a 12345 work order (created,
dispatched, responded, completed, ...) or a 好差评 rating (rated, rectified, return
visit). Their facts (deadlines met or missed, the order's current department, ...) are a
function of all the stored events of one subject, so a batch's fact step recomputes each
subject the batch touched from every stored event of that subject: whatever the batching,
the order of deliveries or a replay, the facts come out the same.

A ``FactDeriver`` runs inside the sink's transaction, after the batch's rows are
inserted; it gets the cursor and the name of the staging table that holds the batch's
rows (the subjects it touched). It commits or rolls back with the rows and the offsets.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from citybrain.kernel.settings import Settings
from schemas.events import TABLES

FactDeriver = Callable[[psycopg.AsyncCursor[Any], str], Awaitable[None]]

# family → the module whose ``deriver(settings)`` builds that family's fact step.
MODULES: dict[str, str] = {
    "hotline": "streams.workorders",
    "rating": "streams.ratings",
}


async def rederive(conn: psycopg.AsyncConnection[Any], family: str, settings: Settings) -> int:
    """Recompute every stored subject of ``family`` (after the categories, the calendar file
    or the limits changed), in one transaction: the fact step run over all the family's
    stored events as one batch. Returns how many events were read."""
    derive = deriver(family, settings)
    if derive is None:
        raise ValueError(f"{family} has no fact step; families with one: {sorted(MODULES)}")
    async with conn.transaction(), conn.cursor() as cur:
        # The family's fact step takes a batch's staging table; every stored event is one.
        await cur.execute(sql.SQL("CREATE TEMP TABLE rederive_stage ON COMMIT DROP AS SELECT * FROM {}")
                          .format(sql.Identifier(TABLES[family])))
        await cur.execute("SELECT count(*) FROM rederive_stage")
        found = await cur.fetchone()
        await derive(cur, "rederive_stage")
    return int(found[0]) if found else 0


def deriver(family: str, settings: Settings) -> FactDeriver | None:
    """The fact step of ``family`` configured from ``settings``; None when it has none."""
    name = MODULES.get(family)
    if name is None:
        return None
    build: Callable[[Settings], FactDeriver] = importlib.import_module(name).deriver
    return build(settings)

"""The portal usage facts (streams/active_users.py, migration 026) through the real sink:
the same events give the same facts, byte for byte, and the same DAU and MAU, whatever the
batching, order or repetition of their delivery; and they equal a zoneinfo reference and a
rebuild from the raw rows."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from streams import rollups
from streams.sink import Batch, EventSink
from tests.citybrain.indicators.city import Conn, asset, department, members, run, window

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Three local days across the October / November boundary, in Shanghai.
START = datetime(2026, 10, 31, 0, 0, tzinfo=SHANGHAI).astimezone(UTC) - timedelta(days=1)
FACTS = ("usage_user_days", "usage_user_months", "usage_daily")


def events(n: int, seed: int) -> list[tuple[Any, ...]]:
    """n usage rows in the sink's column order (occurred_at as text), 100 users, 3 systems."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    for i in range(n):
        at = START + timedelta(seconds=rng.randrange(3 * 86400), microseconds=rng.randrange(10**6))
        who = f"{rng.randrange(100):064x}"
        portal = f"portal-{rng.randrange(3)}"
        channel = rng.choice(("app", "mini_program", "web", "hall", "kiosk"))
        if rng.random() < 0.6:
            rows.append((at.isoformat(), f"e{i}", portal, "sign_in", who, channel,
                         None, None, None, None))
        else:
            dept = rng.choice(("dept-a", "dept-b"))
            rows.append((at.isoformat(), f"e{i}", portal, "transaction", who, channel,
                         f"svc-{rng.randrange(5)}", dept, f"tx-{i}", rng.random() < 0.7))
    return rows


def deliver(database_url: str, schema: str, *batches: list[tuple[Any, ...]]) -> None:
    async def write() -> None:
        sink = EventSink(database_url, schema, "usage")
        try:
            for rows in batches:
                await sink.write(Batch("usage", rows=rows))
        finally:
            await sink.close()
    asyncio.run(write())


def facts(db: Conn) -> list[list[tuple[Any, ...]]]:
    return [db.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4, 5" if t == "usage_daily"
                       else f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall() for t in FACTS]


def figures(db: Conn) -> tuple[Any, ...]:
    w = window(START, START + timedelta(days=3))
    dau, mau = run(db, "portal.dau", w), run(db, "portal.mau", w)
    share = run(db, "portal.online_transaction_share", w)
    return (dau.figure, members(dau, "day"), mau.figure, members(mau, "month"), share.figure,
            members(share, "channel"))


def clear(db: Conn) -> None:
    db.execute("TRUNCATE usage_events, usage_user_days, usage_user_months, usage_daily")


def test_facts_are_the_same_whatever_the_delivery(database_url: str, schema: str, db: Conn) -> None:
    department(db, "dept-a", "dept-b")
    for n in range(3):
        asset(db, f"portal-{n}", "portal", "dept-a" if n else "dept-b", key="portal")
    rows = events(1500, seed=5)

    deliver(database_url, schema, rows)                       # one batch, in time order
    one = facts(db)
    want = figures(db)

    # Users per local day and month, by zoneinfo: the reference the facts must equal.
    days: dict[date, set[str]] = defaultdict(set)
    for r in rows:
        days[datetime.fromisoformat(r[0]).astimezone(SHANGHAI).date()].add(r[4])
    assert {d.isoformat(): len(u) for d, u in days.items()} == want[1]
    assert [d for d in days] and {r[0] for r in one[0]} == set(days)
    assert len(one[0]) == len({(datetime.fromisoformat(r[0]).astimezone(SHANGHAI).date(), r[4], r[2])
                               for r in rows})
    assert want[3] == {"2026-10": len(days[date(2026, 10, 30)] | days[date(2026, 10, 31)]),
                       "2026-11": len(days[date(2026, 11, 1)])}

    rng = random.Random(9)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    deliveries = [
        # Shuffled, in batches of 37, a fifth of the rows delivered again in later batches.
        [shuffled[i:i + 37] + rng.sample(rows, 7) for i in range(0, len(shuffled), 37)],
        # Newest first, one row at a time for the first 50, the rest in one batch twice.
        [[r] for r in rows[::-1][:50]] + [rows[::-1][50:], rows],
    ]
    for batches in deliveries:
        clear(db)
        deliver(database_url, schema, *batches)
        assert facts(db) == one
        assert figures(db) == want

    # A rebuild from the raw rows writes the same facts.
    for table in FACTS:
        db.execute(f"DELETE FROM {table}")
    rollups.rebuild(db, START, START + timedelta(days=3))
    assert facts(db) == one

    # In another zone the facts move to its days, and the figures read in Shanghai (now
    # from the raw rows) stay the same.
    rollups.set_zone(db, "Europe/Berlin")
    assert facts(db) != one
    assert figures(db) == want

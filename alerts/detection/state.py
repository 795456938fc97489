"""What detection is waiting for, stored with the offsets it was computed from.

Detection holds progress that no incident shows yet: a for-duration under way (a link
with 3 of its 5 minutes of packet loss), a count of consecutive failed probes, a child
held for its siblings (storm hold), a storm's members, alerts held by maintenance or
flapping, a flapping count under way. A process killed at any instant must resume all of
it, so none of it may live only in memory.

**Stored, not rebuilt.** Two designs were weighed:

* Rebuild on start from the stored readings and states. Wrong at some kill instants:
  the alerter reads the topics, not the tables, and the two are not in step. Ingest may
  lag (the records the alerter applied before the kill are not all in the tables yet, so
  a rebuild misses them while the committed offsets skip them) or lead (a rebuild folds
  records the alerter then reads again from the topic, counting them twice); state
  changes come from the liveness derivation's outbox, which retracts and rewrites
  intervals. And the held alerts depend on when the clock ticked, which no table shows.
* Store the state, the input positions and the incidents the input produced in ONE
  database transaction (this module). After a kill at any instant the database holds
  either the batch's state, offsets and incidents, or none of them: the alerter resumes
  from the stored state at the stored offsets and skips the records it applied already
  (the Kafka commit, done after the database's, can only lag it). Nothing is counted
  twice, nothing is lost, and no incident opens twice for one record.

So the offsets that matter are in the database (``detection_offsets``); the consumer
group's Kafka commit is kept for lag monitoring only.

The state is what ``Detection.snapshot`` returns (part → key → JSON value), one row per
key in ``detection_state``. Each save writes only the rows that changed since the last
commit (a storm's children, a breaching link's series), not the whole state, so the cost
follows what changes, not how much is held.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from alerts.model import Alert

log = logging.getLogger(__name__)

# A tracker's or stage's state as JSON: part name → key → value; the helpers below write
# and read its instants, composite keys and held alerts.
Parts = dict[str, dict[str, Any]]


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def pair(*parts: str) -> str:
    """One text key for a composite key (part of a stored state's primary key)."""
    return orjson.dumps(list(parts)).decode()


def unpair(key: str) -> tuple[str, ...]:
    return tuple(str(p) for p in orjson.loads(key))


def alerts_of(entries: Mapping[str, Any]) -> dict[str, Alert]:
    """Held alerts as a part stores them (key → ``Alert.to_json``)."""
    return {k: Alert.from_json(v) for k, v in entries.items()}


# Bump when the stored shape of a part changes: an older snapshot is then ignored (the
# alerter rebuilds from open incidents, as on a first start) instead of misread.
FORMAT = 1
_META = ("meta", "format")
Row = tuple[str, str]
Offsets = dict[tuple[str, int], int]


def _encode(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)


def _flatten(parts: Mapping[str, Mapping[str, Any]]) -> dict[Row, bytes]:
    rows = {(part, key): _encode(value) for part, entries in parts.items() for key, value in entries.items()}
    rows[_META] = _encode({"format": FORMAT})
    return rows


@dataclass(frozen=True)
class Saved:
    """What one ``save`` wrote; ``DetectionState.committed`` adopts it once its commit succeeded."""

    rows: dict[Row, bytes]
    offsets: Offsets


class DetectionState:
    def __init__(self) -> None:
        self._rows: dict[Row, bytes] = {}      # as committed
        self.offsets: Offsets = {}             # (topic, partition) → first record not applied
        self._reset = False

    def load(self, conn: psycopg.Connection[Any]) -> Parts | None:
        """The stored state, or None when there is none this alerter can use."""
        self.offsets = {(t, int(p)): int(o) for t, p, o in conn.execute(
            "SELECT topic, partition, next_offset FROM detection_offsets").fetchall()}
        parts: Parts = {}
        for part, key, value in conn.execute("SELECT part, key, value FROM detection_state").fetchall():
            parts.setdefault(part, {})[key] = value
        meta = parts.pop(_META[0], {}).get(_META[1])
        if meta is None:
            return None
        if meta != {"format": FORMAT}:
            log.warning("stored detection state has format %s, this alerter writes %s: ignoring it"
                        " (held alerts and pending durations start again)", meta, FORMAT)
            self._reset = True
            return None
        self._rows = _flatten(parts)
        return parts

    def applied(self, topic: str, partition: int, offset: int) -> bool:
        """Whether this record's effects are already in the stored state."""
        return offset < self.offsets.get((topic, partition), 0)

    def save(self, conn: psycopg.Connection[Any], parts: Mapping[str, Mapping[str, Any]],
             offsets: Mapping[tuple[str, int], int]) -> Saved:
        """Write what changed, inside the caller's transaction; call ``committed`` after it."""
        rows = _flatten(parts)
        if self._reset:
            conn.execute("DELETE FROM detection_state")
            self._rows = {}
        changed = [(p, k, v.decode()) for (p, k), v in rows.items() if self._rows.get((p, k)) != v]
        gone = [row for row in self._rows if row not in rows]
        if changed:
            conn.execute(
                "INSERT INTO detection_state (part, key, value)"
                " SELECT p, k, v::jsonb FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(p, k, v)"
                " ON CONFLICT (part, key) DO UPDATE SET value = EXCLUDED.value",
                ([c[0] for c in changed], [c[1] for c in changed], [c[2] for c in changed]))
        if gone:
            conn.execute(
                "DELETE FROM detection_state s USING unnest(%s::text[], %s::text[]) AS t(p, k)"
                " WHERE s.part = t.p AND s.key = t.k", ([g[0] for g in gone], [g[1] for g in gone]))
        moved = {tp: o for tp, o in offsets.items() if self.offsets.get(tp) != o}
        if moved:
            conn.execute(
                "INSERT INTO detection_offsets (topic, partition, next_offset)"
                " SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[])"
                " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
                ([t for t, _ in moved], [p for _, p in moved], list(moved.values())))
        return Saved(rows, {**self.offsets, **moved})

    def committed(self, saved: Saved) -> None:
        self._rows, self.offsets, self._reset = saved.rows, saved.offsets, False

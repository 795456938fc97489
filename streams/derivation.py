"""Liveness derivation: a feed's stored events → state intervals, whatever their delivery.

The intervals are a function of the stored events, the registry and the settings: the
same events give the same intervals and the same report bytes whatever the batching,
the order across partitions, the number of workers, restarts, crashes and outages.

How:
* **One fold, in event time.** The stored events of the feed (iot heartbeats, camera
  health, probes) are read back in event-time order, compacted per asset into runs in
  SQL, and folded through the pure tracker (streams/liveness.py). Where the fold pauses
  between two reads changes nothing: the tracker is told where the feed's silences are
  (``fold``), never infers them from how far apart two calls were.
* **Gaps are silences of the stored events.** A silence of the whole feed longer than
  ``ingestion_gap_seconds`` between two event instants is an ingestion gap, wherever it
  falls, inside one batch or across two (feed_gaps).
* **A horizon from the evidence.** The fold goes up to the slowest source partition
  still delivering (``ingest_offsets.mark``, minus ``liveness_delay_seconds``), or the
  latest event once every partition has been quiet for ``liveness_idle_source_seconds``;
  never past the database's now. It stores the last event instant folded as the feed's
  watermark: the intervals are complete up to it, and later time has no evidence.
* **Late evidence is a retraction.** The sink records each batch's event-time range
  (liveness_dirty) with its rows. A range at or behind the cursor makes the fold start
  again from the latest checkpoint before it (liveness_checkpoints hold the tracker's
  exact state), rewriting the intervals after that point. Evidence more than
  ``liveness_lateness_seconds`` behind is stored but never folded: it is recorded in
  liveness_late and counted, and every later read leaves it out.
* **One deriver per feed**, whichever worker holds its advisory lock; a worker killed or
  cut off loses the lock with its connection and another takes over from the stored
  checkpoint. Every step of a tick is one transaction, and the state changes to publish
  are written in it (state_outbox), so a crash loses nothing and repeats nothing stored.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql

from citybrain.kernel import locks, metrics
from citybrain.kernel.errors import StoreError
from citybrain.kernel.settings import Settings
from schemas.events import LivenessLevel
from schemas.registry import LIVENESS_FEED
from streams.liveness import LivenessTracker, State, TrackedAsset, Transition

log = logging.getLogger(__name__)

_US = timedelta(microseconds=1)
_LEVELS = tuple(LivenessLevel)

# Where each feed's evidence is stored, and what an event says (0 down, 1 online,
# 2 degraded, as LivenessLevel and streams.ingest): the same rules as the decoder's.
FEED_EVIDENCE: dict[str, tuple[str, str]] = {
    "iot": ("iot_events", "1"),
    "video": ("video_events",
              "CASE WHEN NOT online THEN 0"
              " WHEN cardinality(faults) > 0 OR stream_decodable IS FALSE THEN 2 ELSE 1 END"),
    "probe": ("probe_events", "CASE WHEN ok THEN 1 ELSE 0 END"),
}

# At one instant, levels are applied online, degraded, then down: of two reports of one
# asset at the same instant, the worse one stands (never better than the evidence). A run
# never straddles the asset's registration or retirement (phase), so events outside its
# life are left out whole, as one by one.
_RUNS_SQL = """
WITH e AS (
    SELECT e.asset_id, e.occurred_at AS t, {level} AS lvl,
           CASE WHEN e.occurred_at < a.registered_at THEN 0
                WHEN e.occurred_at >= a.retired_at THEN 2 ELSE 1 END AS phase
    FROM {table} e LEFT JOIN assets a ON a.asset_id = e.asset_id
    WHERE e.occurred_at > %(lo)s AND e.occurred_at <= %(hi)s {exclude}
), b AS (
    SELECT asset_id, t, lvl,
           CASE WHEN lag(lvl) OVER w = lvl AND lag(phase) OVER w = phase
                     AND t - lag(t) OVER w <= %(split)s THEN 0 ELSE 1 END AS brk
    FROM e WINDOW w AS (PARTITION BY asset_id ORDER BY t, lvl = 0, lvl DESC)
), r AS (
    SELECT asset_id, t, lvl,
           sum(brk) OVER (PARTITION BY asset_id ORDER BY t, lvl = 0, lvl DESC
                          ROWS UNBOUNDED PRECEDING) AS run
    FROM b
)
SELECT asset_id, min(t) AS first, max(t) AS last, lvl, run
FROM r GROUP BY asset_id, run, lvl ORDER BY first, asset_id, run
"""

_EXCLUDE_LATE = (
    " AND NOT EXISTS (SELECT 1 FROM liveness_late l WHERE l.feed = %(feed)s"
    " AND l.received_at = e.received_at AND e.occurred_at >= l.lo AND e.occurred_at < l.frozen_at)"
)


@dataclass(frozen=True)
class Run:
    asset_id: str
    first: datetime
    last: datetime
    level: LivenessLevel


@dataclass
class Folded:
    transitions: list[Transition] = field(default_factory=list)
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)
    covered_to: datetime | None = None
    feed_start: datetime | None = None


def fold(tracker: LivenessTracker, runs: Sequence[Run], covered_to: datetime | None,
         gap: timedelta) -> Folded:
    """Fold ``runs`` (sorted by first instant) into ``tracker``; ``covered_to`` is the
    last event instant folded before them. The tracker is advanced to just before each
    run (a heartbeat on its deadline keeps the asset up), across a silence longer than
    ``gap`` in one step marked as a gap, and finally to the last instant of the runs.
    Within a run no silence exceeds the split threshold (≤ every window and < gap), so
    the feed's silences lie between the runs' spans, and the result does not depend on
    how the events were cut into runs or into calls.
    """
    out = Folded(covered_to=covered_to)
    if not runs:
        return out
    moves = out.transitions
    cov = covered_to
    if tracker.watermark is None:
        cov = runs[0].first
        tracker.restore_watermark(cov)  # the feed's first event: never-seen assets start here
        out.feed_start = cov
    assert cov is not None
    for run in runs:
        first = run.first
        if first - cov > gap:
            moves += tracker.advance(cov, gap=False)
            moves += tracker.advance(first, gap=True)
            out.gaps.append((cov, first))
        else:
            moves += tracker.advance(first - _US, gap=False)
        moves += tracker.observe_run(run.asset_id, first, run.last, run.level)
        if run.last > cov:
            cov = run.last
    moves += tracker.advance(cov, gap=False)
    out.covered_to = cov
    return out


def transition_message(t: Transition) -> bytes:
    return orjson.dumps({
        "asset_id": t.asset_id, "feed": t.feed, "state": t.state.value,
        "previous": t.previous.value if t.previous else None,
        "at": t.at.isoformat(), "reason": t.reason,
    })


@dataclass(frozen=True)
class TickResult:
    leader: bool
    folded_to: datetime | None = None  # the cursor after the tick
    horizon: datetime | None = None
    transitions: int = 0
    restarted_from: datetime | None = None
    late_events: int = 0

    @property
    def caught_up(self) -> bool:
        return self.horizon is None or (self.folded_to is not None and self.folded_to >= self.horizon)


@dataclass
class _Dirty:
    id: int
    lo: datetime
    hi: datetime
    events: int
    received_at: datetime


class LivenessDeriver:
    """The derivation of one feed, on its own connection (blocking: run it in a thread)."""

    def __init__(self, feed: str, settings: Settings, url: str) -> None:
        if feed not in FEED_EVIDENCE:
            raise ValueError(f"{feed!r} is not a liveness feed")
        self.feed = feed
        self.settings = settings
        self.url = url
        self.table, self.level_sql = FEED_EVIDENCE[feed]
        self.kinds = sorted(k for k, f in LIVENESS_FEED.items() if f == feed)
        self.gap = timedelta(seconds=settings.ingestion_gap_seconds)
        # Runs are split at silences longer than this: no longer than the smallest window
        # of the feed's assets (no deadline lapses inside a run) nor the gap (the feed's
        # silences fall between runs). Set from the registry.
        self.split = self.gap
        self.lateness = timedelta(seconds=settings.liveness_lateness_seconds)
        self.checkpoint_every = timedelta(seconds=settings.liveness_checkpoint_seconds)
        self.chunk = timedelta(seconds=settings.liveness_chunk_seconds)
        self._conn: psycopg.Connection[Any] | None = None
        self._leader = False
        self._final = False
        self._reset()

    def _reset(self) -> None:
        self.tracker: LivenessTracker | None = None
        self.cursor: datetime | None = None  # events up to here are folded
        self.reached: datetime | None = None  # the furthest cursor ever
        self.covered_to: datetime | None = None  # the last event instant folded
        self.feed_start: datetime | None = None
        self.origin: datetime | None = None
        self._checkpointed: datetime | None = None
        self._registry: dict[str, TrackedAsset] = {}
        self._registry_version: tuple[Any, ...] | None = None
        self._retracted: set[tuple[str, datetime, str]] = set()
        self._touched: set[str] = set()
        self._was: dict[str, tuple[str, datetime]] = {}

    @property
    def leader(self) -> bool:
        return self._leader

    def close(self) -> None:
        conn, self._conn = self._conn, None
        leader, self._leader = self._leader, False
        self._reset()
        if conn is not None and not conn.closed:
            if leader:
                # Released now, not when the server has ended the session (after close()
                # returns): whoever takes over next does not find it still held.
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
                    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                                 locks.liveness_deriver(self.settings.database_schema, self.feed))
                    conn.commit()
            conn.close()

    # ── the tick ────────────────────────────────────────────────────────────────────
    def tick(self, *, max_span: timedelta | None = None, final: bool = False) -> TickResult:
        """One step: become the feed's deriver if no one else is, fold the new evidence up
        to the horizon (at most ``max_span`` of event time) and write it all in one
        transaction. On a database error the in-memory state and the connection are
        dropped; the next tick starts again from the stored checkpoint. ``final``: every
        event is in (a replay, a test, a benchmark): fold up to the latest one, whether
        its partition looks active or not."""
        self._final = final
        try:
            # One chunk per step by default: the watermark (the alerter's pipeline clock in
            # replays) moves in steps of at most a chunk, each committed.
            return self._tick(max_span or self.chunk)
        except psycopg.Error:
            self.close()
            raise

    def _tick(self, max_span: timedelta) -> TickResult:
        conn = self._connection()
        if not self._leader:
            got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                               locks.liveness_deriver(self.settings.database_schema, self.feed)
                               ).fetchone()
            conn.commit()
            if not (got and got[0]):
                return TickResult(leader=False)
            self._leader = True
            log.info("liveness %s: this worker derives the feed", self.feed)
        try:
            result = self._step(conn, max_span)
            conn.commit()
        except BaseException:
            if not conn.closed:
                conn.rollback()
            leader = self._leader
            self._reset()  # the fold in memory went further than what is stored
            self._leader = leader
            raise
        return result

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._leader = False
            self._reset()
            schema = self.settings.database_schema
            try:
                self._conn = psycopg.connect(
                    self.url, options=f"-c search_path={schema}",
                    application_name=f"citybrain-liveness {schema}:{self.feed}"[:63])
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to the database: {exc}; check"
                                 " CITYBRAIN_DATABASE_URL") from exc
            # One snapshot per tick: the late ranges, the marks and the events read agree.
            self._conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        return self._conn

    def _step(self, conn: psycopg.Connection[Any], max_span: timedelta) -> TickResult:
        restart: datetime | None = None
        if self.tracker is None:
            restart = self._load(conn)
        dirty = [_Dirty(*r) for r in conn.execute(
            "SELECT id, lo, hi, events, received_at FROM liveness_dirty WHERE feed = %s ORDER BY id",
            (self.feed,)).fetchall()]
        horizon = self._horizon(conn)
        frozen = self.reached - self.lateness if self.reached is not None else None
        wanted: datetime | None = None
        late_events = 0
        for d in dirty:
            if self.cursor is None or d.lo > self.cursor:
                continue  # ahead of the fold: read in order
            if frozen is not None and d.lo < frozen:
                late_events += self._record_late(conn, d, frozen)
                if d.hi < frozen:
                    continue
            lo = d.lo if frozen is None else max(d.lo, frozen)
            wanted = lo if wanted is None else min(wanted, lo)
        for _ in range(4):
            changed = self._sync_registry(conn, full=restart is not None)
            if changed is not None:
                changed = changed if frozen is None else max(changed, frozen)
                wanted = changed if wanted is None else min(wanted, changed)
            if wanted is None or self.cursor is None or wanted > self.cursor:
                break
            point = self._restart_before(conn, wanted)
            restart = point if restart is None else min(restart, point)
            wanted = None
        if restart is not None:
            self._retract(conn, restart)
        moves: list[Transition] = []
        gaps: list[tuple[datetime, datetime]] = []
        if self.cursor is None:
            first = conn.execute(sql.SQL("SELECT min(occurred_at) FROM {}").format(
                sql.Identifier(self.table))).fetchone()
            if first is not None and first[0] is not None:
                # A fresh feed: the fold starts at its first event. Its watermark is written
                # at once (just before that event, nothing folded yet), so the feed counts
                # from the moment it has data: its as-of, and the slowest feed's watermark
                # that replays use as their clock, do not run ahead of it.
                self.cursor = first[0] - _US
        if horizon is not None and self.cursor is not None and horizon > self.cursor:
            moves, gaps = self._fold_to(conn, min(horizon, self.cursor + max_span))
        self._write(conn, moves, gaps, [d.id for d in dirty])
        for t in moves:
            metrics.STATE_CHANGES.labels(self.feed, t.state.value).inc()
        return TickResult(leader=True, folded_to=self.cursor, horizon=horizon,
                          transitions=len(moves), restarted_from=restart, late_events=late_events)

    # ── where the fold stands ───────────────────────────────────────────────────────
    def _load(self, conn: psycopg.Connection[Any]) -> datetime | None:
        """Rebuild from the database: the latest checkpoint at or before the stored
        cursor, from which the fold runs again. Returns where that rewrites from."""
        self.tracker = self._new_tracker()
        row = conn.execute("SELECT watermark, cursor, reached, origin FROM feed_watermarks"
                           " WHERE feed = %s", (self.feed,)).fetchone()
        if row is None:
            return None  # a fresh feed: the fold starts at its first event
        watermark: datetime = row[0]
        cursor: datetime | None = row[1]
        reached: datetime | None = row[2]
        origin: datetime | None = row[3]
        if cursor is None and origin is None:
            # Intervals from before the derivation existed (an upgraded database): kept up
            # to the lateness bound behind their watermark; derived from there on.
            origin = watermark - self.lateness
            log.warning("liveness %s: deriving from the stored events from %s on; intervals"
                        " before it are kept as stored", self.feed, origin)
            self.origin = self.cursor = self.reached = origin
            return self.origin
        self.origin, self.reached = origin, reached
        resume = cursor if cursor is not None else origin
        return self._restart_before(conn, resume + _US) if resume is not None else None

    def _restart_before(self, conn: psycopg.Connection[Any], when: datetime) -> datetime:
        """Restore the latest checkpoint strictly before ``when`` (or go back to the
        origin). Returns the last event instant it covers: what was derived after it is
        derived again."""
        row = conn.execute(
            "SELECT at, covered_to, feed_start, tracker FROM liveness_checkpoints"
            " WHERE feed = %s AND at < %s ORDER BY at DESC LIMIT 1", (self.feed, when)).fetchone()
        tracker = self._new_tracker()
        if row is None:
            self.cursor, self.covered_to, self.feed_start = self.origin, None, None
            self._checkpointed = None
        else:
            at, covered, start, blob = row
            tracker.restore(bytes(blob))
            self.cursor, self.covered_to, self.feed_start = at, covered, start
            self._checkpointed = at
        self.tracker = tracker
        self._registry_version = None
        # Later checkpoints were taken without the evidence that makes us go back: the
        # fold writes them again.
        conn.execute("DELETE FROM liveness_checkpoints WHERE feed = %s AND at > %s",
                     (self.feed, self.cursor or _BEGINNING))
        point = self.covered_to or self.origin
        return point if point is not None else _BEGINNING

    def _new_tracker(self) -> LivenessTracker:
        return LivenessTracker(self.feed, tolerance=self.settings.liveness_tolerance,
                               gap_seconds=self.settings.ingestion_gap_seconds, infer_gaps=False)

    def _sync_registry(self, conn: psycopg.Connection[Any], *, full: bool) -> datetime | None:
        """Bring the tracker's assets in line with the registry. Returns the earliest
        instant a change takes effect at when that is at or before the fold's point (an
        asset registered afterwards with a past registration, or changed): its life is
        derived again from there, within the lateness bound."""
        version = conn.execute(
            "SELECT count(*), max(updated_at) FROM assets WHERE kind = ANY(%s)", (self.kinds,)).fetchone()
        if version == self._registry_version and not full:
            return None
        tracker = self.tracker
        assert tracker is not None
        rows = conn.execute(
            "SELECT asset_id, expected_interval_s, registered_at, retired_at FROM assets"
            " WHERE kind = ANY(%s) AND expected_interval_s IS NOT NULL ORDER BY asset_id",
            (self.kinds,)).fetchall()
        known = tracker.assets()
        wm = tracker.watermark
        earliest: datetime | None = None
        current: dict[str, TrackedAsset] = {}
        for aid, interval, registered, retired in rows:
            asset = current[aid] = TrackedAsset(aid, float(interval), registered, retired)
            before = known.get(aid)
            if before == asset:
                continue
            if before is None and retired is not None and wm is not None and retired <= wm:
                continue  # retired before the fold's point: the tracker has dropped it
            tracker.register(asset, start=self.feed_start)
            if wm is None:
                continue
            begins = registered if before is None else min(registered, before.registered_at)
            effective = max(begins, self.feed_start) if self.feed_start is not None else begins
            if effective <= wm:
                earliest = effective if earliest is None else min(earliest, effective)
        for aid in set(known) - set(current):
            tracker.forget(aid)
        windows = [a.interval_s * self.settings.liveness_tolerance for a in current.values()]
        self.split = min([self.gap, *(timedelta(seconds=w) for w in windows)])
        self._registry = current
        self._registry_version = version
        return earliest

    def _horizon(self, conn: psycopg.Connection[Any]) -> datetime | None:
        # A partition holds the horizon while it delivers, and while it has messages not
        # stored yet (offset below the consumers' highwater), however quiet; one that has
        # such messages and never delivered holds it where it is.
        row = conn.execute(
            "SELECT min(mark) FILTER (WHERE marked_at > now() - make_interval(secs => %s)"
            " OR next_offset < highwater), max(mark), now(),"
            " coalesce(bool_or(mark IS NULL AND next_offset < highwater), false)"
            " FROM ingest_offsets WHERE topic = %s",
            (self.settings.liveness_idle_source_seconds, self.settings.topic(self.feed))).fetchone()
        if row is None or row[1] is None:
            return None
        active: datetime | None = row[0]
        latest: datetime = row[1]
        now: datetime = row[2]
        if row[3] and not self._final:
            return self.cursor
        if active is not None and not self._final:
            horizon = active - timedelta(seconds=self.settings.liveness_delay_seconds)
        else:
            horizon = latest  # every source quiet: the feed is known up to its latest event
        return min(horizon, now)

    def _record_late(self, conn: psycopg.Connection[Any], d: _Dirty, frozen: datetime) -> int:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE occurred_at >= %s AND occurred_at < %s"
                    " AND received_at = %s").format(sql.Identifier(self.table)),
            (d.lo, frozen, d.received_at)).fetchone()
        n = int(row[0]) if row else 0
        conn.execute(
            "INSERT INTO liveness_late (feed, received_at, lo, frozen_at, events)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (self.feed, d.received_at, d.lo, frozen, n))
        if n:
            metrics.LIVENESS_LATE_EVENTS.labels(self.feed).inc(n)
            log.warning("liveness %s: %d events arrived more than %s behind the derivation"
                        " (before %s); stored and counted, not folded", self.feed, n,
                        self.lateness, frozen)
        return n

    # ── folding ─────────────────────────────────────────────────────────────────────
    def _fold_to(self, conn: psycopg.Connection[Any], target: datetime
                 ) -> tuple[list[Transition], list[tuple[datetime, datetime]]]:
        tracker = self.tracker
        assert tracker is not None
        moves: list[Transition] = []
        gaps: list[tuple[datetime, datetime]] = []
        late = conn.execute("SELECT EXISTS (SELECT 1 FROM liveness_late WHERE feed = %s)",
                            (self.feed,)).fetchone()
        query = sql.SQL(_RUNS_SQL).format(
            level=sql.SQL(self.level_sql), table=sql.Identifier(self.table),
            exclude=sql.SQL(_EXCLUDE_LATE if late and late[0] else ""))
        while True:
            lo = self.cursor
            assert lo is not None
            hi = min(target, lo + self.chunk)
            # Not prepared: a generic plan would not know how narrow the range is and
            # read the whole table.
            runs = [Run(a, f, last, _LEVELS[lvl]) for a, f, last, lvl, _ in conn.execute(
                query, {"lo": lo, "hi": hi, "split": self.split, "feed": self.feed},
                prepare=False).fetchall()]
            if tracker.watermark is None and runs:
                # The feed's first event: never-seen assets start there (not at whenever
                # the registry happened to be read).
                self.feed_start = runs[0].first
                for asset in self._registry.values():
                    tracker.register(asset, start=self.feed_start)
            folded = fold(tracker, runs, self.covered_to, self.gap)
            moves += folded.transitions
            gaps += folded.gaps
            self.covered_to = folded.covered_to
            self.cursor = hi
            if self.reached is None or hi > self.reached:
                self.reached = hi
            if self._checkpointed is None or hi - self._checkpointed >= self.checkpoint_every:
                self._checkpoint(conn)
            if hi >= target:
                return moves, gaps

    def _checkpoint(self, conn: psycopg.Connection[Any]) -> None:
        tracker = self.tracker
        assert tracker is not None and self.cursor is not None and self.reached is not None
        # Checkpoints are dense near the head, where late evidence usually lands (a
        # gateway's buffered minute), so folding again costs a minute or two of events;
        # further back one per COARSE period is kept, for the whole lateness bound.
        prev = self._checkpointed
        coarse = prev is None or (prev - _BEGINNING) // COARSE != (self.cursor - _BEGINNING) // COARSE
        conn.execute(
            "INSERT INTO liveness_checkpoints (feed, at, covered_to, feed_start, tracker, coarse)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (feed, at) DO UPDATE SET"
            " covered_to = excluded.covered_to, feed_start = excluded.feed_start,"
            " tracker = excluded.tracker, coarse = excluded.coarse, created_at = now()",
            (self.feed, self.cursor, self.covered_to, self.feed_start, tracker.snapshot(), coarse))
        self._checkpointed = self.cursor
        conn.execute("DELETE FROM liveness_checkpoints WHERE feed = %s AND NOT coarse AND at < %s",
                     (self.feed, self.cursor - DENSE))
        # Keep what the lateness bound can still need: every checkpoint after the frozen
        # point and the latest one at or before it.
        conn.execute(
            "DELETE FROM liveness_checkpoints WHERE feed = %s AND at < (SELECT max(at) FROM"
            " liveness_checkpoints WHERE feed = %s AND at <= %s)",
            (self.feed, self.feed, self.reached - self.lateness))

    # ── writing ─────────────────────────────────────────────────────────────────────
    def _retract(self, conn: psycopg.Connection[Any], after: datetime) -> None:
        """Forget what was derived after ``after``: the fold derives it again."""
        for a, st, since in conn.execute(
                "SELECT s.asset_id, s.state, s.since FROM asset_state s JOIN assets a USING (asset_id)"
                " WHERE a.kind = ANY(%s) AND s.since > %s", (self.kinds, after)).fetchall():
            self._was.setdefault(a, (st, since))  # what alerting was last told
        # Found by their end (the index on (ended_at, started_at), and the open ones'):
        # what a year of history holds before ``after`` is not read. Not prepared, so
        # each plan knows how recent ``after`` is.
        gone = conn.execute(
            "WITH doomed AS ("
            " SELECT asset_id, started_at FROM state_intervals"
            "  WHERE ended_at > %(after)s AND ended_at <= 'infinity' AND started_at > %(after)s"
            " UNION ALL SELECT asset_id, started_at FROM state_intervals"
            "  WHERE ended_at IS NULL AND started_at > %(after)s)"
            " DELETE FROM state_intervals s USING doomed d, assets a"
            " WHERE s.asset_id = d.asset_id AND s.started_at = d.started_at"
            " AND a.asset_id = s.asset_id AND a.kind = ANY(%(kinds)s)"
            " RETURNING s.asset_id, s.started_at, s.state",
            {"after": after, "kinds": self.kinds}, prepare=False).fetchall()
        reopened = conn.execute(
            "UPDATE state_intervals s SET ended_at = NULL FROM assets a"
            " WHERE s.ended_at > %(after)s AND s.ended_at <= 'infinity' AND a.asset_id = s.asset_id"
            " AND a.kind = ANY(%(kinds)s) RETURNING s.asset_id",
            {"after": after, "kinds": self.kinds}, prepare=False).fetchall()
        conn.execute("DELETE FROM feed_gaps WHERE feed = %s AND until_at > %s", (self.feed, after))
        self._retracted |= {(a, s, st) for a, s, st in gone}
        self._touched |= {a for a, _, _ in gone} | {a for (a,) in reopened}

    def _write(self, conn: psycopg.Connection[Any], moves: Sequence[Transition],
               gaps: Sequence[tuple[datetime, datetime]], consumed: Sequence[int]) -> None:
        tracker = self.tracker
        assert tracker is not None
        moves = sorted(moves, key=lambda t: (t.at, t.asset_id))
        with conn.cursor() as cur:
            for round_ in _rounds(moves):
                params = ([t.asset_id for t in round_], [t.state.value for t in round_],
                          [t.at for t in round_], [t.reason for t in round_])
                cur.execute(
                    "UPDATE state_intervals s SET ended_at = v.at"
                    " FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::text[])"
                    " AS v(asset_id, state, at, reason)"
                    " WHERE s.asset_id = v.asset_id AND s.ended_at IS NULL AND s.started_at <= v.at",
                    params)
                cur.execute(
                    "INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
                    " SELECT asset_id, state, at, NULL, reason FROM unnest(%s::text[], %s::text[],"
                    " %s::timestamptz[], %s::text[]) AS v(asset_id, state, at, reason)"
                    " ON CONFLICT (asset_id, started_at) DO UPDATE"
                    " SET state = excluded.state, reason = excluded.reason, ended_at = NULL",
                    params)
            touched = sorted(self._touched | {t.asset_id for t in moves})
            if touched:
                # The current state is the latest interval: a function of the intervals,
                # whether the asset was still tracked or already retired when derived.
                cur.execute(
                    "INSERT INTO asset_state (asset_id, feed, state, since, updated_at)"
                    " SELECT DISTINCT ON (asset_id) asset_id, %s, state, started_at, now()"
                    " FROM state_intervals WHERE asset_id = ANY(%s)"
                    " ORDER BY asset_id, started_at DESC"
                    " ON CONFLICT (asset_id) DO UPDATE SET state = excluded.state,"
                    " since = excluded.since, feed = excluded.feed, updated_at = now()",
                    (self.feed, touched))
                cur.execute(
                    "DELETE FROM asset_state s WHERE s.asset_id = ANY(%s) AND NOT EXISTS"
                    " (SELECT 1 FROM state_intervals i WHERE i.asset_id = s.asset_id)", (touched,))
            if gaps:
                cur.execute(
                    "INSERT INTO feed_gaps (feed, after_at, until_at)"
                    " SELECT %s, a, b FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS v(a, b)"
                    " ON CONFLICT (feed, after_at) DO UPDATE SET until_at = excluded.until_at",
                    (self.feed, [a for a, _ in gaps], [b for _, b in gaps]))
            # Publish what is new: a transition stored (and published) before a retraction
            # that the fold derives again is not sent twice.
            fresh = [t for t in moves if (t.asset_id, t.at, t.state.value) not in self._retracted]
            messages = [(t.asset_id, transition_message(t)) for t in fresh]
            if self._was:
                # A retraction changed an asset's current state without a transition into
                # it (an outage that late evidence erased): alerting is told the state it
                # is in now, so it can resolve what it opened.
                last = {t.asset_id: (t.state.value, t.at) for t in fresh}
                now = dict(((a, (st, since)) for a, st, since in cur.execute(
                    "SELECT asset_id, state, since FROM asset_state WHERE asset_id = ANY(%s)",
                    (sorted(self._was),)).fetchall()))
                for a, was in sorted(self._was.items()):
                    current = now.get(a)
                    if current is not None and current != was and last.get(a) != current:
                        messages.append((a, orjson.dumps({
                            "asset_id": a, "feed": self.feed, "state": current[0], "previous": was[0],
                            "at": current[1].isoformat(), "reason": "corrected: late evidence"})))
            if messages:
                cur.execute(
                    "INSERT INTO state_outbox (feed, asset_id, payload)"
                    " SELECT %s, a, p FROM unnest(%s::text[], %s::bytea[]) AS v(a, p)",
                    (self.feed, [a for a, _ in messages], [m for _, m in messages]))
            if self.cursor is not None:
                cur.execute(
                    "INSERT INTO feed_watermarks"
                    " (feed, watermark, cursor, reached, feed_start, origin, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, now()) ON CONFLICT (feed) DO UPDATE SET"
                    " watermark = excluded.watermark, cursor = excluded.cursor,"
                    " reached = excluded.reached, feed_start = excluded.feed_start,"
                    " origin = excluded.origin, updated_at = now()",
                    (self.feed, self.covered_to or self.cursor, self.cursor, self.reached,
                     self.feed_start, self.origin))
            if consumed:
                cur.execute("DELETE FROM liveness_dirty WHERE id = ANY(%s)", (list(consumed),))
        self._retracted = set()
        self._touched = set()
        self._was = {}

    def note_highwaters(self, ends: Sequence[tuple[str, int, int]]) -> None:
        """Record the end offsets (topic, partition, highwater) this worker's consumer has
        seen: a partition with messages beyond what is stored holds the horizon back."""
        if not ends:
            return
        ends = sorted(ends)  # the sink's order for the same rows (streams/sink.py): no deadlock
        conn = self._connection()
        try:
            # Read committed: the sink updates these rows too (with each batch).
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
            conn.execute(
                "INSERT INTO ingest_offsets (topic, partition, next_offset, updated_at, highwater)"
                " SELECT t, p, 0, now(), h FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS v(t, p, h)"
                " ON CONFLICT (topic, partition) DO UPDATE SET"
                " highwater = greatest(ingest_offsets.highwater, excluded.highwater)",
                ([t for t, _, _ in ends], [p for _, p, _ in ends], [h for _, _, h in ends]))
            conn.commit()
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        except psycopg.Error:
            self.close()
            raise

    # ── publishing ──────────────────────────────────────────────────────────────────
    def outbox(self, limit: int = 10_000) -> list[tuple[int, str, bytes]]:
        """State changes committed and not yet published (the leader publishes them)."""
        conn = self._connection()
        try:
            rows = conn.execute("SELECT id, asset_id, payload FROM state_outbox WHERE feed = %s"
                                " ORDER BY id LIMIT %s", (self.feed, limit)).fetchall()
            conn.commit()
        except psycopg.Error:
            self.close()
            raise
        return [(i, a, bytes(p)) for i, a, p in rows]

    def published(self, ids: Sequence[int]) -> None:
        conn = self._connection()
        try:
            conn.execute("DELETE FROM state_outbox WHERE id = ANY(%s)", (list(ids),))
            conn.commit()
        except psycopg.Error:
            self.close()
            raise


_BEGINNING = datetime(1, 1, 2, tzinfo=UTC)
# Checkpoints: every liveness_checkpoint_seconds for the last DENSE of event time, one per
# COARSE period before that.
DENSE = timedelta(minutes=30)
COARSE = timedelta(minutes=15)


def late_evidence_in(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> dict[str, int]:
    """Per feed, how many stored events with occurred_at in [start, end) arrived beyond the
    lateness bound and are not in the intervals (what a report over that window states)."""
    out: dict[str, int] = {}
    for feed, (table, _) in FEED_EVIDENCE.items():
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM liveness_late l JOIN {} e ON e.received_at = l.received_at"
                    " AND e.occurred_at >= greatest(l.lo, %(start)s)"
                    " AND e.occurred_at < least(l.frozen_at, %(end)s)"
                    " WHERE l.feed = %(feed)s AND l.lo < %(end)s AND l.frozen_at > %(start)s"
                    ).format(sql.Identifier(table)),
            {"start": start, "end": end, "feed": feed}).fetchone()
        if row and row[0]:
            out[feed] = int(row[0])
    return out


def derive(settings: Settings, url: str, *, final: bool = True,
           feeds: Sequence[str] = tuple(FEED_EVIDENCE)) -> dict[str, TickResult]:
    """Fold every feed up to its horizon now (by default the latest stored event), in
    this process: for replays, tests and benchmarks. Waits for no one: a feed another
    process derives is reported with leader=False."""
    out: dict[str, TickResult] = {}
    for feed in feeds:
        deriver = LivenessDeriver(feed, settings, url)
        try:
            for _ in range(50):  # a session that just ended may hold the lock a moment longer
                result = out[feed] = deriver.tick(final=final)
                if result.leader:
                    break
                time.sleep(0.1)
            while result.leader and not result.caught_up and result.folded_to is not None:
                result = out[feed] = deriver.tick(final=final)
        finally:
            deriver.close()
    return out


def _rounds(transitions: Sequence[Transition]) -> list[list[Transition]]:
    """Split time-ordered transitions so that each asset appears at most once per round."""
    rounds: list[list[Transition]] = []
    seen: dict[str, int] = {}
    for t in transitions:
        n = seen.get(t.asset_id, 0)
        seen[t.asset_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(t)
    return rounds


__all__ = ["FEED_EVIDENCE", "LivenessDeriver", "Run", "State", "TickResult", "fold", "transition_message"]

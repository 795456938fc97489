"""The liveness monitor of one feed: observations in, state intervals and changes out.

It runs on whichever worker holds the feed's partition of the liveness topic. Its
tracker is rebuilt from the database (registry, current states, watermark) the first
time it sees a batch, so the database, not faust's in-memory state, is the truth.
Every transition, online ↔ degraded included (a camera's picture fault and its
recovery), becomes a state interval and a message on the state-change topic, from which
alerting opens and resolves incidents.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import sql

from citybrain import metrics
from citybrain.settings import Settings
from citybrain.store import connect_async
from schemas.registry import LIVENESS_FEED
from streams.ingest import Observations
from streams.liveness import AssetLiveness, LivenessTracker, State, TrackedAsset, Transition
from streams.sink import TopicPartition

log = logging.getLogger(__name__)

REGISTRY_REFRESH_SECONDS = 10.0

# Where each feed's "asset is up" events are stored (table, condition). "Up" includes
# degraded: a camera with picture faults still reports online, and its deadline counts
# from that report.
FEED_UP_SQL: dict[str, tuple[str, str]] = {
    "iot": ("iot_events", "true"),
    "video": ("video_events", "online"),
    "probe": ("probe_events", "ok"),
}


def transition_message(t: Transition) -> bytes:
    return orjson.dumps({
        "asset_id": t.asset_id, "feed": t.feed, "state": t.state.value,
        "previous": t.previous.value if t.previous else None,
        "at": t.at.isoformat(), "reason": t.reason,
    })


class LivenessMonitor:
    def __init__(
        self,
        feed: str,
        settings: Settings,
        url: str,
        *,
        publish: Callable[[Sequence[Transition]], Awaitable[None]],
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feed = feed
        self.settings = settings
        self.url = url
        self._publish = publish
        self._wall = wall_clock
        self.tracker: LivenessTracker | None = None
        self._marks: dict[TopicPartition, tuple[datetime, float]] = {}
        self._since = wall_clock()  # (re)start, in processing time
        self._registry_version: tuple[Any, ...] | None = None
        self._registry_checked = 0.0
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()  # the agent and the timer share one connection

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await connect_async(self.url, self.settings.database_schema)
        return self._conn

    def reset(self) -> None:
        """Forget everything in memory (partition revoked): rebuild from the database."""
        self.tracker = None
        self._marks.clear()
        self._since = self._wall()
        self._registry_version = None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def handle(self, obs: Observations) -> list[Transition]:
        """Apply one batch of observations; retried by the caller on database errors."""
        async with self._lock:
            return await self._guarded(self._handle, obs)

    async def tick(self) -> list[Transition]:
        """Advance on processing time: sources idle for a while stop holding the feed's
        watermark back, so a device that went silent at the end of a burst still goes
        offline when nothing else arrives."""
        if self.tracker is None:
            return []  # this worker does not own the feed (or has not seen it yet)
        async with self._lock:
            return await self._guarded(self._handle, Observations(self.feed))

    async def _guarded(
        self, fn: Callable[[Observations], Awaitable[list[Transition]]], obs: Observations
    ) -> list[Transition]:
        try:
            return await fn(obs)
        except psycopg.OperationalError:
            # The database went away: rebuild from it once it is back, and let the
            # caller retry this batch (not acknowledged yet).
            self.reset()
            if self._conn is not None:
                await self._conn.close()
            raise

    def _watermark(self, obs: Observations, *, fresh: bool) -> datetime | None:
        """The feed's event-time clock: the slowest source that is still active."""
        now_wall = self._wall()
        idle = self.settings.liveness_idle_source_seconds
        if obs.marks and self._marks and all(now_wall - w > idle for _, w in self._marks.values()):
            # Every source went quiet at once: the pause was ours (a database outage, a
            # stall), not the sources'. They all count again, so the first partition to
            # deliver its backlog cannot carry the watermark past the others' pending events.
            self._marks = {tp: (m, now_wall) for tp, (m, _) in self._marks.items()}
        for tp, mark in obs.marks.items():
            prev = self._marks.get(tp)
            self._marks[tp] = (mark if prev is None or mark > prev[0] else prev[0], now_wall)
        if fresh and len(self._marks) < self.settings.topic_partitions and now_wall - self._since <= idle:
            # A feed's first start (no stored watermark): not every partition of its topic
            # has delivered yet, and the silent ones may hold events older than what the
            # others brought. Deadlines wait (at most the idle-source limit), so a
            # partition that merely starts later cannot make its assets look offline.
            return None
        active = [m for m, w in self._marks.values() if now_wall - w <= idle]
        if active:
            return min(active)
        # Every source idle: the feed is quiet, all of it is known up to its latest mark.
        return max((m for m, _ in self._marks.values()), default=None)

    def _silent_for(self) -> float:
        if not self._marks:
            return 0.0
        return self._wall() - max(w for _, w in self._marks.values())

    def _advance(self, tracker: LivenessTracker, target: datetime) -> list[Transition]:
        # In steps shorter than the gap threshold: a batch that spans hours of event time
        # (a replay, a fast simulation) is data throughout, not an ingestion gap.
        out: list[Transition] = []
        step = timedelta(seconds=self.settings.ingestion_gap_seconds / 2)
        current = tracker.watermark
        while current is not None and target - current > step:
            current += step
            out += tracker.advance(current)
        return out + tracker.advance(target)

    async def _handle(self, obs: Observations) -> list[Transition]:
        conn = await self._connection()
        tracker = await self._tracker(conn)
        # The latest event time seen from any source; after a restart, the stored watermark.
        latest_seen = max((m for m, _ in self._marks.values()), default=tracker.watermark)
        watermark = self._watermark(obs, fresh=tracker.watermark is None)
        transitions: list[Transition] = []
        start = min((first for runs in obs.runs.values() for first, _, _ in runs), default=None)
        previous = tracker.watermark
        if (latest_seen is not None and start is not None
                and (start - latest_seen).total_seconds() > self.settings.ingestion_gap_seconds):
            # Nothing from any source of the feed between the latest event seen anywhere
            # and the first event of this batch: the platform's gap (partitions that are
            # merely behind one another are not). Data reached up to latest_seen; then
            # one jump over the silence, which the tracker settles as a gap, so assets
            # come back from "unknown" rather than from a false "offline".
            transitions += self._advance(tracker, latest_seen)
            transitions += tracker.advance(start)
        for asset_id, runs in sorted(obs.runs.items()):
            for first, last, level in runs:
                transitions += tracker.observe_run(asset_id, first, last, level)
        if watermark is not None:
            transitions += self._advance(tracker, watermark)
        if (not obs.marks and watermark is not None
                and self._silent_for() > self.settings.ingestion_gap_seconds):
            # Processing time: the whole feed has sent nothing for longer than the gap
            # threshold. The platform has no data; say "unknown" rather than let assets
            # look online (or, once data resumes, offline) for the silence.
            transitions += tracker.stall(watermark)
        transitions.sort(key=lambda t: (t.at, t.asset_id))
        if transitions or tracker.watermark != previous:
            await self._persist(conn, transitions, tracker.watermark)
        if transitions:
            await self._publish(transitions)
            for t in transitions:
                metrics.STATE_CHANGES.labels(self.feed, t.state.value).inc()
        return transitions

    async def _tracker(self, conn: psycopg.AsyncConnection[Any]) -> LivenessTracker:
        now_wall = self._wall()
        if self.tracker is not None and now_wall - self._registry_checked < REGISTRY_REFRESH_SECONDS:
            return self.tracker
        self._registry_checked = now_wall
        kinds = [k for k, f in LIVENESS_FEED.items() if f == self.feed]
        cur = await conn.execute(
            "SELECT count(*), max(updated_at) FROM assets WHERE kind = ANY(%s)", (kinds,)
        )
        version = await cur.fetchone()
        if self.tracker is not None and version == self._registry_version:
            await conn.commit()
            return self.tracker
        fresh = self.tracker is None
        tracker = self.tracker or LivenessTracker(
            self.feed,
            tolerance=self.settings.liveness_tolerance,
            gap_seconds=self.settings.ingestion_gap_seconds,
        )
        cur = await conn.execute(
            "SELECT a.asset_id, a.expected_interval_s, a.registered_at, a.retired_at,"
            " s.state, s.since"
            " FROM assets a LEFT JOIN asset_state s USING (asset_id)"
            " WHERE a.kind = ANY(%s) AND a.expected_interval_s IS NOT NULL",
            (kinds,),
        )
        rows = await cur.fetchall()
        watermark: datetime | None = None
        last_seen: dict[str, datetime] = {}
        if fresh:
            cur = await conn.execute(
                "SELECT watermark FROM feed_watermarks WHERE feed = %s", (self.feed,)
            )
            row = await cur.fetchone()
            watermark = row[0] if row else None
            if watermark is not None and rows:
                widest = max(float(r[1]) for r in rows) * self.settings.liveness_tolerance
                last_seen = await self._recent_heartbeats(conn, watermark, widest)
        for asset_id, interval, registered, retired, state, since in rows:
            current = (
                AssetLiveness(State(state), since, last_seen.get(asset_id))
                if fresh and state is not None else None
            )
            tracker.register(TrackedAsset(asset_id, float(interval), registered, retired), current)
        if watermark is not None:
            tracker.restore_watermark(watermark)
        await conn.commit()
        self.tracker = tracker
        self._registry_version = version
        return tracker

    async def _recent_heartbeats(
        self, conn: psycopg.AsyncConnection[Any], watermark: datetime, widest_s: float
    ) -> dict[str, datetime]:
        """Each asset's last "up" event within one window before the watermark.

        Read from the stored events (committed before their observations were
        published), so the monitor keeps no per-heartbeat state of its own in the
        database; bounded by the time-leading identity index.
        """
        table, up = FEED_UP_SQL[self.feed]
        cur = await conn.execute(
            sql.SQL(
                "SELECT asset_id, max(occurred_at) FROM {} WHERE occurred_at > %s"
                " AND occurred_at <= %s AND {} GROUP BY asset_id"
            ).format(sql.Identifier(table), sql.SQL(up)),
            (watermark - timedelta(seconds=widest_s), watermark),
        )
        return {a: t for a, t in await cur.fetchall()}

    async def _persist(
        self,
        conn: psycopg.AsyncConnection[Any],
        transitions: Sequence[Transition],
        watermark: datetime | None,
    ) -> None:
        async with conn.transaction(), conn.cursor() as cur:
            if transitions:
                # Set-based: a district outage is hundreds of transitions in one batch.
                # Several transitions of one asset in a batch are applied in order, so
                # the intervals are written one "round" (n-th transition per asset) at a time.
                for round_ in _rounds(transitions):
                    params = (
                        [t.asset_id for t in round_], [t.state.value for t in round_],
                        [t.at for t in round_], [t.reason for t in round_],
                    )
                    await cur.execute(
                        "UPDATE state_intervals s SET ended_at = v.at"
                        " FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::text[])"
                        " AS v(asset_id, state, at, reason)"
                        " WHERE s.asset_id = v.asset_id AND s.ended_at IS NULL AND s.started_at <= v.at",
                        params,
                    )
                    await cur.execute(
                        "INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
                        " SELECT asset_id, state, at, NULL, reason FROM unnest(%s::text[], %s::text[],"
                        " %s::timestamptz[], %s::text[]) AS v(asset_id, state, at, reason)"
                        " ON CONFLICT (asset_id, started_at) DO UPDATE"
                        " SET state = excluded.state, reason = excluded.reason, ended_at = NULL",
                        params,
                    )
                    await cur.execute(
                        "INSERT INTO asset_state (asset_id, feed, state, since, updated_at)"
                        " SELECT asset_id, %s, state, at, now() FROM unnest(%s::text[], %s::text[],"
                        " %s::timestamptz[]) AS v(asset_id, state, at)"
                        " ON CONFLICT (asset_id) DO UPDATE SET state = excluded.state,"
                        " since = excluded.since, feed = excluded.feed, updated_at = now()"
                        " WHERE asset_state.since <= excluded.since",
                        (self.feed, *params[:3]),
                    )
            if watermark is not None:
                await cur.execute(
                    "INSERT INTO feed_watermarks (feed, watermark, updated_at)"
                    " VALUES (%s, %s, now()) ON CONFLICT (feed) DO UPDATE"
                    " SET watermark = greatest(feed_watermarks.watermark, excluded.watermark),"
                    " updated_at = now()",
                    (self.feed, watermark),
                )


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


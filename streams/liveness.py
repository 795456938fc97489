"""Liveness: heartbeat and probe observations → each asset's state over time.

Pure domain code: no I/O and no clock of its own; every instant is an aware datetime
passed in (event time), naive ones raise ValueError. *window* = interval_s × tolerance.

What an event does to an asset's state is data: ``TRANSITIONS`` maps (state, event) to
the next state, None standing for "no state yet" (registered, never reported). The
tracker decides which event happened (a report, a lapsed deadline, a deadline inside
an ingestion gap, a stall) and asks the table where it leads (``next_state``); a pair
the table lacks raises IllegalLivenessTransition. Moving to the state one is already
in is no transition (nothing is emitted). Retirement is not an event of the table:
the asset leaves the tracker.

* One tracker per *feed* (the family whose events prove liveness: "iot", "video",
  "probe"), copied onto every Transition. The *watermark* is the feed's event-time
  clock and only moves forward: advance() with an older ``now`` does nothing.
* observe(level): unregistered assets, events before registered_at or at/after
  retired_at are ignored. ONLINE → ONLINE at ``at``; DEGRADED (up, but unhealthy: a
  camera with picture faults) → DEGRADED at ``at``; DOWN → OFFLINE at ``at`` until an
  up. ONLINE and DEGRADED are both "up": either one moves last_seen and the deadline,
  and a change between them is a transition like any other. An event older than the
  asset's latest accepted one is late: no transition, and last_seen never moves back.
  Deadlines that lapsed before ``at`` are applied first (OFFLINE at the deadline), so
  an outage is recorded even when its end is observed before the advance. An event far
  ahead of the watermark is not a gap by itself (with several source partitions the
  watermark is the slowest one): a caller that knows the whole feed was silent calls
  advance() first. Intended use: observe a batch, then advance() to its watermark.
* advance(now), transitions sorted by (at, asset_id):
  - ONLINE or DEGRADED and last_seen + window <= now → OFFLINE at that deadline, not
    at now.
  - Never seen, nothing restored: its start is max(registered_at, watermark when first
    tracked: first advance, or registration once a watermark exists, or register's
    ``start``). A report within one window of the start is its first state (previous
    None): no unknown stretch. Silent for the whole window: UNKNOWN (previous=None) from
    the start and OFFLINE at start + window, both emitted once that deadline has passed
    (or only the UNKNOWN when it falls in a gap). register() never emits, and state_of()
    is None until the first state.
  - Ingestion gap (now - previous watermark > gap_seconds): the platform's fault, not
    the devices'. ONLINE/DEGRADED deadlines in (previous, now] → UNKNOWN at the deadline;
    UNKNOWN deadlines there do not expire. OFFLINE stays OFFLINE.
  - Resume (the watermark moves forward after a gap or a stall): assets UNKNOWN for
    lack of data get a grace deadline now + window, then go OFFLINE if still silent.
  - retired_at <= now: the asset is dropped after its earlier transitions; retirement
    itself emits nothing.
* stall(at): the processing-time watchdog saw nothing for too long; ONLINE, DEGRADED
  and OFFLINE assets → UNKNOWN at ``at``. Calling it again emits nothing.
* restore_watermark() + register(asset, current) restore state after a restart without
  emitting; a restored UNKNOWN waits for the resume, and a long downtime shows up as a
  gap at the next advance.
* No transition starts before the state it ends (an out-of-order event takes effect at
  that state's start), so stored intervals never overlap; zero-length ones may occur.

Heartbeats are O(1): one that repeats the current level only moves the recorded
deadline out. advance() pops a heap of deadlines with lazy invalidation, so a batch
with nothing due costs O(1). Reasons name the change: "reported", "reported down",
"recovered" (DEGRADED → ONLINE) and, into DEGRADED, "picture fault" on the video feed
("reported degraded" on others).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter

import orjson

from citybrain.kernel.errors import CitybrainError
from schemas.events import LivenessLevel

_RETIRE, _DUE = 0, 1  # at equal instants retirement wins: nothing happens at retired_at
_ORDER = attrgetter("at", "asset_id")
_Context = tuple[datetime, datetime | None, datetime | None]  # now, gap_from, quiet_from


class State(StrEnum):
    """An asset's liveness state, as stored in state_intervals and asset_state. Planned
    maintenance is not a state: it comes from maintenance windows."""

    ONLINE = "online"
    DEGRADED = "degraded"  # reports (up) but says it is unhealthy
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # the platform had no data


class Event(StrEnum):
    """What happens to an asset, as the tracker sees it."""

    REPORTED_UP = "reported up"  # a heartbeat, a camera online and intact, a probe ok
    REPORTED_DEGRADED = "reported degraded"  # up but unhealthy: a camera's picture faults
    REPORTED_DOWN = "reported down"  # a camera online=false, a failed probe
    FIRST_WINDOW_LAPSED = "first window lapsed"  # never reported within a window of its start
    DEADLINE_PASSED = "deadline passed"  # silent for a window (UNKNOWN: from its start or resume)
    # The deadline fell where the platform had no data: inside an ingestion gap of the whole
    # feed (for an UNKNOWN asset, also after a stall the feed has not yet resumed from).
    INGESTION_GAP = "ingestion gap"
    STALL = "stall"  # the processing-time watchdog saw nothing for too long


# (state, event) → next state; None: no state yet. A pair not listed cannot happen (an
# OFFLINE asset has no deadline; only a never-seen asset has a first window) and raises.
TRANSITIONS: Mapping[tuple[State | None, Event], State | None] = {
    # A report names the state, from any state; repeating the current one only moves
    # the deadline out.
    (None, Event.REPORTED_UP): State.ONLINE,
    (State.ONLINE, Event.REPORTED_UP): State.ONLINE,
    (State.DEGRADED, Event.REPORTED_UP): State.ONLINE,  # reason "recovered"
    (State.OFFLINE, Event.REPORTED_UP): State.ONLINE,
    (State.UNKNOWN, Event.REPORTED_UP): State.ONLINE,
    (None, Event.REPORTED_DEGRADED): State.DEGRADED,
    (State.ONLINE, Event.REPORTED_DEGRADED): State.DEGRADED,
    (State.DEGRADED, Event.REPORTED_DEGRADED): State.DEGRADED,
    (State.OFFLINE, Event.REPORTED_DEGRADED): State.DEGRADED,
    (State.UNKNOWN, Event.REPORTED_DEGRADED): State.DEGRADED,
    (None, Event.REPORTED_DOWN): State.OFFLINE,
    (State.ONLINE, Event.REPORTED_DOWN): State.OFFLINE,
    (State.DEGRADED, Event.REPORTED_DOWN): State.OFFLINE,
    (State.OFFLINE, Event.REPORTED_DOWN): State.OFFLINE,
    (State.UNKNOWN, Event.REPORTED_DOWN): State.OFFLINE,
    # Silent for its whole first window: unknown from its start (then as any UNKNOWN).
    (None, Event.FIRST_WINDOW_LAPSED): State.UNKNOWN,
    # Silent past the deadline: offline from the deadline.
    (State.ONLINE, Event.DEADLINE_PASSED): State.OFFLINE,
    (State.DEGRADED, Event.DEADLINE_PASSED): State.OFFLINE,
    (State.UNKNOWN, Event.DEADLINE_PASSED): State.OFFLINE,
    # The platform's fault, not the asset's: unknown, and a grace window after the resume.
    (State.ONLINE, Event.INGESTION_GAP): State.UNKNOWN,
    (State.DEGRADED, Event.INGESTION_GAP): State.UNKNOWN,
    (State.UNKNOWN, Event.INGESTION_GAP): State.UNKNOWN,
    # The watchdog: nothing is known any more (a never-seen asset keeps its first window).
    (None, Event.STALL): None,
    (State.ONLINE, Event.STALL): State.UNKNOWN,
    (State.DEGRADED, Event.STALL): State.UNKNOWN,
    (State.OFFLINE, Event.STALL): State.UNKNOWN,
    (State.UNKNOWN, Event.STALL): State.UNKNOWN,
}


class IllegalLivenessTransition(CitybrainError):
    """An event the transition table has no row for, from the asset's state: a bug."""

    def __init__(self, state: State | None, event: Event) -> None:
        self.state = state
        self.event = event
        allowed = sorted(str(e) for s, e in TRANSITIONS if s is state)
        name = "no state yet" if state is None else state.value
        super().__init__(f"liveness: no transition from {name} on {event.value!r}; the table"
                         f" (streams.liveness.TRANSITIONS) allows from {name}: {', '.join(allowed)}")


def next_state(state: State | None, event: Event) -> State | None:
    """The state ``event`` leads to from ``state``, from the table; raises
    IllegalLivenessTransition for a pair the table lacks."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise IllegalLivenessTransition(state, event) from None


# The report an observed level is, indexed by the level's value. Module constants: an enum
# member read through its class costs more than a global (per run, per batch).
_REPORT = (Event.REPORTED_DOWN, Event.REPORTED_UP, Event.REPORTED_DEGRADED)
_DOWN = Event.REPORTED_DOWN
_UP = frozenset((State.ONLINE, State.DEGRADED))  # states with a deadline from last_seen
# States with a deadline: those the table says what happens to when it passes.
_TIMED = frozenset(s for s, e in TRANSITIONS if e in (Event.DEADLINE_PASSED, Event.FIRST_WINDOW_LAPSED))
# Why an asset became DEGRADED, per feed: the reason travels with the transition to
# alerting, which opens an incident from it. For cameras, DEGRADED means picture faults
# or an undecodable stream.
_DEGRADED_REASON = {"video": "picture fault"}
RECOVERED = "recovered"  # DEGRADED → ONLINE


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True)
class TrackedAsset:
    asset_id: str
    interval_s: float
    registered_at: datetime
    retired_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.interval_s > 0:
            raise ValueError(f"{self.asset_id}: interval_s must be > 0, got {self.interval_s}")
        _aware(self.registered_at, "registered_at")
        if self.retired_at is not None:
            _aware(self.retired_at, "retired_at")
            if self.retired_at < self.registered_at:
                raise ValueError(f"{self.asset_id}: retired_at is before registered_at")


@dataclass(frozen=True)
class AssetLiveness:
    state: State
    since: datetime
    last_seen: datetime | None

    def __post_init__(self) -> None:
        _aware(self.since, "since")
        if self.last_seen is not None:
            _aware(self.last_seen, "last_seen")


@dataclass(frozen=True)
class Transition:
    asset_id: str
    feed: str
    state: State
    previous: State | None
    at: datetime
    reason: str


@dataclass(slots=True)
class _Slot:
    asset: TrackedAsset
    state: State | None = None  # None: no first state emitted yet
    since: datetime | None = None
    last_seen: datetime | None = None
    last_event: datetime | None = None  # latest accepted observation, up or down
    anchor: datetime | None = None  # what the pending deadline counts from
    due: datetime | None = None  # the pending deadline; a heap entry at or before it exists
    seq: int = 0  # identifies this slot's live heap entry


class LivenessTracker:
    def __init__(self, feed: str, *, tolerance: float, gap_seconds: float,
                 infer_gaps: bool = True) -> None:
        if not tolerance > 0 or not gap_seconds > 0:
            raise ValueError("tolerance and gap_seconds must be > 0")
        self._feed = feed
        # infer_gaps: an advance() longer than gap_seconds is a gap. The derivation
        # (streams/derivation.py) knows the feed's silences from the stored events and
        # says so explicitly (advance(gap=...)), so where it stops between two calls
        # never decides a gap.
        self._infer_gaps = infer_gaps
        self._tolerance = tolerance
        self._gap_s = gap_seconds
        self._assets: dict[str, _Slot] = {}
        self._heap: list[tuple[datetime, int, int, str]] = []
        self._seq = 0
        self._watermark: datetime | None = None
        self._stalled_at: datetime | None = None
        self._awaiting: set[str] = set()  # UNKNOWN for lack of data: grace from the resume
        self._windows: dict[float, timedelta] = {}
        self._degraded_reason = _DEGRADED_REASON.get(feed, "reported degraded")

    @property
    def watermark(self) -> datetime | None:
        return self._watermark

    def tracked(self) -> int:
        return len(self._assets)

    def state_of(self, asset_id: str) -> AssetLiveness | None:
        slot = self._assets.get(asset_id)
        if slot is None or slot.state is None or slot.since is None:
            return None
        return AssetLiveness(slot.state, slot.since, slot.last_seen)

    def register(self, asset: TrackedAsset, current: AssetLiveness | None = None, *,
                 start: datetime | None = None) -> None:
        """Track ``asset``. ``start``: where a never-seen asset's first deadline counts from
        (the derivation passes the feed's first event, so that it does not depend on when
        the registry was read); default: the watermark, or the first one."""
        aid, wm = asset.asset_id, self._watermark
        if asset.retired_at is not None and wm is not None and asset.retired_at <= wm:
            self.forget(aid)
            return
        slot = self._assets.get(aid)
        old_retired = slot.asset.retired_at if slot is not None else None
        if slot is None or current is not None:
            slot = self._assets[aid] = _Slot(asset)
            self._awaiting.discard(aid)
        slot.asset = asset
        if current is not None:
            slot.state, slot.since = current.state, current.since
            slot.last_seen = slot.last_event = current.last_seen
            if current.state in _UP:
                slot.anchor = current.last_seen or current.since
            elif current.state is State.UNKNOWN:
                self._suspend(slot)  # a restart is a platform outage too
        elif slot.state is None and slot.anchor is None:
            slot.anchor = start if start is not None else wm  # else the first watermark
        self._rearm(slot)
        if asset.retired_at is not None and asset.retired_at != old_retired:
            self._push(asset.retired_at, _RETIRE, aid)

    def forget(self, asset_id: str) -> None:
        self._assets.pop(asset_id, None)
        self._awaiting.discard(asset_id)

    def restore_watermark(self, watermark: datetime) -> None:
        _aware(watermark, "watermark")
        if self._watermark is None or watermark > self._watermark:
            self._set_watermark(watermark)

    def observe(self, asset_id: str, at: datetime, level: LivenessLevel) -> list[Transition]:
        _aware(at, "at")
        slot = self._assets.get(asset_id)
        if slot is None:
            return []
        asset = slot.asset
        if at < asset.registered_at or (asset.retired_at is not None and at >= asset.retired_at):
            return []
        late = slot.last_event is not None and at < slot.last_event
        event = _REPORT[level]
        up = event is not _DOWN
        if up and (slot.last_seen is None or at > slot.last_seen):
            slot.last_seen = at
        if late:
            return []
        slot.last_event = at
        if up and slot.due is not None and at <= slot.due and next_state(slot.state, event) is slot.state:
            # The common case, a heartbeat that repeats the level of an asset that is up
            # and not yet due: only the deadline moves (the heap entry fires first and
            # re-pushes).
            slot.anchor = slot.last_seen
            due = self._deadline(slot)
            if due is not None and due >= slot.due:
                slot.due = due
            else:
                self._rearm(slot)
            return []
        out = self._catch_up(slot, at)
        out += self._step(slot, event, at)
        self._awaiting.discard(asset_id)
        slot.anchor = slot.last_seen if up else None
        self._rearm(slot)
        return out

    def observe_run(
        self, asset_id: str, first: datetime, last: datetime, level: LivenessLevel
    ) -> list[Transition]:
        """A run of same-level observations from ``first`` to ``last`` with no silence
        inside longer than the caller's split threshold, which must not exceed any
        asset's window (interval × tolerance): no deadline can lapse inside the run, so
        it counts as continuous reporting, not as two reports ``last - first`` apart.
        """
        out = self.observe(asset_id, first, level)
        if last <= first:
            return out
        slot = self._assets.get(asset_id)
        event = _REPORT[level]
        if (event is not _DOWN and slot is not None and slot.due is not None
                and slot.last_event == first and slot.last_seen is not None
                and next_state(slot.state, event) is slot.state):
            asset = slot.asset
            if asset.retired_at is not None and last >= asset.retired_at:
                return out + self.observe(asset_id, last, level)
            slot.last_seen = slot.last_event = last
            slot.anchor = last
            self._rearm(slot)
            return out
        return out + self.observe(asset_id, last, level)

    def advance(self, now: datetime, *, gap: bool | None = None) -> list[Transition]:
        """Move the watermark to ``now``. ``gap``: whether (watermark, now] is a silence of
        the whole feed (an ingestion gap); None infers it from the distance (> gap_seconds),
        which requires infer_gaps."""
        _aware(now, "now")
        prev = self._watermark
        if prev is not None and now < prev:
            return []
        if gap is None and not self._infer_gaps:
            raise ValueError("this tracker is told where gaps are: pass gap=True or gap=False")
        ctx = self._context(now, gap)
        self._set_watermark(now)
        out: list[Transition] = []
        while self._heap and self._heap[0][0] <= now:
            when, kind, seq, aid = heapq.heappop(self._heap)
            slot = self._assets.get(aid)
            if slot is None:
                continue
            if kind == _RETIRE:
                if slot.asset.retired_at == when:
                    self.forget(aid)
                continue
            if slot.seq != seq or slot.due is None:
                continue
            if slot.due > when:  # heartbeats moved the deadline out without touching the heap
                heapq.heappush(self._heap, (slot.due, _DUE, seq, aid))
                continue
            slot.due = None
            out.extend(self._expire(slot, when, ctx))
        if prev is None or now > prev:  # the feed resumed: grace counts from here
            for aid in self._awaiting:
                slot = self._assets[aid]
                slot.anchor = now
                self._rearm(slot)
            self._awaiting.clear()
            self._stalled_at = None
        out.sort(key=_ORDER)
        return out

    def stall(self, at: datetime) -> list[Transition]:
        _aware(at, "at")
        out: list[Transition] = []
        for aid, slot in self._assets.items():
            retired = slot.asset.retired_at
            if retired is not None and retired <= at:
                continue
            before = slot.state
            moved = self._step(slot, Event.STALL, at, "no data from the platform")
            if before is None or (not moved and aid in self._awaiting):
                continue  # a first window keeps running; already waiting for the resume
            out += moved
            self._suspend(slot)
        if self._stalled_at is None:
            self._stalled_at = at
        out.sort(key=_ORDER)
        return out

    def snapshot(self) -> bytes:
        """The whole state, exactly (restore() continues as if never stopped): what a
        checkpoint of the derivation stores. Instants as RFC 3339 text (orjson writes
        them in C: a checkpoint of 100,000 assets costs little next to folding them)."""
        slots = [
            [aid, s.asset.interval_s, s.asset.registered_at, s.asset.retired_at,
             None if s.state is None else s.state.value, s.since, s.last_seen,
             s.last_event, s.anchor, aid in self._awaiting]
            for aid, s in self._assets.items()
        ]
        doc = {"feed": self._feed, "watermark": self._watermark,
               "stalled_at": self._stalled_at, "slots": slots}
        return zlib.compress(orjson.dumps(doc), 1)

    def restore(self, raw: bytes) -> None:
        """Replace this tracker's state by a snapshot() of a tracker of the same feed."""
        doc = orjson.loads(zlib.decompress(raw))
        if doc["feed"] != self._feed:
            raise ValueError(f"snapshot of feed {doc['feed']!r}, not {self._feed!r}")
        self._assets.clear()
        self._heap.clear()
        self._awaiting.clear()
        self._watermark = _dt(doc["watermark"])
        self._stalled_at = _dt(doc["stalled_at"])
        for aid, interval, reg, ret, state, since, seen, event, anchor, awaiting in doc["slots"]:
            asset = TrackedAsset(aid, float(interval), datetime.fromisoformat(reg), _dt(ret))
            slot = self._assets[aid] = _Slot(asset, None if state is None else State(state),
                                             _dt(since), _dt(seen), _dt(event), _dt(anchor))
            if awaiting:
                self._awaiting.add(aid)
            self._rearm(slot)
            if asset.retired_at is not None:
                self._push(asset.retired_at, _RETIRE, aid)

    def assets(self) -> dict[str, TrackedAsset]:
        return {aid: s.asset for aid, s in self._assets.items()}

    def _step(self, slot: _Slot, event: Event, at: datetime, reason: str | None = None) -> list[Transition]:
        """Apply ``event`` as the table says: the transition, or [] when the asset stays in
        its state. ``reason``: default, the report's (see _reason)."""
        target = next_state(slot.state, event)
        if target is slot.state or target is None:
            return []
        return [self._move(slot, target, at, self._reason(slot.state, target) if reason is None else reason)]

    def _reason(self, current: State | None, target: State) -> str:
        if target is State.OFFLINE:
            return "reported down"
        if target is State.DEGRADED:
            return self._degraded_reason
        return RECOVERED if current is State.DEGRADED else "reported"

    def _set_watermark(self, watermark: datetime) -> None:
        if self._watermark is None:  # the first time the tracker knows about time
            for slot in self._assets.values():
                if slot.state is None and slot.anchor is None:
                    slot.anchor = watermark
                    self._rearm(slot)
        self._watermark = watermark

    def _context(self, now: datetime, gap: bool | None = None) -> _Context:
        # ONLINE/DEGRADED deadlines after gap_from fell in the platform's gap; UNKNOWN deadlines
        # after quiet_from (a gap or a stall) wait for the resume instead of expiring.
        prev = self._watermark
        if gap is None:
            gap = prev is not None and self._infer_gaps and (now - prev).total_seconds() > self._gap_s
        gap_from = prev if gap and prev is not None else None
        if self._stalled_at is not None:
            return now, gap_from, prev if prev is not None else self._stalled_at
        return now, gap_from, gap_from

    def _catch_up(self, slot: _Slot, at: datetime) -> list[Transition]:
        # Strictly before `at`: a heartbeat landing exactly on its deadline keeps the
        # asset online rather than producing a zero-length OFFLINE on every beat.
        # An event far ahead of the watermark is not by itself a gap: with several
        # source partitions the watermark is the slowest one, and a faster partition's
        # events are routinely ahead of it. Gaps are established by advance() only.
        now, _, quiet_from = self._context(at)
        ctx: _Context = (now, None, quiet_from if self._stalled_at is not None else None)
        out: list[Transition] = []
        while (due := self._deadline(slot)) is not None and due < at:
            slot.due = None
            out.extend(self._expire(slot, due, ctx))
        return out

    def _expire(self, slot: _Slot, due: datetime, ctx: _Context) -> list[Transition]:
        now, gap_from, quiet_from = ctx
        if slot.state is None:
            # A whole window from its start without a report: unknown from the start (the
            # platform cannot tell), then as any unknown asset whose window has lapsed. An
            # asset that reports within its first window gets no unknown interval at all
            # (time before its first report has no interval, which reads as unknown).
            start = due - self._window(slot)
            out = self._step(slot, Event.FIRST_WINDOW_LAPSED, start, "registered, no report yet")
            slot.anchor = start
            return out + self._expire(slot, due, ctx)
        up = slot.state in _UP
        # Where the platform's silence began, as far as this state is concerned: an up
        # asset's deadline in a gap; an unknown one's in a gap or after a stall.
        silent_from = gap_from if up else quiet_from
        if silent_from is not None and due > silent_from:
            silent = (now - silent_from).total_seconds()
            reason = f"ingestion gap: no {self._feed} events for {silent:g}s after {silent_from}"
            out = self._step(slot, Event.INGESTION_GAP, due, reason)
            self._suspend(slot)
            return out
        since = "" if up else f" of {slot.anchor}"
        reason = (
            f"no heartbeat within {self._window(slot).total_seconds():g}s{since}"
            f" (interval {slot.asset.interval_s:g}s × {self._tolerance:g})"
        )
        out = self._step(slot, Event.DEADLINE_PASSED, due, reason)
        slot.anchor = None
        self._rearm(slot)
        return out

    def _move(self, slot: _Slot, state: State, at: datetime, reason: str) -> Transition:
        if slot.since is not None and at < slot.since:
            at = slot.since
        t = Transition(slot.asset.asset_id, self._feed, state, slot.state, at, reason)
        slot.state, slot.since = state, at
        return t

    def _suspend(self, slot: _Slot) -> None:
        slot.anchor = slot.due = None
        self._awaiting.add(slot.asset.asset_id)

    def _window(self, slot: _Slot) -> timedelta:
        interval = slot.asset.interval_s
        window = self._windows.get(interval)
        if window is None:
            window = self._windows[interval] = timedelta(seconds=interval * self._tolerance)
        return window

    def _deadline(self, slot: _Slot) -> datetime | None:
        if slot.anchor is None or slot.state not in _TIMED:
            return None
        if slot.state is None:  # not started: one window after its start
            return max(slot.asset.registered_at, slot.anchor) + self._window(slot)
        return slot.anchor + self._window(slot)

    def _rearm(self, slot: _Slot) -> None:
        due = self._deadline(slot)
        if due is None:
            slot.due = None
        elif slot.due is not None and due >= slot.due:
            slot.due = due  # the existing heap entry fires first and re-pushes
        else:
            slot.due = due
            slot.seq = self._push(due, _DUE, slot.asset.asset_id)

    def _push(self, when: datetime, kind: int, asset_id: str) -> int:
        self._seq += 1
        heapq.heappush(self._heap, (when, kind, self._seq, asset_id))
        return self._seq



def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)

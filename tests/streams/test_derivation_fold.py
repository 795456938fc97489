"""The fold (streams/derivation.py): the same events give the same transitions, however
they are cut into runs and into calls. Pure: explicit clocks, no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from schemas.events import LivenessLevel
from streams.derivation import Run, fold
from streams.liveness import LivenessTracker, State, TrackedAsset, Transition

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GAP = timedelta(seconds=300)
SPLIT = timedelta(seconds=15)
UP, DOWN, DEGRADED = LivenessLevel.ONLINE, LivenessLevel.DOWN, LivenessLevel.DEGRADED


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tracker(assets: dict[str, float], registered: datetime = T0 - timedelta(days=1)) -> LivenessTracker:
    tr = LivenessTracker("video", tolerance=2.5, gap_seconds=GAP.total_seconds(), infer_gaps=False)
    for aid, interval in assets.items():
        tr.register(TrackedAsset(aid, interval, registered))
    return tr


def runs_of(events: list[tuple[str, datetime, LivenessLevel]], split: timedelta = SPLIT) -> list[Run]:
    """What the SQL compaction returns: per asset, same-level events with no silence
    over ``split`` in one run; sorted by first instant, then asset."""
    out: list[Run] = []
    by_asset: dict[str, list[tuple[datetime, LivenessLevel]]] = {}
    for aid, at, level in sorted(events, key=lambda e: (e[0], e[1], e[2] == DOWN, -e[2])):
        by_asset.setdefault(aid, []).append((at, level))
    for aid, seq in by_asset.items():
        first, last, lvl = seq[0][0], seq[0][0], seq[0][1]
        for at, level in seq[1:]:
            if level == lvl and at - last <= split:
                last = at
                continue
            out.append(Run(aid, first, last, lvl))
            first, last, lvl = at, at, level
        out.append(Run(aid, first, last, lvl))
    return sorted(out, key=lambda r: (r.first, r.asset_id))


def fold_in_pieces(assets: dict[str, float], events: list[tuple[str, datetime, LivenessLevel]],
                   cuts: list[datetime]) -> tuple[list[Transition], list[tuple[datetime, datetime]]]:
    """Fold ``events`` read in pieces (cursor, cut], as the deriver reads its chunks."""
    tr = tracker(assets)
    moves: list[Transition] = []
    gaps: list[tuple[datetime, datetime]] = []
    covered: datetime | None = None
    lo = datetime.min.replace(tzinfo=UTC)
    for hi in [*cuts, datetime.max.replace(tzinfo=UTC)]:
        piece = [e for e in events if lo < e[1] <= hi]
        done = fold(tr, runs_of(piece), covered, GAP)
        moves += done.transitions
        gaps += done.gaps
        covered = done.covered_to
        lo = hi
    return moves, gaps


def simple(moves: list[Transition]) -> list[tuple[str, str, datetime, str]]:
    return sorted(((m.asset_id, m.state.value, m.at, m.reason) for m in moves), key=lambda m: (m[2], m[0]))


def city_day(seed: int) -> tuple[dict[str, float], list[tuple[str, datetime, LivenessLevel]]]:
    """Twelve assets over three hours: heartbeats with jitter, a device that stops, one
    that flaps down, a camera with picture faults, and a feed-wide silence of 12 minutes."""
    rng = random.Random(seed)
    assets = {f"a{i}": rng.choice((20.0, 30.0, 60.0)) for i in range(12)}
    events: list[tuple[str, datetime, LivenessLevel]] = []
    silence = (t(3600), t(3600 + 720))
    for aid, interval in assets.items():
        at = rng.uniform(0, interval)
        stop = rng.uniform(5000, 10800) if aid in ("a3", "a7") else 10800
        while at < stop:
            if not silence[0] <= t(at) < silence[1]:
                level = UP
                if aid == "a5" and 2000 < at < 2300:
                    level = DOWN
                if aid == "a9" and 6000 < at < 6600:
                    level = DEGRADED
                events.append((aid, t(round(at, 3)), level))
            at += interval * rng.uniform(0.8, 1.3)
    return assets, events


def test_runs_and_calls_do_not_change_the_transitions() -> None:
    for seed in range(5):
        assets, events = city_day(seed)
        reference, ref_gaps = fold_in_pieces(assets, events, [])
        assert any(m.state is State.OFFLINE for m in reference)
        assert any(m.state is State.UNKNOWN and m.reason.startswith("ingestion gap") for m in reference)
        assert ref_gaps  # the 12-minute silence
        rng = random.Random(seed + 100)
        for pieces in (3, 17, 200):
            cuts = sorted(t(rng.uniform(0, 10800)) for _ in range(pieces))
            moves, gaps = fold_in_pieces(assets, events, cuts)
            assert simple(moves) == simple(reference), (seed, pieces)
            assert gaps == ref_gaps
        # One run per event (what a real-time feed delivers) gives the same, too.
        single = tracker(assets)
        done = fold(single, sorted((Run(a, at, at, lvl) for a, at, lvl in events),
                                   key=lambda r: (r.first, r.asset_id, r.level == DOWN, -r.level)), None, GAP)
        assert simple(done.transitions) == simple(reference)


def test_a_silence_inside_one_read_is_a_gap_not_an_outage() -> None:
    # Two devices beat every 30 s (window 75 s); the whole feed says nothing from 600 s to
    # 1200 s. Read in one piece, as a burst delivers it: the deadlines inside the silence
    # are the platform's gap (unknown), and the devices come back online when data resumes.
    assets = {"d1": 30.0, "d2": 30.0}
    events = [(a, t(s), UP) for a in assets for s in range(0, 601, 30)]
    events += [(a, t(s), UP) for a in assets for s in range(1200, 1501, 30)]
    moves, gaps = fold_in_pieces(assets, events, [])
    assert gaps == [(t(600), t(1200))]
    assert simple(moves) == [
        ("d1", "online", t(0), "reported"),
        ("d2", "online", t(0), "reported"),
        ("d1", "unknown", t(675), "ingestion gap: no video events for 600s after 2026-03-02 08:10:00+00:00"),
        ("d2", "unknown", t(675), "ingestion gap: no video events for 600s after 2026-03-02 08:10:00+00:00"),
        ("d1", "online", t(1200), "reported"),
        ("d2", "online", t(1200), "reported"),
    ]


def test_a_replay_without_silence_gives_the_outages_of_real_time() -> None:
    # d2 stops at 300 s while d1 goes on: read as one burst (a replay) or in 10 s pieces
    # (real time), d2 is offline from its deadline, 300 + 75 s, and there is no gap.
    assets = {"d1": 30.0, "d2": 30.0}
    events = [("d1", t(s), UP) for s in range(0, 1801, 30)] + [("d2", t(s), UP) for s in range(0, 301, 30)]
    burst, burst_gaps = fold_in_pieces(assets, events, [])
    live, live_gaps = fold_in_pieces(assets, events, [t(s) for s in range(10, 1800, 10)])
    expected = [
        ("d1", "online", t(0), "reported"),
        ("d2", "online", t(0), "reported"),
        ("d2", "offline", t(375), "no heartbeat within 75s (interval 30s × 2.5)"),
    ]
    assert simple(burst) == simple(live) == expected
    assert burst_gaps == live_gaps == []


def test_a_heartbeat_on_its_deadline_keeps_the_asset_up_whatever_the_cut() -> None:
    assets = {"d1": 30.0, "d2": 30.0}
    events = [("d1", t(0), UP), ("d1", t(75), UP)] + [("d2", t(s), UP) for s in range(0, 200, 10)]
    for cuts in ([], [t(75)], [t(74)], [t(10), t(75), t(76)]):
        moves, _ = fold_in_pieces(assets, events, cuts)
        d1 = [m for m in simple(moves) if m[0] == "d1"]
        assert d1 == [("d1", "online", t(0), "reported"),
                      ("d1", "offline", t(150), "no heartbeat within 75s (interval 30s × 2.5)")], cuts


def test_never_seen_assets_start_with_the_feed() -> None:
    # A device that never reports is unknown from the feed's first event (not from when
    # the registry was read), then offline one window later.
    assets = {"d1": 30.0, "silent": 30.0}
    events = [("d1", t(s), UP) for s in range(100, 400, 30)]
    moves, _ = fold_in_pieces(assets, events, [t(150)])
    silent = [m for m in simple(moves) if m[0] == "silent"]
    window = f"no heartbeat within 75s of {t(100)} (interval 30s × 2.5)"
    assert silent == [("silent", "unknown", t(100), "registered, no report yet"),
                      ("silent", "offline", t(175), window)]


def test_snapshot_restores_the_exact_state() -> None:
    assets, events = city_day(3)
    cut = t(5400)
    reference, _ = fold_in_pieces(assets, events, [])
    first = tracker(assets)
    done = fold(first, runs_of([e for e in events if e[1] <= cut]), None, GAP)
    second = tracker({})
    second.restore(first.snapshot())
    rest = fold(second, runs_of([e for e in events if e[1] > cut]), done.covered_to, GAP)
    assert simple(done.transitions + rest.transitions) == simple(reference)

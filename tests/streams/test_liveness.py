from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.events import LivenessLevel
from streams.liveness import (
    TRANSITIONS,
    AssetLiveness,
    Event,
    IllegalLivenessTransition,
    LivenessTracker,
    State,
    TrackedAsset,
    Transition,
    next_state,
)

UP, DEGRADED, DOWN = LivenessLevel.ONLINE, LivenessLevel.DEGRADED, LivenessLevel.DOWN
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
TIMEOUT = "no heartbeat within 150s (interval 60s × 2.5)"


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tracker(feed: str = "iot") -> LivenessTracker:
    # interval 60s × tolerance 2.5 → a 150s window; silence > 300s of event time is a gap.
    return LivenessTracker(feed, tolerance=2.5, gap_seconds=300)


def asset(
    asset_id: str = "a", registered: float = 0, retired: float | None = None, interval: float = 60
) -> TrackedAsset:
    return TrackedAsset(asset_id, interval, t(registered), None if retired is None else t(retired))


def brief(transitions: list[Transition]) -> list[tuple[str, State, State | None, datetime]]:
    return [(x.asset_id, x.state, x.previous, x.at) for x in transitions]


def test_report_within_the_first_window_is_the_first_state_without_unknown() -> None:
    tr = tracker()
    tr.register(asset("a"))
    tr.register(asset("b"))
    assert tr.advance(t(0)) == []  # tracking starts at 0: nothing until 0 + 150
    assert tr.state_of("a") is None
    up = tr.observe("a", t(10), level=UP)
    assert brief(up) == [("a", State.ONLINE, None, t(10))]  # no UNKNOWN interval before it
    assert up[0].feed == "iot"
    assert up[0].reason == "reported"
    assert tr.state_of("a") == AssetLiveness(State.ONLINE, t(10), t(10))
    # A report exactly at the end of the first window is still within it.
    assert brief(tr.observe("b", t(150), level=UP)) == [("b", State.ONLINE, None, t(150))]
    assert tr.advance(t(150)) == []


def test_never_reported_is_unknown_from_its_start_then_offline_one_window_later() -> None:
    tr = tracker()
    tr.register(asset())
    assert tr.advance(t(0)) == []
    assert tr.advance(t(149)) == []
    assert tr.state_of("a") is None
    # The first window lapses: both transitions at once, UNKNOWN from the start.
    gone = tr.advance(t(150))
    assert brief(gone) == [
        ("a", State.UNKNOWN, None, t(0)),
        ("a", State.OFFLINE, State.UNKNOWN, t(150)),
    ]
    assert gone[0].reason == "registered, no report yet"
    assert gone[1].reason == f"no heartbeat within 150s of {t(0)} (interval 60s × 2.5)"
    assert tr.state_of("a") == AssetLiveness(State.OFFLINE, t(150), None)
    assert tr.advance(t(400)) == []

    # A report after the first window, before any advance past it, catches up first.
    tr2 = tracker()
    tr2.register(asset())
    tr2.advance(t(0))
    assert brief(tr2.observe("a", t(200), level=UP)) == [
        ("a", State.UNKNOWN, None, t(0)),
        ("a", State.OFFLINE, State.UNKNOWN, t(150)),
        ("a", State.ONLINE, State.OFFLINE, t(200)),
    ]
    assert tr2.advance(t(200)) == []


def test_offline_exactly_at_deadline_not_at_now() -> None:
    tr = tracker()
    tr.register(asset())
    tr.advance(t(0))
    tr.observe("a", t(10), level=UP)
    assert tr.advance(t(159.999)) == []
    gone = tr.advance(t(400))  # late sweep, not a gap (< 300s after 159.999)
    assert brief(gone) == [("a", State.OFFLINE, State.ONLINE, t(160))]
    assert gone[0].reason == TIMEOUT
    assert tr.advance(t(500)) == []  # offline stays offline without new transitions

    tr2 = tracker()
    tr2.register(asset())
    tr2.advance(t(0))
    tr2.observe("a", t(10), level=UP)
    assert brief(tr2.advance(t(160))) == [("a", State.OFFLINE, State.ONLINE, t(160))]


def test_regular_heartbeats_stay_online() -> None:
    tr = tracker()
    tr.register(asset())
    tr.advance(t(0))
    tr.observe("a", t(0), level=UP)
    for beat in range(60, 3600, 60):
        assert tr.observe("a", t(beat), level=UP) == []
        assert tr.advance(t(beat)) == []
    assert tr.state_of("a") == AssetLiveness(State.ONLINE, t(0), t(3540))


def test_reported_down_stays_down_until_up() -> None:
    tr = tracker("video")
    tr.register(asset("cam"))
    tr.advance(t(0))
    tr.observe("cam", t(5), level=UP)
    down = tr.observe("cam", t(20), level=DOWN)
    assert brief(down) == [("cam", State.OFFLINE, State.ONLINE, t(20))]
    assert down[0].reason == "reported down"
    assert down[0].feed == "video"
    assert tr.observe("cam", t(80), level=DOWN) == []
    assert tr.advance(t(1000)) == []  # no deadline while down, not even through a gap
    assert tr.state_of("cam") == AssetLiveness(State.OFFLINE, t(20), t(5))
    back = tr.observe("cam", t(1010), level=UP)
    assert brief(back) == [("cam", State.ONLINE, State.OFFLINE, t(1010))]


def test_late_event_neither_transitions_nor_moves_last_seen_back() -> None:
    tr = tracker()
    tr.register(asset())
    tr.advance(t(0))
    tr.observe("a", t(100), level=UP)
    assert tr.observe("a", t(50), level=UP) == []
    assert tr.observe("a", t(60), level=DOWN) == []  # a stale "down" must not take it offline
    assert tr.state_of("a") == AssetLiveness(State.ONLINE, t(100), t(100))
    assert tr.advance(t(249)) == []  # deadline still counts from 100
    assert brief(tr.advance(t(250))) == [("a", State.OFFLINE, State.ONLINE, t(250))]


def test_late_up_after_newer_down_report_does_not_reopen() -> None:
    tr = tracker("probe")
    tr.register(asset("portal"))
    tr.advance(t(0))
    tr.observe("portal", t(100), level=UP)
    tr.observe("portal", t(130), level=DOWN)
    assert tr.observe("portal", t(120), level=UP) == []
    assert tr.state_of("portal") == AssetLiveness(State.OFFLINE, t(130), t(120))


def test_out_of_order_event_never_starts_before_current_state() -> None:
    tr = tracker()
    tr.register(asset())
    tr.advance(t(0))
    tr.observe("a", t(10), level=UP)
    tr.advance(t(200))  # offline at 160
    # A heartbeat from 155 arrives late but is newer than anything seen: it reopens the
    # asset, yet intervals must not overlap, so it takes effect when OFFLINE began.
    assert brief(tr.observe("a", t(155), level=UP)) == [("a", State.ONLINE, State.OFFLINE, t(160))]
    assert tr.state_of("a") == AssetLiveness(State.ONLINE, t(160), t(155))


def test_flapping_sequence() -> None:
    tr = tracker("probe")
    tr.register(asset("link"))
    tr.advance(t(0))
    seen: list[Transition] = []
    for at, level in [(1, UP), (2, DOWN), (2, UP), (3, UP), (4, DOWN), (5, UP)]:
        seen += tr.observe("link", t(at), level=level)
    on, off = State.ONLINE, State.OFFLINE
    assert brief(seen) == [
        ("link", on, None, t(1)),  # reported within its first window: no UNKNOWN
        ("link", off, on, t(2)),
        ("link", on, off, t(2)),  # zero-length flap
        ("link", off, on, t(4)),
        ("link", on, off, t(5)),
    ]
    assert tr.state_of("link") == AssetLiveness(on, t(5), t(5))


def test_heartbeat_after_deadline_records_the_outage_even_before_advance() -> None:
    def history(advance_first: bool) -> list[Transition]:
        tr = tracker()
        tr.register(asset())
        out = tr.advance(t(0)) + tr.observe("a", t(0), level=UP)
        out += tr.advance(t(100))
        if advance_first:
            out += tr.advance(t(200)) + tr.observe("a", t(200), level=UP)
        else:
            out += tr.observe("a", t(200), level=UP) + tr.advance(t(200))
        return out

    expected = [
        ("a", State.ONLINE, None, t(0)),
        ("a", State.OFFLINE, State.ONLINE, t(150)),
        ("a", State.ONLINE, State.OFFLINE, t(200)),
    ]
    assert brief(history(advance_first=True)) == expected
    assert brief(history(advance_first=False)) == expected


def test_heartbeat_exactly_on_deadline_keeps_online() -> None:
    tr = tracker()
    tr.register(asset())
    tr.advance(t(0))
    tr.observe("a", t(0), level=UP)
    assert tr.observe("a", t(150), level=UP) == []
    assert tr.advance(t(150)) == []


def gap_setup() -> LivenessTracker:
    tr = tracker()
    for aid in ("up", "down", "fresh", "silent"):  # "silent" never reports: no state before 150
        tr.register(asset(aid))
    tr.advance(t(0))
    tr.observe("up", t(10), level=UP)  # deadline 160
    tr.observe("down", t(10), level=DOWN)
    tr.observe("fresh", t(40), level=UP)  # deadline 190
    tr.advance(t(100))
    return tr


def test_ingestion_gap_is_unknown_not_offline_then_online_on_resume() -> None:
    tr = gap_setup()
    gap = tr.advance(t(1000))  # 900s without a single event
    # "silent"'s first window (deadline 150) lapsed in the gap: UNKNOWN from its start,
    # but no OFFLINE; it waits for the resume like any UNKNOWN asset.
    assert brief(gap) == [
        ("silent", State.UNKNOWN, None, t(0)),
        ("up", State.UNKNOWN, State.ONLINE, t(160)),
        ("fresh", State.UNKNOWN, State.ONLINE, t(190)),
    ]
    assert gap[0].reason == "registered, no report yet"
    assert all(x.reason.startswith("ingestion gap") for x in gap[1:])
    assert tr.state_of("down") == AssetLiveness(State.OFFLINE, t(10), None)
    assert tr.state_of("silent") == AssetLiveness(State.UNKNOWN, t(0), None)  # not expired
    assert brief(tr.observe("up", t(1001), level=UP)) == [("up", State.ONLINE, State.UNKNOWN, t(1001))]
    assert tr.advance(t(1100)) == []


def test_ingestion_gap_then_silence_goes_offline_at_grace_deadline() -> None:
    tr = gap_setup()
    tr.advance(t(1000))
    tr.observe("fresh", t(1010), level=UP)
    assert tr.advance(t(1149)) == []
    late = tr.advance(t(1155))
    assert brief(late) == [  # resume + 150s
        ("silent", State.OFFLINE, State.UNKNOWN, t(1150)),
        ("up", State.OFFLINE, State.UNKNOWN, t(1150)),
    ]
    assert tr.state_of("fresh") == AssetLiveness(State.ONLINE, t(1010), t(1010))


def test_event_far_ahead_of_the_watermark_is_not_a_gap_by_itself() -> None:
    # With several source partitions the watermark is the slowest one; an event from a
    # faster partition is routinely far ahead of it. Only advance() establishes a gap
    # (the monitor calls it first when the whole feed was silent).
    tr = gap_setup()
    resumed = tr.observe("up", t(1000), level=UP)
    assert brief(resumed) == [
        ("up", State.OFFLINE, State.ONLINE, t(160)),
        ("up", State.ONLINE, State.OFFLINE, t(1000)),
    ]
    assert resumed[0].reason.startswith("no heartbeat within")


def test_gap_established_by_advance_before_the_observation() -> None:
    tr = gap_setup()
    gap = tr.advance(t(1000))
    resumed = tr.observe("up", t(1000), level=UP)
    assert ("up", State.UNKNOWN, State.ONLINE, t(160)) in brief(gap)
    assert brief(resumed) == [("up", State.ONLINE, State.UNKNOWN, t(1000))]


def test_jump_shorter_than_gap_threshold_is_the_devices_fault() -> None:
    tr = gap_setup()
    out = tr.advance(t(390))  # 290s since the previous watermark: not a gap
    assert brief(out) == [
        ("silent", State.UNKNOWN, None, t(0)),
        ("silent", State.OFFLINE, State.UNKNOWN, t(150)),
        ("up", State.OFFLINE, State.ONLINE, t(160)),
        ("fresh", State.OFFLINE, State.ONLINE, t(190)),
    ]


def test_stall_makes_everything_unknown_then_resume_grants_grace() -> None:
    tr = tracker()
    for aid in ("on", "off", "never"):
        tr.register(asset(aid))
    tr.advance(t(0))
    tr.observe("on", t(10), level=UP)
    tr.observe("off", t(10), level=DOWN)
    tr.advance(t(60))
    stalled = tr.stall(t(120))
    assert brief(stalled) == [
        ("off", State.UNKNOWN, State.OFFLINE, t(120)),
        ("on", State.UNKNOWN, State.ONLINE, t(120)),
    ]
    assert {x.reason for x in stalled} == {"no data from the platform"}
    assert tr.stall(t(180)) == []  # "never" has no state yet: the stall skips it
    assert tr.advance(t(60)) == []  # same watermark: not a resume
    # Resume (no gap): grace until 350. "never"'s first window (deadline 150) lapsed in
    # the quiet period: UNKNOWN from its start, no OFFLINE, and the grace covers it too.
    resumed = tr.advance(t(200))
    assert brief(resumed) == [("never", State.UNKNOWN, None, t(0))]
    assert resumed[0].reason == "registered, no report yet"
    assert brief(tr.observe("on", t(210), level=UP)) == [("on", State.ONLINE, State.UNKNOWN, t(210))]
    assert tr.advance(t(349)) == []
    assert brief(tr.advance(t(350))) == [
        ("never", State.OFFLINE, State.UNKNOWN, t(350)),
        ("off", State.OFFLINE, State.UNKNOWN, t(350)),
    ]


def test_restore_after_long_downtime_is_a_gap_not_an_outage() -> None:
    before = tracker()
    for aid in ("a", "b", "c"):
        before.register(asset(aid))
    before.advance(t(0))
    before.observe("a", t(50), level=UP)
    before.observe("b", t(50), level=DOWN)
    before.advance(t(100))
    saved = {aid: before.state_of(aid) for aid in ("a", "b", "c")}
    watermark = before.watermark
    assert watermark == t(100)

    after = tracker()
    after.restore_watermark(watermark)
    for aid, current in saved.items():
        after.register(asset(aid), current)
    assert after.tracked() == 3
    assert {aid: after.state_of(aid) for aid in saved} == saved  # nothing emitted, all restored
    # "c" never reported and had no state yet (its first window ran to 150): it starts
    # again at the restored watermark, 100, and its first window (deadline 250) lapses in
    # the gap: UNKNOWN from 100, no OFFLINE.
    resumed = after.advance(t(7300))  # two hours down
    assert brief(resumed) == [
        ("c", State.UNKNOWN, None, t(100)),
        ("a", State.UNKNOWN, State.ONLINE, t(200)),
    ]
    assert resumed[0].reason == "registered, no report yet"
    assert resumed[1].reason.startswith("ingestion gap")
    assert after.state_of("b") == AssetLiveness(State.OFFLINE, t(50), None)
    # "c" is unknown and never reported: grace from the resume, like "a".
    assert brief(after.advance(t(7450))) == [
        ("a", State.OFFLINE, State.UNKNOWN, t(7450)),
        ("c", State.OFFLINE, State.UNKNOWN, t(7450)),
    ]


def test_restore_after_short_restart_applies_normal_deadlines() -> None:
    tr = tracker()
    tr.restore_watermark(t(100))
    tr.register(asset(), AssetLiveness(State.ONLINE, t(0), t(50)))
    assert brief(tr.advance(t(250))) == [("a", State.OFFLINE, State.ONLINE, t(200))]


def test_restore_in_any_order_and_retirement_during_the_outage() -> None:
    tr = tracker()
    tr.register(asset("new"))  # never seen, registered before the watermark is restored
    tr.register(asset("old", retired=900), AssetLiveness(State.ONLINE, t(0), t(90)))
    tr.restore_watermark(t(100))
    assert tr.tracked() == 2
    out = tr.advance(t(1000))
    # "new" starts at the restored watermark; its deadline (250) fell in the gap, so it
    # waits for a grace period. "old" went quiet in the gap and retired before the resume.
    assert brief(out) == [
        ("new", State.UNKNOWN, None, t(100)),
        ("old", State.UNKNOWN, State.ONLINE, t(240)),
    ]
    assert tr.tracked() == 1
    assert brief(tr.advance(t(1150))) == [("new", State.OFFLINE, State.UNKNOWN, t(1150))]


def test_stall_skips_assets_without_a_state_or_already_retired() -> None:
    tr = tracker()
    tr.advance(t(0))
    tr.register(asset("pending", registered=500))
    tr.register(asset("retiring", retired=50))
    tr.observe("retiring", t(10), level=UP)
    assert tr.stall(t(60)) == []
    assert tr.state_of("pending") is None
    assert tr.state_of("retiring") == AssetLiveness(State.ONLINE, t(10), t(10))


def test_registered_mid_window() -> None:
    # The start is max(registered_at, watermark at registration); the first window
    # counts from there.
    tr = tracker()
    tr.advance(t(100))
    tr.register(asset("late", registered=130))  # start 130, first window until 280
    tr.register(asset("early", registered=50))  # start 100, first window until 250
    tr.register(asset("prompt", registered=130))  # start 130, reports within its window
    assert tr.advance(t(249)) == []  # nothing before a whole window from the start
    assert tr.state_of("early") is None
    early = tr.advance(t(250))
    assert brief(early) == [
        ("early", State.UNKNOWN, None, t(100)),
        ("early", State.OFFLINE, State.UNKNOWN, t(250)),
    ]
    assert early[1].reason == f"no heartbeat within 150s of {t(100)} (interval 60s × 2.5)"
    assert brief(tr.observe("prompt", t(270), level=UP)) == [("prompt", State.ONLINE, None, t(270))]
    assert brief(tr.advance(t(280))) == [
        ("late", State.UNKNOWN, None, t(130)),
        ("late", State.OFFLINE, State.UNKNOWN, t(280)),
    ]


def test_registered_before_any_watermark_starts_at_first_advance() -> None:
    tr = tracker()
    tr.register(asset())
    assert tr.tracked() == 1
    assert tr.advance(t(500)) == []  # tracking starts here: first window until 650
    assert tr.advance(t(649)) == []
    assert brief(tr.advance(t(650))) == [
        ("a", State.UNKNOWN, None, t(500)),
        ("a", State.OFFLINE, State.UNKNOWN, t(650)),
    ]


def test_report_before_first_advance_is_the_first_state() -> None:
    tr = tracker()
    tr.register(asset())
    assert brief(tr.observe("a", t(5), level=UP)) == [("a", State.ONLINE, None, t(5))]
    assert tr.advance(t(10)) == []


def test_report_after_registration_with_watermark_counts_the_first_window_from_there() -> None:
    tr = tracker()
    tr.advance(t(100))
    for aid in ("prompt", "edge", "slow"):
        tr.register(asset(aid))  # start 100 (the watermark), first window until 250
    # Within the first window: straight to ONLINE, no UNKNOWN stretch.
    assert brief(tr.observe("prompt", t(130), level=UP)) == [("prompt", State.ONLINE, None, t(130))]
    assert brief(tr.observe("edge", t(250), level=UP)) == [("edge", State.ONLINE, None, t(250))]
    # After it, even before any advance: UNKNOWN from the start, OFFLINE at 250, then up.
    slow = tr.observe("slow", t(260), level=UP)
    assert brief(slow) == [
        ("slow", State.UNKNOWN, None, t(100)),
        ("slow", State.OFFLINE, State.UNKNOWN, t(250)),
        ("slow", State.ONLINE, State.OFFLINE, t(260)),
    ]
    assert slow[0].reason == "registered, no report yet"
    assert tr.advance(t(270)) == []


def test_retired_assets_stop_being_tracked() -> None:
    tr = tracker()
    tr.register(asset("early", retired=120))
    tr.register(asset("later", retired=300))
    tr.advance(t(0))
    tr.observe("early", t(10), level=UP)
    tr.observe("later", t(10), level=UP)
    assert tr.observe("early", t(120), level=UP) == []  # at retired_at: ignored
    assert tr.state_of("early") == AssetLiveness(State.ONLINE, t(10), t(10))
    assert tr.advance(t(100)) == []
    # "early" would time out at 160 but retired at 120; "later" times out before retiring.
    assert brief(tr.advance(t(400))) == [("later", State.OFFLINE, State.ONLINE, t(160))]
    assert tr.tracked() == 0
    assert tr.state_of("early") is None
    assert tr.observe("later", t(250), level=UP) == []
    tr.register(asset("gone", retired=350))  # already retired at the watermark
    assert tr.tracked() == 0


def test_unregistered_and_forgotten_assets_are_ignored() -> None:
    tr = tracker()
    tr.advance(t(0))
    assert tr.observe("stranger", t(1), level=UP) == []
    assert tr.tracked() == 0
    assert tr.state_of("stranger") is None
    tr.register(asset())
    tr.observe("a", t(2), level=UP)
    tr.forget("a")
    assert tr.observe("a", t(3), level=DOWN) == []
    assert tr.advance(t(1000)) == []
    assert tr.tracked() == 0


def test_observation_before_registration_is_ignored() -> None:
    tr = tracker()
    tr.register(asset(registered=100))
    assert tr.observe("a", t(99), level=UP) == []
    assert tr.state_of("a") is None


@pytest.mark.parametrize(
    "call",
    [
        lambda tr: tr.advance(datetime(2025, 3, 1, 8, 0)),
        lambda tr: tr.observe("a", datetime(2025, 3, 1, 8, 0), level=UP),
        lambda tr: tr.stall(datetime(2025, 3, 1, 8, 0)),
        lambda tr: tr.restore_watermark(datetime(2025, 3, 1, 8, 0)),
        lambda tr: tr.register(TrackedAsset("b", 60, datetime(2025, 3, 1, 8, 0))),
        lambda tr: tr.register(asset("b"), AssetLiveness(State.ONLINE, datetime(2025, 3, 1), None)),
    ],
)
def test_naive_datetimes_are_rejected(call: Callable[[LivenessTracker], object]) -> None:
    tr = tracker()
    tr.register(asset())
    with pytest.raises(ValueError, match="timezone-aware"):
        call(tr)
    assert tr.watermark is None
    assert tr.tracked() == 1


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError):
        LivenessTracker("iot", tolerance=0, gap_seconds=300)
    with pytest.raises(ValueError):
        TrackedAsset("a", 0, T0)
    with pytest.raises(ValueError):
        TrackedAsset("a", 60, t(10), t(5))


def test_watermark_never_moves_back() -> None:
    tr = tracker()
    tr.register(asset())
    tr.advance(t(0))
    tr.observe("a", t(0), level=UP)
    assert tr.advance(t(100)) == []
    assert tr.advance(t(500)) != []
    assert tr.advance(t(50)) == []
    assert tr.watermark == t(500)
    tr.restore_watermark(t(10))
    assert tr.watermark == t(500)
    tr.observe("a", t(510), level=UP)
    # Measured from 500 this is no gap; from the stale 50 it would have been one.
    assert brief(tr.advance(t(700))) == [("a", State.OFFLINE, State.ONLINE, t(660))]


def test_transitions_are_sorted_by_time_then_asset() -> None:
    tr = tracker()
    for aid, beat in [("d", 30), ("c", 10), ("b", 30), ("a", 20)]:
        tr.register(asset(aid))
        tr.advance(t(0))
        tr.observe(aid, t(beat), level=UP)
    tr.register(asset("e", interval=10))  # joins at the watermark, so UNKNOWN from 0
    out = tr.advance(t(200))
    assert [(x.asset_id, x.at) for x in out] == [
        ("e", t(0)),
        ("e", t(25)),
        ("c", t(160)),
        ("a", t(170)),
        ("b", t(180)),
        ("d", t(180)),
    ]
    assert out == sorted(out, key=lambda x: (x.at, x.asset_id))


def test_mixed_time_zones() -> None:
    tr = tracker()
    shanghai_t0 = T0.astimezone(SHANGHAI)  # 16:00 +08:00, the same instant as T0
    tr.register(TrackedAsset("sz", 60, shanghai_t0))
    tr.advance(T0)
    up = tr.observe("sz", shanghai_t0 + timedelta(seconds=10), level=UP)
    assert up[0].at == t(10)
    assert up[0].at.utcoffset() == timedelta(hours=8)
    assert tr.advance(t(159)) == []
    assert [x.at for x in tr.advance(datetime(2025, 3, 1, 16, 2, 40, tzinfo=SHANGHAI))] == [t(160)]


def test_reregistering_keeps_state_and_applies_new_interval() -> None:
    tr = tracker()
    tr.register(asset())
    tr.advance(t(0))
    tr.observe("a", t(0), level=UP)
    tr.register(asset(interval=20))  # window shrinks to 50s
    assert tr.state_of("a") == AssetLiveness(State.ONLINE, t(0), t(0))
    assert brief(tr.advance(t(60))) == [("a", State.OFFLINE, State.ONLINE, t(50))]


def test_hundred_thousand_assets_one_advance_each() -> None:
    tr = tracker()
    ids = [f"dev-{i:06d}" for i in range(100_000)]
    for aid in ids:
        tr.register(asset(aid))
    assert tr.advance(t(0)) == []  # first windows run until 150: nothing due yet
    first = [x for i, aid in enumerate(ids) for x in tr.observe(aid, t(i % 60), level=UP)]
    assert len(first) == 100_000  # each reports within its first window: one ONLINE each
    for second in range(60, 120):
        assert tr.advance(t(second)) == []  # nothing due: must not walk every asset
    assert tr.tracked() == 100_000
    assert len(tr.advance(t(300))) == 100_000


# Degraded: up (it reports) but unhealthy, e.g. a camera with picture faults.


def camera_tracker() -> LivenessTracker:
    tr = tracker("video")
    tr.register(asset("cam"))
    tr.advance(t(0))
    return tr


def test_picture_fault_is_degraded_then_recovered() -> None:
    tr = camera_tracker()
    out = tr.observe("cam", t(10), level=UP)
    out += tr.observe("cam", t(70), level=DEGRADED)
    assert tr.observe("cam", t(130), level=DEGRADED) == []  # a repeat only moves the deadline
    assert tr.advance(t(279)) == []  # 130 + 150 is not yet due
    assert tr.state_of("cam") == AssetLiveness(State.DEGRADED, t(70), t(130))
    out += tr.observe("cam", t(190), level=UP)
    assert brief(out) == [
        ("cam", State.ONLINE, None, t(10)),
        ("cam", State.DEGRADED, State.ONLINE, t(70)),
        ("cam", State.ONLINE, State.DEGRADED, t(190)),
    ]
    assert [x.reason for x in out] == ["reported", "picture fault", "recovered"]
    assert {x.feed for x in out} == {"video"}
    assert tr.advance(t(339)) == []
    assert brief(tr.advance(t(340))) == [("cam", State.OFFLINE, State.ONLINE, t(340))]


def test_degraded_goes_offline_at_its_deadline() -> None:
    tr = camera_tracker()
    first = tr.observe("cam", t(10), level=DEGRADED)
    assert brief(first) == [("cam", State.DEGRADED, None, t(10))]
    assert first[0].reason == "picture fault"
    assert tr.advance(t(159.999)) == []
    gone = tr.advance(t(400))  # late sweep, not a gap
    assert brief(gone) == [("cam", State.OFFLINE, State.DEGRADED, t(160))]
    assert gone[0].reason == TIMEOUT
    assert tr.advance(t(500)) == []
    back = tr.observe("cam", t(510), level=DEGRADED)  # back, still with a bad picture
    assert brief(back) == [("cam", State.DEGRADED, State.OFFLINE, t(510))]
    assert back[0].reason == "picture fault"
    healthy = tr.observe("cam", t(520), level=UP)
    assert [(x.state, x.reason) for x in healthy] == [(State.ONLINE, "recovered")]


def test_degraded_run_counts_as_continuous_reporting() -> None:
    tr = camera_tracker()
    out = tr.observe_run("cam", t(10), t(100), DEGRADED)
    assert brief(out) == [("cam", State.DEGRADED, None, t(10))]
    assert tr.state_of("cam") == AssetLiveness(State.DEGRADED, t(10), t(100))
    assert tr.observe_run("cam", t(110), t(200), DEGRADED) == []
    assert tr.advance(t(349)) == []
    assert brief(tr.advance(t(350))) == [("cam", State.OFFLINE, State.DEGRADED, t(350))]


def test_level_change_inside_a_run_of_reports_keeps_the_deadline_from_the_last_report() -> None:
    tr = camera_tracker()
    tr.observe_run("cam", t(10), t(100), UP)
    out = tr.observe_run("cam", t(110), t(200), DEGRADED)
    assert brief(out) == [("cam", State.DEGRADED, State.ONLINE, t(110))]
    assert tr.advance(t(349)) == []
    assert brief(tr.advance(t(350))) == [("cam", State.OFFLINE, State.DEGRADED, t(350))]


def test_degraded_during_an_ingestion_gap_is_unknown_then_degraded_on_resume() -> None:
    tr = camera_tracker()
    tr.register(asset("ok"))
    tr.observe("cam", t(10), level=DEGRADED)  # deadline 160
    tr.observe("ok", t(40), level=UP)  # deadline 190
    tr.advance(t(100))
    gap = tr.advance(t(1000))  # 900s without a single event
    assert brief(gap) == [
        ("cam", State.UNKNOWN, State.DEGRADED, t(160)),
        ("ok", State.UNKNOWN, State.ONLINE, t(190)),
    ]
    assert all(x.reason.startswith("ingestion gap: no video events") for x in gap)
    resumed = tr.observe("cam", t(1001), level=DEGRADED)
    assert [(x.state, x.previous, x.at, x.reason) for x in resumed] == [
        (State.DEGRADED, State.UNKNOWN, t(1001), "picture fault")
    ]
    # "ok" stays silent: offline one window after the resume, not at its old deadline.
    assert brief(tr.advance(t(1150))) == [("ok", State.OFFLINE, State.UNKNOWN, t(1150))]


def test_degraded_reported_down_stall_and_late_reports() -> None:
    tr = camera_tracker()
    tr.observe("cam", t(10), level=DEGRADED)
    assert tr.observe("cam", t(5), level=UP) == []  # late: neither recovers nor moves last_seen
    assert tr.state_of("cam") == AssetLiveness(State.DEGRADED, t(10), t(10))
    down = tr.observe("cam", t(20), level=DOWN)
    assert [(x.state, x.previous, x.reason) for x in down] == [
        (State.OFFLINE, State.DEGRADED, "reported down")
    ]
    assert tr.advance(t(1000)) == []  # reported down: no deadline
    up = tr.observe("cam", t(1010), level=UP)
    assert [(x.state, x.reason) for x in up] == [(State.ONLINE, "reported")]  # not a recovery
    tr.observe("cam", t(1020), level=DEGRADED)
    stalled = tr.stall(t(1030))
    assert brief(stalled) == [("cam", State.UNKNOWN, State.DEGRADED, t(1030))]


def test_restored_degraded_keeps_its_deadline_and_emits_nothing() -> None:
    tr = tracker("video")
    tr.restore_watermark(t(100))
    tr.register(asset("cam"), AssetLiveness(State.DEGRADED, t(0), t(50)))
    assert tr.observe("cam", t(110), level=DEGRADED) == []  # still degraded: no transition
    assert tr.advance(t(259)) == []
    assert brief(tr.advance(t(260))) == [("cam", State.OFFLINE, State.DEGRADED, t(260))]


def test_degraded_reason_on_other_feeds_is_generic() -> None:
    tr = tracker("probe")
    tr.register(asset("portal"))
    tr.advance(t(0))
    assert [x.reason for x in tr.observe("portal", t(1), level=DEGRADED)] == ["reported degraded"]


# The transition table: each row driven through the tracker's public calls. `reach` puts
# asset "a" in a state and returns the watermark; `fire` makes the event happen after it.
def reach(state: State | None) -> tuple[LivenessTracker, datetime]:
    tr = tracker()
    tr.register(asset("a"))
    tr.advance(t(0))  # never seen: its first window ends at 150
    if state is None:
        return tr, t(0)
    level = {State.ONLINE: UP, State.DEGRADED: DEGRADED, State.OFFLINE: DOWN, State.UNKNOWN: UP}
    tr.observe("a", t(10), level=level[state])
    tr.advance(t(10))
    if state is State.UNKNOWN:  # a stall, then the resume: a grace deadline at 30 + 150
        tr.stall(t(20))
        tr.advance(t(30))
        return tr, t(30)
    return tr, t(10)


FIRE: dict[Event, Callable[[LivenessTracker, datetime], list[Transition]]] = {
    Event.REPORTED_UP: lambda tr, now: tr.observe("a", now + timedelta(seconds=5), level=UP),
    Event.REPORTED_DEGRADED: lambda tr, now: tr.observe("a", now + timedelta(seconds=5), level=DEGRADED),
    Event.REPORTED_DOWN: lambda tr, now: tr.observe("a", now + timedelta(seconds=5), level=DOWN),
    # 200 s on: past every deadline, not a gap; 400 s on: a gap (> 300 s) holding them.
    Event.DEADLINE_PASSED: lambda tr, now: tr.advance(now + timedelta(seconds=200)),
    Event.FIRST_WINDOW_LAPSED: lambda tr, now: tr.advance(now + timedelta(seconds=400)),
    Event.INGESTION_GAP: lambda tr, now: tr.advance(now + timedelta(seconds=400)),
    Event.STALL: lambda tr, now: tr.stall(now + timedelta(seconds=5)),
}


@pytest.mark.parametrize(("state", "event", "target"),
                         [(s, e, n) for (s, e), n in TRANSITIONS.items()],
                         ids=[f"{s}-{e}" for s, e in TRANSITIONS])
def test_each_row_of_the_table_is_what_the_tracker_does(
    state: State | None, event: Event, target: State | None
) -> None:
    tr, now = reach(state)
    current = tr.state_of("a")
    assert (current.state if current else None) is state
    emitted = FIRE[event](tr, now)
    after = tr.state_of("a")
    assert (after.state if after else None) is target
    if target is state:  # staying is no transition
        assert emitted == []
    else:
        assert brief(emitted)[-1][1:3] == (target, state)
        assert len(emitted) == 1


def test_the_table_covers_every_state_and_event_and_reports_lead_anywhere() -> None:
    assert {s for s, _ in TRANSITIONS} == {None, *State}
    assert {e for _, e in TRANSITIONS} == set(Event)
    for state in (None, *State):  # a report names the state, whatever the state was
        assert next_state(state, Event.REPORTED_UP) is State.ONLINE
        assert next_state(state, Event.REPORTED_DEGRADED) is State.DEGRADED
        assert next_state(state, Event.REPORTED_DOWN) is State.OFFLINE
    # Only a never-seen asset stays without a state.
    assert [k for k, n in TRANSITIONS.items() if n is None] == [(None, Event.STALL)]


ILLEGAL = [(s, e) for s in (None, *State) for e in Event if (s, e) not in TRANSITIONS]


def test_the_illegal_pairs_are_the_ones_that_cannot_happen() -> None:
    assert set(ILLEGAL) == {
        (None, Event.DEADLINE_PASSED), (None, Event.INGESTION_GAP),  # the first window runs first
        (State.OFFLINE, Event.DEADLINE_PASSED), (State.OFFLINE, Event.INGESTION_GAP),  # no deadline
        *((s, Event.FIRST_WINDOW_LAPSED) for s in State),  # only before a first state
    }


@pytest.mark.parametrize(("state", "event"), ILLEGAL, ids=[f"{s}-{e}" for s, e in ILLEGAL])
def test_an_illegal_transition_raises(state: State | None, event: Event) -> None:
    with pytest.raises(IllegalLivenessTransition, match="no transition from") as raised:
        next_state(state, event)
    assert (raised.value.state, raised.value.event) == (state, event)


def test_the_tracker_consults_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    tr, now = reach(State.ONLINE)
    monkeypatch.delitem(TRANSITIONS, (State.ONLINE, Event.DEADLINE_PASSED))
    with pytest.raises(IllegalLivenessTransition, match="from online on 'deadline passed'"):
        tr.advance(now + timedelta(seconds=200))
    monkeypatch.setitem(TRANSITIONS, (State.ONLINE, Event.REPORTED_DOWN), State.DEGRADED)
    tr, now = reach(State.ONLINE)
    assert brief(tr.observe("a", now, level=DOWN)) == [("a", State.DEGRADED, State.ONLINE, now)]

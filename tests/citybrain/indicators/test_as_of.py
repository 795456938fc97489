"""The as-of rule in the engine, the indicator SQL and the daily facts (README, "Rules an
evaluator can check"): figures cover [start, min(end, now)), and a liveness feed's assets
only up to the feed's watermark (feed_watermarks); later time is outside the scope.

Hours as in test_availability.py: H0 = 2026-03-10 00:00 Asia/Shanghai; the facts cover
the Shanghai days 03-09 … 03-12 (H-24 … H72).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from citybrain import availability
from citybrain.indicators.catalogue import find, load_catalogue
from citybrain.indicators.engine import compute, compute_all
from citybrain.indicators.model import AsOf, Figure, Indicator, ReportWindow
from citybrain.reports.document import assemble_report
from tests.citybrain.indicators.city import HOUR, Conn, asset, department, run, states, window
from tests.citybrain.indicators.test_availability import H
from tests.citybrain.test_availability import (
    CASES,
    DAYS,
    DEVICE,
    END,
    START,
    fact_days,
    figures,
    live,
    rich_city,
)

D09, D10, D11, D12 = sorted(DAYS)
W = window(H(0), H(24))


def watermark(db: Conn, feed: str, at: datetime) -> None:
    db.execute("INSERT INTO feed_watermarks (feed, watermark) VALUES (%s, %s)"
               " ON CONFLICT (feed) DO UPDATE SET watermark = excluded.watermark", (feed, at))


# --- each indicator that reads intervals: a feed whose data stop mid-window ----------

# (indicator, asset kind, its feed)
TIME_BASED = [
    ("infra.device_online_rate", "iot_device", "iot"),
    ("infra.camera_intact_rate", "camera", "video"),
    ("infra.link_stability", "link", "probe"),
    ("system.availability", "system", "probe"),
    ("portal.availability_7x24", "portal", "probe"),
]


@pytest.mark.parametrize(("indicator_id", "kind", "feed"), TIME_BASED)
def test_an_open_interval_ends_at_its_feeds_watermark(db: Conn, indicator_id: str, kind: str,
                                                      feed: str) -> None:
    # X online until H4 and offline since (open); Y registered at H8, after the feed's
    # data stop at H6 (its watermark): out of scope. W = H0–H24.
    department(db, "water")
    asset(db, "X", kind, "water")
    asset(db, "Y", kind, "water", registered=H(8))
    states(db, "X", ("online", H(-100), H(4)), ("offline", H(4), None))
    watermark(db, feed, H(6))
    other = next(f for f in ("iot", "video", "probe") if f != feed)
    watermark(db, other, H(2))  # another feed's watermark bounds nothing here
    result = run(db, indicator_id, W)
    # 4 h up of 6 h known = 66.666667 %, nothing unknown. Before: the offline interval ran
    # to H24 and Y's 16 h were unknown: 4 / 24 = 16.67 %, unknown 16 / 40.
    assert result.figure == Figure(100 * 4 / 6, 4 * HOUR, 6 * HOUR, 100 * 4 / 6, 0.0)
    assert [(b.dimension, b.member, b.figure.value) for b in result.breakdowns if b.dimension == "day"] == [
        ("day", "2026-03-10", 100 * 4 / 6)]


def test_the_camera_register_ends_at_the_video_watermark(db: Conn) -> None:
    # cam-1 online since long ago (open); cam-2 registered at H8, after the video feed's
    # data stop at H6. Access: 1 connected of 1 in the register (before: 1 of 2); sharing:
    # cam-1 is shared and connected, 1 of 1.
    department(db, "water", "traffic")
    asset(db, "cam-1", "camera", "water", shared_with=["traffic"])
    asset(db, "cam-2", "camera", "water", registered=H(8))
    states(db, "cam-1", ("online", H(-100), None))
    watermark(db, "video", H(6))
    access = run(db, "infra.camera_access_rate", W)
    assert (access.figure.value, access.figure.numerator, access.figure.denominator) == (100.0, 1.0, 1.0)
    sharing = run(db, "infra.camera_sharing_rate", W)
    assert (sharing.figure.value, sharing.figure.numerator, sharing.figure.denominator) == (100.0, 1.0, 1.0)
    watermark(db, "video", H(-1))  # before W: nothing of W has evidence
    assert run(db, "infra.camera_access_rate", W).figure.value is None


# --- the engine: now -------------------------------------------------------------------

def test_the_engine_cuts_the_window_at_now_and_states_it(db: Conn) -> None:
    department(db, "water")
    asset(db, "X", "iot_device", "water")
    states(db, "X", ("online", H(-100), H(4)), ("offline", H(4), None))
    watermark(db, "iot", H(30))
    ind = find(DEVICE)
    # Now H10: 4 h up of 10 h (before: of 24 h).
    result = compute(db, ind, W, now=H(10))
    figure = result.figure
    assert (figure.value, figure.numerator, figure.denominator) == (40.0, 4 * HOUR, 10 * HOUR)
    assert result.as_of == AsOf(H(10), (("iot", H(10)), ("probe", H(10)), ("video", H(10))))
    # Now after the window: the window's end; the iot feed's time is its own when earlier.
    watermark(db, "iot", H(20))
    later = compute(db, ind, W, now=H(50))
    assert later.as_of == AsOf(H(24), (("iot", H(20)), ("probe", H(24)), ("video", H(24))))
    assert (later.figure.numerator, later.figure.denominator) == (4 * HOUR, 20 * HOUR)
    assert compute(db, ind, W).as_of == later.as_of  # no clock: the window has ended


def test_a_window_wholly_after_now_runs_no_sql(db: Conn) -> None:
    broken = Indicator(id="infra.broken", key="infrastructure", name_en="b", name_zh="b", unit="%",
                       direction="higher", target=1.0, formula="f", version=1, sql_file="broken.sql",
                       sql="SELECT no_such_column FROM nowhere")
    future = window(H(24 * 365), H(24 * 366))
    result = compute(db, broken, future, now=H(0))
    assert (result.figure, result.breakdowns) == (Figure(None), ())
    assert result.as_of is not None and result.as_of.at == H(0)
    for r in compute_all(db, future, now=H(0), workers=2):
        assert r.figure == Figure(None) and r.breakdowns == () and r.as_of == result.as_of


@pytest.mark.parametrize("workers", [1, 3])
def test_one_as_of_per_report(db: Conn, workers: int) -> None:
    department(db, "water")
    watermark(db, "probe", H(5))
    results = compute_all(db, W, now=H(12), workers=workers)
    assert len(results) == len(load_catalogue())
    assert {r.as_of for r in results} == {AsOf(H(12), (("iot", H(12)), ("probe", H(5)), ("video", H(12))))}
    doc = assemble_report(results, W, department=None, generated_by="t", generated_at=H(12))
    p = doc.provenance
    assert (p.as_of_utc, p.as_of_local) == (H(12).isoformat(), "2026-03-10T12:00:00+08:00")
    assert p.as_of_feeds == (("iot", "2026-03-10T12:00:00+08:00"), ("probe", "2026-03-10T05:00:00+08:00"),
                             ("video", "2026-03-10T12:00:00+08:00"))
    with pytest.raises(ValueError, match="covers its window up to"):
        assemble_report(results, W, department=None, generated_by="t", generated_at=H(13))


# --- the daily facts: the same scopes, and forgotten when a watermark moves -------------

FEEDS_MID_WINDOW = {"iot": H(30.5), "video": H(50.25)}  # on 03-11 and 03-12


def with_watermarks(db: Conn) -> None:
    for feed, at in FEEDS_MID_WINDOW.items():
        watermark(db, feed, at)


@pytest.mark.parametrize("indicator_id", [DEVICE, "infra.camera_intact_rate"])
def test_facts_path_equals_live_path_with_watermarks(db: Conn, indicator_id: str) -> None:
    rich_city(db)
    unbounded = [figures(db, indicator_id, w, d) for w, d in CASES]
    with_watermarks(db)
    before = [figures(db, indicator_id, w, d) for w, d in CASES]
    assert before[0] != unbounded[0]  # the watermark changes the figures: not a vacuous test
    done = availability.refresh(db, START, END)
    assert done.days == DAYS and fact_days(db) == set(DAYS)
    for (win, dept), expected in zip(CASES, before, strict=True):
        assert figures(db, indicator_id, win, dept) == expected, (win, dept)


def test_a_moving_watermark_forgets_the_days_it_passes(db: Conn) -> None:
    rich_city(db)
    with_watermarks(db)
    availability.refresh(db, START, END)
    # The iot feed resumes: H30.5 → H60 passes 03-11 and 03-12.
    watermark(db, "iot", H(60))
    assert fact_days(db) == {D09, D10}
    # A watermark written again unchanged forgets nothing.
    availability.refresh(db, START, END)
    watermark(db, "iot", H(60))
    assert fact_days(db) == set(DAYS)
    # A feed's first watermark bounds its assets from then on: H10 is on 03-10.
    watermark(db, "probe", H(10))
    assert fact_days(db) == {D09}
    for win, dept in CASES:
        assert figures(db, DEVICE, win, dept) == live(db, DEVICE, win, dept), (win, dept)
    done = availability.refresh(db, START, END)
    assert set(done.days) == {D10, D11, D12}
    for win, dept in CASES:
        assert figures(db, DEVICE, win, dept) == live(db, DEVICE, win, dept), (win, dept)
    db.execute("DELETE FROM feed_watermarks WHERE feed = 'video'")  # unbounded again from H50.25
    assert fact_days(db) == {D09, D10, D11}


def test_a_window_of_whole_fact_days_after_the_watermark_has_no_data(db: Conn) -> None:
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    states(db, "A", ("online", H(-100), None))
    watermark(db, "iot", H(-24))  # the start of 03-09: no evidence for the days after it
    availability.refresh(db, START, END)
    assert fact_days(db) == set(DAYS)
    later: ReportWindow = window(H(0), H(48))
    result = run(db, DEVICE, later)
    assert (result.figure.value, result.figure.unknown_share) == (None, None)
    assert {b.member: b.figure.value for b in result.breakdowns if b.dimension == "day"} == {
        "2026-03-10": None, "2026-03-11": None}
    assert result.figure == live(db, DEVICE, later)[0]


def test_days_are_listed_while_the_facts_and_the_live_part_meet(db: Conn) -> None:
    # A report cut at now inside a day whose predecessor has facts: the whole day from
    # the facts, the cut day from the intervals.
    department(db, "water")
    asset(db, "A", "iot_device", "water")
    states(db, "A", ("online", H(-100), H(30)), ("offline", H(30), None))
    watermark(db, "iot", H(40))
    availability.refresh(db, START, END)
    result = compute(db, find(DEVICE), window(H(0), H(48)), now=H(36))
    # 30 h up of 36 h.
    assert (result.figure.numerator, result.figure.denominator) == (30 * HOUR, 36 * HOUR)
    days = {b.member: (b.figure.numerator, b.figure.denominator) for b in result.breakdowns
            if b.dimension == "day"}
    assert days == {"2026-03-10": (24 * HOUR, 24 * HOUR), "2026-03-11": (6 * HOUR, 12 * HOUR)}
    assert date(2026, 3, 10) in fact_days(db)

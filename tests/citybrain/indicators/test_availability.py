"""Golden tests of the five availability indicators, hand-computed.

One fixture city serves all five (each indicator reads its own asset kind): a 48-hour
window, two Shanghai days, hours counted from the window's start (H0 = 2026-03-10 00:00
in Asia/Shanghai = 2026-03-09 16:00 UTC; the local midnight between the days is H24).

    A  water/d1    in scope all 48 h; offline H10–H14; its own maintenance H12–H16
    B  water/d2    registered at H6; unknown H30–H33 (ingestion gap); tag solar
    C  traffic/d1  retired at H36; no interval at all H20–H26; offline H26–H30
    G  traffic/d2  online throughout
    maintenance: asset A H12–H16; department traffic H22–H25; tag solar H40–H42;
    district d2 H46–H47. Not counted: a silence over all of W, and a city-wide
    maintenance window removed before its period (H44–H45).
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.maintenance import windows
from citybrain import availability
from citybrain.kernel import audit
from citybrain.reports.document import build_report
from citybrain.reports.text import provenance_lines
from citybrain.reports.writers import as_dict
from streams import rollups
from tests.citybrain.indicators.city import (
    BERLIN,
    HOUR,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    district,
    local,
    maintenance,
    member,
    run,
    states,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))

# (indicator, kind of A, B and C, kind of G, breakdowns beyond department and day)
AVAILABILITY = [
    ("infra.device_online_rate", "iot_device", "gateway", {"district", "kind"}),
    ("infra.camera_intact_rate", "camera", "camera", {"district"}),
    ("infra.link_stability", "link", "link", {"district", "asset"}),
    ("system.availability", "system", "system", {"asset"}),
    ("portal.availability_7x24", "portal", "portal", {"asset"}),
]


def build_city(db: Conn, kind: str, gateway_kind: str) -> None:
    department(db, "water", "traffic", "empty")
    district(db, "d1", "d2")
    asset(db, "A", kind, "water", district="d1")
    asset(db, "B", kind, "water", district="d2", registered=H(6), tags=["solar"])
    asset(db, "C", kind, "traffic", district="d1", retired=H(36))
    asset(db, "G", gateway_kind, "traffic", district="d2")
    # Another kind's asset, down all the time: no indicator above may count it.
    asset(db, "X", "dataset" if kind != "dataset" else "other", "water", district="d1")
    states(db, "X", ("offline", H(-10), None))
    states(db, "A", ("online", H(-100), H(10)), ("offline", H(10), H(14)), ("online", H(14), None))
    states(db, "B", ("online", H(6), H(30)), ("unknown", H(30), H(33)), ("online", H(33), None))
    # C: nothing recorded H20–H26; its last interval runs past its retirement.
    states(db, "C", ("online", H(-10), H(20)), ("offline", H(26), H(30)), ("online", H(30), H(40)))
    states(db, "G", ("online", H(-50), None))
    maintenance(db, "asset", "A", (H(12), H(16)))
    maintenance(db, "department", "traffic", (H(22), H(25)))
    maintenance(db, "tag", "solar", (H(40), H(42)))
    maintenance(db, "district", "d2", (H(46), H(47)))
    maintenance(db, "all", None, (H(0), H(48)), kind="silence")
    maintenance(db, "all", None, (H(44), H(45)), removed_at=H(-5))


@pytest.mark.parametrize(("indicator", "kind", "gateway_kind", "extra"), AVAILABILITY)
def test_total_with_late_registration_retirement_gaps_and_maintenance(
        db: Conn, indicator: str, kind: str, gateway_kind: str, extra: set[str]) -> None:
    build_city(db, kind, gateway_kind)
    result = run(db, indicator, W)
    f = result.figure
    # scope: A 48 + B 42 (H6–H48) + C 36 (H0–H36) + G 48 = 174 h
    # unknown: B 3 (gap) + C 6 (no interval H20–H26) = 9 h → known 165 h
    # up: A 48 − 4 (offline) = 44, B 39, C 36 − 6 − 4 = 26, G 48 → 157 h
    assert f.numerator == 157 * HOUR
    assert f.denominator == 165 * HOUR
    assert f.value == pytest.approx(100 * 157 / 165)          # 95.1515 %
    assert f.unknown_share == pytest.approx(9 / 174)          # 0.0517
    # under maintenance, up: A H14–H16 = 2; B solar 2 + d2 1 = 3; C 0 (H22–H25 falls in
    # its unrecorded H20–H26); G traffic 3 + d2 1 = 4 → 9 h
    # under maintenance, known: A H12–H16 = 4 (the outage H12–H14 included); B 3; C 0; G 4 → 11 h
    # adjusted = (157 − 9) / (165 − 11) = 148 / 154
    assert f.adjusted_value == pytest.approx(100 * 148 / 154)  # 96.1039 %
    assert result.indicator.availability


@pytest.mark.parametrize(("indicator", "kind", "gateway_kind", "extra"), AVAILABILITY)
def test_breakdowns(db: Conn, indicator: str, kind: str, gateway_kind: str, extra: set[str]) -> None:
    build_city(db, kind, gateway_kind)
    result = run(db, indicator, W)
    water, traffic = member(result, "department", "water"), member(result, "department", "traffic")
    assert water is not None and traffic is not None
    # water = A + B: scope 48 + 42 = 90, known 48 + 39 = 87, up 44 + 39 = 83;
    # maintenance up 2 + 3 = 5, known 4 + 3 = 7 → adjusted 78 / 80
    assert (water.numerator, water.denominator) == (83 * HOUR, 87 * HOUR)
    assert water.adjusted_value == pytest.approx(100 * 78 / 80)
    assert water.unknown_share == pytest.approx(3 / 90)
    # traffic = C + G: scope 36 + 48 = 84, known 30 + 48 = 78, up 26 + 48 = 74;
    # maintenance up 0 + 4, known 0 + 4 → adjusted 70 / 74
    assert (traffic.numerator, traffic.denominator) == (74 * HOUR, 78 * HOUR)
    assert traffic.adjusted_value == pytest.approx(100 * 70 / 74)
    assert traffic.unknown_share == pytest.approx(6 / 84)
    assert member(result, "department", "empty") is None  # no asset: absent
    # Day 2026-03-10 (H0–H24): A scope 24 up 20 (offline H10–14), maintenance up 2
    # (H14–16) known 4; B scope 18 (H6–24) up 18; C scope 24, unrecorded H20–24 → known
    # 20 up 20 (its maintenance H22–24 is unrecorded time); G 24, maintenance 2 (H22–24).
    # scope 90, known 86, up 82, maintenance up 4 known 6
    day1 = member(result, "day", "2026-03-10")
    assert day1 is not None
    assert (day1.numerator, day1.denominator) == (82 * HOUR, 86 * HOUR)
    assert day1.adjusted_value == pytest.approx(100 * (82 - 4) / (86 - 6))
    assert day1.unknown_share == pytest.approx(4 / 90)
    # Day 2026-03-11 (H24–H48): A 24/24/24; B 24, unknown 3 → 21/21, maintenance 3/3;
    # C scope 12 (H24–36), unrecorded H24–26, offline H26–30 → known 10 up 6;
    # G 24, maintenance H24–25 and H46–47 = 2. scope 84, known 79, up 75, maintenance 5/5
    day2 = member(result, "day", "2026-03-11")
    assert day2 is not None
    assert (day2.numerator, day2.denominator) == (75 * HOUR, 79 * HOUR)
    assert day2.adjusted_value == pytest.approx(100 * 70 / 74)
    assert day2.unknown_share == pytest.approx(5 / 84)
    assert {b.member for b in result.breakdowns if b.dimension == "day"} == {"2026-03-10", "2026-03-11"}
    if "district" in extra:
        d1, d2 = member(result, "district", "d1"), member(result, "district", "d2")
        assert d1 is not None and d2 is not None
        # d1 = A + C: known 48 + 30 = 78, up 44 + 26 = 70; d2 = B + G: 87 / 87
        assert (d1.numerator, d1.denominator) == (70 * HOUR, 78 * HOUR)
        assert d2.value == pytest.approx(100.0)
        assert d2.adjusted_value == pytest.approx(100.0)  # (87 − 7) / (87 − 7)
    if "kind" in extra:
        device, gateway = member(result, "kind", "iot_device"), member(result, "kind", "gateway")
        assert device is not None and gateway is not None
        # A + B + C: known 48 + 39 + 30 = 117, up 44 + 39 + 26 = 109
        assert (device.numerator, device.denominator) == (109 * HOUR, 117 * HOUR)
        assert (gateway.numerator, gateway.denominator) == (48 * HOUR, 48 * HOUR)
    if "asset" in extra:
        a, b, c = member(result, "asset", "A"), member(result, "asset", "B"), member(result, "asset", "C")
        assert a is not None and b is not None and c is not None
        assert a.value == pytest.approx(100 * 44 / 48)
        assert a.adjusted_value == pytest.approx(100 * 42 / 44)   # (44 − 2) / (48 − 4)
        assert b.value == pytest.approx(100.0)
        assert b.unknown_share == pytest.approx(3 / 42)
        assert c.value == pytest.approx(100 * 26 / 30)
        assert c.unknown_share == pytest.approx(6 / 36)
        assert member(result, "asset", "X") is None


@pytest.mark.parametrize(("indicator", "kind", "gateway_kind", "extra"), AVAILABILITY)
def test_empty_department_is_no_data(db: Conn, indicator: str, kind: str, gateway_kind: str,
                                     extra: set[str]) -> None:
    build_city(db, kind, gateway_kind)
    result = run(db, indicator, W, department="empty")
    assert result.department == "empty"
    f = result.figure
    assert f.value is None and f.adjusted_value is None and f.unknown_share is None
    assert (f.numerator, f.denominator) == (0, 0)
    assert [b.figure.value for b in result.breakdowns] == [None, None]  # the two days, no data
    water = run(db, indicator, W, department="water")
    assert water.figure.value == pytest.approx(100 * 83 / 87)  # A + B only
    assert {b.member for b in water.breakdowns if b.dimension == "department"} == {"water"}


@pytest.mark.parametrize(("indicator", "kind", "gateway_kind", "extra"), AVAILABILITY)
def test_berlin_days_across_dst_last_23_and_25_hours(db: Conn, indicator: str, kind: str,
                                                     gateway_kind: str, extra: set[str]) -> None:
    department(db, "water")
    asset(db, "A", kind, "water")
    spring = local(BERLIN, 2026, 3, 29, 9)  # 09:00 CEST on the 23-hour day
    autumn = local(BERLIN, 2026, 10, 25, 23, 30)  # 23:30 CET, the 25-hour day's last hour
    hour = timedelta(hours=1)
    states(db, "A", ("online", local(BERLIN, 2026, 1, 1), spring), ("offline", spring, spring + hour),
           ("online", spring + hour, autumn), ("offline", autumn, autumn + hour),
           ("online", autumn + hour, None))
    march = run(db, indicator, window(local(BERLIN, 2026, 3, 28), local(BERLIN, 2026, 3, 31), BERLIN))
    # 2026-03-29 runs 00:00 CET → 24:00 CEST = 23 h, one of them offline: 22 / 23
    day = member(march, "day", "2026-03-29")
    assert day is not None
    assert (day.numerator, day.denominator) == (22 * HOUR, 23 * HOUR)
    assert member(march, "day", "2026-03-28") == member(march, "day", "2026-03-30")
    assert march.figure.denominator == (24 + 23 + 24) * HOUR
    october = run(db, indicator, window(local(BERLIN, 2026, 10, 24), local(BERLIN, 2026, 10, 27), BERLIN))
    # 2026-10-25 lasts 25 h; offline from 23:30 CET, so 30 min on the 25th, 30 min on the 26th
    long_day = member(october, "day", "2026-10-25")
    next_day = member(october, "day", "2026-10-26")
    assert long_day is not None and next_day is not None
    assert (long_day.numerator, long_day.denominator) == (24.5 * HOUR, 25 * HOUR)
    assert (next_day.numerator, next_day.denominator) == (23.5 * HOUR, 24 * HOUR)



HAVANA = ZoneInfo("America/Havana")


@pytest.mark.parametrize(("indicator", "kind", "gateway_kind", "extra"), AVAILABILITY)
def test_havana_day_whose_midnight_happens_twice(db: Conn, indicator: str, kind: str,
                                                 gateway_kind: str, extra: set[str]) -> None:
    """Cuba falls back from 01:00 CDT to 00:00 CST on 2026-11-01: local midnight happens
    twice, and the day runs from the first (04:00 UTC) to 24:00 CST, 25 hours. An hour
    offline between the two midnights belongs to 11-01, never to 10-31: on the intervals,
    and on the availability facts once the rollup zone is Havana's."""
    department(db, "water")
    asset(db, "A", kind, "water")
    down = local(HAVANA, 2026, 11, 1, 0, 30)  # 00:30 CDT, the first time round (04:30 UTC)
    hour = timedelta(hours=1)
    states(db, "A", ("online", local(HAVANA, 2026, 10, 1), down), ("offline", down, down + hour),
           ("online", down + hour, None))
    win = window(local(HAVANA, 2026, 10, 31), local(HAVANA, 2026, 11, 3), HAVANA)

    def check() -> None:
        result = run(db, indicator, win)
        days = {}
        for d in ("2026-10-31", "2026-11-01", "2026-11-02"):
            f = member(result, "day", d)
            days[d] = None if f is None else (f.numerator, f.denominator)
        assert days == {"2026-10-31": (24 * HOUR, 24 * HOUR), "2026-11-01": (24 * HOUR, 25 * HOUR),
                        "2026-11-02": (24 * HOUR, 24 * HOUR)}
        assert result.figure.denominator == 73 * HOUR

    check()  # the intervals (the rollup zone, Shanghai, is not the report's)
    rollups.set_zone(db, "America/Havana")
    refreshed = availability.refresh(db, win.start, win.end)
    # the three whole Havana days now come from the facts (for the rates that read them)
    assert refreshed.days == (date(2026, 11, 2), date(2026, 11, 1), date(2026, 10, 31))
    check()


@pytest.mark.parametrize(("indicator", "kind", "gateway_kind", "extra"), AVAILABILITY)
def test_degraded_is_up_except_for_camera_intact(db: Conn, indicator: str, kind: str,
                                                  gateway_kind: str, extra: set[str]) -> None:
    department(db, "water")
    asset(db, "A", kind, "water")
    states(db, "A", ("online", H(-1), H(10)), ("degraded", H(10), H(16)), ("online", H(16), None))
    f = run(db, indicator, W).figure
    # degraded H10–H16 = 6 h: not intact for a camera (42 / 48), up for everything else
    expected = 42 if indicator == "infra.camera_intact_rate" else 48
    assert (f.numerator, f.denominator) == (expected * HOUR, 48 * HOUR)


def test_overlapping_windows_count_once(db: Conn) -> None:
    department(db, "water")
    asset(db, "A", "iot_device", "water", tags=["pole"])
    asset(db, "B", "iot_device", "water")
    states(db, "A", ("online", H(-1), H(11)), ("offline", H(11), H(13)), ("online", H(13), H(20)),
           ("offline", H(20), H(22)), ("online", H(22), None))
    states(db, "B", ("online", H(-1), H(20)), ("offline", H(20), H(24)), ("online", H(24), None))
    maintenance(db, "all", None, (H(10), H(14)))
    maintenance(db, "tag", "pole", (H(12), H(16)), (H(30), H(31)))
    result = run(db, "infra.device_online_rate", W)
    f = result.figure
    # A: up 48 − 2 − 2 = 44; B: offline H20–24 → 44
    assert (f.numerator, f.denominator) == (88 * HOUR, 96 * HOUR)
    # A's maintenance = H10–14 ∪ H12–16 ∪ H30–31 = 7 h (not 4 + 4 + 1 = 9), 5 of them up
    # (offline H11–13) → A adjusted up 44 − 5 = 39, known 48 − 7 = 41.
    # B: city-wide H10–14 only (4 h, up); its offline H20–24 is outside → up 44 − 4 = 40, known 48 − 4 = 44.
    assert f.adjusted_value == pytest.approx(100 * (39 + 40) / (41 + 44))
    day = member(result, "day", "2026-03-10")
    assert day is not None
    # Day 1 (H0–H24): up A 24 − 4 = 20, B 24 − 4 = 20 → 40 of 48 known. Maintenance
    # that day: A H10–16 (6 h, 4 up), B H10–14 (4 up) → up 8, known 10.
    assert (day.numerator, day.denominator) == (40 * HOUR, 48 * HOUR)
    assert day.adjusted_value == pytest.approx(100 * (40 - 8) / (48 - 10))


def test_a_window_inside_one_day(db: Conn) -> None:
    build_city(db, "iot_device", "gateway")
    result = run(db, "infra.device_online_rate", window(H(9), H(15)))
    f = result.figure
    # 09:00–15:00 local: A up H9–10 and H14–15 = 2 of 6; B, C, G up 6 of 6 → 20 / 24
    assert (f.numerator, f.denominator) == (20 * HOUR, 24 * HOUR)
    # maintenance inside: A H12–15 (3 known, 1 up) → adjusted (20 − 1) / (24 − 3)
    assert f.adjusted_value == pytest.approx(100 * 19 / 21)
    day = member(result, "day", "2026-03-10")
    assert day == f
    assert [b.member for b in result.breakdowns if b.dimension == "day"] == ["2026-03-10"]


# --- maintenance and the past (README, "Rules an evaluator can check") ------------------

OPERATOR = audit.Actor(id="token:op", role="operator")
ADMIN = audit.Actor(id="token:admin", role="admin")


def build_maintenance_city(db: Conn, kind: str
                           ) -> tuple[windows.MaintenanceWindow, windows.MaintenanceWindow]:
    """A offline H10–H14, B always online, C offline H30–H34. The windows are stored as
    the CLI and the API store them (alerts.maintenance.windows.create), late:
    * A's, declared H8–H16, is added by an operator at H12: it counts H12–H16;
    * C's, declared H28–H36, is added at H32 by an operator too (counts H32–H36) and
      approved as retroactive by an admin at H40: then it counts H28–H36."""
    department(db, "water")
    district(db, "d1")
    for a in ("A", "B", "C"):
        asset(db, a, kind, "water", district="d1")
    states(db, "A", ("online", H(-10), H(10)), ("offline", H(10), H(14)), ("online", H(14), None))
    states(db, "B", ("online", H(-10), None))
    states(db, "C", ("online", H(-10), H(30)), ("offline", H(30), H(34)), ("online", H(34), None))

    def add(target: str, lo: float, hi: float, at: float) -> windows.MaintenanceWindow:
        spec = windows.make_spec(kind="maintenance", scope="asset", target=target, starts_at=H(lo),
                                 ends_at=H(hi), timezone="Asia/Shanghai", reason="crew on site")
        return windows.create(db, spec, OPERATOR, now=H(at), horizon_days=30)

    return add("A", 8, 16, 12), add("C", 28, 36, 32)


@pytest.mark.parametrize(("indicator", "kind", "gateway_kind", "extra"), AVAILABILITY)
def test_the_maintenance_rule_a_window_counts_from_its_creation_unless_approved(
        db: Conn, indicator: str, kind: str, gateway_kind: str, extra: set[str]) -> None:
    wa, wc = build_maintenance_city(db, kind)

    def adjusted() -> tuple[float | None, float | None, float | None]:
        result = run(db, indicator, W)
        f = result.figure
        # known: 48 h each (A 44 up, B 48, C 44) → value 136 / 144, whatever the windows
        assert (f.numerator, f.denominator) == (136 * HOUR, 144 * HOUR)
        day1, day2 = member(result, "day", "2026-03-10"), member(result, "day", "2026-03-11")
        assert day1 is not None and day2 is not None
        return f.adjusted_value, day1.adjusted_value, day2.adjusted_value

    # Before the approval. Under maintenance: A H12–H16 (known 4, up 2: H14–H16);
    # C H32–H36 (known 4, up 2: H34–H36) → (136 − 4) / (144 − 8) = 132 / 136.
    # (Counting A's declared H8–H16 and C's H28–H36 would give 128 / 128 = 100 %.)
    # Day 1 (H0–H24): known 72, up 68; A 4 / 2 → 66 / 68. Day 2: known 72, up 68; C 4 / 2.
    assert adjusted() == pytest.approx((100 * 132 / 136, 100 * 66 / 68, 100 * 66 / 68))
    assert (wa.starts_at, wa.counts_from) == (H(8), H(12))     # declared start kept and shown
    approved = windows.approve_retroactive(db, wc.window_id, ADMIN, "crew started at H28; filed late",
                                           now=H(40))
    assert (approved.retroactive_by, approved.counts_from) == (ADMIN.id, H(28))
    # After: C H28–H36 counts (known 8, up 4: H28–H30, H34–H36) → (136 − 6) / (144 − 12)
    # = 130 / 132; day 2: (68 − 4) / (72 − 8) = 64 / 64.
    expected = (100 * 130 / 132, 100 * 66 / 68, 100.0)
    assert adjusted() == pytest.approx(expected)
    if "asset" in extra:
        result = run(db, indicator, W)
        a, c = member(result, "asset", "A"), member(result, "asset", "C")
        assert a is not None and c is not None
        assert a.adjusted_value == pytest.approx(100 * 42 / 44)    # (44 − 2) / (48 − 4)
        assert c.adjusted_value == pytest.approx(100.0)            # (44 − 4) / (48 − 8)
    # The same from the availability facts (the online and intact rates read whole days there).
    availability.refresh(db, W.start, W.end)
    assert adjusted() == pytest.approx(expected)


def test_the_maintenance_rule_audit_entry_and_report_provenance(db: Conn) -> None:
    wa, wc = build_maintenance_city(db, "iot_device")
    # Added by an admin with a reason: retroactive at once, in one transaction with its entries.
    spec = windows.make_spec(kind="maintenance", scope="asset", target="B", starts_at=H(20),
                             ends_at=H(22), timezone="Asia/Shanghai", reason="cabinet swap")
    wb = windows.create(db, spec, ADMIN, now=H(26), horizon_days=30, retroactive_reason="paper permit")
    windows.approve_retroactive(db, wc.window_id, ADMIN, "crew started at H28; filed late", now=H(40))
    rows = db.execute("SELECT at, actor, role, action, subject, details FROM audit_log"
                      " ORDER BY id").fetchall()
    assert [(r[1], r[3], r[4]) for r in rows] == [
        (OPERATOR.id, "maintenance.add", str(wa.window_id)),
        (OPERATOR.id, "maintenance.add", str(wc.window_id)),
        (ADMIN.id, "maintenance.add", str(wb.window_id)),
        (ADMIN.id, "maintenance.retroactive", str(wb.window_id)),
        (ADMIN.id, "maintenance.retroactive", str(wc.window_id)),
    ]
    assert rows[0][5]["counts_from"] == H(12).isoformat() and rows[0][5]["retroactive"] is False
    assert rows[3][0] == H(26) and rows[3][5] == {
        "reason": "paper permit", "scope": "asset", "target": "B", "declared_from": H(20).isoformat(),
        "created_at": H(26).isoformat(), "seconds_before_creation": 2 * HOUR}
    assert rows[4][0] == H(40) and rows[4][2] == "admin" and rows[4][5] == {
        "reason": "crew started at H28; filed late", "scope": "asset", "target": "C",
        "declared_from": H(28).isoformat(), "created_at": H(32).isoformat(),
        "seconds_before_creation": 4 * HOUR, "approved_at": H(40).isoformat()}
    # Nothing counts before its window's creation unless the window is retroactive.
    assert db.execute(
        "SELECT count(*) FROM maintenance_periods p JOIN maintenance_windows w USING (window_id)"
        " WHERE p.starts_at < w.created_at AND w.retroactive_by IS NULL").fetchone() == (0,)
    # Reports list the retroactive windows whose time before creation falls in their window:
    # B's H20–H22 and C's H28–H32, not A's (not approved); not after H32.
    doc = build_report(db, W, department=None, generated_by="test", generated_at=H(48))
    assert doc.provenance.retroactive_maintenance == (wc.window_id, wb.window_id)   # by id
    assert as_dict(doc)["provenance"]["retroactive_maintenance"] == {
        "count": 2, "window_ids": [wc.window_id, wb.window_id]}
    assert dict(provenance_lines(doc))["retroactive_maintenance"] == (
        f"2 (windows {wc.window_id}, {wb.window_id})")
    assert windows.retroactive_in(db, H(22), H(28)) == ()
    assert windows.retroactive_in(db, H(31), H(48)) == (wc.window_id,)
    assert windows.retroactive_in(db, H(32), H(48)) == ()
    online = next(r for r in doc.results if r.indicator.id == "infra.device_online_rate")
    # B H20–H22 up 2 of 2 known, A 4 / 2, C 8 / 4 → (136 − 8) / (144 − 14) = 128 / 130
    assert online.figure.adjusted_value == pytest.approx(100 * 128 / 130)


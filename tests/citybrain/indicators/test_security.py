"""Golden tests of security incidents by level and data-leak incidents, hand-computed.

Window: two Shanghai days, H0 = 2026-03-10 00:00 local; the midnight between them is H24.

    vm-1      water    III intrusion H1; I data_leak H23.5 (23:30, day 1); also H−1 and H49
    sys-1     traffic  retired at H20; II malware H24.5 (00:30, day 2): still its department's
    portal-1  water    registered at H30; I data_leak H40
    ghost     not in the register: IV ddos H5
"""

from __future__ import annotations

from tests.citybrain.indicators.city import (
    BERLIN,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    local,
    members,
    run,
    security,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))


def build_events(db: Conn) -> None:
    department(db, "water", "traffic", "empty")
    asset(db, "vm-1", "cloud_host", "water")
    asset(db, "sys-1", "system", "traffic", key="system", retired=H(20))
    asset(db, "portal-1", "portal", "water", key="portal", registered=H(30))
    security(db, "vm-1", H(1), "III", "intrusion")
    security(db, "vm-1", H(23.5), "I", "data_leak")
    security(db, "vm-1", H(-1), "I", "malware")     # before the window
    security(db, "vm-1", H(49), "I", "malware")     # after it
    security(db, "sys-1", H(24.5), "II", "malware")
    security(db, "portal-1", H(40), "I", "data_leak")
    security(db, "ghost", H(5), "IV", "ddos")


def test_incidents_by_level(db: Conn) -> None:
    build_events(db)
    result = run(db, "security.incidents", W)
    assert result.figure.value == 5  # H1, H5, H23.5, H24.5, H40
    assert members(result, "level") == {"I": 2, "II": 1, "III": 1, "IV": 1}
    assert members(result, "category") == {"intrusion": 1, "malware": 1, "ddos": 1, "data_leak": 2,
                                           "vulnerability": 0, "policy_violation": 0, "other": 0}
    # ghost is not in the register: city-wide it counts, under 'unregistered'
    assert members(result, "department") == {"water": 3, "traffic": 1, "unregistered": 1}
    assert members(result, "day") == {"2026-03-10": 3, "2026-03-11": 2}
    water = run(db, "security.incidents", W, department="water")
    assert water.figure.value == 3
    assert members(water, "department") == {"water": 3}
    traffic = run(db, "security.incidents", W, department="traffic")
    assert traffic.figure.value == 1
    assert members(traffic, "level") == {"I": 0, "II": 1, "III": 0, "IV": 0}


def test_data_leaks(db: Conn) -> None:
    build_events(db)
    result = run(db, "security.data_leak_count", W)
    assert result.figure.value == 2  # vm-1 H23.5, portal-1 H40
    assert members(result, "level") == {"I": 2, "II": 0, "III": 0, "IV": 0}
    assert members(result, "department") == {"water": 2, "traffic": 0}
    assert members(result, "day") == {"2026-03-10": 1, "2026-03-11": 1}
    # a department with assets and no leak: 0, which meets the target of 0
    traffic = run(db, "security.data_leak_count", W, department="traffic")
    assert traffic.figure.value == 0
    assert traffic.met is True


def test_empty_department_is_no_data(db: Conn) -> None:
    build_events(db)
    for indicator in ("security.incidents", "security.data_leak_count"):
        result = run(db, indicator, W, department="empty")
        assert result.figure.value is None
        assert result.met is None
        assert all(b.figure.value is None for b in result.breakdowns)


def test_berlin_days_across_the_autumn_change(db: Conn) -> None:
    department(db, "water")
    asset(db, "vm-1", "cloud_host", "water")
    # 23:30 CET on the 25-hour 2026-10-25 is 22:30 UTC: still the 25th
    security(db, "vm-1", local(BERLIN, 2026, 10, 25, 23, 30), "I", "data_leak")
    security(db, "vm-1", local(BERLIN, 2026, 10, 26, 0, 30), "II", "data_leak")
    win = window(local(BERLIN, 2026, 10, 24), local(BERLIN, 2026, 10, 27), BERLIN)
    for indicator in ("security.incidents", "security.data_leak_count"):
        result = run(db, indicator, win)
        assert members(result, "day") == {"2026-10-24": 0, "2026-10-25": 1, "2026-10-26": 1}

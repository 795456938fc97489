"""Golden tests of the portal usage indicators (portal.dau, portal.mau, portal.user_coverage,
portal.service_items_covered, portal.service_item_share, portal.service_kinds,
portal.online_transaction_share), with values worked out by hand, DAU and MAU across the
2026-10-31 / 11-01 month boundary in Asia/Shanghai (UTC+8, no DST).

Events are inserted raw and the daily facts (migration 026) filled by ``rollups.rebuild``,
as a back-fill would; tests/streams/test_active_users.py checks that the sink fills them
the same way whatever the delivery.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from streams import rollups
from tests.citybrain.indicators.city import (
    BERLIN,
    SHANGHAI,
    Conn,
    asset,
    department,
    district,
    local,
    member,
    members,
    run,
    window,
)

_seq = iter(range(1, 10**9))


def user(n: int) -> str:
    """A pseudonymous key (64 hex) for user n."""
    return f"{n:064x}"


def sign_in(db: Conn, portal: str, at: datetime, who: int, channel: str = "app") -> None:
    db.execute("INSERT INTO usage_events (occurred_at, event_id, asset_id, action, user_key, channel)"
               " VALUES (%s, %s, %s, 'sign_in', %s, %s)", (at, f"s{next(_seq)}", portal, user(who), channel))


def transaction(db: Conn, portal: str, at: datetime, who: int, dept: str, online: bool,
                channel: str = "app", service: str = "svc-1") -> None:
    n = next(_seq)
    db.execute("INSERT INTO usage_events (occurred_at, event_id, asset_id, action, user_key, channel,"
               " service_id, department_id, transaction_id, fully_online)"
               " VALUES (%s, %s, %s, 'transaction', %s, %s, %s, %s, %s, %s)",
               (at, f"t{n}", portal, user(who), channel, service, dept, f"tx-{n}", online))


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return local(SHANGHAI, 2026, month, day, hour, minute)


# W: the local days 2026-10-31 and 11-01 in Shanghai, [2026-10-30 16:00Z, 2026-11-01 16:00Z).
W = window(sh(10, 31), sh(11, 2))
# Two whole local months, October and November.
MONTHS = window(sh(10, 1), sh(12, 1))


@pytest.fixture
def portal_city(db: Conn) -> Conn:
    department(db, "dept-a", "dept-b")
    asset(db, "portal-a", "portal", "dept-a", key="portal")
    asset(db, "portal-b", "portal", "dept-b", key="portal")
    # Users 1..5. Times are Shanghai wall-clock (UTC+8).
    sign_in(db, "portal-a", sh(10, 30, 23, 59), 4)                         # e7: Oct 30
    transaction(db, "portal-a", sh(10, 31, 10), 2, "dept-a", True)          # e2: Oct 31, app
    # 2026-10-31 23:30 +08:00 = 15:30Z: 31 Oct local (1 Nov is 30 minutes away).
    sign_in(db, "portal-a", datetime(2026, 10, 31, 15, 30, tzinfo=UTC), 1)  # e1: Oct 31
    # 2026-11-01 00:10 +08:00 = 2026-10-31 16:10Z: already 1 Nov local.
    sign_in(db, "portal-b", datetime(2026, 10, 31, 16, 10, tzinfo=UTC), 1)  # e3: Nov 1
    transaction(db, "portal-b", sh(11, 1, 9), 3, "dept-b", False, "hall")   # e4: Nov 1
    transaction(db, "portal-a", sh(11, 1, 12), 1, "dept-a", True, "web")    # e5: Nov 1
    sign_in(db, "portal-a", sh(11, 1, 12, 30), 1)                           # e6: Nov 1, user 1 again
    sign_in(db, "portal-b", sh(11, 1, 20), 2)                               # e9: Nov 1
    sign_in(db, "portal-a", sh(11, 2), 5)                                   # e8: Nov 2 (W's end)
    rollups.rebuild(db, sh(10, 1), sh(12, 1))
    return db


def test_dau_across_the_month_boundary(portal_city: Conn) -> None:
    result = run(portal_city, "portal.dau", W)
    # 31 Oct: users {2 (e2), 1 (e1)} = 2; 1 Nov: {1 (e3, e5, e6), 3 (e4), 2 (e9)} = 3.
    # e7 (30 Oct) and e8 (2 Nov 00:00, W's end) lie outside. DAU = (2 + 3) / 2 = 2.5.
    assert (result.figure.value, result.figure.numerator, result.figure.denominator) == (2.5, 5, 2)
    assert members(result, "day") == {"2026-10-31": 2, "2026-11-01": 3}


def test_mau_of_months_cut_by_the_window(portal_city: Conn) -> None:
    result = run(portal_city, "portal.mau", W)
    # W keeps one day of each month: October {1, 2} = 2, November {1, 2, 3} = 3; mean 2.5.
    assert (result.figure.value, result.figure.numerator, result.figure.denominator) == (2.5, 5, 2)
    assert members(result, "month") == {"2026-10": 2, "2026-11": 3}


def test_mau_of_whole_months_reads_the_monthly_facts(portal_city: Conn) -> None:
    # October: e7 (4), e2 (2), e1 (1) → 3 users; November: 1, 3, 2 and e8's 5 → 4 users.
    # MAU = (3 + 4) / 2 = 3.5.
    want = {"2026-10": 3, "2026-11": 4}
    result = run(portal_city, "portal.mau", MONTHS)
    assert (result.figure.value, result.figure.numerator) == (3.5, 7)
    assert members(result, "month") == want
    # DAU over the two months: user-days 30 Oct 1 + 31 Oct 2 + 1 Nov 3 + 2 Nov 1 = 7 over
    # 61 days (31 + 30), the 57 days without any event counting 0.
    dau = run(portal_city, "portal.dau", MONTHS)
    assert (dau.figure.numerator, dau.figure.denominator) == (7, 61)
    assert dau.figure.value == pytest.approx(7 / 61)
    assert members(dau, "day")["2026-11-15"] == 0
    # The whole months and days are read from the facts, not from the raw rows: with the
    # raw rows gone the figures stay.
    portal_city.execute("DELETE FROM usage_events")
    assert members(run(portal_city, "portal.mau", MONTHS), "month") == want
    assert run(portal_city, "portal.dau", MONTHS).figure.numerator == 7


def test_windows_cut_inside_days_read_the_raw_rows(portal_city: Conn) -> None:
    # [31 Oct 12:00, 1 Nov 12:00) local: 31 Oct keeps e1 (23:30, user 1) only → 1;
    # 1 Nov keeps e3 (00:10, user 1) and e4 (09:00, user 3) → 2 (e5 at 12:00 is W's end).
    cut = window(sh(10, 31, 12), sh(11, 1, 12))
    dau = run(portal_city, "portal.dau", cut)
    assert (dau.figure.value, members(dau, "day")) == (1.5, {"2026-10-31": 1, "2026-11-01": 2})
    mau = run(portal_city, "portal.mau", cut)
    assert (mau.figure.value, members(mau, "month")) == (1.5, {"2026-10": 1, "2026-11": 2})


def test_a_report_in_another_zone_cuts_its_own_days(portal_city: Conn) -> None:
    # Berlin, CET (UTC+1) after 25 Oct: [31 Oct 00:00, 2 Nov 00:00) = [30 Oct 23:00Z,
    # 1 Nov 23:00Z). e3 (31 Oct 16:10Z = 17:10 Berlin) is 31 Oct there; e8 (1 Nov 16:00Z =
    # 17:00 Berlin) is inside. 31 Oct: {2, 1} = 2; 1 Nov: {3, 1, 2, 5} = 4; DAU = 3.
    berlin = window(local(BERLIN, 2026, 10, 31), local(BERLIN, 2026, 11, 2), BERLIN)
    dau = run(portal_city, "portal.dau", berlin)
    assert (dau.figure.value, members(dau, "day")) == (3.0, {"2026-10-31": 2, "2026-11-01": 4})
    mau = run(portal_city, "portal.mau", berlin)
    assert members(mau, "month") == {"2026-10": 2, "2026-11": 4}


def test_department_scope_counts_the_users_of_its_systems(portal_city: Conn) -> None:
    # portal-b (dept-b) recorded e3 (user 1), e4 (user 3) and e9 (user 2), all on 1 Nov:
    # 31 Oct 0, 1 Nov 3; DAU = 1.5. MAU: October 0, November 3.
    dau = run(portal_city, "portal.dau", W, department="dept-b")
    assert (dau.figure.value, members(dau, "day")) == (1.5, {"2026-10-31": 0, "2026-11-01": 3})
    assert members(run(portal_city, "portal.mau", MONTHS, department="dept-b"), "month") == {
        "2026-10": 0, "2026-11": 3}
    # A department without systems (or users) has no data.
    department(portal_city, "dept-c")
    assert run(portal_city, "portal.dau", W, department="dept-c").figure.value is None


def test_no_usage_is_no_data(db: Conn) -> None:
    for indicator in ("portal.dau", "portal.mau", "portal.online_transaction_share"):
        result = run(db, indicator, W)
        assert result.figure.value is None, indicator


def test_online_transaction_share(portal_city: Conn) -> None:
    # Transactions in W: e2 (dept-a, app, online), e4 (dept-b, hall, not), e5 (dept-a, web,
    # online): 2 / 3.
    result = run(portal_city, "portal.online_transaction_share", W)
    assert (result.figure.numerator, result.figure.denominator) == (2, 3)
    assert result.figure.value == pytest.approx(200 / 3)
    assert members(result, "department") == {"dept-a": 100.0, "dept-b": 0.0}
    assert members(result, "channel") == {"app": 100.0, "hall": 0.0, "web": 100.0}
    # 31 Oct: e2 1/1; 1 Nov: e4, e5 1/2.
    assert members(result, "day") == {"2026-10-31": 100.0, "2026-11-01": 50.0}
    scoped = run(portal_city, "portal.online_transaction_share", W, department="dept-b")
    assert (scoped.figure.value, scoped.figure.denominator) == (0.0, 1)
    # The same from the raw rows in a zone the facts are not kept in (Berlin: e2 at 02:00Z
    # is 31 Oct, e4 at 01:00Z and e5 at 04:00Z 1 Nov).
    berlin = window(local(BERLIN, 2026, 10, 31), local(BERLIN, 2026, 11, 2), BERLIN)
    other = run(portal_city, "portal.online_transaction_share", berlin)
    assert (other.figure.numerator, other.figure.denominator) == (2, 3)
    assert members(other, "day") == {"2026-10-31": 100.0, "2026-11-01": 50.0}


def item(db: Conn, service_id: str, kind: str, dept: str, online: bool, since: datetime | None, *,
         registered: datetime = datetime(2024, 1, 1, tzinfo=UTC), retired: datetime | None = None) -> None:
    db.execute("INSERT INTO service_items (service_id, name, kind, department_id, online_capable,"
               " portal_since, registered_at, retired_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
               (service_id, service_id, kind, dept, online, since, registered, retired))


@pytest.fixture
def catalogue(db: Conn) -> Conn:
    department(db, "dept-a", "dept-b")
    covered = datetime(2025, 1, 1, tzinfo=UTC)
    item(db, "s1", "licensing", "dept-a", True, covered)
    item(db, "s2", "licensing", "dept-a", True, None)                  # online, not covered
    item(db, "s3", "certificate", "dept-a", True, sh(11, 1, 12))       # covered inside W
    item(db, "s4", "benefit", "dept-a", False, covered)                # not online-capable
    item(db, "s5", "levy", "dept-a", True, covered,
         retired=datetime(2026, 1, 1, tzinfo=UTC))                     # retired before W
    item(db, "s6", "certificate", "dept-b", True, covered)
    item(db, "s7", "public_service", "dept-b", True, covered,
         registered=datetime(2026, 12, 1, tzinfo=UTC))                 # registered after W
    return db


def test_service_items_covered_share_and_kinds(catalogue: Conn) -> None:
    # In the catalogue in W: s1, s2, s3, s4 (dept-a) and s6 (dept-b) = 5 (s5 retired before,
    # s7 registered after). Covered before W's end (1 Nov 16:00Z):
    # s1, s3 (since 1 Nov 12:00 local), s6 = 3.
    covered = run(catalogue, "portal.service_items_covered", W)
    assert covered.figure.value == 3
    assert members(covered, "department") == {"dept-a": 2, "dept-b": 1}
    assert members(covered, "kind") == {"licensing": 1, "certificate": 2, "benefit": 0}
    share = run(catalogue, "portal.service_item_share", W)
    assert (share.figure.value, share.figure.numerator, share.figure.denominator) == (60.0, 3, 5)
    # dept-a 2 of 4 = 50 %, dept-b 1 of 1; licensing 1 of 2 (s1, s2), certificate 2 of 2,
    # benefit 0 of 1 (s4).
    assert members(share, "department") == {"dept-a": 50.0, "dept-b": 100.0}
    assert members(share, "kind") == {"licensing": 50.0, "certificate": 100.0, "benefit": 0.0}
    kinds = run(catalogue, "portal.service_kinds", W)
    # Covered kinds: licensing (s1), certificate (s3, s6) = 2; dept-a 2, dept-b 1.
    assert kinds.figure.value == 2
    assert members(kinds, "department") == {"dept-a": 2, "dept-b": 1}
    # Department scope: dept-a's items only.
    assert run(catalogue, "portal.service_item_share", W, department="dept-a").figure.value == 50.0
    # Per day: the same 5 items both days; covered by 31 Oct's end (1 Nov 00:00 local)
    # s1, s6 (s3 only from 1 Nov 12:00), by 1 Nov's end s1, s3, s6.
    assert members(covered, "day") == {"2026-10-31": 2, "2026-11-01": 3}
    assert members(share, "day") == {"2026-10-31": 40.0, "2026-11-01": 60.0}
    assert members(kinds, "day") == {"2026-10-31": 2, "2026-11-01": 2}


def test_service_items_are_taken_at_the_windows_end(catalogue: Conn) -> None:
    # Ending at 1 Nov 12:00 local: s3's coverage starts at the end itself, so not yet:
    # covered s1, s6 = 2 of the same 5 active items, kinds licensing, certificate (s6).
    early = window(sh(10, 31), sh(11, 1, 12))
    assert run(catalogue, "portal.service_items_covered", early).figure.value == 2
    assert run(catalogue, "portal.service_item_share", early).figure.value == 40.0
    assert run(catalogue, "portal.service_kinds", early).figure.value == 2
    # A department with no active item: no data.
    department(catalogue, "dept-c")
    assert run(catalogue, "portal.service_items_covered", W, department="dept-c").figure.value is None


def population(db: Conn, district_id: str, basis: str, as_of: date, people: int) -> None:
    db.execute("INSERT INTO population (district_id, basis, as_of, people, source)"
               " VALUES (%s, %s, %s, %s, 'bulletin')", (district_id, basis, as_of, people))


def accounts(db: Conn, as_of: date, users: int) -> None:
    db.execute("INSERT INTO portal_accounts (as_of, registered_users, source)"
               " VALUES (%s, %s, 'account system')", (as_of, users))


@pytest.fixture
def people(db: Conn) -> Conn:
    district(db, "d1", "d2")
    population(db, "d1", "resident", date(2024, 12, 31), 580_000)
    population(db, "d1", "resident", date(2025, 12, 31), 600_000)
    population(db, "d2", "resident", date(2025, 12, 31), 400_000)
    population(db, "d2", "resident", date(2026, 12, 31), 410_000)   # after W: not used
    population(db, "d1", "household", date(2025, 12, 31), 500_000)
    population(db, "d2", "household", date(2025, 12, 31), 300_000)
    accounts(db, date(2026, 9, 30), 240_000)
    accounts(db, date(2026, 10, 31), 250_000)
    accounts(db, date(2026, 11, 30), 260_000)                       # after W: not used
    return db


def test_user_coverage_divides_by_the_resident_population(people: Conn) -> None:
    # W's last local date is 1 Nov: accounts of 31 Oct, 250 000; resident population
    # 600 000 + 400 000 = 1 000 000 → 25 %; household 500 000 + 300 000 → 31.25 %.
    result = run(people, "portal.user_coverage", W)
    assert (result.figure.value, result.figure.numerator, result.figure.denominator) == (
        25.0, 250_000, 1_000_000)
    assert members(result, "basis") == {"resident": 25.0, "household": 31.25}
    assert members(result, "day") == {"2026-10-31": 25.0, "2026-11-01": 25.0}
    # Ending at 31 Oct 00:00 local, the last date is 30 Oct: the 30 Sep figure, 240 000 → 24 %.
    earlier = run(people, "portal.user_coverage", window(sh(10, 30), sh(10, 31)))
    assert earlier.figure.value == 24.0
    # Per day: 30 Oct and 31 Oct of [30 Oct, 1 Nov): 240 000 then 250 000 over 1 000 000.
    days = run(people, "portal.user_coverage", window(sh(10, 30), sh(11, 1)))
    assert members(days, "day") == {"2026-10-30": 24.0, "2026-10-31": 25.0}
    # The accounts are the city portal's: a department scope has no figure.
    assert run(people, "portal.user_coverage", W, department="dept-a").figure.value is None


def test_user_coverage_without_a_districts_figure_is_no_data(people: Conn) -> None:
    district(people, "d3")
    population(people, "d3", "household", date(2025, 12, 31), 100_000)
    result = run(people, "portal.user_coverage", W)
    # d3 has no resident figure: the resident population is missing, not 1 000 000.
    assert result.figure.value is None and result.figure.denominator is None
    household = member(result, "basis", "household")
    assert household is not None and household.value == pytest.approx(100 * 250_000 / 900_000)
    # Before any account figure: no data.
    assert run(people, "portal.user_coverage", window(sh(9, 1), sh(9, 2))).figure.value is None


def test_rebuild_reproduces_the_facts(portal_city: Conn) -> None:
    def facts() -> list[Any]:
        return [portal_city.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3").fetchall()
                for t in ("usage_user_days", "usage_user_months", "usage_daily")]
    before = facts()
    assert len(before[0]) == 8   # (day, user, system): e7, e2, e1, e3, e4, e5 (e6 same), e9, e8
    for table in ("usage_user_days", "usage_user_months", "usage_daily"):
        portal_city.execute(f"DELETE FROM {table}")
    rollups.rebuild(portal_city, sh(10, 1), sh(12, 1) - timedelta(hours=1))
    assert facts() == before

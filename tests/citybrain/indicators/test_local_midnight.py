"""local_midnight(d, tz) (migration 015) is where local date d begins: the instant from
which every instant has local date d (t AT TIME ZONE tz, how stored rows find their day),
for every day of 2026 in zones with DST changes at or near midnight, and others.

The reference is brute force with zoneinfo: on a 15-minute grid of UTC instants (every
offset in the tz database since 1970 is a multiple of 15 minutes, so every local midnight
lies on it), the day begins one step after the last instant whose local date is earlier.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.citybrain.indicators.city import Conn

STEP = timedelta(minutes=15)
ZONES = [
    "America/Havana",       # 01:00 → 00:00 in November: midnight happens twice
    "America/Santiago",     # 24:00 → 01:00 in September: midnight skipped; 24:00 → 23:00 in April
    "America/Asuncion",     # 00:00 → 23:00 until 2024 (checked in 2023 below)
    "Europe/Berlin", "Asia/Shanghai", "Asia/Kolkata", "Asia/Kathmandu",
    "Australia/Lord_Howe",  # 30-minute changes
    "Pacific/Chatham",      # +12:45 / +13:45
]


def day_start(d: date, tz: ZoneInfo) -> datetime:
    t = datetime(d.year, d.month, d.day, tzinfo=UTC) - timedelta(hours=16)
    last_before = t
    while t < datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(hours=16):
        if t.astimezone(tz).date() < d:
            last_before = t
        t += STEP
    return last_before + STEP


@pytest.mark.parametrize("zone", ZONES)
def test_local_midnight_is_where_the_local_date_begins(db: Conn, zone: str) -> None:
    tz = ZoneInfo(zone)
    year = 2023 if zone == "America/Asuncion" else 2026
    days = [date(year, 1, 1) + timedelta(days=k) for k in range(365)]
    got = dict(db.execute(
        "SELECT d, local_midnight(d, %s) FROM unnest(%s::date[]) d", (zone, days)).fetchall())
    want = {d: day_start(d, tz) for d in days}
    assert got == want
    # The plain conversion differs exactly on the days whose midnight repeats.
    plain = dict(db.execute(
        "SELECT d, d::timestamp AT TIME ZONE %s FROM unnest(%s::date[]) d", (zone, days)).fetchall())
    repeated = {d for d in days if plain[d] != want[d]}
    assert repeated == ({date(2026, 11, 1)} if zone == "America/Havana" else set())

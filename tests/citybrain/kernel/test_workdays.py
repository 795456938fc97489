"""Deadlines in working days on the official calendar, by hand from the State Council's
2026 schedule (国办发明电〔2025〕7号): Mid-Autumn 25–27 September; National Day 1–7
October, with Sunday 20 September and Saturday 10 October worked instead."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from citybrain.kernel.workdays import KNOWN_TO, OFFICIAL, CalendarFileError, CalendarUnknown, load

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_the_official_days_of_autumn_2026() -> None:
    assert OFFICIAL.is_workday(date(2026, 9, 20))          # a Sunday, worked for National Day
    assert not OFFICIAL.is_workday(date(2026, 9, 25))      # a Friday, Mid-Autumn
    assert not OFFICIAL.is_workday(date(2026, 10, 5))      # a Monday, National Day
    assert OFFICIAL.is_workday(date(2026, 10, 10))         # a Saturday, worked
    assert not OFFICIAL.is_workday(date(2026, 10, 11))     # an ordinary Sunday
    # 21 September – 11 October: 21–24 (4), 28–30 (3), 8–9 (2), 10 (1) → 10 working days.
    assert OFFICIAL.workdays_between(date(2026, 9, 21), date(2026, 10, 11)) == 10


def test_a_limit_spanning_the_holiday_and_the_adjusted_working_day() -> None:
    # Received Wednesday 30 September 15:00: the holiday 1–7 October is not counted;
    # Thursday 8 (1), Friday 9 (2), Saturday 10, worked (3) → due when the 10th ends.
    due = OFFICIAL.deadline(local("2026-09-30T15:00"), 3, SHANGHAI)
    assert due == local("2026-10-11T00:00")
    assert due.astimezone(UTC) == datetime(2026, 10, 10, 16, 0, tzinfo=UTC)
    # Received Saturday 19 September: Sunday 20, worked (1), Monday 21 (2) → the 21st ends.
    assert OFFICIAL.deadline(local("2026-09-19T10:00"), 2, SHANGHAI) == local("2026-09-22T00:00")
    # Received Thursday 24 September 23:59 local (15:59 UTC: the UTC day is the same, the
    # local day decides): Friday 25 – Sunday 27 off; Monday 28 (1).
    assert OFFICIAL.deadline(datetime(2026, 9, 24, 15, 59, tzinfo=UTC), 1, SHANGHAI) == local(
        "2026-09-29T00:00")
    # Received just after local midnight on the 25th (16:01 UTC on the 24th): the same day 1.
    assert OFFICIAL.deadline(datetime(2026, 9, 24, 16, 1, tzinfo=UTC), 1, SHANGHAI) == local(
        "2026-09-29T00:00")


def test_a_year_the_calendar_does_not_know_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarUnknown, match=f"{KNOWN_TO + 1}"):
        OFFICIAL.deadline(local(f"{KNOWN_TO}-12-30T09:00"), 5, SHANGHAI)


def test_a_calendar_file_adds_a_year_and_a_departments_own_days(tmp_path: Path) -> None:
    year = KNOWN_TO + 1
    file = tmp_path / "calendar.yaml"
    file.write_text(f"city:\n  years: [{year}]\n  holidays: [{year}-01-01]\n  workdays: [{year}-01-09]\n"
                    f"departments:\n  dept-hall:\n    holidays: [{year}-01-04]\n", encoding="utf-8")
    calendars = load(file)
    city, hall = calendars.of(None), calendars.of("dept-hall")
    assert calendars.of("dept-other") is city
    start = local(f"{year}-01-01T09:00")
    days = [d for d in range(2, 12) if city.is_workday(date(year, 1, d))]
    # Weekdays of the declared year, the file's holiday off and its Saturday-or-not workday on.
    assert days == [d for d in range(2, 12)
                    if date(year, 1, d).weekday() < 5 or date(year, 1, d) == date(year, 1, 9)]
    assert city.deadline(start, 1, SHANGHAI) == local(f"{year}-01-{days[0] + 1:02d}T00:00")
    assert not hall.is_workday(date(year, 1, 4)) and (city.is_workday(date(year, 1, 4))
                                                     == (date(year, 1, 4).weekday() < 5))


def test_a_bad_calendar_file_says_what_is_wrong(tmp_path: Path) -> None:
    file = tmp_path / "calendar.yaml"
    file.write_text("city:\n  holidays: [2026-10-10]\n  workdays: [2026-10-10]\n", encoding="utf-8")
    with pytest.raises(CalendarFileError, match="2026-10-10"):
        load(file)
    file.write_text("city:\n  holiday: [2026-10-10]\n", encoding="utf-8")
    with pytest.raises(CalendarFileError, match="holiday"):
        load(file)

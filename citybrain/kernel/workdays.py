"""Working days on the official calendar: deadlines counted in working days.

A 12345 work order's "final reply within 5 working days" and a bad rating's rectification
deadline are counted on China's official calendar: weekends off, public holidays off,
and the adjusted working days (调休, a Saturday or Sunday worked in exchange) on. The
State Council publishes each year's schedule late in the year before; the maintained
``chinesecalendar`` package carries it (``KNOWN_FROM`` … its last year). A city or a
department adds its own days on top (a local holiday, a day worked) — and, before the
package has a new year, the whole of that year — in a calendar file
(``CITYBRAIN_WORK_CALENDAR_FILE``)::

    city:                       # every department
      years: [2027]             # years this file describes entirely
      holidays: [2027-01-01, 2027-02-06, ...]
      workdays: [2027-02-14]    # adjusted working days
    departments:
      dept-hall:                # on top of the city's days
        holidays: [2026-11-20]

A deadline that needs a year neither source describes is refused (``CalendarUnknown``)
rather than guessed from weekends: a deadline earlier or later than the official one
would put a breach on record that did not happen, or hide one that did.

Counting: N working days from a moment end at the close (local midnight) of the N-th
working day after the moment's local day — the day of receipt is not counted, as the
government service rules count time limits. Times are UTC in and out; days are local
days of the zone given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citybrain.kernel.errors import CitybrainError
from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

KNOWN_FROM = 2004
# The last year the installed package describes (its own table of holidays).
KNOWN_TO = max(day.year for day in chinese_calendar.constants.holidays)
MAX_DAYS = 366   # a longer count is a configuration mistake, not a time limit


class CalendarUnknown(CitybrainError):
    """A day of a year whose official schedule is not known here."""


class CalendarFileError(CitybrainError):
    """A calendar file that cannot be used."""


@dataclass(frozen=True)
class WorkCalendar:
    """The official calendar with local days added (``holidays`` off, ``workdays`` on,
    ``years`` described entirely by those two)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    years: frozenset[int] = field(default_factory=frozenset)

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if day.year in self.years:
            return day.weekday() < 5
        if not KNOWN_FROM <= day.year <= KNOWN_TO:
            raise CalendarUnknown(_(
                "the official working-day calendar of {year} is not known here (the installed calendar "
                "covers {first}–{last}): add that year's holidays and adjusted working days to the calendar "
                "file (CITYBRAIN_WORK_CALENDAR_FILE, years: [{year}]) or update the chinesecalendar package"
            ).format(year=day.year, first=KNOWN_FROM, last=KNOWN_TO))
        return bool(chinese_calendar.is_workday(day))

    def with_days(self, holidays: Iterable[date] = (), workdays: Iterable[date] = (),
                  years: Iterable[int] = ()) -> WorkCalendar:
        """This calendar with more local days (a department's on top of the city's)."""
        return WorkCalendar(self.holidays | frozenset(holidays), self.workdays | frozenset(workdays),
                            self.years | frozenset(years))

    def nth_workday_after(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself not counted)."""
        if not 1 <= count <= MAX_DAYS:
            raise ValueError(f"count must be 1–{MAX_DAYS} working days, not {count}")
        found, current = 0, day
        while found < count:
            current += timedelta(days=1)
            if self.is_workday(current):
                found += 1
        return current

    def deadline(self, start: datetime, working_days: int, tz: ZoneInfo) -> datetime:
        """The end (UTC) of a limit of ``working_days`` from ``start``: the local midnight
        that closes the ``working_days``-th working day after ``start``'s local day."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        last = self.nth_workday_after(start.astimezone(tz).date(), working_days)
        closes = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
        return closes.astimezone(start.tzinfo)

    def workdays_between(self, first: date, last: date) -> int:
        """Working days in ``first`` … ``last``, both included."""
        return sum(1 for n in range((last - first).days + 1) if self.is_workday(first + timedelta(days=n)))


OFFICIAL = WorkCalendar()


class _Days(BaseModel):
    model_config = ConfigDict(extra="forbid")
    years: list[int] = Field(default_factory=list, max_length=50)
    holidays: list[date] = Field(default_factory=list, max_length=2000)
    workdays: list[date] = Field(default_factory=list, max_length=2000)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    city: _Days = Field(default_factory=_Days)
    departments: dict[str, _Days] = Field(default_factory=dict, max_length=500)


@dataclass(frozen=True)
class Calendars:
    """The city's calendar and each department's (the city's plus its own days)."""

    city: WorkCalendar = OFFICIAL
    departments: Mapping[str, WorkCalendar] = field(default_factory=dict)

    def of(self, department: str | None) -> WorkCalendar:
        return self.departments.get(department, self.city) if department else self.city


def _calendar(base: WorkCalendar, days: _Days) -> WorkCalendar:
    both = set(days.holidays) & set(days.workdays)
    if both:
        raise CalendarFileError(_("a day cannot be both a holiday and a working day: {days}").format(
            days=", ".join(sorted(d.isoformat() for d in both))))
    return base.with_days(days.holidays, days.workdays, days.years)


def load(path: Path | None) -> Calendars:
    """The calendars of a calendar file (the module's docstring); the official one alone
    when there is no file."""
    if path is None:
        return Calendars()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        parsed = _File.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise CalendarFileError(_("cannot use the calendar file {file}: {error}").format(
            file=path, error=exc)) from exc
    city = _calendar(OFFICIAL, parsed.city)
    return Calendars(city, {dept: _calendar(city, days) for dept, days in parsed.departments.items()})

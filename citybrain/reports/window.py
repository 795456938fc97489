"""Reading a report window from what a person types.

``--from`` / ``--to`` take a local date (``2026-03-01``) or an ISO 8601 date-time. Dates
are days in the report's time zone: ``--from`` starts at that day's local midnight and a
``--to`` date includes that whole day (the window ends at the next local midnight), so
``--from 2026-03-01 --to 2026-03-31`` is the 31 days of March. A date-time with an
offset is taken as written; without one it is local time in the report's zone (a local
time that occurs twice or not at all in a DST change is read with ``fold=0``, the first
occurrence). A date-time ``--to`` is exclusive. The window is stored in UTC.

A window lies within 1970-01-01 and 2200-01-01 (UTC): no reading can be older or newer
(ingest refuses absurd timestamps), and staying far from the calendar's ends (years 1 and
9999) keeps every later step — a zone's offset, the next day — from overflowing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from citybrain.indicators.model import ReportWindow
from citybrain.kernel.i18n import Catalogue
from citybrain.reports.document import ReportError

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportError(_("unknown time zone {zone}; use an IANA name such as Asia/Shanghai").format(
            zone=repr(name))) from exc


def parse_bound(text: str, tz: ZoneInfo, *, end: bool) -> datetime:
    """One bound in UTC (see the module docstring)."""
    text = text.strip()
    option = "--to" if end else "--from"
    try:
        if _DATE.match(text):
            day = date.fromisoformat(text) + (timedelta(days=1) if end else timedelta())
            moment = datetime.combine(day, time(), tzinfo=tz)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
        moment = moment.astimezone(UTC)
    except ValueError as exc:
        raise ReportError(_("{option} {text} is neither a date (2026-03-01) nor an ISO 8601 date-time "
                            "(2026-03-01T08:00, 2026-03-01T08:00+08:00)").format(
            option=option, text=repr(text[:80]))) from exc
    except OverflowError:   # year 9999's next day, year 1 moved by a zone's offset
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise ReportError(_("{option} {text} is outside {earliest} to {latest}, "
                            "where the platform has no data").format(
            option=option, text=repr(text[:80]), earliest=f"{EARLIEST:%Y-%m-%d}",
            latest=f"{LATEST:%Y-%m-%d}"))
    return moment


def report_window(start: str, end: str, tz: ZoneInfo) -> ReportWindow:
    lo, hi = parse_bound(start, tz, end=False), parse_bound(end, tz, end=True)
    if hi <= lo:
        raise ReportError(_("the window is empty: --to {end} is not after --from {start} "
                            "(a --to date includes that whole day)").format(end=repr(end), start=repr(start)))
    return ReportWindow(lo, hi, tz)

"""Reading a report window from what a person types.

``--from`` / ``--to`` take a local date (``2026-03-01``) or an ISO 8601 date-time. Dates
are days in the report's time zone: ``--from`` starts at that day's local midnight and a
``--to`` date includes that whole day (the window ends at the next local midnight), so
``--from 2026-03-01 --to 2026-03-31`` is the 31 days of March. A date-time with an
offset is taken as written; without one it is local time in the report's zone (a local
time that occurs twice or not at all in a DST change is read with ``fold=0``, the first
occurrence). A date-time ``--to`` is exclusive. The window is stored in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from citybrain.indicators.model import Window
from citybrain.reports.document import ReportError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai") from exc


def parse_bound(text: str, tz: ZoneInfo, *, end: bool) -> datetime:
    """One bound in UTC (see the module docstring)."""
    text = text.strip()
    option = "--to" if end else "--from"
    try:
        if _DATE.match(text):
            day = date.fromisoformat(text) + (timedelta(days=1) if end else timedelta())
            return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReportError(f"{option} {text!r} is neither a date (2026-03-01) nor an ISO 8601 date-time "
                          "(2026-03-01T08:00, 2026-03-01T08:00+08:00)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def report_window(start: str, end: str, tz: ZoneInfo) -> Window:
    lo, hi = parse_bound(start, tz, end=False), parse_bound(end, tz, end=True)
    if hi <= lo:
        raise ReportError(f"the window is empty: --to {end!r} is not after --from {start!r} "
                          "(a --to date includes that whole day)")
    return Window(lo, hi, tz)

"""The reporting window as query parameters, read the way ``citybrain report`` reads them,
within the API's limit on its length (``CITYBRAIN_API_MAX_WINDOW_DAYS``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import HTTPException, Query, status

from citybrain.indicators.model import ReportWindow
from citybrain.kernel.i18n import Catalogue
from citybrain.kernel.settings import Settings
from citybrain.reports.document import ReportError
from citybrain.reports.window import report_window, zone

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

# Longer than any date, date-time or zone name: a longer value is not one.
_TEXT = 64


@dataclass
class WindowQuery:
    from_: Annotated[str, Query(alias="from", max_length=_TEXT,
                                description="local date YYYY-MM-DD or ISO date-time, from 1970 to 2199")]
    to: Annotated[str, Query(max_length=_TEXT,
                             description="a date includes that whole day; a date-time is exclusive. The "
                                         "window is at most CITYBRAIN_API_MAX_WINDOW_DAYS days long "
                                         "(default 366: a calendar year, a leap year too), counted on the "
                                         "wall clock of `tz`; the work grows faster than the days, so a "
                                         "longer span is asked for year by year")]
    tz: Annotated[str | None, Query(max_length=_TEXT,
                                    description="IANA zone the days are cut in "
                                                "(default: the server's CITYBRAIN_TIMEZONE)")] = None
    department: Annotated[str | None, Query(max_length=200, description="one department's scope")] = None


def window_from_query(q: WindowQuery, settings: Settings) -> ReportWindow:
    """The window asked for, or a 422 saying why it cannot be computed."""
    try:
        return bounded_window(q.from_, q.to, q.tz or settings.timezone, settings)
    except ReportError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def bounded_window(start: str, end: str, tz: str, settings: Settings) -> ReportWindow:
    """The window ``start`` – ``end`` read as ``citybrain report`` reads it (in zone ``tz``),
    within the API's limit on its length; else a ReportError saying why. The API and the
    console both read windows here, so they accept and refuse the same ones."""
    win = report_window(start, end, zone(tz))

    # Wall-clock days in the window's zone: a DST change or a leap day moves no limit.
    def wall(moment: datetime) -> datetime:
        return moment.astimezone(win.tz).replace(tzinfo=None)

    local = wall(win.end) - wall(win.start)
    days = settings.api_max_window_days
    if local.total_seconds() > days * 86_400:
        raise ReportError(_("the window is {length} days long; the API computes "
                            "at most {days} days per request (CITYBRAIN_API_MAX_WINDOW_DAYS) because the "
                            "work grows faster than the days: ask year by year").format(
                              length=f"{local.total_seconds() / 86_400:.2f}", days=days))
    return win

"""The reporting window as query parameters, read the way ``citybrain report`` reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Query, status

from citybrain.indicators.model import Window
from citybrain.reports.document import ReportError
from citybrain.reports.window import report_window, zone


@dataclass
class WindowQuery:
    from_: Annotated[str, Query(alias="from", description="local date YYYY-MM-DD or ISO date-time")]
    to: Annotated[str, Query(description="a date includes that whole day; a date-time is exclusive")]
    tz: Annotated[str | None, Query(description="IANA zone the days are cut in "
                                                "(default: the server's CITYBRAIN_TIMEZONE)")] = None
    department: Annotated[str | None, Query(description="one department's scope")] = None


def window_from_query(q: WindowQuery, default_tz: str) -> Window:
    try:
        return report_window(q.from_, q.to, zone(q.tz or default_tz))
    except ReportError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc

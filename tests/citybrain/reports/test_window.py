"""Report windows from the command line: local days, inclusive --to dates, offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citybrain.kernel.i18n import use_language
from citybrain.reports.document import ReportError
from citybrain.reports.window import report_window, zone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_dates_are_local_days_and_to_includes_its_whole_day() -> None:
    w = report_window("2026-03-01", "2026-03-31", SHANGHAI)
    assert (w.start, w.end) == (datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 31, 16, tzinfo=UTC))
    assert w.tz is SHANGHAI
    one = report_window("2026-03-01", "2026-03-01", SHANGHAI)
    assert one.end - one.start == timedelta(days=1)


def test_datetimes_without_offset_are_local_and_with_offset_as_written() -> None:
    w = report_window("2026-03-01T08:00", "2026-03-02T08:00:00+00:00", SHANGHAI)
    assert w.start == datetime(2026, 3, 1, 0, tzinfo=UTC)
    assert w.end == datetime(2026, 3, 2, 8, tzinfo=UTC)   # a date-time --to is exclusive, as written


def test_a_day_across_a_dst_change_has_its_local_length() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    w = report_window("2026-03-29", "2026-03-29", berlin)
    assert w.end - w.start == timedelta(hours=23)
    assert w.start == datetime(2026, 3, 28, 23, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end", "message"), [
    ("2026-03-02", "2026-03-01", "empty"),
    ("2026-03-01T10:00", "2026-03-01T10:00", "empty"),
    ("01/03/2026", "2026-03-02", "--from '01/03/2026'"),
    ("2026-03-01", "2026-02-30", "--to"),
])
def test_bad_windows_are_refused_with_a_hint(start: str, end: str, message: str) -> None:
    with use_language("en"), pytest.raises(ReportError, match=message):
        report_window(start, end, SHANGHAI)


def test_unknown_zone() -> None:
    with use_language("en"), pytest.raises(ReportError, match="IANA"):
        zone("Mars/Olympus")
    # In the current language (the CLI's settings, the API's request): zh-CN by default.
    with pytest.raises(ReportError, match=r"^未知时区 'Mars/Olympus'；请使用 IANA 名称，如 Asia/Shanghai$"):
        zone("Mars/Olympus")
    with pytest.raises(ReportError, match=r"^时间窗口为空：--to '2026-03-01' 不晚于 --from '2026-03-02'"):
        report_window("2026-03-02", "2026-03-01", SHANGHAI)

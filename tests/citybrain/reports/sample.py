"""Indicator results built by hand, for the writer and scorecard tests (no engine needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from citybrain.indicators.model import Breakdown, Figure, Indicator, IndicatorResult, ReportWindow

TZ = ZoneInfo("Asia/Shanghai")
# March 2026 in the report's zone: [03-01 00:00+08:00, 04-01 00:00+08:00).
WINDOW = ReportWindow(datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 31, 16, tzinfo=UTC), TZ)
GENERATED_AT = datetime(2026, 4, 1, 1, 30, tzinfo=UTC)


def indicator(ident: str, key: str = "infrastructure", *, target: float | None = 95.0,
              direction: str = "higher", unit: str = "%", availability: bool = False,
              breakdowns: tuple[str, ...] = (), formula: str | None = None, **extra: Any) -> Indicator:
    return Indicator(
        id=ident, key=key, name_en=ident.replace("_", " "), name_zh="指标", unit=unit,  # type: ignore[arg-type]
        direction=direction, target=target, formula=formula or f"{ident} numerator / denominator",  # type: ignore[arg-type]
        version=1, sql_file=f"{ident}.sql", sql="SELECT 1", availability=availability,
        breakdowns=breakdowns, **extra,  # type: ignore[arg-type]
    )


def result(ind: Indicator, value: float | None, *, numerator: float | None = None,
           denominator: float | None = None, adjusted: float | None = None,
           unknown: float | None = None, breakdowns: tuple[Breakdown, ...] = (),
           window: ReportWindow = WINDOW, department: str | None = None) -> IndicatorResult:
    return IndicatorResult(ind, window, department,
                           Figure(value, numerator, denominator, adjusted, unknown), breakdowns)


def city_results(*, camera_day2: float = 97.25) -> list[IndicatorResult]:
    """A small city's report: availability with breakdowns, a lower-is-better delay,
    a count without target, an indicator without data, and a second key."""
    online = indicator("infra.device_online_rate", availability=True, breakdowns=("department", "day"))
    cameras = indicator("infra.camera_intact_rate", target=90.0, availability=True, breakdowns=("day",))
    loss = indicator("infra.packet_loss", target=1.0, direction="lower")
    leaks = indicator("security.data_leak_count", "security", target=None, unit="count", direction="lower")
    incidents = indicator("security.incidents_level_i", "security", target=0.0, unit="count",
                          direction="lower")
    portal = indicator("portal.availability_7x24", "portal", target=99.9, availability=True)
    response = indicator("ops.response_within_30min", "ops", target=95.0)
    return [
        result(online, 98.123456789, numerator=2_543_000.0, denominator=2_591_654.3, adjusted=98.5,
               unknown=0.0125, breakdowns=(
                   Breakdown("day", "2026-03-02", Figure(97.0, 97.0, 100.0, 97.5, 0.01)),
                   Breakdown("department", "water", Figure(99.0, 99.0, 100.0, 99.2, 0.0)),
                   Breakdown("day", "2026-03-01", Figure(99.5, 199.0, 200.0, 99.6, 0.02)),
                   Breakdown("department", "traffic, roads", Figure(96.25, 77.0, 80.0, 96.5, 0.05)),
               )),
        result(cameras, 88.0, numerator=880.0, denominator=1000.0, adjusted=89.0, unknown=0.2,
               breakdowns=(Breakdown("day", "2026-03-01", Figure(78.75, None, None, None, None)),
                           Breakdown("day", "2026-03-02", Figure(camera_day2, 97.25, 100.0, 98.0, 0.0)))),
        result(loss, 0.5, numerator=5.0, denominator=1000.0),
        result(leaks, 2.0),
        result(incidents, 0.0, adjusted=12.0),  # adjusted_value on a non-availability: not reported
        result(portal, None, unknown=1.0),
        result(response, 80.0, numerator=8.0, denominator=10.0),
    ]

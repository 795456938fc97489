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


def catalogue_results(department: str | None = None) -> list[IndicatorResult]:
    """Every catalogue indicator with a made-up figure (no engine): most meet their target,
    every third misses it (the data key's far enough for a lower stage), one has no data,
    availability indicators have an unknown share; for the summary sheet, whose rows need
    the real names, units and targets."""
    from citybrain.indicators.catalogue import load_catalogue

    out = []
    for n, ind in enumerate(load_catalogue()):
        target = ind.target if ind.target is not None else 10.0
        if n == 11:
            value: float | None = None
        elif ind.unit == "%":
            missed = target * 0.6123 if ind.key == "data" else max(0.0, target - 3.456)
            value = target + (100.0 - target) / 3 if n % 3 else missed
            value = value if ind.direction == "higher" else target / 2 if n % 3 else target * 1.5
        else:
            value = target * (0.8123 if n % 3 else 1.3456) if ind.direction == "lower" else target + 3
            value = float(round(value)) if ind.unit == "count" else value
        unknown = 0.0031 * n if ind.availability else None
        out.append(result(ind, value, unknown=unknown, department=department))
    return out

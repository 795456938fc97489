"""What an indicator is and what computing one yields.

The engine (``citybrain.indicators.engine``) turns a catalogue entry, a window and a
scope into an ``IndicatorResult``; reports, the API, the demo scorecard and the
dashboards all consume these objects, so a figure is computed in one place only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

Key = Literal["infrastructure", "data", "system", "portal", "security", "ops"]
KEYS: tuple[Key, ...] = ("infrastructure", "data", "system", "portal", "security", "ops")
Direction = Literal["higher", "lower"]
# "hours": on-hours vs off-hours (working hours in the report's time zone), for ops indicators.
# "department_day", "district_day": one figure per department (district) and local day, for
# trends per department (district); member "<id>|YYYY-MM-DD" (the day is always the last 10
# characters, so ids containing "|" split unambiguously).
# "channel": the service channel (app, mini_program, web, hall, kiosk, hotline), for portal
# indicators.
# "month": a local month of the report's zone, member "YYYY-MM" (portal.mau). "basis": the
# population a coverage divides by, member "resident" (常住) or "household" (户籍).
Dimension = Literal["key", "department", "district", "kind", "asset", "day", "level", "category", "hours",
                    "department_day", "district_day", "channel", "month", "basis"]
DIMENSIONS: tuple[Dimension, ...] = (
    "key", "department", "district", "kind", "asset", "day", "level", "category", "hours",
    "department_day", "district_day", "channel", "month", "basis",
)


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry. ``sql`` is the text of its one SQL file."""

    id: str                     # e.g. "infra.camera_intact_rate"
    key: Key
    name_en: str
    name_zh: str
    unit: str                   # "%", "ms", "count", "minutes", ...
    direction: Direction
    target: float | None        # default target in ``unit``; None: no target (a count to watch)
    formula: str                # the formula in words, as printed in exports
    version: int
    sql_file: str               # path relative to the catalogue's sql/ folder
    sql: str
    availability: bool = False  # time-based: has adjusted_value and unknown_share
    breakdowns: tuple[Dimension, ...] = ()
    weight: float = 1.0         # weight in its key's composite score (0: shown, not scored)
    heavy: bool = False         # scheduling hint: a report starts it before the others
    # The formula in Chinese, as the zh-CN exports print it (the catalogue requires one;
    # empty only for an Indicator built by hand, which then prints ``formula``).
    formula_zh: str = ""


@dataclass(frozen=True)
class ReportWindow:
    """A reporting window [start, end) in UTC, with the time zone its days are cut in."""

    start: datetime
    end: datetime
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be time-zone aware")
        if self.end <= self.start:
            raise ValueError("window end must be after its start")


@dataclass(frozen=True)
class AsOf:
    """The time a result's figures are computed up to (README, "Rules an evaluator can check").

    ``at`` is the earlier of the window's end and the caller's clock ("now": a report's
    generated-at time): time after it has not happened and is outside the scope. ``feeds``
    gives, per liveness feed (sorted by name), the time its assets' state is known up to:
    the earlier of ``at`` and the feed's watermark (``at`` when the feed has none). Time
    after it has no evidence and is outside the scope too.
    """

    at: datetime
    feeds: tuple[tuple[str, datetime], ...] = ()

    def feed(self, name: str) -> datetime:
        return dict(self.feeds).get(name, self.at)


@dataclass(frozen=True)
class Figure:
    """A value with what it was computed from. ``value`` is None when there is no data
    (nothing in scope), never 0 or 100 by default."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    # Availability indicators only: the value with maintenance excluded from the
    # denominator, and the share of in-scope time whose state was unknown (a fraction
    # 0..1, not a percentage).
    adjusted_value: float | None = None
    unknown_share: float | None = None


@dataclass(frozen=True)
class Breakdown:
    dimension: Dimension
    member: str                 # department id, district id, kind, ISO day, ...
    figure: Figure


@dataclass(frozen=True)
class IndicatorResult:
    indicator: Indicator
    window: ReportWindow
    department: str | None      # scope of the request; None = whole city
    figure: Figure
    breakdowns: tuple[Breakdown, ...] = field(default_factory=tuple)
    # What the figures cover: None for results built by hand (taken as the window's end).
    as_of: AsOf | None = None

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without a target or without data."""
        target, value = self.indicator.target, self.figure.value
        if target is None or value is None:
            return None
        return value >= target if self.indicator.direction == "higher" else value <= target

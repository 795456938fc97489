"""The report as one data structure: results, scorecard and provenance.

``build_report`` computes every catalogue indicator for a window and scope;
``assemble_report`` is the pure part (results in, document out) that the writers, the
API and the demo share. The clock is a parameter (``generated_at``): nothing here reads
the time, so the same inputs give the same document.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from citybrain.assessments.store import Version
from citybrain.indicators.model import KEYS, AsOf, IndicatorResult, ReportWindow
from citybrain.kernel.errors import CitybrainError
from citybrain.reports.rows import ROW_FORMAT, data_rows, data_sha256, rounded
from citybrain.reports.scorecard import Scorecard, check_weights, score_keys

if TYPE_CHECKING:
    from citybrain.indicators.engine import WorkHours

REPORT_FORMAT = "citybrain-report/1"


class ReportError(CitybrainError):
    """A report could not be built or written; the message says what to change."""


@dataclass(frozen=True)
class Completeness:
    """How much of the report rests on data."""

    indicators: int
    with_data: int
    without_data: tuple[str, ...]           # indicator ids whose value is None
    worst_unknown_share: float | None       # largest unknown_share among availability indicators
    worst_unknown_indicator: str | None

    @property
    def share_with_data(self) -> float | None:
        return self.with_data / self.indicators if self.indicators else None


@dataclass(frozen=True)
class Provenance:
    window_from_local: str     # ISO 8601 with the report zone's offset
    window_to_local: str       # exclusive end
    window_from_utc: str
    window_to_utc: str
    timezone: str
    department: str | None     # scope; None = whole city
    generated_at_utc: str
    generated_at_local: str
    # As of (README, "Rules an evaluator can check"): the figures cover the window up to
    # as_of, the earlier of its end and generated_at; a liveness feed's assets only up to
    # the feed's own time, the earlier of as_of and its watermark.
    as_of_utc: str
    as_of_local: str
    as_of_feeds: tuple[tuple[str, str], ...]   # (feed, its time in the report's zone), by feed
    generated_by: str
    software_version: str
    weights_source: str
    completeness: Completeness
    row_format: str
    data_rows: int
    data_sha256: str
    # Maintenance windows an admin approved as retroactive whose time before their
    # creation falls in the window and counts in adjusted_value (README, "Maintenance and
    # the past"); city-wide, whatever the department.
    retroactive_maintenance: tuple[int, ...] = ()
    # Liveness evidence in the window that arrived beyond the lateness bound: stored, not
    # in the intervals (README, "Gaps and lateness"), per feed.
    late_evidence: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ReportDocument:
    window: ReportWindow
    department: str | None
    results: tuple[IndicatorResult, ...]     # canonical order: key (KEYS order), then id
    rows: tuple[tuple[str, ...], ...]        # canonical data rows (citybrain.reports.rows)
    scorecard: Scorecard
    provenance: Provenance
    # The assessed figures the report counts (citybrain.reports.evaluation): per series, the
    # latest version approved at or before generated_at, whose period overlaps the window's
    # local days. Kept apart from ``results`` and never scored with them; not in data_sha256
    # (the provenance lists each with its evidence's SHA-256 instead).
    assessed: tuple[Version, ...] = ()


def software_version() -> str:
    try:
        return importlib.metadata.version("citybrain")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree not installed
        return "unknown"


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def canonical_order(results: Sequence[IndicatorResult]) -> tuple[IndicatorResult, ...]:
    rank = {k: i for i, k in enumerate(KEYS)}
    return tuple(sorted(results, key=lambda r: (rank.get(r.indicator.key, len(rank)), r.indicator.id)))


def completeness(results: Sequence[IndicatorResult]) -> Completeness:
    without = tuple(r.indicator.id for r in results if r.figure.value is None)
    worst: tuple[float, str] | None = None
    for r in results:
        share = rounded(r.figure.unknown_share) if r.indicator.availability else None
        if share is not None and (worst is None or share > worst[0]):
            worst = (share, r.indicator.id)
    return Completeness(
        indicators=len(results), with_data=len(results) - len(without), without_data=without,
        worst_unknown_share=worst[0] if worst else None,
        worst_unknown_indicator=worst[1] if worst else None,
    )


def report_as_of(results: Sequence[IndicatorResult], window: ReportWindow, generated_at: datetime) -> AsOf:
    """The report's as-of: the earlier of the window's end and ``generated_at``, with the
    feeds' times the results were computed with (results built by hand carry none)."""
    at = min(window.end, generated_at)
    found = {r.as_of for r in results if r.as_of is not None}
    if len(found) > 1:
        raise ValueError("the results were computed as of different times")
    as_of = found.pop() if found else AsOf(at)
    if as_of.at != at:
        raise ValueError(f"the results were computed up to {as_of.at.isoformat()}, but a report generated at "
                         f"{generated_at.isoformat()} covers its window up to {at.isoformat()}")
    return as_of


def assemble_report(results: Sequence[IndicatorResult], window: ReportWindow, *, department: str | None,
                    generated_by: str, generated_at: datetime,
                    weights: Mapping[str, float] | None = None, weights_source: str = "catalogue",
                    version: str | None = None,
                    retroactive_maintenance: Sequence[int] = (),
                    late_evidence: Mapping[str, int] | None = None,
                    assessed: Sequence[Version] = ()) -> ReportDocument:
    """The document for results already computed over ``window`` and ``department``."""
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be time-zone aware")
    for r in results:
        if r.window != window or r.department != department:
            raise ValueError(f"result {r.indicator.id} was computed for another window or scope")
    ids = [r.indicator.id for r in results]
    if len(set(ids)) != len(ids):
        raise ValueError("each indicator may appear once in a report")
    if weights:
        check_weights(weights, ids, weights_source)
    ordered = canonical_order(results)
    rows = data_rows(ordered)
    tz = window.tz
    as_of = report_as_of(ordered, window, generated_at)
    provenance = Provenance(
        window_from_local=_iso(window.start.astimezone(tz)),
        window_to_local=_iso(window.end.astimezone(tz)),
        window_from_utc=_iso(window.start.astimezone(UTC)),
        window_to_utc=_iso(window.end.astimezone(UTC)),
        timezone=tz.key,
        department=department,
        generated_at_utc=_iso(generated_at.astimezone(UTC)),
        generated_at_local=_iso(generated_at.astimezone(tz)),
        as_of_utc=_iso(as_of.at.astimezone(UTC)),
        as_of_local=_iso(as_of.at.astimezone(tz)),
        as_of_feeds=tuple((feed, _iso(at.astimezone(tz))) for feed, at in as_of.feeds),
        generated_by=generated_by,
        software_version=version if version is not None else software_version(),
        weights_source=weights_source,
        completeness=completeness(ordered),
        row_format=ROW_FORMAT,
        data_rows=len(rows),
        data_sha256=data_sha256(rows),
        retroactive_maintenance=tuple(sorted(retroactive_maintenance)),
        late_evidence=tuple(sorted((late_evidence or {}).items())),
    )
    if any(v.status != "approved" for v in assessed):
        raise ValueError("a report counts approved assessments only")
    return ReportDocument(window, department, ordered, rows,
                          score_keys(ordered, weights=weights, weights_source=weights_source), provenance,
                          tuple(assessed))


def build_report(conn: psycopg.Connection[Any], window: ReportWindow, *, department: str | None,
                 generated_by: str, generated_at: datetime,
                 weights: Mapping[str, float] | None = None,
                 weights_source: str = "catalogue", workers: int = 1,
                 work_hours: WorkHours | None = None,
                 on_result: Callable[[IndicatorResult], object] | None = None) -> ReportDocument:
    """Compute every catalogue indicator over ``window`` (optionally one department's
    scope) as of ``generated_at`` (the figures cover the window up to the earlier of its
    end and that time, so the stamp of an earlier export reproduces it) and assemble the
    report. ``workers`` > 1: that many connections compute the indicators side by side on
    one snapshot (committed data only; see compute_all). ``on_result`` is called with each
    indicator's result as it is computed (from the thread that computed it), e.g. to show
    progress."""
    from alerts.maintenance.windows import retroactive_in
    from citybrain.assessments.store import figures
    from citybrain.indicators.engine import compute_all
    from streams.derivation import late_evidence_in

    # Each indicator's figures are formatted as soon as it is computed, while the others
    # are still running; number_text keeps the texts, so assembling finds them done.
    def then(result: IndicatorResult) -> None:
        data_rows([result])
        if on_result is not None:
            on_result(result)

    results = compute_all(conn, window, department=department, workers=workers, work_hours=work_hours,
                          then=then, now=generated_at)
    # The local days the window touches: an assessed period counts when it overlaps them.
    # Its approval counts up to generated_at (scores are approved after their period ends).
    first_day = window.start.astimezone(window.tz).date()
    last_day = (window.end - timedelta(microseconds=1)).astimezone(window.tz).date()
    return assemble_report(results, window, department=department, generated_by=generated_by,
                           generated_at=generated_at, weights=weights, weights_source=weights_source,
                           retroactive_maintenance=retroactive_in(conn, window.start,
                                                                  min(window.end, generated_at)),
                           late_evidence=late_evidence_in(conn, window.start,
                                                          min(window.end, generated_at)),
                           assessed=figures(conn, first_day=first_day, last_day=last_day,
                                            department=department, as_of=generated_at))

"""Reports compute their indicators side by side on several connections that share one
snapshot (compute_all(workers=N), settings.report_workers).

The figures must be those of the sequential computation, every connection must see the
database as of one moment (a row committed meanwhile is seen by none of them), and the
report must apply the configured working hours.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta

import pytest

from citybrain.indicators.engine import WorkHours, compute_all, load_catalogue, snapshot_connections
from citybrain.kernel.errors import StoreError
from citybrain.reports.document import build_report
from tests.citybrain.indicators.city import Conn, department, incident, local
from tests.citybrain.indicators.test_availability import W, build_city


def test_parallel_equals_sequential(db: Conn) -> None:
    build_city(db, "iot_device", "gateway")
    incident(db, "water", W.start + timedelta(hours=3), acked=W.start + timedelta(hours=3, minutes=20))
    sequential = compute_all(db, W, workers=1)
    parallel = compute_all(db, W, workers=3)
    assert [r.indicator.id for r in parallel] == [r.indicator.id for r in sequential]
    assert parallel == sequential
    assert any(r.figure.value is not None for r in parallel)


@pytest.mark.parametrize("workers", [1, 3])
def test_then_sees_each_result_once_as_it_is_computed(db: Conn, workers: int) -> None:
    """build_report formats each result in this hook while the others still run."""
    build_city(db, "iot_device", "gateway")
    seen: list[str] = []
    results = compute_all(db, W, workers=workers, then=lambda r: seen.append(r.indicator.id))
    assert sorted(seen) == sorted(r.indicator.id for r in results) and len(seen) == len(set(seen))


def test_workers_share_one_snapshot(db: Conn) -> None:
    department(db, "water")
    with snapshot_connections(db, 3) as conns:
        department(db, "traffic")  # committed (autocommit) after the snapshot was taken
        seen = [c.execute("SELECT count(*) FROM departments").fetchone() for c in conns]
        assert seen == [(1,), (1,), (1,)]
    now = db.execute("SELECT count(*) FROM departments").fetchone()
    assert now == (2,)


def test_report_uses_the_given_working_hours(db: Conn) -> None:
    department(db, "water")
    tue = local(W.tz, 2026, 3, 10, 9, 30)  # a Tuesday, 09:30 local
    incident(db, "water", tue, acked=tue + timedelta(minutes=5))
    stamp = datetime(2026, 3, 12, tzinfo=UTC)

    def hours_of(work: WorkHours | None) -> dict[str, float | None]:
        doc = build_report(db, W, department=None, generated_by="test", generated_at=stamp,
                           workers=2, work_hours=work)
        off = next(r for r in doc.results if r.indicator.id == "ops.offhours_ack_rate")
        return {b.member: b.figure.denominator for b in off.breakdowns if b.dimension == "hours"}

    assert hours_of(None) == {"on_hours": 1.0}
    assert hours_of(WorkHours(time(10, 0), time(18, 0))) == {"off_hours": 1.0}


def test_a_failing_indicator_fails_the_parallel_report(db: Conn) -> None:
    department(db, "water")
    good = load_catalogue()[:3]
    broken = dataclasses.replace(good[1], id="infra.broken", sql="SELECT * FROM no_such_table")
    with pytest.raises(StoreError, match=r"computing infra\.broken .*no_such_table"):
        compute_all(db, W, workers=2, indicators=[good[0], broken, good[2]])

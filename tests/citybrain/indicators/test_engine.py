"""The engine: parameters in, IndicatorResult out; errors wrapped with a hint."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest

from citybrain.indicators.catalogue import CatalogueError, find, load_catalogue
from citybrain.indicators.engine import WorkHours, compute, compute_all
from citybrain.kernel.errors import StoreError
from citybrain.kernel.settings import Settings
from tests.citybrain.indicators.city import (
    HOUR,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    department,
    incident,
    local,
    states,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(24))
COUNTS = {"portal.service_count", "security.incidents", "security.data_leak_count", "data.resource_count"}


def test_an_empty_store_has_no_data_anywhere(db: Conn) -> None:
    results = compute_all(db, W)
    assert [r.indicator.id for r in results] == [i.id for i in load_catalogue()]
    for result in results:
        # nothing registered, nothing measured: "no data", never 0 and never 100
        assert result.figure.value is None, result.indicator.id
        assert result.met is None
        assert result.window == W and result.department is None
        assert all(b.figure.value is None for b in result.breakdowns), result.indicator.id


def test_a_registered_city_without_events_counts_zero_where_counting(db: Conn) -> None:
    department(db, "water")
    asset(db, "vm-1", "cloud_host", "water")
    values = {r.indicator.id: r.figure.value for r in compute_all(db, W)}
    # counts have data as soon as there is a register: none happened is 0
    assert {k: v for k, v in values.items() if k in COUNTS} == dict.fromkeys(COUNTS, 0)
    assert all(v is None for k, v in values.items() if k not in COUNTS)


def test_result_carries_its_scope_and_orders_breakdowns_as_declared(db: Conn) -> None:
    department(db, "water", "traffic")
    asset(db, "gw-1", "gateway", "water", district=None)
    asset(db, "iot-1", "iot_device", "traffic")
    states(db, "gw-1", ("online", H(-1), None))
    states(db, "iot-1", ("online", H(-1), H(6)), ("offline", H(6), None))
    indicator = find("infra.device_online_rate")
    result = compute(db, indicator, W)
    assert result.indicator is indicator and result.window == W
    # gw-1 24 h up, iot-1 6 of 24 → 30 / 48
    assert (result.figure.numerator, result.figure.denominator) == (30 * HOUR, 48 * HOUR)
    assert result.met is False  # 62.5 % against a target of 95 %
    order = [b.dimension for b in result.breakdowns]
    assert order == sorted(order, key=indicator.breakdowns.index)
    assert [(b.dimension, b.member) for b in result.breakdowns] == [
        ("department", "traffic"), ("department", "water"), ("district", "(none)"),
        ("kind", "gateway"), ("kind", "iot_device"), ("day", "2026-03-10"),
        ("department_day", "traffic|2026-03-10"), ("department_day", "water|2026-03-10"),
        ("district_day", "(none)|2026-03-10")]
    scoped = compute(db, indicator, W, department="water")
    assert scoped.department == "water" and scoped.figure.value == pytest.approx(100.0)


def test_a_dimension_the_catalogue_does_not_declare_is_refused(db: Conn) -> None:
    department(db, "water")
    incident(db, "water", H(1), acked=H(1) + timedelta(minutes=3))
    indicator = replace(find("ops.mtta"), breakdowns=("department",))
    with pytest.raises(CatalogueError, match=r"returned dimension '(day|level|key)'.*does not list"):
        compute(db, indicator, W)


def test_sql_with_the_wrong_columns_is_refused(db: Conn) -> None:
    indicator = replace(find("ops.mtta"), sql="SELECT %(start)s::timestamptz AS start, %(end)s::text")
    with pytest.raises(CatalogueError, match="returns columns"):
        compute(db, indicator, W)


def test_database_errors_are_wrapped_with_a_hint(db: Conn) -> None:
    db.execute("DROP TABLE incidents CASCADE")
    with pytest.raises(StoreError, match=r"computing ops.mtta \(ops.mtta.sql\) failed.*citybrain db migrate"):
        compute(db, find("ops.mtta"), W)
    # the connection is usable afterwards
    assert db.execute("SELECT 1").fetchone() == (1,)


def test_work_hours_come_from_settings() -> None:
    settings = Settings(work_hours_start=time(7, 0), work_hours_end=time(19, 0))
    assert WorkHours.of(settings) == WorkHours(time(7, 0), time(19, 0))
    assert WorkHours() == WorkHours(time(8, 30), time(17, 30))
    with pytest.raises(ValueError, match="end after they start"):
        WorkHours(time(18, 0), time(9, 0))

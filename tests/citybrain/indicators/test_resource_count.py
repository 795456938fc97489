"""Golden test of data.resource_count (数据资源数量), the quantity of the evaluation table's
data row, on the datasets of ``test_data`` (hand-counted from its docstring)."""

from __future__ import annotations

import pytest

from tests.citybrain.indicators.city import Conn, members, run
from tests.citybrain.indicators.test_data import W, build_datasets


def test_resource_count_is_the_rates_denominator(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.resource_count", W)
    # in the register at some time of W: ds-1, ds-2, ds-5 (water), ds-3 (from H6), ds-4
    # (until H20) → 5; iot-1 is not a dataset
    assert (result.figure.value, result.figure.numerator, result.figure.denominator) == (5, 5, None)
    # the same five the sharing rate divides by
    assert run(db, "data.sharing_rate", W).figure.denominator == result.figure.value
    # "empty" has no asset at all and is not listed; water 3, traffic 2
    assert members(result, "department") == {"water": 3, "traffic": 2}
    # day 1: all five; day 2: ds-4 retired at H20 → 4
    assert members(result, "day") == {"2026-03-10": 5, "2026-03-11": 4}


@pytest.mark.parametrize("department", ["empty"])
def test_a_department_without_assets_is_no_data(db: Conn, department: str) -> None:
    build_datasets(db)
    result = run(db, "data.resource_count", W, department=department)
    assert result.figure.value is None
    assert all(b.figure.value is None for b in result.breakdowns)

"""What a person reads, per language: stages, names, values rounded per unit, the window
in local dates, file names, and the registry's names of departments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from citybrain.kernel.i18n import LANGUAGES, Language
from citybrain.reports.presentation import (
    BAND_LABELS,
    Presentation,
    band_label,
    display_value,
    file_name,
    indicator_formula,
    indicator_name,
    key_label,
    moment_text,
    value_text,
    window_dates,
    window_text,
)
from citybrain.reports.window import report_window
from tests.citybrain.reports.sample import indicator

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_bands_as_the_national_evaluation_names_them() -> None:
    assert [band_label(b, "zh-CN") for b in BAND_LABELS] == ["准备期", "起步期", "成长期", "成熟期"]
    assert [band_label(b, "en") for b in BAND_LABELS] == list(BAND_LABELS)   # English: the band's id
    assert band_label(None, "zh-CN") == "未评分"
    assert (key_label("infrastructure", "zh-CN"), key_label("infrastructure", "en")) == ("基础设施",
                                                                                          "Infrastructure")


def test_names_and_formulas_per_language() -> None:
    ind = indicator("infra.x", formula="up / known", formula_zh="在线时长 ÷ 已知时长")
    assert (indicator_name(ind, "zh-CN"), indicator_name(ind, "en")) == ("指标", "infra.x")
    assert indicator_formula(ind, "zh-CN") == "在线时长 ÷ 已知时长"
    assert indicator_formula(ind, "en") == "up / known"
    # Built by hand without a Chinese formula: the formula there is.
    assert indicator_formula(indicator("infra.y", formula="a / b"), "zh-CN") == "a / b"


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (98.666666, "%", "98.67"), (0.125, "%", "0.13"), (0.115, "%", "0.12"),   # half up, as on paper
    (-0.001, "%", "0.00"), (100.0, "%", "100.00"),
    (40.5, "ms", "41"), (1624.6, "ms", "1625"), (2.0, "count", "2"), (12.25, "minutes", "12.3"),
    (3.14159, "units", "3.14"),   # a unit not listed: 2 places
])
def test_values_are_rounded_per_unit(value: float, unit: str, shown: str) -> None:
    assert display_value(value, unit) == Decimal(shown)
    assert str(display_value(value, unit)) == shown


def test_value_text_with_its_unit() -> None:
    assert value_text(99.5, "%", "zh-CN") == "99.50%"
    assert (value_text(120.4, "ms", "zh-CN"), value_text(120.4, "ms", "en")) == ("120 毫秒", "120 ms")
    assert (value_text(None, "%", "zh-CN"), value_text(None, "%", "en")) == ("无数据", "no data")
    assert display_value(None, "%") is None


def test_a_month_in_shanghai_is_named_by_its_local_dates() -> None:
    # November 2026 starts on 2026-10-31 in UTC: the name and the text say 11-01 to 11-30.
    november = report_window("2026-11-01", "2026-11-30", SHANGHAI)
    assert november.start.isoformat() == "2026-10-31T16:00:00+00:00"
    assert [d.isoformat() for d in window_dates(november)] == ["2026-11-01", "2026-11-30"]
    assert file_name(november, None, "xlsx") == "citybrain-report-20261101-20261130-city.xlsx"
    assert file_name(november, "dept-police", "csv") == "citybrain-report-20261101-20261130-dept-police.csv"
    assert window_text(november, "zh-CN") == "2026-11-01 至 2026-11-30（Asia/Shanghai）"
    assert window_text(november, "en") == "2026-11-01 to 2026-11-30 (Asia/Shanghai)"
    day = report_window("2026-12-31", "2026-12-31", SHANGHAI)
    assert file_name(day, None, "json") == "citybrain-report-20261231-20261231-city.json"


def test_a_window_between_times_shows_them_and_its_end_is_exclusive() -> None:
    shift = report_window("2026-03-01T08:00", "2026-03-02T08:00", SHANGHAI)
    assert window_text(shift, "zh-CN") == (
        "2026-03-01 08:00 至 2026-03-02 08:00（不含结束时刻，Asia/Shanghai）")
    assert window_text(shift, "en") == "2026-03-01 08:00 to 2026-03-02 08:00, end exclusive (Asia/Shanghai)"
    # It touches two local days.
    assert [d.isoformat() for d in window_dates(shift)] == ["2026-03-01", "2026-03-02"]


def test_moment_text() -> None:
    assert moment_text("2026-12-01T00:00:00+08:00") == "2026-12-01 00:00"
    assert moment_text("2026-12-01T09:30:15+08:00") == "2026-12-01 09:30:15"


@pytest.mark.parametrize("language", LANGUAGES)
def test_departments_by_their_registered_names(db: psycopg.Connection[Any], language: Language) -> None:
    db.execute("INSERT INTO departments (department_id, name, name_zh) VALUES"
               " ('dept-police', 'Police', '公安局'), ('dept-water', 'Water', NULL)")
    db.execute("INSERT INTO districts (district_id, name, name_zh) VALUES ('xihu', 'Xihu', '西湖区')")
    view = Presentation.load(db, language)
    zh = language == "zh-CN"
    assert view.department("dept-police") == ("公安局" if zh else "Police")
    assert view.department("dept-water") == "Water"             # no Chinese name: the name
    assert view.department("dept-gone") == "dept-gone"          # not registered: the id
    assert view.department(None) == ("全市" if zh else "Whole city")
    assert view.member("department_day", "dept-police|2026-03-01") == (
        "公安局|2026-03-01" if zh else "Police|2026-03-01")
    assert view.member("district", "xihu") == ("西湖区" if zh else "Xihu")
    assert view.member("kind", "camera") == "camera"

"""What a person reads in a report, per language: the small helpers every export shares.

The XLSX summary sheet, the CSV and the PDF all print the same things the same way:

* ``band_label`` — a score band as the national evaluation names it (准备期 / 起步期 /
  成长期 / 成熟期); ``key_label`` — one of the five keys (and ops);
* ``indicator_name`` / ``indicator_formula`` — the catalogue's name and formula in the
  reader's language;
* ``display_value`` / ``value_text`` / ``unit_label`` — a figure rounded for reading
  (``UNIT_DECIMALS``: % to 2 places, ms and counts to whole numbers, minutes to 1 place,
  half up as evaluators round), with its unit;
* ``window_dates`` / ``window_text`` / ``moment_text`` — the window in local dates and its
  zone, a time in the report's zone; ``file_name`` — an export's name, from those dates;
* ``Presentation`` — the reader's language and the registry's names, so a department is
  printed 公安局, not ``dept-police`` (``Presentation.load`` reads them; ``department``
  gives the scope's name, 全市 for the whole city). The writers take it as ``view``
  (``render``, ``write_report``, ``render_xlsx``, ``render_csv``, ``render_scorecard``).

Only what people read changes with the language: ids, JSON keys, the CSV's data table
and ``data_sha256`` stay as they are, so the same data give the same hash in every
language. Everything here is a pure function of its arguments (no clock, no settings),
so the exports stay byte-reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg

from citybrain.indicators.model import Indicator, ReportWindow
from citybrain.kernel.i18n import N_, Catalogue, Language, Translator, language_of
from citybrain.reports.rows import number_text
from citybrain.reports.scorecard import Band
from schemas.names import load_names

MESSAGES = Catalogue.of_package(__name__)

# The national evaluation's names of the four bands ([0,55) … [85,100]).
BAND_LABELS: Mapping[Band, str] = {
    "preparation": N_("preparation"),
    "start-up": N_("start-up"),
    "growth": N_("growth"),
    "mature": N_("mature"),
}
KEY_LABELS: Mapping[str, str] = {
    "infrastructure": N_("Infrastructure"),
    "data": N_("Data resources"),
    "system": N_("Information systems"),
    "portal": N_("Service portals"),
    "security": N_("Security"),
    "ops": N_("Operation services"),
}
UNIT_LABELS: Mapping[str, str] = {
    "%": "%",
    "ms": N_("ms"),
    "minutes": N_("min"),
    "count": N_("count"),
}
# Decimal places a figure is read with, per unit; a unit not listed gets DEFAULT_DECIMALS.
# The exports' data keep the canonical 6-decimal values (citybrain.reports.rows): this
# rounding is for reading only.
UNIT_DECIMALS: Mapping[str, int] = {"%": 2, "ms": 0, "minutes": 1, "count": 0}
DEFAULT_DECIMALS = 2


def translator(language: Language | str) -> Translator:
    """The reports' catalogue in ``language`` (a tag as language_of reads it)."""
    return MESSAGES.translator(language)


def band_label(band: Band | None, language: Language) -> str:
    """准备期 / 起步期 / 成长期 / 成熟期 (preparation … mature); "no score" without a band."""
    t = translator(language)
    return t.gettext("no score") if band is None else t.gettext(BAND_LABELS[band])


def key_label(key: str, language: Language) -> str:
    """A key's name (基础设施 …); an unknown key is printed as it is."""
    label = KEY_LABELS.get(key)
    return key if label is None else translator(language).gettext(label)


def indicator_name(indicator: Indicator, language: Language) -> str:
    """The catalogue's name in ``language`` (name_zh for zh-CN, name_en for en)."""
    return indicator.name_zh if language == "zh-CN" else indicator.name_en


def indicator_formula(indicator: Indicator, language: Language) -> str:
    """The formula in words in ``language`` (formula_zh for zh-CN, formula for en)."""
    return indicator.formula_zh if language == "zh-CN" and indicator.formula_zh else indicator.formula


def unit_label(unit: str, language: Language) -> str:
    """A unit as a reader writes it (毫秒, 分钟, 个); an unknown unit as it is."""
    label = UNIT_LABELS.get(unit)
    return unit if label is None else translator(language).gettext(label)


def unit_decimals(unit: str) -> int:
    return UNIT_DECIMALS.get(unit, DEFAULT_DECIMALS)


def display_value(value: float | None, unit: str) -> Decimal | None:
    """The value rounded for reading: its canonical text (the exports' number) rounded half
    up to the unit's places. Decimal, so 0.125 → 0.13 as on paper, not 0.12 as a double."""
    if value is None:
        return None
    rounded = Decimal(number_text(value)).quantize(Decimal(1).scaleb(-unit_decimals(unit)), ROUND_HALF_UP)
    return rounded + 0  # -0.00 → 0.00


def number_for_unit(value: float | None, unit: str) -> str:
    """The rounded value as text without its unit ("99.50"); "" without a value."""
    shown = display_value(value, unit)
    return "" if shown is None else f"{shown:f}"


def value_text(value: float | None, unit: str, language: Language) -> str:
    """The rounded value with its unit ("99.50%", "120 ms" / "120 毫秒"); "no data" without one."""
    shown = number_for_unit(value, unit)
    if not shown:
        return translator(language).gettext("no data")
    if unit == "%":
        return f"{shown}%"
    return f"{shown} {unit_label(unit, language)}"


def share_text(share: float | None, language: Language) -> str:
    """A fraction 0..1 (unknown_share) as a percentage with 2 places ("1.25%"); "" without one."""
    return "" if share is None else value_text(share * 100, "%", language)


def _local(moment: datetime, window: ReportWindow) -> datetime:
    return moment.astimezone(window.tz)


def _whole_days(window: ReportWindow) -> bool:
    return all(_local(m, window).timetz().replace(tzinfo=None) == time() for m in (window.start, window.end))


def window_dates(window: ReportWindow) -> tuple[date, date]:
    """The first and last local days the window touches (its end is exclusive, so a window
    ending at local midnight ends on the day before): November in Asia/Shanghai is
    (2026-11-01, 2026-11-30), although it starts on 2026-10-31 in UTC."""
    first = _local(window.start, window).date()
    end = _local(window.end, window)
    last = end.date() - timedelta(days=1) if end.timetz().replace(tzinfo=None) == time() else end.date()
    return first, max(first, last)


def window_text(window: ReportWindow, language: Language) -> str:
    """The window as local dates and its zone ("2026-11-01 至 2026-11-30（Asia/Shanghai）");
    local times when a bound is not a local midnight (the end then marked exclusive)."""
    t = translator(language)
    if _whole_days(window):
        first, last = window_dates(window)
        return t.gettext("{first} to {last} ({zone})").format(first=first.isoformat(), last=last.isoformat(),
                                                             zone=window.tz.key)
    start, end = (f"{_local(m, window):%Y-%m-%d %H:%M}" for m in (window.start, window.end))
    return t.gettext("{start} to {end}, end exclusive ({zone})").format(start=start, end=end,
                                                                         zone=window.tz.key)


def moment_text(iso: str) -> str:
    """A time of the provenance (ISO 8601 with the report zone's offset) as a reader writes
    it: "2026-12-01 00:00" (seconds shown only when there are some)."""
    moment = datetime.fromisoformat(iso)
    seconds = ":%S" if moment.second or moment.microsecond else ""
    return moment.strftime(f"%Y-%m-%d %H:%M{seconds}")


def file_name(window: ReportWindow, department: str | None, fmt: str) -> str:
    """An export's file name: its local first and last days, then the scope
    (``citybrain-report-20261101-20261130-city.xlsx``)."""
    first, last = window_dates(window)
    return f"citybrain-report-{first:%Y%m%d}-{last:%Y%m%d}-{department or 'city'}.{fmt}"


@dataclass(frozen=True)
class Presentation:
    """Who reads the report: their language, and the registry's names of departments and
    districts (display names by id, in that language). Without names, ids are shown."""

    language: Language
    departments: Mapping[str, str] = field(default_factory=dict)
    districts: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: psycopg.Connection[Any], language: Language | str) -> Presentation:
        """The registry's names in ``language`` (assets are not read: reports name none)."""
        lang = language_of(language)
        names = load_names(conn, lang, asset_ids=())
        return cls(lang, dict(names.departments), dict(names.districts))

    @property
    def t(self) -> Translator:
        return translator(self.language)

    def department(self, department_id: str | None) -> str:
        """The scope's name: the department's registered name, its id when it has none,
        全市 ("whole city") for None."""
        if department_id is None:
            return self.t.gettext("Whole city")
        return self.departments.get(department_id, department_id)

    def member(self, dimension: str, member: str) -> str:
        """A breakdown member's name: departments and districts by their registered name
        (``department_day`` "<id>|YYYY-MM-DD" keeps its day); other members as they are."""
        table = {"department": self.departments, "district": self.districts,
                 "department_day": self.departments, "district_day": self.districts}.get(dimension)
        if table is None:
            return member
        if dimension.endswith("_day") and len(member) > 11 and member[-11] == "|":
            return f"{table.get(member[:-11], member[:-11])}|{member[-10:]}"
        return table.get(member, member)

"""The national evaluation table (``evaluation_table.yaml``): its rows, and the items an
evaluator assesses where no sensor measures anything.

Every row of the table names the catalogue indicators that answer it and/or assessed
items; an assessed item carries its rubric (levels, what each means, the highest score)
and the kind of period one score covers. ``load_table`` validates the file's own shape
(every row answered, every assessed id defined, rubrics contiguous) and raises
``EvaluationTableError`` naming every problem; ``unknown_indicators`` lists the row
indicators the catalogue does not hold (a test requires none; the report prints such a
row's figure as missing rather than failing). Periods are calendar periods in local
dates: ``period_of`` gives the one a day falls in (an entry's period must be exactly that
period of its first day).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citybrain.kernel.errors import CitybrainError

TABLE_PATH = Path(__file__).with_name("evaluation_table.yaml")

Front = Literal["content", "mechanism", "capability", "effect"]
FRONTS: tuple[Front, ...] = ("content", "mechanism", "capability", "effect")
PeriodKind = Literal["month", "quarter", "half_year", "year"]
PERIOD_MONTHS: Mapping[PeriodKind, int] = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}

_ID = r"^[a-z]+\.[a-z0-9_]+$"


class EvaluationTableError(CitybrainError):
    """The evaluation table file is malformed."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrontName(_Model):
    id: Front
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)


class Level(_Model):
    """One level of a rubric: the scores from ``min`` up to the next level's min."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    min: float = Field(ge=0)
    meaning_en: str = Field(min_length=5)
    meaning_zh: str = Field(min_length=3)


class AssessedItem(_Model):
    """Something an evaluator scores against a rubric, once per calendar period."""

    id: str = Field(pattern=_ID)
    front: Front
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    about_en: str = Field(min_length=10)
    about_zh: str = Field(min_length=5)
    max_score: float = Field(gt=0)
    period: PeriodKind
    levels: tuple[Level, ...] = Field(min_length=2)

    def level(self, level_id: str) -> Level | None:
        return next((lv for lv in self.levels if lv.id == level_id), None)

    def level_name(self, level_id: str, language: str) -> str:
        """The level's name a person reads (its id when the rubric no longer has it)."""
        lv = self.level(level_id)
        if lv is None:
            return level_id
        return lv.name_zh if language == "zh-CN" else lv.name_en

    def level_range(self, level_id: str) -> tuple[float, float] | None:
        """[low, high) of a level's scores (the last level's high is max_score, included)."""
        for n, lv in enumerate(self.levels):
            if lv.id == level_id:
                high = self.levels[n + 1].min if n + 1 < len(self.levels) else self.max_score
                return lv.min, high
        return None

    def level_for(self, score: float) -> Level:
        """The level a score falls in."""
        found = self.levels[0]
        for lv in self.levels:
            if score >= lv.min:
                found = lv
        return found

    def problems(self) -> list[str]:
        found: list[str] = []
        ids = [lv.id for lv in self.levels]
        if len(set(ids)) != len(ids):
            found.append("levels: an id is listed twice")
        mins = [lv.min for lv in self.levels]
        if mins[0] != 0:
            found.append("levels: the first level must start at 0")
        if any(b <= a for a, b in itertools.pairwise(mins)):
            found.append("levels: each level must start above the one before")
        if mins[-1] >= self.max_score:
            found.append("levels: the last level must start below max_score")
        return found


class Row(_Model):
    """One row of the evaluation table."""

    id: str = Field(pattern=_ID)
    front: Front
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    examples_en: str = Field(min_length=3)
    examples_zh: str = Field(min_length=2)
    indicators: tuple[str, ...] = ()
    assessed: tuple[str, ...] = ()


class _Document(_Model):
    fronts: tuple[FrontName, ...]
    rows: tuple[Row, ...] = Field(min_length=1)
    assessed: tuple[AssessedItem, ...] = ()


@dataclass(frozen=True)
class EvaluationTable:
    fronts: tuple[FrontName, ...]
    rows: tuple[Row, ...]
    items: tuple[AssessedItem, ...]

    def item(self, item_id: str) -> AssessedItem | None:
        return next((i for i in self.items if i.id == item_id), None)

    def front(self, front: str) -> FrontName:
        return next(f for f in self.fronts if f.id == front)

    @property
    def indicator_ids(self) -> tuple[str, ...]:
        """Every indicator the table names, once, in the table's order."""
        return tuple(dict.fromkeys(i for row in self.rows for i in row.indicators))


def _problems(doc: _Document) -> list[str]:
    found: list[str] = []
    if [f.id for f in doc.fronts] != list(FRONTS):
        found.append(f"fronts: must be {list(FRONTS)} in this order")
    row_ids = [r.id for r in doc.rows]
    item_ids = [i.id for i in doc.assessed]
    for what, ids in (("rows", row_ids), ("assessed", item_ids)):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            found.append(f"{what}: ids listed twice: {twice}")
    known = set(item_ids)
    for row in doc.rows:
        where = f"row {row.id}"
        if not row.id.startswith(row.front + "."):
            found.append(f"{where}: the id must start with its front {row.front!r}")
        if not row.indicators and not row.assessed:
            found.append(f"{where}: names no indicator and no assessed item; every row needs a figure")
        for item in row.assessed:
            if item not in known:
                found.append(f"{where}: assessed: no item {item!r} in `assessed`")
        if len(set(row.indicators)) != len(row.indicators):
            found.append(f"{where}: indicators: an id is listed twice")
    used = {i for row in doc.rows for i in row.assessed}
    for assessed in doc.assessed:
        where = f"assessed {assessed.id}"
        found += [f"{where}: {p}" for p in assessed.problems()]
        if assessed.id not in used:
            found.append(f"{where}: no row names it")
    return found


def parse_table(text: str, source: str) -> EvaluationTable:
    """The table in ``text``; EvaluationTableError listing every problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvaluationTableError(f"{source}: not valid YAML: {exc}") from exc
    try:
        doc = _Document.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in exc.errors()]
        raise EvaluationTableError(f"invalid evaluation table {source}:\n  " + "\n  ".join(lines)) from exc
    problems = _problems(doc)
    if problems:
        raise EvaluationTableError(f"invalid evaluation table {source}:\n  " + "\n  ".join(problems))
    return EvaluationTable(doc.fronts, doc.rows, doc.assessed)


@cache
def load_table() -> EvaluationTable:
    """The packaged evaluation table (read once per process)."""
    try:
        text = TABLE_PATH.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvaluationTableError(f"cannot read the evaluation table {TABLE_PATH}: {exc}") from exc
    return parse_table(text, str(TABLE_PATH))


def unknown_indicators(table: EvaluationTable, catalogue_ids: Iterable[str]) -> dict[str, list[str]]:
    """Row id → the indicator ids it names that the catalogue does not hold."""
    known = set(catalogue_ids)
    return {row.id: missing for row in table.rows
            if (missing := [i for i in row.indicators if i not in known])}


# ── periods ─────────────────────────────────────────────────────────────────────────

def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def period_of(kind: PeriodKind, day: date) -> tuple[date, date]:
    """The calendar period of ``kind`` that ``day`` falls in: (first, last day included)."""
    months = PERIOD_MONTHS[kind]
    first = date(day.year, (day.month - 1) // months * months + 1, 1)
    return first, _add_months(first, months) - timedelta(days=1)


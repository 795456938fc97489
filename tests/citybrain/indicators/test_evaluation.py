"""The evaluation table (Table 8 of the national report): every row has a figure, every
id it names exists, the rubrics are whole, and a broken table is refused by name."""

from __future__ import annotations

from datetime import date

import pytest

from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.evaluation import (
    FRONTS,
    EvaluationTableError,
    load_table,
    parse_table,
    period_of,
    unknown_indicators,
)

# Table 8's rows, front by front (domain.md "The whole evaluation table").
TABLE_8 = {
    "content": {"infrastructure", "data_resources", "information_systems", "portals", "security"},
    "mechanism": {"coordination", "benefit_sharing", "assessment_supervision", "incentives_penalties",
                  "long_term_plan"},
    "capability": {"coverage", "availability", "reliability", "ease_of_use", "timeliness", "continuity",
                   "team"},
    "effect": {"utilisation_sharing", "users"},
}
ASSESSED = {"mechanism.coordination", "mechanism.benefit_sharing", "mechanism.assessment_supervision",
            "mechanism.incentives_penalties", "mechanism.long_term_plan", "capability.ease_of_use",
            "capability.team_fit", "content.system_completeness", "content.interface_standardisation"}


def test_every_row_of_table_8_is_there() -> None:
    table = load_table()
    got: dict[str, set[str]] = {}
    for row in table.rows:
        got.setdefault(row.front, set()).add(row.id.split(".", 1)[1])
    assert got == TABLE_8
    assert [f.id for f in table.fronts] == list(FRONTS)


def test_every_row_has_a_figure() -> None:
    for row in load_table().rows:
        assert row.indicators or row.assessed, f"row {row.id} has neither an indicator nor an assessed item"


def test_every_indicator_a_row_names_is_in_the_catalogue() -> None:
    catalogue = [i.id for i in load_catalogue()]
    assert unknown_indicators(load_table(), catalogue) == {}


def test_every_assessed_item_the_brief_names_has_a_rubric() -> None:
    table = load_table()
    assert {i.id for i in table.items} >= ASSESSED
    for item in table.items:
        assert item.levels[0].min == 0 and item.levels[-1].min < item.max_score
        assert all(lv.meaning_en and lv.meaning_zh for lv in item.levels)


def test_a_score_falls_in_one_level() -> None:
    item = load_table().item("mechanism.coordination")
    assert item is not None
    # the levels start at 0, 55, 70, 85 (the national bands)
    assert [item.level_for(s).id for s in (0, 54.99, 55, 70, 84.9, 85, 100)] == [
        "absent", "absent", "initial", "working", "working", "sound", "sound"]
    assert item.level_range("working") == (70, 85)
    assert item.level_range("sound") == (85, 100)


@pytest.mark.parametrize(("kind", "day", "period"), [
    ("month", date(2026, 2, 14), (date(2026, 2, 1), date(2026, 2, 28))),
    ("quarter", date(2026, 11, 30), (date(2026, 10, 1), date(2026, 12, 31))),
    ("half_year", date(2026, 7, 1), (date(2026, 7, 1), date(2026, 12, 31))),
    ("year", date(2028, 2, 29), (date(2028, 1, 1), date(2028, 12, 31))),
])
def test_periods_are_calendar_periods(kind: str, day: date, period: tuple[date, date]) -> None:
    assert period_of(kind, day) == period  # type: ignore[arg-type]


BROKEN = """
fronts:
  - {id: content, name_en: C, name_zh: 内}
  - {id: mechanism, name_en: M, name_zh: 机}
  - {id: capability, name_en: Ca, name_zh: 能}
  - {id: effect, name_en: E, name_zh: 效}
rows:
  - {id: content.a, front: content, name_en: A, name_zh: 甲, examples_en: abc, examples_zh: 例子}
  - {id: effect.b, front: mechanism, name_en: B, name_zh: 乙, examples_en: abc, examples_zh: 例子,
     assessed: [mechanism.nothing]}
assessed:
  - id: mechanism.orphan
    front: mechanism
    name_en: Orphan
    name_zh: 孤
    about_en: nobody names this item
    about_zh: 无人引用此项
    max_score: 100
    period: year
    levels:
      - {id: low, name_en: Low, name_zh: 低, min: 10, meaning_en: too high a start, meaning_zh: 起点过高}
      - {id: low, name_en: Lower, name_zh: 更低, min: 5, meaning_en: going down, meaning_zh: 逐级递减}
"""


def test_a_broken_table_is_refused_naming_every_problem() -> None:
    with pytest.raises(EvaluationTableError) as caught:
        parse_table(BROKEN, "broken.yaml")
    said = str(caught.value)
    for part in ("row content.a: names no indicator and no assessed item",
                 "row effect.b: the id must start with its front 'mechanism'",
                 "row effect.b: assessed: no item 'mechanism.nothing'",
                 "assessed mechanism.orphan: levels: an id is listed twice",
                 "assessed mechanism.orphan: levels: the first level must start at 0",
                 "assessed mechanism.orphan: levels: each level must start above the one before",
                 "assessed mechanism.orphan: no row names it"):
        assert part in said, said

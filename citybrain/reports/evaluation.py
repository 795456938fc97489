"""The evaluation table in a report: every row of Table 8 with its figures, the measured and
the assessed ones kept apart and labelled.

A row's *telemetry* figures are the report's own indicator results (the ids the row names;
one the catalogue does not hold is listed as missing, never as 0). Its *assessed* figures
are the approved scores the report counts (``citybrain.assessments.store.figures``: per
series, the latest version approved at or before the report's generated-at), each with its
period, scope, version, assessor, reviewer and evidence (file names and SHA-256) — the same
list the provenance gives. Nothing here adds a measured figure to an assessed score.

Everything is a pure function of the document, so the exports stay byte-reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from citybrain.assessments.store import Version
from citybrain.indicators.evaluation import AssessedItem, Row, load_table
from citybrain.indicators.model import IndicatorResult
from citybrain.kernel.i18n import N_, Language
from citybrain.reports.document import ReportDocument
from citybrain.reports.presentation import indicator_name, translator, value_text
from citybrain.reports.rows import rounded

# How every export labels the two kinds of figure.
MEASURED = N_("measured")
ASSESSED = N_("assessed")


@dataclass(frozen=True)
class Telemetry:
    indicator_id: str
    result: IndicatorResult | None       # None: the catalogue has no such indicator


@dataclass(frozen=True)
class Assessed:
    item: AssessedItem
    figures: tuple[Version, ...]         # the approved scores counted, by department then period


@dataclass(frozen=True)
class EvaluationRow:
    row: Row
    telemetry: tuple[Telemetry, ...]
    assessed: tuple[Assessed, ...]


def evaluation_rows(doc: ReportDocument) -> list[EvaluationRow]:
    """Every row of the table, in the table's order, with the document's figures."""
    table = load_table()
    results = {r.indicator.id: r for r in doc.results}
    rows = []
    for row in table.rows:
        assessed = []
        for item_id in row.assessed:
            item = table.item(item_id)
            assert item is not None  # the table's loader checks every assessed id
            assessed.append(Assessed(item, tuple(v for v in doc.assessed if v.item_id == item_id)))
        rows.append(EvaluationRow(row, tuple(Telemetry(i, results.get(i)) for i in row.indicators),
                                  tuple(assessed)))
    return rows


def kind_label(kind: str, language: Language) -> str:
    """测量 / 评估 (measured / assessed)."""
    return translator(language).gettext(MEASURED if kind == "measured" else ASSESSED)


def scope_text(v: Version, language: Language, departments: dict[str, str] | None = None) -> str:
    t = translator(language)
    if v.department is None:
        return t.gettext("Whole city")
    return (departments or {}).get(v.department, v.department)


def score_text(v: Version) -> str:
    """"78.5 / 100"."""
    return f"{v.score.normalize():f} / {v.max_score.normalize():f}"


def level_text(v: Version, language: Language) -> str:
    """The rubric level's name (运行中 / Working), from the evaluation table."""
    item = load_table().item(v.item_id)
    return v.level if item is None else item.level_name(v.level, language)


def telemetry_text(t: Telemetry, language: Language) -> str:
    """The figure as the exports print it; a missing indicator says so."""
    if t.result is None:
        return translator(language).gettext("not in the catalogue")
    ind = t.result.indicator
    return value_text(t.result.figure.value, ind.unit, language)


def assessed_dict(v: Version) -> dict[str, Any]:
    """One counted assessed figure, as the JSON export and the provenance list it."""
    assert v.review is not None  # only approved versions are counted
    return {
        "item": v.item_id, "department": v.department,
        "period": {"from": v.period_from.isoformat(), "to": v.period_to.isoformat()},
        "version": v.version, "version_id": v.version_id, "score": rounded(float(v.score)),
        "max_score": rounded(float(v.max_score)), "level": v.level,
        "assessor": v.assessor_name, "assessor_id": v.assessor_id, "entered_at": v.created_at.isoformat(),
        "reviewer": v.review.reviewer_name, "reviewer_id": v.review.reviewer_id,
        "approved_at": v.review.reviewed_at.isoformat(),
        "evidence": [{"file_name": e.file_name, "sha256": e.sha256, "bytes": e.bytes} for e in v.evidence],
    }


def evaluation_dicts(doc: ReportDocument) -> list[dict[str, Any]]:
    """The JSON export's ``evaluation`` section: every row with its ids and figures by kind."""
    out = []
    for er in evaluation_rows(doc):
        row = er.row
        out.append({
            "row": row.id, "front": row.front, "name_en": row.name_en, "name_zh": row.name_zh,
            "examples_en": row.examples_en, "examples_zh": row.examples_zh,
            "measured": [{"indicator": t.indicator_id, "in_report": t.result is not None,
                          "value": None if t.result is None else rounded(t.result.figure.value),
                          "unit": None if t.result is None else t.result.indicator.unit}
                         for t in er.telemetry],
            "assessed": [{"item": a.item.id, "name_en": a.item.name_en, "name_zh": a.item.name_zh,
                          "max_score": rounded(a.item.max_score), "period_kind": a.item.period,
                          "figures": [{"department": v.department, "period_from": v.period_from.isoformat(),
                                       "period_to": v.period_to.isoformat(), "version": v.version,
                                       "score": rounded(float(v.score)), "level": v.level}
                                      for v in a.figures]}
                         for a in er.assessed],
        })
    return out


def provenance_texts(doc: ReportDocument, language: Language) -> list[tuple[str, str]]:
    """(name, line) per counted assessed figure, for the CSV comments and the XLSX provenance:
    ``assessed.<item>.<scope>.<period start>`` → version, score, level, who, evidence."""
    t = translator(language)
    lines = []
    for v in doc.assessed:
        assert v.review is not None
        files = "; ".join(f"{e.file_name} sha256 {e.sha256}" for e in v.evidence) or t.gettext("none")
        text = t.gettext("version {version}, {score} ({level}), {first} to {last}; assessed by {assessor}, "
                         "approved by {reviewer} at {at}; evidence: {files}").format(
            version=v.version, score=score_text(v), level=level_text(v, language),
            first=v.period_from.isoformat(),
            last=v.period_to.isoformat(), assessor=v.assessor_name, reviewer=v.review.reviewer_name,
            at=v.review.reviewed_at.isoformat(), files=files)
        lines.append((f"assessed.{v.item_id}.{v.department or 'city'}.{v.period_from.isoformat()}", text))
    return lines


def row_name(row: Row, language: Language) -> str:
    return row.name_zh if language == "zh-CN" else row.name_en


def item_name(item: AssessedItem, language: Language) -> str:
    return item.name_zh if language == "zh-CN" else item.name_en


def figure_text(v: Version, language: Language, departments: dict[str, str] | None = None) -> str:
    """"78.5 / 100 (working), 2026-01-01 to 2026-12-31, whole city, version 2"."""
    t = translator(language)
    return t.gettext("{score} ({level}), {first} to {last}, {scope}, version {version}").format(
        score=score_text(v), level=level_text(v, language), first=v.period_from.isoformat(),
        last=v.period_to.isoformat(),
        scope=scope_text(v, language, departments), version=v.version)


def evaluation_lines(doc: ReportDocument, language: Language,
                     departments: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(``evaluation.<row>``, the row's figures in one line, each marked measured or assessed)."""
    t = translator(language)
    measured, assessed = kind_label("measured", language), kind_label("assessed", language)
    lines = []
    for er in evaluation_rows(doc):
        parts = []
        if er.telemetry:
            figures = ", ".join(
                f"{t_.indicator_id if t_.result is None else indicator_name(t_.result.indicator, language)} "
                f"{telemetry_text(t_, language)}" for t_ in er.telemetry)
            parts.append(f"[{measured}] {figures}")
        for a in er.assessed:
            shown = "; ".join(figure_text(v, language, departments) for v in a.figures) or t.gettext(
                "no approved assessment")
            parts.append(f"[{assessed}] {item_name(a.item, language)}: {shown}")
        lines.append((f"evaluation.{er.row.id}", f"{row_name(er.row, language)} — " + " | ".join(parts)))
    return lines


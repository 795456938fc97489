"""Evaluators' reports: the five-key scorecard, the report document with its provenance and
data hash, and the JSON / CSV / XLSX writers (``presentation``: what a person reads, per
language).

    weights, source = weights_from_settings(settings)
    doc = build_report(conn, window, department=None, generated_by="cli:alice", generated_at=now,
                       weights=weights, weights_source=source)
    view = Presentation.load(conn, "zh-CN")       # the reader's language and the registry's names
    write_report(doc, "xlsx", "report.xlsx", view=view)   # or render(doc, "json") -> bytes, as_dict(doc)

Everything below ``build_report`` is a pure function of the indicator results, the
weights and the stamps passed in, so the same inputs give the same bytes.
"""

from __future__ import annotations

from citybrain.reports.document import ReportDocument, assemble_report, build_report
from citybrain.reports.scorecard import Band, KeyScore, Scorecard, band_for, score_keys, weights_from_settings
from citybrain.reports.writers import as_dict, render, render_scorecard, write_report

__all__ = [
    "Band",
    "KeyScore",
    "ReportDocument",
    "Scorecard",
    "as_dict",
    "assemble_report",
    "band_for",
    "build_report",
    "render",
    "render_scorecard",
    "score_keys",
    "weights_from_settings",
    "write_report",
]

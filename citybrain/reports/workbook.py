"""The XLSX export (openpyxl): a summary sheet (scorecard and every indicator's value,
target and met), one sheet per indicator with its breakdowns, a definitions sheet and a
provenance sheet.

Cells hold the same numbers as the JSON export (the canonical 6-decimal values). The
workbook's document properties and the zip entries' timestamps are set to
``generated_at``, so the same document also gives the same XLSX bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.constants import ARC_CORE
from openpyxl.xml.functions import tostring

from citybrain.indicators.model import Figure
from citybrain.reports.document import ReportDocument
from citybrain.reports.rows import rounded, sorted_breakdowns
from citybrain.reports.text import WHOLE_CITY, provenance_lines, score_text

SUMMARY, DEFINITIONS, PROVENANCE = "Summary", "Definitions", "Provenance"
SCORECARD_HEADER = ("key", "score", "band", "scored", "no data", "no target")
SUMMARY_HEADER = ("key", "indicator", "name", "unit", "value", "target", "met", "direction", "weight",
                  "sheet")
BREAKDOWN_HEADER = ("dimension", "member", "value", "numerator", "denominator", "adjusted_value",
                    "unknown_share")
DEFINITIONS_HEADER = ("indicator", "key", "name_en", "name_zh", "formula", "version", "unit", "target",
                      "direction", "weight", "availability", "breakdowns", "sql_file")
CORE_PROPERTIES: str = ARC_CORE  # "docProps/core.xml"
MAX_SHEET_NAME = 31
_INVALID = re.compile(r"[\[\]:*?/\\]")
BOLD = Font(bold=True)


def sheet_names(ids: Iterable[str],
                reserved: Iterable[str] = (SUMMARY, DEFINITIONS, PROVENANCE)) -> dict[str, str]:
    """A sheet name per indicator id: Excel's forbidden characters replaced, at most 31
    characters, unique without regard to case (as Excel compares them)."""
    taken = {r.lower() for r in reserved} | {"history"}  # Excel reserves "History"
    names: dict[str, str] = {}
    for ident in ids:
        base = _INVALID.sub("_", ident).strip("'")[:MAX_SHEET_NAME] or "indicator"
        name, n = base, 2
        while name.lower() in taken:
            suffix = f"~{n}"
            name, n = base[:MAX_SHEET_NAME - len(suffix)] + suffix, n + 1
        taken.add(name.lower())
        names[ident] = name
    return names


def _append_header(ws: Worksheet, header: Sequence[str]) -> None:
    ws.append(list(header))
    for cell in ws[ws.max_row]:
        cell.font = BOLD


def _figure_cells(fig: Figure, availability: bool) -> list[Any]:
    return [rounded(fig.value), rounded(fig.numerator), rounded(fig.denominator),
            rounded(fig.adjusted_value) if availability else None,
            rounded(fig.unknown_share) if availability else None]


def _summary(ws: Worksheet, doc: ReportDocument, names: dict[str, str]) -> None:
    p = doc.provenance
    ws.append(["Citybrain indicator report"])
    ws["A1"].font = Font(bold=True, size=14)
    cut = "" if p.as_of_local == p.window_to_local else f"; figures as of {p.as_of_local}"
    ws.append(["window", f"{p.window_from_local} – {p.window_to_local} (exclusive), {p.timezone}{cut}"])
    ws.append(["department", p.department or WHOLE_CITY])
    ws.append(["data SHA-256", p.data_sha256])
    ws.append([])
    _append_header(ws, SCORECARD_HEADER)
    for ks in doc.scorecard.keys:
        ws.append([ks.key, ks.score, ks.band, len(ks.scored), ", ".join(ks.no_data), len(ks.no_target)])
    ws.append([])
    _append_header(ws, SUMMARY_HEADER)
    weights = dict(doc.scorecard.weights)
    for r in doc.results:
        ind = r.indicator
        ws.append([ind.key, ind.id, ind.name_en, ind.unit, rounded(r.figure.value), rounded(ind.target),
                   r.met, ind.direction, rounded(weights.get(ind.id)), names[ind.id]])
    for col, width in zip("ABCDEFGHIJ", (16, 34, 40, 10, 14, 10, 8, 10, 8, 32), strict=True):
        ws.column_dimensions[col].width = width


def _indicator_sheet(ws: Worksheet, doc: ReportDocument, index: int) -> None:
    r = doc.results[index]
    ind = r.indicator
    for label, value in (("indicator", ind.id), ("name", ind.name_en), ("name_zh", ind.name_zh),
                         ("unit", ind.unit), ("target", rounded(ind.target)), ("direction", ind.direction),
                         ("met", r.met), ("formula", ind.formula)):
        ws.append([label, value])
        ws.cell(ws.max_row, 1).font = BOLD
    ws.append([])
    _append_header(ws, BREAKDOWN_HEADER)
    ws.append(["total", "", *_figure_cells(r.figure, ind.availability)])
    for b in sorted_breakdowns(r):
        ws.append([b.dimension, b.member, *_figure_cells(b.figure, ind.availability)])
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 28


def _definitions(ws: Worksheet, doc: ReportDocument) -> None:
    _append_header(ws, DEFINITIONS_HEADER)
    weights = dict(doc.scorecard.weights)
    for r in doc.results:
        ind = r.indicator
        ws.append([ind.id, ind.key, ind.name_en, ind.name_zh, ind.formula, ind.version, ind.unit,
                   rounded(ind.target), ind.direction, rounded(weights.get(ind.id)), ind.availability,
                   ", ".join(ind.breakdowns), ind.sql_file])
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["E"].width = 80


def _provenance(ws: Worksheet, doc: ReportDocument) -> None:
    _append_header(ws, ("field", "value"))
    for name, value in provenance_lines(doc):
        ws.append([name, value])
    for ks in doc.scorecard.keys:
        ws.append([f"score.{ks.key}", score_text(ks)])
    ws.append(["data_sha256 covers", "the data table of the CSV export of this report (header and rows, "
               "row_format above); export CSV and run: grep -v '^#' report.csv | sha256sum"])
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 90


def _fixed_timestamps(data: bytes, stamp: tuple[int, int, int, int, int, int], core: bytes) -> bytes:
    """Rewrite the zip with one fixed timestamp on every entry (the zip format stores the
    writer's local clock otherwise) and our core properties (openpyxl's save sets their
    "modified" to the wall clock)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, core if info.filename == CORE_PROPERTIES else src.read(info))
    return out.getvalue()


def _text_stays_text(wb: Workbook) -> None:
    """openpyxl stores a string starting with "=" as a formula; a definition's text must
    never be evaluated by the spreadsheet, so mark such cells as plain strings."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"


def render_xlsx(doc: ReportDocument) -> bytes:
    generated = datetime.fromisoformat(doc.provenance.generated_at_utc).astimezone(UTC)
    wb = Workbook()
    summary = wb.active
    assert summary is not None  # a new workbook has one sheet
    summary.title = SUMMARY
    names = sheet_names(r.indicator.id for r in doc.results)
    _summary(summary, doc, names)
    for i, r in enumerate(doc.results):
        _indicator_sheet(wb.create_sheet(names[r.indicator.id]), doc, i)
    _definitions(wb.create_sheet(DEFINITIONS), doc)
    _provenance(wb.create_sheet(PROVENANCE), doc)
    _text_stays_text(wb)
    naive = generated.replace(tzinfo=None)  # openpyxl writes core properties as UTC
    wb.properties.created = naive
    wb.properties.modified = naive
    wb.properties.creator = doc.provenance.generated_by
    buf = io.BytesIO()
    wb.save(buf)
    wb.properties.modified = naive
    core = tostring(wb.properties.to_tree())
    stamp = max(generated, datetime(1980, 1, 1, tzinfo=UTC))  # the earliest time a zip entry can hold
    return _fixed_timestamps(buf.getvalue(), (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute,
                                              stamp.second), core)

"""The XLSX export (openpyxl), in the report's language (``Presentation``):

1. a summary for people, printable on one or two landscape A4 pages: title, window in
   local dates and its zone, as-of time, scope, the keys' scores with their stages
   (准备期 … 成熟期), and one row per indicator with its name, its value rounded for its
   unit, its target, met or missed in colour and its unknown share;
2. the detail: the scorecard and every indicator's exact value, target and met;
2a. the evaluation table (Table 8): every row with its measured and assessed figures,
   each marked as such, and the assessed ones' period, version, assessor, reviewer and
   evidence;
3. one sheet per indicator (named by its id) with its breakdowns, departments and
   districts by their registered names beside their ids;
4. the definitions (the formula in the report's language) and 5. the provenance.

Sheet names, headers and labels come from the reports' catalogue; ids, units and the
detail's numbers stay as in the JSON export (the canonical 6-decimal values). The
workbook's document properties and the zip entries' timestamps are set to
``generated_at``, so the same document and language also give the same XLSX bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.constants import ARC_CORE
from openpyxl.xml.functions import tostring

from citybrain.indicators.evaluation import load_table
from citybrain.indicators.model import Figure, IndicatorResult
from citybrain.kernel.i18n import DEFAULT_LANGUAGE, N_, Translator
from citybrain.reports.document import ReportDocument
from citybrain.reports.evaluation import (
    evaluation_rows,
    item_name,
    kind_label,
    level_text,
    provenance_texts,
    row_name,
    scope_text,
    telemetry_text,
)
from citybrain.reports.evaluation import score_text as assessed_score
from citybrain.reports.presentation import (
    Presentation,
    band_label,
    display_value,
    indicator_formula,
    indicator_name,
    key_label,
    moment_text,
    unit_decimals,
    unit_label,
    window_text,
)
from citybrain.reports.rows import rounded, sorted_breakdowns
from citybrain.reports.scorecard import Band
from citybrain.reports.text import provenance_label, provenance_lines, score_text

# Sheet names (translated; ≤ 31 characters in every language).
SUMMARY, DETAIL, DEFINITIONS, PROVENANCE = N_("Summary"), N_("Detail"), N_("Definitions"), N_("Provenance")
EVALUATION = N_("Evaluation table")
# The evaluation table's sheet: one line per figure, each marked measured or assessed.
EVALUATION_HEADER = (N_("Front"), N_("Row"), N_("Example indicators"), N_("Kind"), N_("Figure"), N_("Value"),
                     N_("Period and scope"), N_("Version"), N_("Assessed by"), N_("Approved by"),
                     N_("Evidence (SHA-256)"), N_("Id"))
EVALUATION_NOTE = N_("Measured figures come from telemetry and the registers (the indicator sheets); "
                     "assessed figures are scores an evaluator entered against the item's rubric and a "
                     "second person approved, the latest approved version counting. The two are never "
                     "added up.")
# The summary's tables.
KEYS_HEADER = (N_("Key"), N_("Score"), N_("Stage"), N_("Indicators scored"), N_("Without data"),
               N_("Without target"))
INDICATORS_HEADER = (N_("Key"), N_("Indicator"), N_("Value"), N_("Unit"), N_("Target"), N_("Target met"),
                     N_("Unknown share"), N_("Indicator id"))
# The detail's, the indicator sheets', the definitions' and the provenance's tables.
SCORECARD_HEADER = (N_("key"), N_("score"), N_("band"), N_("scored"), N_("no data"), N_("no target"))
SUMMARY_HEADER = (N_("key"), N_("indicator"), N_("name"), N_("unit"), N_("value"), N_("target"), N_("met"),
                  N_("direction"), N_("weight"), N_("sheet"))
BREAKDOWN_HEADER = (N_("dimension"), N_("member"), N_("member name"), N_("value"), N_("numerator"),
                    N_("denominator"), N_("adjusted_value"), N_("unknown_share"))
DEFINITIONS_HEADER = (N_("indicator"), N_("key"), N_("name_en"), N_("name_zh"), N_("formula"), N_("version"),
                      N_("unit"), N_("target"), N_("direction"), N_("weight"), N_("availability"),
                      N_("breakdowns"), N_("sql_file"))
PROVENANCE_HEADER = (N_("item"), N_("field"), N_("value"))
INDICATOR_LABELS = (N_("Indicator id"), N_("Name (English)"), N_("Name (Chinese)"), N_("Unit"), N_("Target"),
                    N_("Direction"), N_("Target met"), N_("Formula"))
DIMENSIONS: Mapping[str, str] = {
    "total": N_("total"), "key": N_("key"), "department": N_("department"), "district": N_("district"),
    "kind": N_("kind"), "asset": N_("asset"), "day": N_("day"), "level": N_("level"),
    "category": N_("category"), "hours": N_("hours"), "department_day": N_("department_day"),
    "district_day": N_("district_day"), "channel": N_("channel"), "month": N_("month"),
    "basis": N_("basis"),
}
DIRECTIONS: Mapping[str, str] = {"higher": N_("higher is better"), "lower": N_("lower is better")}
TITLE = N_("Citybrain operation indicator report")
STAGES_NOTE = N_("Stages as the national evaluation names them: [0, 55) preparation, [55, 70) start-up, "
                 "[70, 85) growth, [85, 100] mature. A key's score weighs the attainment of its indicators "
                 "that have a target and data; an indicator without data is left out, never counted as 0.")
ROUNDING_NOTE = N_("Unknown share: the share of in-scope time whose state was unknown (availability "
                   "indicators only). Values here are rounded for reading; the detail sheets hold the exact "
                   "figures.")
SHA_COVERS = N_("the data table of the CSV export of this report (header and rows, row_format above); "
                "export CSV and run: grep -v '^#' report.csv | sha256sum")

CORE_PROPERTIES: str = ARC_CORE  # "docProps/core.xml"
MAX_SHEET_NAME = 31
_INVALID = re.compile(r"[\[\]:*?/\\]")
# Every font names the workbook's default face: a font without a name is drawn in the
# viewer's fallback face (a serif one in LibreOffice).
FACE = "Calibri"
BOLD = Font(name=FACE, bold=True)
TITLE_FONT = Font(name=FACE, bold=True, size=16)
SECTION_FONT = Font(name=FACE, bold=True, size=12)
NOTE_FONT = Font(name=FACE, size=9, color="595959")
ID_FONT = Font(name=FACE, size=9, color="595959")
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_THIN = Side(style="thin", color="A6A6A6")
GRID = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP = Alignment(vertical="center", wrap_text=True)
# Excel's own "Good", "Bad" and "Neutral" cell styles, which readers know: met, missed, no verdict.
MET_FILL, MET_FONT = PatternFill("solid", fgColor="C6EFCE"), Font(name=FACE, color="006100")
MISSED_FILL, MISSED_FONT = PatternFill("solid", fgColor="FFC7CE"), Font(name=FACE, color="9C0006")
NONE_FILL, NONE_FONT = PatternFill("solid", fgColor="EDEDED"), Font(name=FACE, color="595959")
BAND_STYLES: Mapping[Band, tuple[PatternFill, Font]] = {
    "mature": (MET_FILL, MET_FONT),
    "growth": (PatternFill("solid", fgColor="E2EFDA"), Font(name=FACE, color="375623")),
    "start-up": (PatternFill("solid", fgColor="FFEB9C"), Font(name=FACE, color="9C5700")),
    "preparation": (MISSED_FILL, MISSED_FONT),
}
SUMMARY_WIDTHS = (20, 40, 12, 12, 13, 15, 13, 30)  # columns A–H
HEADER_HEIGHT = 30  # points: room for a header wrapped on two lines
NOTE_HEIGHT = 24  # points: a note of two lines in the 9-point note font


def sheet_names(ids: Iterable[str],
                reserved: Iterable[str] = (SUMMARY, DETAIL, EVALUATION, DEFINITIONS, PROVENANCE)
                ) -> dict[str, str]:
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


def _append_header(ws: Worksheet, header: Sequence[str], t: Translator) -> None:
    ws.append([t.gettext(h) for h in header])
    for cell in ws[ws.max_row]:
        cell.font = BOLD


def _figure_cells(fig: Figure, availability: bool) -> list[Any]:
    return [rounded(fig.value), rounded(fig.numerator), rounded(fig.denominator),
            rounded(fig.adjusted_value) if availability else None,
            rounded(fig.unknown_share) if availability else None]


def _number_format(unit: str, prefix: str = "") -> str:
    places = unit_decimals(unit)
    return f'"{prefix}"' * bool(prefix) + ("0" if places == 0 else "0." + "0" * places)


def met_label(result: IndicatorResult, t: Translator) -> str:
    """达标 / 未达标; 仅监测 (monitored only) without a target; 无数据 without data."""
    if result.indicator.target is None:
        return t.gettext("monitored only")
    if result.met is None:
        return t.gettext("no data")
    return t.gettext("met") if result.met else t.gettext("missed")


def _styled(cell: Any, fill: PatternFill, font: Font) -> None:
    cell.fill, cell.font = fill, font


def _table_header(ws: Worksheet, row: int, header: Sequence[str], t: Translator) -> None:
    for col, text in enumerate(header, 1):
        cell = ws.cell(row, col, t.gettext(text))
        cell.font, cell.fill, cell.border, cell.alignment = BOLD, HEADER_FILL, GRID, CENTER
    ws.row_dimensions[row].height = HEADER_HEIGHT


def _summary(ws: Worksheet, doc: ReportDocument, view: Presentation) -> None:
    """The sheet an evaluator prints and hands on (see the module docstring)."""
    t, lang, p = view.t, view.language, doc.provenance
    last = len(SUMMARY_WIDTHS)
    ws.cell(1, 1, t.gettext(TITLE)).font = TITLE_FONT
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last)
    c = p.completeness
    facts = [
        (t.gettext("Window"), window_text(doc.window, lang)),
        (t.gettext("Data as of"), f"{moment_text(p.as_of_local)} ({p.timezone})"),
        (t.gettext("Scope"), view.department(doc.department)),
        (t.gettext("Generated at"),
         f"{moment_text(p.generated_at_local)} ({p.timezone}), {p.generated_by}"),
        (t.gettext("Data completeness"),
         t.ngettext("{with_data} of {total} indicator has data",
                    "{with_data} of {total} indicators have data",
                    c.indicators).format(with_data=c.with_data, total=c.indicators)),
    ]
    ws.row_dimensions[1].height = 28
    row = 2
    for label, value in facts:
        ws.cell(row, 1, label).font = BOLD
        ws.cell(row, 2, value)
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=last)
        row += 1

    row += 1
    ws.cell(row, 1, t.gettext("Scores by key")).font = SECTION_FONT
    row += 1
    _table_header(ws, row, KEYS_HEADER, t)
    for ks in doc.scorecard.keys:
        row += 1
        values = [key_label(ks.key, lang), ks.score, band_label(ks.band, lang), len(ks.scored),
                  len(ks.no_data), len(ks.no_target)]
        for col, content in enumerate(values, 1):
            cell = ws.cell(row, col, content)
            cell.border, cell.alignment = GRID, (WRAP if col == 1 else CENTER)
        ws.cell(row, 2).number_format = "0.00"
        band = ws.cell(row, 3)
        _styled(band, *(BAND_STYLES[ks.band] if ks.band else (NONE_FILL, NONE_FONT)))

    row += 2
    ws.cell(row, 1, t.gettext("Indicators")).font = SECTION_FONT
    row += 1
    _table_header(ws, row, INDICATORS_HEADER, t)
    for r in doc.results:
        row += 1
        _indicator_row(ws, row, r, view)

    row += 2
    for note in (STAGES_NOTE, ROUNDING_NOTE):
        cell = ws.cell(row, 1, t.gettext(note))
        cell.font, cell.alignment = NOTE_FONT, Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last)
        ws.row_dimensions[row].height = NOTE_HEIGHT
        row += 1
    ws.cell(row, 1, f"{t.gettext('Data SHA-256')}: {p.data_sha256}").font = NOTE_FONT
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last)

    for col, width in enumerate(SUMMARY_WIDTHS, 1):
        ws.column_dimensions[chr(ord("A") + col - 1)].width = width
    _print_setup(ws)


def _indicator_row(ws: Worksheet, row: int, r: IndicatorResult, view: Presentation) -> None:
    ind, t, lang = r.indicator, view.t, view.language
    value = display_value(r.figure.value, ind.unit)
    target = display_value(ind.target, ind.unit)
    share = rounded(r.figure.unknown_share) if ind.availability else None
    cells = [key_label(ind.key, lang), indicator_name(ind, lang),
             t.gettext("no data") if value is None else float(value), unit_label(ind.unit, lang),
             None if target is None else float(target), met_label(r, t), share, ind.id]
    for col, content in enumerate(cells, 1):
        cell = ws.cell(row, col, content)
        cell.border, cell.alignment = GRID, (WRAP if col in (1, 2, 8) else CENTER)
    if value is None:
        _styled(ws.cell(row, 3), NONE_FILL, NONE_FONT)
    else:
        ws.cell(row, 3).number_format = _number_format(ind.unit)
    if target is not None:
        ws.cell(row, 5).number_format = _number_format(ind.unit, "≥ " if ind.direction == "higher" else "≤ ")
    verdict = ws.cell(row, 6)
    if r.met is None:
        _styled(verdict, NONE_FILL, NONE_FONT)
    else:
        _styled(verdict, *((MET_FILL, MET_FONT) if r.met else (MISSED_FILL, MISSED_FONT)))
    ws.cell(row, 7).number_format = "0.00%"
    ws.cell(row, 8).font = ID_FONT


def _print_setup(ws: Worksheet) -> None:
    """A4 landscape, as wide as one page and as many pages tall as it takes (the summary:
    one or two), centred, with the page number in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    footer = ws.oddFooter
    assert footer is not None  # openpyxl creates the header and footer with the sheet
    footer.center.text = "&P / &N"


def _detail(ws: Worksheet, doc: ReportDocument, view: Presentation, names: dict[str, str]) -> None:
    t, lang = view.t, view.language
    _append_header(ws, SCORECARD_HEADER, t)
    for ks in doc.scorecard.keys:
        ws.append([ks.key, ks.score, band_label(ks.band, lang) if ks.band else None, len(ks.scored),
                   ", ".join(ks.no_data), len(ks.no_target)])
    ws.append([])
    _append_header(ws, SUMMARY_HEADER, t)
    weights = dict(doc.scorecard.weights)
    for r in doc.results:
        ind = r.indicator
        ws.append([ind.key, ind.id, indicator_name(ind, lang), ind.unit, rounded(r.figure.value),
                   rounded(ind.target), r.met, ind.direction, rounded(weights.get(ind.id)), names[ind.id]])
    for col, width in zip("ABCDEFGHIJ", (16, 34, 40, 10, 14, 10, 8, 10, 8, 32), strict=True):
        ws.column_dimensions[col].width = width
    _print_setup(ws)


def _indicator_sheet(ws: Worksheet, doc: ReportDocument, index: int, view: Presentation) -> None:
    r = doc.results[index]
    ind, t = r.indicator, view.t
    values = (ind.id, ind.name_en, ind.name_zh, ind.unit, rounded(ind.target),
              t.gettext(DIRECTIONS[ind.direction]), met_label(r, t), indicator_formula(ind, view.language))
    for label, value in zip(INDICATOR_LABELS, values, strict=True):
        ws.append([t.gettext(label), value])
        ws.cell(ws.max_row, 1).font = BOLD
    ws.cell(ws.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([])
    _append_header(ws, BREAKDOWN_HEADER, t)
    ws.append([t.gettext(DIMENSIONS["total"]), "", "", *_figure_cells(r.figure, ind.availability)])
    for b in sorted_breakdowns(r):
        name = view.member(b.dimension, b.member)
        dimension = DIMENSIONS.get(b.dimension)
        ws.append([b.dimension if dimension is None else t.gettext(dimension), b.member,
                   "" if name == b.member else name, *_figure_cells(b.figure, ind.availability)])
    for col, width in zip("ABC", (16, 40, 28), strict=True):
        ws.column_dimensions[col].width = width


def _definitions(ws: Worksheet, doc: ReportDocument, view: Presentation) -> None:
    _append_header(ws, DEFINITIONS_HEADER, view.t)
    weights = dict(doc.scorecard.weights)
    for r in doc.results:
        ind = r.indicator
        ws.append([ind.id, ind.key, ind.name_en, ind.name_zh, indicator_formula(ind, view.language),
                   ind.version, ind.unit, rounded(ind.target), ind.direction, rounded(weights.get(ind.id)),
                   ind.availability, ", ".join(ind.breakdowns), ind.sql_file])
        ws.cell(ws.max_row, 5).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["C"].width = 28
    ws.column_dimensions["D"].width = 24
    ws.column_dimensions["E"].width = 80


def _provenance(ws: Worksheet, doc: ReportDocument, view: Presentation) -> None:
    t, lang = view.t, view.language
    _append_header(ws, PROVENANCE_HEADER, t)
    for name, value in provenance_lines(doc, view):
        ws.append([provenance_label(name, lang), name, value])
    for ks in doc.scorecard.keys:
        name = f"score.{ks.key}"
        ws.append([provenance_label(name, lang), name, score_text(ks, lang)])
    ws.append([t.gettext("What data_sha256 covers"), "data_sha256_covers", t.gettext(SHA_COVERS)])
    for name, value in provenance_texts(doc, lang):
        ws.append([t.gettext("Assessed figure"), name, value])
    for col, width in zip("ABC", (24, 24, 90), strict=True):
        ws.column_dimensions[col].width = width


def _evaluation(ws: Worksheet, doc: ReportDocument, view: Presentation) -> None:
    """Table 8: every row, its measured figures and its assessed ones, one line each."""
    t, lang = view.t, view.language
    departments = dict(view.departments)
    ws.cell(1, 1, t.gettext(EVALUATION)).font = SECTION_FONT
    note = ws.cell(2, 1, t.gettext(EVALUATION_NOTE))
    note.font, note.alignment = NOTE_FONT, Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(EVALUATION_HEADER))
    ws.row_dimensions[2].height = NOTE_HEIGHT
    _table_header(ws, 3, EVALUATION_HEADER, t)
    row = 3
    table = load_table()
    for er in evaluation_rows(doc):
        front = table.front(er.row.front)
        head = [front.name_zh if lang == "zh-CN" else front.name_en, row_name(er.row, lang),
                er.row.examples_zh if lang == "zh-CN" else er.row.examples_en]
        lines: list[tuple[list[Any], bool]] = []
        for tel in er.telemetry:
            name = tel.indicator_id if tel.result is None else indicator_name(tel.result.indicator, lang)
            lines.append(([kind_label("measured", lang), name, telemetry_text(tel, lang), "", "", "", "", "",
                           tel.indicator_id], False))
        for a in er.assessed:
            if not a.figures:
                lines.append(([kind_label("assessed", lang), item_name(a.item, lang),
                               t.gettext("no approved assessment"), "", "", "", "", "", a.item.id], True))
            for v in a.figures:
                assert v.review is not None
                lines.append(([kind_label("assessed", lang), item_name(a.item, lang),
                               f"{assessed_score(v)} ({level_text(v, lang)})",
                               f"{v.period_from.isoformat()} – {v.period_to.isoformat()}, "
                               f"{scope_text(v, lang, departments)}", v.version, v.assessor_name,
                               v.review.reviewer_name,
                               "\n".join(f"{e.file_name} {e.sha256}" for e in v.evidence), a.item.id], True))
        for n, (cells, assessed) in enumerate(lines):
            row += 1
            for col, content in enumerate([*(head if n == 0 else ["", "", ""]), *cells], 1):
                cell = ws.cell(row, col, content)
                cell.border, cell.alignment = GRID, WRAP
            kind = ws.cell(row, 4)
            kind.font = Font(name=FACE, bold=True, color="8A5300" if assessed else "1D4E89")
            ws.cell(row, len(EVALUATION_HEADER)).font = ID_FONT
    for letter, width in zip("ABCDEFGHIJKL", (12, 16, 30, 8, 28, 16, 26, 8, 12, 12, 40, 30), strict=True):
        ws.column_dimensions[letter].width = width
    _print_setup(ws)


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


def render_xlsx(doc: ReportDocument, view: Presentation | None = None) -> bytes:
    """The workbook for ``view``'s reader (default: zh-CN, departments by id)."""
    shown = view or Presentation(DEFAULT_LANGUAGE)
    t = shown.t
    generated = datetime.fromisoformat(doc.provenance.generated_at_utc).astimezone(UTC)
    wb = Workbook()
    summary = wb.active
    assert summary is not None  # a new workbook has one sheet
    summary.title = t.gettext(SUMMARY)
    fixed = [t.gettext(n) for n in (SUMMARY, DETAIL, DEFINITIONS, PROVENANCE, EVALUATION)]
    names = sheet_names((r.indicator.id for r in doc.results), reserved=fixed)
    _summary(summary, doc, shown)
    _detail(wb.create_sheet(fixed[1]), doc, shown, names)
    _evaluation(wb.create_sheet(fixed[4]), doc, shown)
    for i, r in enumerate(doc.results):
        _indicator_sheet(wb.create_sheet(names[r.indicator.id]), doc, i, shown)
    _definitions(wb.create_sheet(fixed[2]), doc, shown)
    _provenance(wb.create_sheet(fixed[3]), doc, shown)
    _text_stays_text(wb)
    naive = generated.replace(tzinfo=None)  # openpyxl writes core properties as UTC
    wb.properties.created = naive
    wb.properties.modified = naive
    wb.properties.creator = doc.provenance.generated_by
    wb.properties.title = t.gettext(TITLE)
    buf = io.BytesIO()
    wb.save(buf)
    wb.properties.modified = naive
    core = tostring(wb.properties.to_tree())
    stamp = max(generated, datetime(1980, 1, 1, tzinfo=UTC))  # the earliest time a zip entry can hold
    return _fixed_timestamps(buf.getvalue(), (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute,
                                              stamp.second), core)

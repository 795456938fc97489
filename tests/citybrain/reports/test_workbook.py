"""The XLSX export opens with openpyxl: a summary for people first (names, stages,
met / missed in colour, printable on A4 landscape), in the report's language; then the
detail, indicator, definitions and provenance sheets holding, cell by cell, the numbers
of the JSON. The summary printed by LibreOffice is docs/screens/report-xlsx-summary.png."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from citybrain.kernel.i18n import LANGUAGES, Language
from citybrain.reports.document import ReportDocument, assemble_report
from citybrain.reports.presentation import (
    Presentation,
    band_label,
    display_value,
    indicator_name,
    key_label,
    translator,
    window_text,
)
from citybrain.reports.rows import rounded
from citybrain.reports.workbook import (
    BREAKDOWN_HEADER,
    DEFINITIONS,
    DEFINITIONS_HEADER,
    DETAIL,
    EVALUATION,
    INDICATORS_HEADER,
    KEYS_HEADER,
    MET_FILL,
    MISSED_FILL,
    PROVENANCE,
    PROVENANCE_HEADER,
    SCORECARD_HEADER,
    SUMMARY,
    SUMMARY_HEADER,
    render_xlsx,
    sheet_names,
)
from citybrain.reports.writers import render_json
from tests.citybrain.reports.sample import (
    GENERATED_AT,
    WINDOW,
    catalogue_results,
    city_results,
    indicator,
    result,
)

ROOT = Path(__file__).resolve().parents[3]
SCREEN = ROOT / "docs" / "screens" / "report-xlsx-summary.png"
ENGLISH = Presentation("en")
# The national evaluation's stages, as evaluators write them.
STAGES_ZH = {"preparation": "准备期", "start-up": "起步期", "growth": "成长期", "mature": "成熟期"}


def doc(results: Any = None, department: str | None = None) -> ReportDocument:
    return assemble_report(city_results() if results is None else results, WINDOW, department=department,
                           generated_by="cli:alice", generated_at=GENERATED_AT, version="9.9.9")


def police(language: Language) -> tuple[ReportDocument, Presentation]:
    """The whole catalogue, scoped to a department the registry names 公安局 / Police."""
    name = "公安局" if language == "zh-CN" else "Police"
    return doc(catalogue_results("dept-police"), "dept-police"), Presentation(language, {"dept-police": name})


def header(language: Language, texts: tuple[str, ...]) -> tuple[str, ...]:
    t = translator(language)
    return tuple(t.gettext(text) for text in texts)


def rows_after(ws: Worksheet, head: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The table under ``head`` in ``ws``, up to the first empty row."""
    values = [tuple(r) for r in ws.iter_rows(values_only=True)]
    width = len(head)
    start = next(i for i, r in enumerate(values) if r[:width] == head) + 1
    out = []
    for r in values[start:]:
        if all(v is None for v in r):
            break
        out.append(r[:width])
    return out


def workbook(d: ReportDocument, view: Presentation) -> Any:
    return load_workbook(io.BytesIO(render_xlsx(d, view)))


Report = tuple[ReportDocument, dict[str, Any], Any]


@pytest.fixture
def report() -> Report:
    d = doc()
    return d, orjson.loads(render_json(d)), workbook(d, ENGLISH)


@pytest.mark.parametrize("language", LANGUAGES)
def test_sheets(language: Language) -> None:
    d = doc()
    wb = workbook(d, Presentation(language))
    t = translator(language)
    assert wb.sheetnames[:3] == [t.gettext(SUMMARY), t.gettext(DETAIL), t.gettext(EVALUATION)]
    assert wb.sheetnames[-2:] == [t.gettext(DEFINITIONS), t.gettext(PROVENANCE)]
    assert wb.sheetnames[3:-2] == [r.indicator.id for r in d.results]
    assert all(len(n) <= 31 for n in wb.sheetnames)
    assert len({n.lower() for n in wb.sheetnames}) == len(wb.sheetnames)
    if language == "zh-CN":
        assert wb.sheetnames[0] == "汇总"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_summary_reads_in_the_reports_language(language: Language) -> None:
    d, view = police(language)
    ws = workbook(d, view).worksheets[0]
    t = translator(language)
    facts = {r[0]: r[1] for r in ws.iter_rows(min_row=2, max_row=6, values_only=True)}
    assert facts[t.gettext("Window")] == window_text(WINDOW, language)
    assert facts[t.gettext("Scope")] == view.departments["dept-police"]
    assert facts[t.gettext("Data as of")] == "2026-04-01 00:00 (Asia/Shanghai)"
    # The five keys (and ops) with their stages; a key without data has no score.
    keys = rows_after(ws, header(language, KEYS_HEADER))
    assert [k[0] for k in keys] == [key_label(ks.key, language) for ks in d.scorecard.keys]
    for row, ks in zip(keys, d.scorecard.keys, strict=True):
        assert row[1] == ks.score
        expected = band_label(ks.band, language)
        assert row[2] == expected
        if language == "zh-CN" and ks.band is not None:
            assert row[2] == STAGES_ZH[ks.band]
    # One row per indicator: its name, its value rounded for its unit, target, verdict, unknown share.
    rows = rows_after(ws, header(language, INDICATORS_HEADER))
    assert [r[1] for r in rows] == [indicator_name(r.indicator, language) for r in d.results]
    assert [r[7] for r in rows] == [r.indicator.id for r in d.results]
    for row, r in zip(rows, d.results, strict=True):
        shown = display_value(r.figure.value, r.indicator.unit)
        assert row[2] == (t.gettext("no data") if shown is None else float(shown))
        assert row[6] == (rounded(r.figure.unknown_share) if r.indicator.availability else None)
    if language == "zh-CN":
        by_id = {row[7]: row for row in rows}
        assert by_id["infra.camera_intact_rate"][:2] == ("基础设施", "视频监控设备完好率")
        verdicts = {ident: row[5] for ident, row in by_id.items()}
        assert verdicts["infra.camera_intact_rate"] == "未达标"
        assert verdicts["infra.camera_access_rate"] == "达标"
        assert verdicts["data.freshness_rate"] == "无数据"
        assert verdicts["portal.service_count"] == "仅监测"


def test_met_and_missed_are_coloured_and_values_formatted_per_unit() -> None:
    d, view = police("zh-CN")
    ws = workbook(d, view).worksheets[0]
    head = header("zh-CN", INDICATORS_HEADER)
    values = [tuple(r) for r in ws.iter_rows()]
    start = next(i for i, r in enumerate(values) if tuple(c.value for c in r[:8]) == head) + 1
    cells = {r[7].value: r for r in values[start:start + len(d.results)]}
    for r in d.results:
        value, target, verdict = cells[r.indicator.id][2], cells[r.indicator.id][4], cells[r.indicator.id][5]
        if r.met is not None:
            fill = MET_FILL if r.met else MISSED_FILL
            assert verdict.fill.fgColor.rgb == fill.fgColor.rgb, r.indicator.id
        if r.figure.value is not None:
            # % to 2 places, ms and counts whole, minutes to 1 place
            places = {"%": "0.00", "ms": "0", "count": "0", "minutes": "0.0"}
            assert value.number_format == places[r.indicator.unit]
        if r.indicator.target is not None:
            assert target.number_format.startswith('"≥ "' if r.indicator.direction == "higher" else '"≤ "')
    assert cells["infra.camera_access_rate"][2].value == 98.67   # 98.666… rounded half up, 2 places
    assert cells["ops.mtta"][2].value == 12.2                     # 12.1845 min, 1 place
    assert cells["infra.camera_intact_rate"][6].number_format == "0.00%"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_summary_prints_on_a4_landscape_one_page_wide(language: Language) -> None:
    d, view = police(language)
    ws = workbook(d, view).worksheets[0]
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) == 9   # 9: A4 in OOXML
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert (int(ws.page_setup.fitToWidth), int(ws.page_setup.fitToHeight)) == (1, 0)


def test_detail_holds_the_scorecard_and_every_indicator(report: Report) -> None:
    _, data, wb = report
    ws = wb["Detail"]
    assert rows_after(ws, SCORECARD_HEADER) == [
        (k["key"], k["score"], k["band"], len(k["scored"]), ", ".join(k["no_data"]) or None,
         len(k["no_target"])) for k in data["scorecard"]]
    assert rows_after(ws, SUMMARY_HEADER) == [
        (i["key"], i["id"], i["name_en"], i["unit"], i["value"], i["target"], i["met"], i["direction"],
         i["weight"], i["id"]) for i in data["indicators"]]


def test_detail_in_chinese_names_bands_and_headers() -> None:
    d = doc()
    data = orjson.loads(render_json(d))
    ws = workbook(d, Presentation("zh-CN")).worksheets[1]
    keys = rows_after(ws, header("zh-CN", SCORECARD_HEADER))
    assert [k[2] for k in keys] == [STAGES_ZH[k["band"]] if k["band"] else None for k in data["scorecard"]]
    rows = rows_after(ws, header("zh-CN", SUMMARY_HEADER))
    assert [r[2] for r in rows] == [i["name_zh"] for i in data["indicators"]]
    assert [r[4] for r in rows] == [i["value"] for i in data["indicators"]]   # exact, as in the JSON


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_indicator_sheet_holds_its_breakdowns_with_names(language: Language) -> None:
    d = doc()
    data = orjson.loads(render_json(d))
    view = Presentation(language, departments={"water": "水务局"})
    wb = workbook(d, view)
    t = translator(language)
    fields = ("value", "numerator", "denominator", "adjusted_value", "unknown_share")
    for ind in data["indicators"]:
        ws = wb[ind["id"]]
        assert ws["B1"].value == ind["id"]
        expected = [(t.gettext("total"), None, None, *(ind[f] for f in fields))]
        expected += [(t.gettext(b["dimension"]), b["member"],
                      "水务局" if (b["dimension"], b["member"]) == ("department", "water") else None,
                      *(b[f] for f in fields)) for b in ind["breakdowns"]]
        assert rows_after(ws, header(language, BREAKDOWN_HEADER)) == expected
    # A figure with data appears as a number, not as text.
    assert isinstance(wb["infra.device_online_rate"]["D11"].value, float)


def test_definitions_and_provenance(report: Report) -> None:
    d, data, wb = report
    assert rows_after(wb["Definitions"], DEFINITIONS_HEADER) == [
        (i["id"], i["key"], i["name_en"], i["name_zh"], i["formula"], i["version"], i["unit"], i["target"],
         i["direction"], i["weight"], i["availability"], ", ".join(r.indicator.breakdowns) or None,
         f"{i['id']}.sql")
        for i, r in zip(data["indicators"], d.results, strict=True)]
    prov = {field: value for _, field, value in rows_after(wb["Provenance"], PROVENANCE_HEADER)}
    p = data["provenance"]
    assert prov["data_sha256"] == p["data_sha256"]
    assert prov["window_from"] == p["window"]["from"]
    assert prov["window_to_utc"] == p["window"]["to_utc"] + " (exclusive)"
    assert prov["timezone"] == "Asia/Shanghai"
    assert (prov["language"], prov["department_name"]) == ("en", "Whole city")
    assert (prov["generated_at"], prov["generated_by"], prov["software_version"]) == (
        p["generated_at"], "cli:alice", "9.9.9")
    assert prov["indicators_with_data"] == "6 of 7 (0.857143)"
    assert prov["worst_unknown_share"] == "1 (portal.availability_7x24)"
    assert wb.properties.creator == "cli:alice"


def test_definitions_in_chinese_print_the_chinese_formula() -> None:
    d, view = police("zh-CN")
    wb = workbook(d, view)
    rows = rows_after(wb["指标定义"], header("zh-CN", DEFINITIONS_HEADER))
    assert [r[4] for r in rows] == [r.indicator.formula_zh for r in d.results]
    assert all(r.indicator.formula_zh for r in d.results)
    prov = {field: (label, value) for label, field, value in rows_after(wb["数据溯源"],
                                                                          header("zh-CN", PROVENANCE_HEADER))}
    assert prov["department_name"] == ("部门", "公安局")
    infra = d.scorecard.for_key("infrastructure")
    assert infra.band is not None
    head = f"{infra.score:.2f} ({STAGES_ZH[infra.band]}); 计分指标: "
    assert prov["score.infrastructure"][1].startswith(head)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_same_document_gives_the_same_xlsx_bytes(language: Language) -> None:
    d, view = police(language)
    data = render_xlsx(d, view)
    assert data == render_xlsx(police(language)[0], police(language)[1])
    # Nothing in the file comes from the wall clock: every stamp is generated_at (01:30 UTC).
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(2026, 4, 1, 1, 30, 0)}
        core = z.read("docProps/core.xml").decode()
    assert ">2026-04-01T01:30:00Z</dcterms:created>" in core
    assert ">2026-04-01T01:30:00Z</dcterms:modified>" in core


def test_text_starting_with_equals_is_not_a_formula() -> None:
    d = doc([result(indicator("infra.x", formula="=HYPERLINK(\"http://x\")"), 1.0)])
    wb = workbook(d, ENGLISH)
    cell = wb["Definitions"]["E2"]
    assert cell.value == "=HYPERLINK(\"http://x\")" and cell.data_type == "s"


def test_sheet_names_are_short_legal_and_unique() -> None:
    long = "infra.a_very_long_indicator_identifier_"
    names = sheet_names([long + "one", long + "two", "a/b:c*d?[e]", "SUMMARY", "X", "x"])
    assert names[long + "one"] == long[:31]
    assert names[long + "two"] == long[:29] + "~2"
    assert names["a/b:c*d?[e]"] == "a_b_c_d__e_"
    assert names["SUMMARY"] == "SUMMARY~2"
    assert (names["X"], names["x"]) == ("X", "x~2")
    assert all(len(n) <= 31 for n in names.values())


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (tools/system-packages installs LibreOffice Calc and poppler)")
    return path


def test_the_summary_prints_on_one_or_two_pages_screenshot(tmp_path: Path) -> None:
    """LibreOffice prints the Chinese summary sheet alone to PDF: at most two pages; its first
    page is docs/screens/report-xlsx-summary.png."""
    soffice, pdftoppm, pdfinfo = _tool("soffice"), _tool("pdftoppm"), _tool("pdfinfo")
    d, view = police("zh-CN")
    wb = workbook(d, view)
    for ws in wb.worksheets[1:]:
        wb.remove(ws)
    summary = tmp_path / "summary.xlsx"
    wb.save(summary)
    # A profile of its own, so a LibreOffice already running (another test) does not take the job.
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    subprocess.run([soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(summary)], check=True, capture_output=True, timeout=120)
    pdf = tmp_path / "summary.pdf"
    info = subprocess.run([pdfinfo, str(pdf)], check=True, capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert 1 <= pages <= 2
    width, height = (float(x) for x in next(
        line for line in info.splitlines() if line.startswith("Page size:")).split()[2:5:2])
    assert (round(width), round(height)) == (842, 595)   # A4 landscape, in points
    SCREEN.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(SCREEN.with_suffix(""))], check=True, timeout=60)
    assert SCREEN.stat().st_size > 10_000

"""The XLSX export opens with openpyxl and holds, cell by cell, the numbers of the JSON."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import orjson
import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from citybrain.reports.document import ReportDocument, assemble_report
from citybrain.reports.workbook import (
    BREAKDOWN_HEADER,
    DEFINITIONS_HEADER,
    SCORECARD_HEADER,
    SUMMARY_HEADER,
    render_xlsx,
    sheet_names,
)
from citybrain.reports.writers import render_json
from tests.citybrain.reports.sample import GENERATED_AT, WINDOW, city_results, indicator, result


def doc(results: Any = None) -> ReportDocument:
    return assemble_report(city_results() if results is None else results, WINDOW, department=None,
                           generated_by="cli:alice", generated_at=GENERATED_AT, version="9.9.9")


def rows_after(ws: Worksheet, header: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The table under ``header`` in ``ws``, up to the first empty row."""
    values = [tuple(r) for r in ws.iter_rows(values_only=True)]
    width = len(header)
    start = next(i for i, r in enumerate(values) if r[:width] == header) + 1
    out = []
    for r in values[start:]:
        if all(v is None for v in r):
            break
        out.append(r[:width])
    return out


Report = tuple[ReportDocument, dict[str, Any], Any]


@pytest.fixture
def report() -> Report:
    d = doc()
    wb = load_workbook(io.BytesIO(render_xlsx(d)))
    return d, orjson.loads(render_json(d)), wb


def test_sheets(report: Report) -> None:
    _, data, wb = report
    assert wb.sheetnames[0] == "Summary" and wb.sheetnames[-2:] == ["Definitions", "Provenance"]
    assert wb.sheetnames[1:-2] == [i["id"] for i in data["indicators"]]
    assert all(len(n) <= 31 for n in wb.sheetnames)
    assert len({n.lower() for n in wb.sheetnames}) == len(wb.sheetnames)


def test_summary_holds_the_scorecard_and_every_indicator(report: Report) -> None:
    _, data, wb = report
    ws = wb["Summary"]
    assert rows_after(ws, SCORECARD_HEADER) == [
        (k["key"], k["score"], k["band"], len(k["scored"]), ", ".join(k["no_data"]) or None,
         len(k["no_target"])) for k in data["scorecard"]]
    assert rows_after(ws, SUMMARY_HEADER) == [
        (i["key"], i["id"], i["name_en"], i["unit"], i["value"], i["target"], i["met"], i["direction"],
         i["weight"], i["id"]) for i in data["indicators"]]


def test_each_indicator_sheet_holds_its_breakdowns(report: Report) -> None:
    _, data, wb = report
    fields = BREAKDOWN_HEADER[2:]
    for ind in data["indicators"]:
        ws = wb[ind["id"]]
        assert ws["B1"].value == ind["id"]
        expected = [("total", None, *(ind[f] for f in fields))]
        expected += [(b["dimension"], b["member"], *(b[f] for f in fields)) for b in ind["breakdowns"]]
        assert rows_after(ws, BREAKDOWN_HEADER) == expected
    # A figure with data appears as a number, not as text.
    assert isinstance(wb["infra.device_online_rate"]["C11"].value, float)


def test_definitions_and_provenance(report: Report) -> None:
    d, data, wb = report
    assert rows_after(wb["Definitions"], DEFINITIONS_HEADER) == [
        (i["id"], i["key"], i["name_en"], i["name_zh"], i["formula"], i["version"], i["unit"], i["target"],
         i["direction"], i["weight"], i["availability"], ", ".join(r.indicator.breakdowns) or None,
         f"{i['id']}.sql")
        for i, r in zip(data["indicators"], d.results, strict=True)]
    prov = dict(rows_after(wb["Provenance"], ("field", "value")))
    p = data["provenance"]
    assert prov["data_sha256"] == p["data_sha256"]
    assert prov["window_from"] == p["window"]["from"]
    assert prov["window_to_utc"] == p["window"]["to_utc"] + " (exclusive)"
    assert prov["timezone"] == "Asia/Shanghai"
    assert (prov["generated_at"], prov["generated_by"], prov["software_version"]) == (
        p["generated_at"], "cli:alice", "9.9.9")
    assert prov["indicators_with_data"] == "6 of 7 (0.857143)"
    assert prov["worst_unknown_share"] == "1 (portal.availability_7x24)"
    assert wb.properties.creator == "cli:alice"


def test_the_same_document_gives_the_same_xlsx_bytes() -> None:
    data = render_xlsx(doc())
    assert data == render_xlsx(doc())
    # Nothing in the file comes from the wall clock: every stamp is generated_at (01:30 UTC).
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {i.date_time for i in z.infolist()} == {(2026, 4, 1, 1, 30, 0)}
        core = z.read("docProps/core.xml").decode()
    assert ">2026-04-01T01:30:00Z</dcterms:created>" in core
    assert ">2026-04-01T01:30:00Z</dcterms:modified>" in core


def test_text_starting_with_equals_is_not_a_formula() -> None:
    d = doc([result(indicator("infra.x", formula="=HYPERLINK(\"http://x\")"), 1.0)])
    wb = load_workbook(io.BytesIO(render_xlsx(d)))
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

"""The evaluation table in every export: each row of Table 8 with its measured figures and its
assessed ones, labelled apart; the assessed figures counted (latest approved as of the
report's stamp) and listed in the provenance with their evidence; the data hash untouched."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import orjson
import pytest

from citybrain.assessments import store
from citybrain.indicators.evaluation import load_table
from citybrain.indicators.model import ReportWindow
from citybrain.kernel.http.tokens import Role
from citybrain.reports.document import ReportDocument, build_report
from citybrain.reports.pdf import ReportFont
from citybrain.reports.presentation import Presentation
from citybrain.reports.writers import render
from tests.citybrain.assessments.support import MINUTES, SHANGHAI, Conn, enter, person
from tests.citybrain.reports.test_pdf import font, pdf_text  # noqa: F401  (skips without a CJK font)

# March 2026 in Shanghai; the coordination mechanism's 2026 score, entered on 03-10, is approved
# after the month ended, on 04-01 20:00 local.
MARCH = ReportWindow(datetime(2026, 3, 1, tzinfo=SHANGHAI), datetime(2026, 4, 1, tzinfo=SHANGHAI), SHANGHAI)
APPROVED_AT = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
STAMP = datetime(2026, 4, 2, tzinfo=UTC)


@pytest.fixture
def approved(db: Conn) -> store.Version:
    db.execute("INSERT INTO departments (department_id, name, name_zh) VALUES ('water', 'Water', '水务局')")
    v = enter(db, person(db, Role.evaluator, "李娜"))
    store.review(db, v.version_id, decision="approved", comment="", actor=person(db, Role.admin, "王强"),
                 now=APPROVED_AT)
    # A pending version of another item: never counted.
    enter(db, person(db, Role.evaluator, "李娜"), item="capability.team_fit", level="matched", score="75")
    return v


def report(db: Conn, at: datetime = STAMP) -> ReportDocument:
    return build_report(db, MARCH, department=None, generated_by="cli:test", generated_at=at)


def test_the_json_has_every_row_and_the_counted_assessed_figures(db: Conn, approved: store.Version) -> None:
    doc = report(db)
    data = orjson.loads(render(doc, "json"))
    rows = {r["row"]: r for r in data["evaluation"]}
    assert list(rows) == [r.id for r in load_table().rows]
    assert all(r["measured"] or r["assessed"] for r in rows.values())
    infra = rows["content.infrastructure"]
    assert infra["measured"][0] == {"indicator": "infra.camera_intact_rate", "in_report": True, "value": None,
                                    "unit": "%"}
    (coordination,) = rows["mechanism.coordination"]["assessed"]
    assert coordination["figures"] == [{"department": None, "period_from": "2026-01-01",
                                        "period_to": "2026-12-31", "version": 1, "score": 78.5,
                                        "level": "working"}]
    (team,) = rows["capability.team"]["assessed"]
    assert team["figures"] == []                       # entered, not approved: not counted
    (listed,) = data["provenance"]["assessed"]
    assert (listed["item"], listed["version"], listed["assessor"], listed["reviewer"]) == (
        "mechanism.coordination", 1, "李娜", "王强")
    assert listed["evidence"] == [{"file_name": MINUTES.file_name, "sha256": MINUTES.sha256,
                                   "bytes": len(MINUTES.content)}]
    assert listed["approved_at"] == APPROVED_AT.isoformat()


def test_the_assessed_figures_leave_the_data_hash_alone_and_follow_the_stamp(
        db: Conn, approved: store.Version) -> None:
    later, before = report(db), report(db, at=APPROVED_AT - timedelta(seconds=1))
    assert [v.version_id for v in later.assessed] == [approved.version_id]
    assert before.assessed == ()                         # a report stamped before the approval
    assert later.provenance.data_sha256 == before.provenance.data_sha256
    assert render(later, "json") == render(report(db), "json")   # the same stamp: the same bytes


def test_the_csv_marks_each_figure_and_lists_the_evidence(db: Conn, approved: store.Version) -> None:
    text = render(report(db), "csv", view=Presentation("en")).decode()
    lines = dict(line.split(": ", 1) for line in text.splitlines() if line.startswith("# ") and ": " in line)
    assert lines["# evaluation.mechanism.coordination"] == (
        "Coordination — [assessed] Coordination mechanism: 78.5 / 100 (Working), 2026-01-01 to 2026-12-31, "
        "Whole city, version 1")
    assert lines["# evaluation.content.information_systems"].startswith(
        "Information systems — [measured] Business system availability no data | [assessed] ")
    assert lines["# assessed.mechanism.coordination.city.2026-01-01"] == (
        f"version 1, 78.5 / 100 (Working), 2026-01-01 to 2026-12-31; assessed by 李娜, approved by 王强 at "
        f"{APPROVED_AT.isoformat()}; evidence: {MINUTES.file_name} sha256 {MINUTES.sha256}")


def test_the_workbook_has_the_evaluation_sheet(db: Conn, approved: store.Version) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(render(report(db), "xlsx", view=Presentation("zh-CN"))))
    assert wb.sheetnames[2] == "评估表"
    sheet = [[c for c in row] for row in wb["评估表"].iter_rows(values_only=True)]
    coordination = [r for r in sheet if r[-1] == "mechanism.coordination"]
    assert coordination == [["运营机制", "协调机制", "协调机制的完备性和健全性", "评估", "协调机制",
                             "78.5 / 100 (运行中)", "2026-01-01 – 2026-12-31, 全市", 1, "李娜", "王强",
                             f"{MINUTES.file_name} {MINUTES.sha256}", "mechanism.coordination"]]
    measured = [r for r in sheet if r[-1] == "infra.camera_intact_rate"]
    assert measured[0][3:6] == ["测量", "视频监控设备完好率", "无数据"]
    prov = [r for r in wb["数据溯源"].iter_rows(values_only=True)]
    assert ["评估结果", "assessed.mechanism.coordination.city.2026-01-01"] in [list(r[:2]) for r in prov]


def test_the_pdf_has_the_evaluation_section(db: Conn, approved: store.Version, font: ReportFont,  # noqa: F811
                                           tmp_path: Path) -> None:
    text = pdf_text(render(report(db), "pdf", view=Presentation("zh-CN"), font=font), tmp_path)
    flat = "".join(text.split())
    for part in ("三、评估表", "协调机制", "78.5/100", "李娜", "王强", "五、数据来源与校验",
                 MINUTES.sha256[:32]):
        assert part in flat, part

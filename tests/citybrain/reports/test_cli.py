"""`citybrain report` end to end: a real process against the real database, with the audit row."""

from __future__ import annotations

import getpass
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from openpyxl import load_workbook

from citybrain.indicators.catalogue import find
from citybrain.kernel.settings import Settings
from tests.citybrain.reports.command import citybrain, indicator

# 2026-03-01 in Shanghai is [2026-02-28T16:00Z, 2026-03-01T16:00Z).
DAY_START = datetime(2026, 2, 28, 16, tzinfo=UTC)


@pytest.mark.usefixtures("city")
def test_json_export_prints_path_and_hash_and_writes_the_audit_row(
        settings: Settings, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    target = tmp_path / "march-1.json"
    out = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--tz", "Asia/Shanghai",
                    "--format", "json", "-o", str(target), settings=settings, CITYBRAIN_LANGUAGE="en")
    assert out.returncode == 0, out.stderr
    report = orjson.loads(target.read_bytes())
    digest = report["provenance"]["data_sha256"]
    assert f"data SHA-256 {digest}" in out.stdout
    assert str(target) in out.stdout.replace("\n", "")
    assert "report written to" in out.stdout and "Whole city)" in out.stdout
    assert report["provenance"]["window"]["from_utc"] == DAY_START.isoformat()
    assert report["provenance"]["window"]["to"] == "2026-03-02T00:00:00+08:00"   # --to date: whole day
    online = indicator(report, "infra.device_online_rate")
    assert online["value"] == 87.5             # (24 h + 18 h) / 48 h
    assert online["numerator"] == 42 * 3600 and online["denominator"] == 48 * 3600
    assert {(b["member"], b["value"]) for b in online["breakdowns"] if b["dimension"] == "department"} == {
        ("traffic", 75.0), ("water", 100.0)}
    rows = db.execute("SELECT actor, role, action, subject, details, at FROM audit_log").fetchall()
    assert len(rows) == 1
    actor, _role, action, subject, details, at = rows[0]
    assert (actor, action, subject) == (f"cli:{getpass.getuser()}", "report.export", "march-1.json")
    assert details["data_sha256"] == digest
    assert details["window"] == {
        "from": "2026-03-01T00:00:00+08:00", "to": "2026-03-02T00:00:00+08:00",
        "from_utc": "2026-02-28T16:00:00+00:00", "to_utc": "2026-03-01T16:00:00+00:00"}
    assert (details["timezone"], details["format"], details["department"]) == ("Asia/Shanghai", "json", None)
    assert at.isoformat() == report["provenance"]["generated_at"]
    assert report["provenance"]["generated_by"] == actor


@pytest.mark.usefixtures("city")
def test_the_same_stamp_reproduces_the_same_bytes(settings: Settings, tmp_path: Path) -> None:
    stamp = "2026-03-02T09:00:00+08:00"
    for fmt in ("json", "csv", "xlsx"):
        files = [tmp_path / f"{n}.{fmt}" for n in (1, 2)]
        for f in files:
            out = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", fmt,
                            "-o", str(f), "--generated-at", stamp, settings=settings)
            assert out.returncode == 0, out.stderr
        assert files[0].read_bytes() == files[1].read_bytes(), fmt


@pytest.mark.usefixtures("city")
def test_department_scoped_xlsx(settings: Settings, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    db.execute("UPDATE departments SET name_zh = '交通运输局' WHERE department_id = 'traffic'")
    db.commit()
    target = tmp_path / "traffic.xlsx"
    out = citybrain("report", "--from", "2026-03-01T00:00", "--to", "2026-03-02T00:00", "--department",
                    "traffic", "--format", "xlsx", "-o", str(target), settings=settings,
                    CITYBRAIN_LANGUAGE="zh-CN")
    assert out.returncode == 0, out.stderr
    wb = load_workbook(io.BytesIO(target.read_bytes()))
    # In the settings' language, the department by the registry's Chinese name.
    assert (wb.sheetnames[0], wb.sheetnames[-1]) == ("汇总", "数据溯源")
    facts = {r[0]: r[1] for r in wb["汇总"].iter_rows(min_row=2, max_row=6, values_only=True)}
    assert facts["评估范围"] == "交通运输局"
    assert facts["统计周期"] == "2026-03-01 至 2026-03-01（Asia/Shanghai）"
    prov = {r[1]: r[2] for r in wb["数据溯源"].iter_rows(min_row=2, values_only=True)}
    assert (prov["department"], prov["department_name"], prov["language"]) == (
        "traffic", "交通运输局", "zh-CN")
    # The command's own lines in the settings' language too, the department by name and id.
    said = " ".join(out.stdout.split())
    assert f"数据 SHA-256 {prov['data_sha256']}" in said
    assert "报告已写入" in said and "交通运输局 [traffic]）" in said
    sheet = wb["infra.device_online_rate"]
    total = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "合计")
    assert total[3] == 75.0
    member = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "部门")
    assert member[1:4] == ("traffic", "交通运输局", 75.0)
    row = db.execute("SELECT details FROM audit_log WHERE action = 'report.export'").fetchone()
    assert row is not None
    details = row[0]
    assert (details["department"], details["format"]) == ("traffic", "xlsx")


@pytest.mark.usefixtures("city")
def test_refusals_leave_no_file_and_no_audit_row(settings: Settings, db: psycopg.Connection[Any],
                                                 tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    # Said in the settings' language (zh-CN here; test_weights_file_from_the_settings reads English).
    unknown = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--department", "parks",
                        "--format", "json", "-o", str(target), settings=settings, CITYBRAIN_LANGUAGE="zh-CN")
    assert unknown.returncode == 1
    assert "错误： 资产登记表中没有部门 'parks'；已有：traffic, water" in " ".join(unknown.stderr.split())
    backwards = citybrain("report", "--from", "2026-03-02", "--to", "2026-03-01", "--format", "json",
                          "-o", str(target), settings=settings, CITYBRAIN_LANGUAGE="zh-CN")
    assert backwards.returncode == 1 and "时间窗口为空" in backwards.stderr
    nowhere = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", "json",
                        "-o", str(tmp_path / "missing" / "x.json"), settings=settings,
                        CITYBRAIN_LANGUAGE="en")
    assert nowhere.returncode == 1 and "cannot write the report" in nowhere.stderr
    assert not target.exists()
    assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)


@pytest.mark.usefixtures("city")
def test_weights_file_from_the_settings(settings: Settings, tmp_path: Path) -> None:
    weights = tmp_path / "weights.yaml"
    weights.write_text("infra.device_online_rate: 2.5\n")
    target = tmp_path / "w.json"
    out = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", "json",
                    "-o", str(target), settings=settings, CITYBRAIN_SCORE_WEIGHTS_FILE=str(weights))
    assert out.returncode == 0, out.stderr
    report = orjson.loads(target.read_bytes())
    assert report["provenance"]["weights"] == str(weights)
    assert indicator(report, "infra.device_online_rate")["weight"] == 2.5
    infra = next(k for k in report["scorecard"] if k["key"] == "infrastructure")
    assert {"id": "infra.device_online_rate", "weight": 2.5, "attainment": 0.921053} in infra["scored"]
    weights.write_text("infra.device_online_rat: 2\n")
    typo = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", "json",
                     "-o", str(tmp_path / "typo.json"), settings=settings,
                     CITYBRAIN_SCORE_WEIGHTS_FILE=str(weights), CITYBRAIN_LANGUAGE="en")
    assert typo.returncode == 1 and "no indicator infra.device_online_rat" in typo.stderr


@pytest.mark.usefixtures("city")
def test_the_language_option_and_its_refusal(settings: Settings, db: psycopg.Connection[Any],
                                             tmp_path: Path) -> None:
    db.execute("UPDATE departments SET name_zh = '水务局' WHERE department_id = 'water'")
    db.commit()
    target = tmp_path / "en.csv"
    out = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", "csv",
                    "-o", str(target), "--language", "en", settings=settings, CITYBRAIN_LANGUAGE="zh-CN")
    assert out.returncode == 0, out.stderr
    lines = target.read_text(encoding="utf-8").splitlines()
    assert "# language: en" in lines and "# department.water: Water" in lines
    assert f"# name.infra.device_online_rate: {find('infra.device_online_rate').name_en}" in lines
    refused = citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", "csv",
                        "-o", str(tmp_path / "fr.csv"), "--language", "fr", settings=settings,
                        CITYBRAIN_LANGUAGE="en")
    assert refused.returncode == 1
    assert "unknown language 'fr'" in refused.stderr and "zh-CN, en" in refused.stderr
    assert not (tmp_path / "fr.csv").exists()
    assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)

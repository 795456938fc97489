"""The PDF export: Chinese (or English) text with an embedded font, the JSON's figures,
the same bytes for the same data and stamp, the CLI and the API, and its first pages as
screenshots (docs/screens/report-pdf-page1.png, -page2.png)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from citybrain.indicators.catalogue import load_catalogue
from citybrain.indicators.model import Figure, IndicatorResult
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import Language, use_language
from citybrain.kernel.settings import Settings
from citybrain.reports.document import ReportDocument, ReportError, assemble_report
from citybrain.reports.pdf import ReportFont, find_font, render_pdf
from citybrain.reports.presentation import (
    Presentation,
    band_label,
    key_label,
    share_text,
    value_text,
    window_text,
)
from citybrain.reports.writers import render_json
from tests.citybrain.reports.command import citybrain
from tests.citybrain.reports.sample import GENERATED_AT, WINDOW

ROOT = Path(__file__).resolve().parents[3]
SCREENS = ROOT / "docs" / "screens"
POPPLER = "poppler-utils is not installed (tools/system-packages installs it)"
STAMP = "2026-03-02T09:00:00+08:00"


@pytest.fixture(scope="module")
def font() -> ReportFont:
    try:
        return find_font(None)
    except ReportError as exc:
        pytest.skip(f"no TrueType CJK font for the PDF (tools/system-packages installs one): {exc}")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name}: {POPPLER}")
    return path


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """pdftotext -layout: a table row stays on one line."""
    source = tmp_path / "text.pdf"
    source.write_bytes(data)
    return subprocess.run([tool("pdftotext"), "-layout", "-enc", "UTF-8", str(source), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def catalogue_doc() -> ReportDocument:
    """Every catalogue indicator (the real names and formulas) with made-up figures: met
    and missed targets, one without data per seven, unknown shares, planned maintenance."""
    results = []
    for i, ind in enumerate(load_catalogue()):
        value: float | None = None
        if i % 7 != 3:
            by_unit = {"%": 99.2 - 1.37 * i, "ms": 35.0 + 11 * i, "minutes": 8.25 + i}
            value = by_unit.get(ind.unit, float(i % 3))
        timed = ind.availability
        results.append(IndicatorResult(ind, WINDOW, None, Figure(
            value, adjusted_value=min(100.0, value + 0.35) if timed and value is not None else None,
            unknown_share=0.0125 * (i % 4) if timed else None)))
    return assemble_report(results, WINDOW, department=None, generated_by="cli:alice",
                           generated_at=GENERATED_AT, version="9.9.9")


def squeezed(text: str) -> str:
    return "".join(text.split())


def rows_with(text: str, *parts: str) -> list[str]:
    """The lines holding every part. Spaces are ignored: pdftotext guesses them from the
    gaps between glyphs, and prints "0 个" right-aligned in a narrow cell as "0个"."""
    return [line for line in text.splitlines() if all(squeezed(p) in squeezed(line) for p in parts)]


def test_same_document_same_bytes_in_each_language(font: ReportFont) -> None:
    doc = catalogue_doc()
    zh = render_pdf(doc, Presentation("zh-CN"), font)
    assert zh.startswith(b"%PDF-") and zh == render_pdf(doc, Presentation("zh-CN"), font)
    en = render_pdf(doc, Presentation("en"), font)
    assert en != zh and en == render_pdf(doc, Presentation("en"), font)
    # Switching the language back gives the first bytes again: nothing is left over from a render.
    assert render_pdf(doc, Presentation("zh-CN"), font) == zh
    # The file's only dates are the report's generated_at (2026-04-01T01:30Z), not the clock.
    assert zh.count(b"(D:20260401013000+00'00')") == 2   # CreationDate and ModDate


def test_text_holds_the_chinese_names_and_the_json_figures(font: ReportFont, tmp_path: Path) -> None:
    doc = catalogue_doc()
    text = pdf_text(render_pdf(doc, Presentation("zh-CN"), font), tmp_path)
    report = orjson.loads(render_json(doc))
    for ind in report["indicators"]:
        # Its row in its key's table: the Chinese name, the JSON's value as the PDF rounds it, the target.
        value = value_text(ind["value"], ind["unit"], "zh-CN")
        cells = [ind["name_zh"], value]
        if ind["target"] is not None:
            cells.append(value_text(ind["target"], ind["unit"], "zh-CN"))
        if ind["availability"] and ind["value"] is not None:
            cells += [value_text(ind["adjusted_value"], ind["unit"], "zh-CN"),
                      share_text(ind["unknown_share"], "zh-CN")]
        assert rows_with(text, *cells), f"no row with {cells}"
    for ks in report["scorecard"]:
        label = key_label(ks["key"], "zh-CN")
        if ks["score"] is None:
            assert rows_with(text, label, "–")
        else:
            assert rows_with(text, label, f"{ks['score']:.2f}", band_label(ks["band"], "zh-CN"))
    assert report["provenance"]["data_sha256"] in text
    assert "达标" in text and "未达标" in text and "无数据" in text
    assert "第 2 页，共" in text


def test_the_font_is_embedded(font: ReportFont, tmp_path: Path) -> None:
    data = render_pdf(catalogue_doc(), Presentation("zh-CN"), font)
    assert b"/FontFile2" in data   # an embedded TrueType font program
    source = tmp_path / "fonts.pdf"
    source.write_bytes(data)
    out = subprocess.run([tool("pdffonts"), str(source)], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    fonts = out.splitlines()[2:]
    assert fonts, out
    for row in fonts:
        # name, type, encoding, emb, sub, uni: every font embedded as a subset with a Unicode map.
        assert row.split()[-5:-2] == ["yes", "yes", "yes"], out
        assert "TrueType" in row, out


def test_english_report_has_english_names(font: ReportFont, tmp_path: Path) -> None:
    doc = catalogue_doc()
    text = pdf_text(render_pdf(doc, Presentation("en"), font), tmp_path)
    for r in doc.results:
        ind = r.indicator
        assert rows_with(text, ind.name_en, value_text(r.figure.value, ind.unit, "en"))
        assert ind.name_zh not in text
    assert "1. Scorecard" in text and "Page 2 of" in text and "Whole city" in text
    assert doc.provenance.data_sha256 in text


def test_department_and_window_on_the_cover(font: ReportFont, tmp_path: Path) -> None:
    ind = load_catalogue()[0]
    doc = assemble_report([IndicatorResult(ind, WINDOW, "traffic", Figure(97.0, unknown_share=0.0))], WINDOW,
                          department="traffic", generated_by="cli:alice", generated_at=GENERATED_AT,
                          version="9.9.9")
    view = Presentation("zh-CN", departments={"traffic": "交通运输局"})
    cover = pdf_text(render_pdf(doc, view, font), tmp_path).split("\f")[0]
    assert "交通运输局" in cover and "traffic" not in cover
    assert window_text(WINDOW, "zh-CN") in cover
    assert "2026-04-01 09:30" in cover   # generated at, in the report's zone


def test_font_errors_say_what_to_install_or_set(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="请安装 fonts-wqy-microhei") as said:   # zh-CN unless said
        find_font(tmp_path / "nope.ttc")
    assert "PDF 字体" in str(said.value) and "不存在" in str(said.value)
    with use_language("en"):
        _font_errors_in_english(tmp_path)


def _font_errors_in_english(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="CITYBRAIN_REPORT_FONT") as missing:
        find_font(tmp_path / "nope.ttc")
    assert "does not exist" in str(missing.value)
    with pytest.raises(ReportError, match=r"no font for the PDF report.*fonts-wqy-microhei"):
        find_font(None, candidates=(tmp_path / "a.ttf", tmp_path / "b.ttc"))
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    with pytest.raises(ReportError, match="cannot be embedded"):
        find_font(junk)
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin.is_file():   # a TrueType font without Chinese would print boxes: refused
        with pytest.raises(ReportError, match="has no Chinese characters"):
            find_font(latin)
    cff = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    if cff.is_file():     # CFF outlines: reportlab cannot embed them
        with pytest.raises(ReportError, match="cannot be embedded"):
            find_font(cff)


def test_screenshots_of_the_first_pages(font: ReportFont, tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(render_pdf(catalogue_doc(), Presentation("zh-CN"), font))
    subprocess.run([tool("pdftoppm"), "-png", "-r", "80", "-f", "1", "-l", "2", str(source),
                    str(tmp_path / "page")], check=True, timeout=60)
    SCREENS.mkdir(parents=True, exist_ok=True)
    # pdftoppm pads the page number to the width of the last page's (page-01.png of 12 pages).
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2, pages
    for n, page in enumerate(pages, 1):
        assert page.stat().st_size > 10_000   # a page with text on it, not a blank one
        shutil.copyfile(page, SCREENS / f"report-pdf-page{n}.png")


# ── the CLI and the API, against the real database ─────────────────────────────────

@pytest.fixture
def cli_settings(database_url: str, schema: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)


def export(settings: Settings, fmt: str, target: Path, language: Language = "zh-CN",
           *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return citybrain("report", "--from", "2026-03-01", "--to", "2026-03-01", "--format", fmt,
                     "-o", str(target), "--generated-at", STAMP, *extra, settings=settings,
                     CITYBRAIN_LANGUAGE=language, **env)


@pytest.mark.usefixtures("city", "font")
def test_cli_pdf_matches_the_json_export_and_reproduces(
        cli_settings: Settings, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    db.execute("UPDATE departments SET name_zh = '交通运输局' WHERE department_id = 'traffic'")
    db.commit()
    files = {name: tmp_path / name for name in ("1.pdf", "2.pdf", "r.json")}
    for target in files.values():
        out = export(cli_settings, target.suffix[1:], target, "zh-CN", "--department", "traffic")
        assert out.returncode == 0, out.stderr
    assert files["1.pdf"].read_bytes() == files["2.pdf"].read_bytes()
    report = orjson.loads(files["r.json"].read_bytes())
    text = pdf_text(files["1.pdf"].read_bytes(), tmp_path)
    assert "交通运输局" in text.split("\f")[0]
    assert report["provenance"]["data_sha256"] in text
    online = next(i for i in report["indicators"] if i["id"] == "infra.device_online_rate")
    assert online["value"] == 75.0   # traffic's device was offline 6 of the day's 24 hours
    assert rows_with(text, online["name_zh"], "75.00%", "≥ 95.00%", "未达标")
    for ind in report["indicators"]:
        assert rows_with(text, ind["name_zh"], value_text(ind["value"], ind["unit"], "zh-CN"))
    audit = db.execute("SELECT details->>'format', subject FROM audit_log ORDER BY at, subject").fetchall()
    assert ("pdf", "1.pdf") in audit


@pytest.mark.usefixtures("city")
def test_cli_without_a_usable_font_is_a_clear_error(
        cli_settings: Settings, db: psycopg.Connection[Any], tmp_path: Path) -> None:
    target = tmp_path / "r.pdf"
    out = export(cli_settings, "pdf", target, CITYBRAIN_REPORT_FONT=str(tmp_path / "missing.ttc"))
    assert out.returncode == 1
    assert "CITYBRAIN_REPORT_FONT" in out.stderr and "Traceback" not in out.stderr
    assert not target.exists()
    assert db.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)


@pytest.fixture
def api(database_url: str, schema: str, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on one schema: one with the machine's font, one pointed at a missing font."""
    from citybrain.api.app import create_app  # the whole app (every domain) for these tests only

    ok = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    broken = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path,
                      report_font=tmp_path / "missing.ttc")
    with TestClient(create_app(ok, database_url)) as a, TestClient(create_app(broken, database_url)) as b:
        yield a, b


@pytest.mark.usefixtures("city", "font")
def test_api_serves_the_pdf_or_a_422(api: tuple[TestClient, TestClient], db: psycopg.Connection[Any],
                                     tmp_path: Path) -> None:
    ok, broken = api
    _, clear = tokens.create(db, Role.evaluator, department=None, name="test", created_by="test")
    db.commit()
    headers = {"Authorization": f"Bearer {clear}"}
    query = {"from": "2026-03-01", "to": "2026-03-31", "tz": "Asia/Shanghai", "format": "pdf"}
    got = ok.get("/api/v1/reports", params=query, headers=headers)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/pdf"
    # The file is named by the window's local dates (March in Shanghai starts on 02-28 in UTC).
    name = "citybrain-report-20260301-20260331-city.pdf"
    assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert got.headers["x-citybrain-data-sha256"] in pdf_text(got.content, tmp_path)
    audit = db.execute("SELECT details->>'format', subject FROM audit_log WHERE action = 'report.export'")
    assert audit.fetchall() == [("pdf", name)]
    refused = broken.get("/api/v1/reports", params=query, headers=headers)
    assert refused.status_code == 422
    assert "CITYBRAIN_REPORT_FONT" in refused.json()["detail"]

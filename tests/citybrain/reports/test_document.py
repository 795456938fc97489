"""The report document, its data hash, and the JSON and CSV exports."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from citybrain.indicators.model import IndicatorResult, ReportWindow
from citybrain.reports.document import ReportDocument, assemble_report
from citybrain.reports.rows import COLUMNS, number_text
from citybrain.reports.writers import render_csv, render_json, render_scorecard, write_report
from tests.citybrain.reports.sample import GENERATED_AT, TZ, WINDOW, city_results, indicator, result


def doc(results: list[IndicatorResult] | None = None, *, by: str = "cli:alice",
        at: datetime = GENERATED_AT) -> ReportDocument:
    return assemble_report(results if results is not None else city_results(), WINDOW, department=None,
                           generated_by=by, generated_at=at, version="9.9.9")


def shuffled() -> list[IndicatorResult]:
    """The same results in another order, with breakdowns in another order too."""
    rng = random.Random(3)
    out = []
    for r in city_results():
        b = list(r.breakdowns)
        rng.shuffle(b)
        out.append(IndicatorResult(r.indicator, r.window, r.department, r.figure, tuple(b)))
    rng.shuffle(out)
    return out


def test_json_and_csv_are_byte_identical_for_the_same_inputs() -> None:
    first, second = doc(), doc(shuffled())
    assert render_json(first) == render_json(second)
    assert render_csv(first) == render_csv(second)
    assert render_json(first).endswith(b"}\n")


def test_the_data_hash_is_stable_and_covers_only_the_figures() -> None:
    base = doc()
    assert len(base.provenance.data_sha256) == 64
    assert doc(shuffled()).provenance.data_sha256 == base.provenance.data_sha256
    # Who generated it and when are not data: same hash, different JSON.
    later = doc(by="cli:bob", at=GENERATED_AT + timedelta(hours=5))
    assert later.provenance.data_sha256 == base.provenance.data_sha256
    assert render_json(later) != render_json(base)


@pytest.mark.parametrize("day2", [97.26, 97.250001])
def test_the_data_hash_changes_when_a_figure_changes(day2: float) -> None:
    assert doc(city_results(camera_day2=day2)).provenance.data_sha256 != doc().provenance.data_sha256


def test_a_change_below_the_stated_precision_is_not_a_change() -> None:
    # Figures are rounded to 6 decimals in every export; the hash covers what is exported.
    assert doc(city_results(camera_day2=97.2500000001)).provenance.data_sha256 == doc().provenance.data_sha256


def test_the_hash_is_the_sha256_of_the_csv_data_table() -> None:
    d = doc()
    lines = render_csv(d).decode().splitlines(keepends=True)
    table = "".join(line for line in lines if not line.startswith("#"))
    assert hashlib.sha256(table.encode()).hexdigest() == d.provenance.data_sha256
    assert table.splitlines()[0] == ",".join(COLUMNS)
    assert f"# data_sha256: {d.provenance.data_sha256}\n" in lines


def test_csv_rows_in_canonical_order_and_text() -> None:
    table = [line for line in render_csv(doc()).decode().splitlines() if not line.startswith("#")][1:]
    assert table[:5] == [
        # infrastructure first, ids ascending; total row then breakdowns by the catalogue's dimension order
        "infra.camera_intact_rate,infrastructure,1,%,higher,90,total,,88,880,1000,89,0.2,false",
        "infra.camera_intact_rate,infrastructure,1,%,higher,90,day,2026-03-01,78.75,,,,,",
        "infra.camera_intact_rate,infrastructure,1,%,higher,90,day,2026-03-02,97.25,97.25,100,98,0,",
        "infra.device_online_rate,infrastructure,1,%,higher,95,total,,98.123457,2543000,2591654.3,98.5,0.0125,true",
        "infra.device_online_rate,infrastructure,1,%,higher,95,department,\"traffic, roads\","
        "96.25,77,80,96.5,0.05,",
    ]
    # Not an availability indicator: its adjusted value is not reported even if given.
    assert "security.incidents_level_i,security,1,count,lower,0,total,,0,,,,,true" in table
    assert "security.data_leak_count,security,1,count,lower,,total,,2,,,,," in table
    assert "portal.availability_7x24,portal,1,%,higher,99.9,total,,,,,,1," in table


@pytest.mark.parametrize(("x", "text"), [
    (None, ""), (99.5, "99.5"), (100.0, "100"), (0.0, "0"), (-0.0, "0"), (-1e-9, "0"), (1e-7, "0"),
    (0.000123, "0.000123"), (1234567.1234567, "1234567.12346"), (2.5e-6, "0.000003"),
    (1e21, "1" + "0" * 21), (-12.25, "-12.25"), (100000.0, "100000"), (999999.9999999, "1000000"),
    # Two sums of the same seconds added in another order (one ulp apart): the same text.
    (263571388098.94907, "263571388099"), (263571388098.9491, "263571388099"),
    (4068498000.000002, "4068498000"), (4056986649.861983, "4056986649.86"),
])
def test_number_text(x: float | None, text: str) -> None:
    assert number_text(x) == text


def test_non_finite_figures_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        number_text(float("nan"))


def test_json_content_and_provenance() -> None:
    data = orjson.loads(render_json(doc()))
    p = data["provenance"]
    assert p["window"] == {"from": "2026-03-01T00:00:00+08:00", "to": "2026-04-01T00:00:00+08:00",
                           "from_utc": "2026-02-28T16:00:00+00:00", "to_utc": "2026-03-31T16:00:00+00:00",
                           "to_exclusive": True}
    assert p["timezone"] == "Asia/Shanghai"
    assert p["generated_at"] == "2026-04-01T01:30:00+00:00"
    assert p["generated_at_local"] == "2026-04-01T09:30:00+08:00"
    assert (p["generated_by"], p["software_version"], p["department"]) == ("cli:alice", "9.9.9", None)
    assert p["data_completeness"] == {
        "indicators": 7, "with_data": 6, "share_with_data": 0.857143,
        "without_data": ["portal.availability_7x24"],
        "worst_unknown_share": 1.0, "worst_unknown_indicator": "portal.availability_7x24",
    }
    assert p["data_rows"] == 7 + 4 + 2
    ids = [i["id"] for i in data["indicators"]]
    assert ids == ["infra.camera_intact_rate", "infra.device_online_rate", "infra.packet_loss",
                   "portal.availability_7x24", "security.data_leak_count", "security.incidents_level_i",
                   "ops.response_within_30min"]
    online = data["indicators"][1]
    assert (online["value"], online["target"], online["met"], online["adjusted_value"],
            online["unknown_share"]) == (98.123457, 95.0, True, 98.5, 0.0125)
    assert [(b["dimension"], b["member"]) for b in online["breakdowns"]] == [
        ("department", "traffic, roads"), ("department", "water"),
        ("day", "2026-03-01"), ("day", "2026-03-02")]
    incidents = data["indicators"][5]
    assert incidents["adjusted_value"] is None and incidents["met"] is True
    assert data["scorecard"][0]["key"] == "infrastructure"
    assert data["scorecard"][3] == {"key": "portal", "score": None, "band": None, "scored": [],
                                    "no_data": ["portal.availability_7x24"], "no_target": [],
                                    "zero_weight": []}


def test_department_scope_and_window_must_match_the_results() -> None:
    other = ReportWindow(WINDOW.start, WINDOW.end + timedelta(days=1), TZ)
    with pytest.raises(ValueError, match="another window"):
        assemble_report([result(indicator("infra.x"), 1.0, window=other)], WINDOW, department=None,
                        generated_by="t", generated_at=GENERATED_AT)
    with pytest.raises(ValueError, match="another window or scope"):
        assemble_report([result(indicator("infra.x"), 1.0, department="water")], WINDOW, department=None,
                        generated_by="t", generated_at=GENERATED_AT)
    scoped = assemble_report([result(indicator("infra.x"), 1.0, department="water")], WINDOW,
                             department="water", generated_by="t", generated_at=GENERATED_AT)
    assert b"# department: water\n" in render_csv(scoped)
    with pytest.raises(ValueError, match="aware"):
        doc(at=datetime(2026, 4, 1))


def test_write_report_to_a_path_and_a_stream(tmp_path: Path) -> None:
    d = doc()
    stream = io.BytesIO()
    n = write_report(d, "json", stream)
    target = tmp_path / "r.json"
    assert write_report(d, "json", target) == n
    assert target.read_bytes() == stream.getvalue() == render_json(d)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_an_empty_report_is_still_a_report() -> None:
    d = doc([])
    data = orjson.loads(render_json(d))
    assert data["indicators"] == []
    assert data["provenance"]["data_rows"] == 0
    assert data["provenance"]["data_completeness"]["share_with_data"] is None
    assert d.provenance.data_sha256 == hashlib.sha256((",".join(COLUMNS) + "\n").encode()).hexdigest()
    assert all(ks.score is None for ks in d.scorecard.keys)


def test_generated_at_in_any_offset_is_written_in_utc() -> None:
    shanghai = GENERATED_AT.astimezone(TZ)
    assert render_json(doc(at=shanghai)) == render_json(doc(at=GENERATED_AT.astimezone(UTC)))


def test_render_scorecard_for_the_demo() -> None:
    console = Console(record=True, width=160)
    console.print(render_scorecard(doc()))
    text = console.export_text()
    assert "infrastructure" in text and f"{doc().scorecard.for_key('infrastructure').score:.2f}" in text
    assert "84.21" in text and "growth" in text                        # ops: 80 / 95
    assert "portal.availability_7x24" in text                          # listed as no data
    assert "2026-03-01T00:00:00+08:00" in text and "(whole city)" in text


def test_csv_names_follow_the_language_and_the_data_table_does_not() -> None:
    from citybrain.reports.presentation import Presentation, window_text

    d = doc()
    zh = render_csv(d, Presentation("zh-CN", departments={"water": "水务局"})).decode()
    en = render_csv(d, Presentation("en", departments={"water": "Water"})).decode()
    zh_lines, en_lines = zh.splitlines(), en.splitlines()
    assert "# language: zh-CN" in zh_lines and "# language: en" in en_lines
    assert "# department_name: 全市" in zh_lines and "# department_name: Whole city" in en_lines
    assert f"# window: {window_text(WINDOW, 'zh-CN')}" in zh_lines
    # Each indicator's name in the report's language, next to its id; departments by name.
    for r in d.results:
        assert f"# name.{r.indicator.id}: {r.indicator.name_zh}" in zh_lines
        assert f"# name.{r.indicator.id}: {r.indicator.name_en}" in en_lines
    assert "# department.water: 水务局" in zh_lines and "# department.water: Water" in en_lines
    assert not any(line.startswith("# department.traffic, roads") for line in zh_lines)  # no name: no line
    # Stages in Chinese in the scores; the band's id in English.
    infra = d.scorecard.for_key("infrastructure")
    assert f"# score.infrastructure: {infra.score:.2f} (成熟期); 计分指标: " in zh
    assert f"# score.infrastructure: {infra.score:.2f} (mature); scored: " in en
    # The data table (ids, canonical numbers) and its hash are the same in every language.
    table = [line for line in zh_lines if not line.startswith("#")]
    assert table == [line for line in en_lines if not line.startswith("#")]
    assert hashlib.sha256(("\n".join(table) + "\n").encode()).hexdigest() == d.provenance.data_sha256


def test_render_scorecard_in_chinese() -> None:
    from citybrain.reports.presentation import Presentation

    console = Console(record=True, width=160)
    console.print(render_scorecard(doc(), Presentation("zh-CN")))
    text = console.export_text()
    assert "2026-03-01 至 2026-03-31" in text and "全市" in text
    assert "运营服务" in text and "84.21" in text and "成长期" in text      # ops: 80 / 95
    assert "<55 准备期" in text and "mature" not in text

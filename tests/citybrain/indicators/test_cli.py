"""``citybrain indicators list`` and ``render`` as a person runs them: a real process."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

from citybrain.indicators.catalogue import SQL_DIR, load_catalogue
from citybrain.indicators.cli import describe


def citybrain(*args: str, language: str = "zh-CN") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citybrain", *args],
                          env={**os.environ, "CITYBRAIN_LANGUAGE": language},
                          capture_output=True, text=True, timeout=120, check=False)


def test_list_json_prints_the_catalogue() -> None:
    out = citybrain("indicators", "list", "-o", "json")
    assert out.returncode == 0, out.stderr
    printed = orjson.loads(out.stdout)
    assert printed == [describe(i) for i in load_catalogue()]
    first = printed[0]
    assert set(first) == {"id", "key", "name_en", "name_zh", "unit", "direction", "target", "weight",
                          "formula", "version", "sql_file", "availability", "breakdowns"}
    assert {entry["key"] for entry in printed} == {"infrastructure", "data", "system", "portal",
                                                   "security", "ops"}


def test_list_table_names_every_indicator() -> None:
    out = citybrain("indicators", "list")
    assert out.returncode == 0, out.stderr
    assert f"共 {len(load_catalogue())} 项指标" in out.stdout
    for indicator in load_catalogue():
        assert indicator.id in out.stdout  # long names may wrap inside their cell; ids do not
    assert "视频监控设备完好率" in out.stdout and "基础设施" in out.stdout and "越高越好" in out.stdout
    english = citybrain("indicators", "list", language="en")
    assert english.returncode == 0, english.stderr
    assert f"{len(load_catalogue())} indicators" in english.stdout
    assert "Infrastructure" in english.stdout and "视频监控设备完好率" not in english.stdout


def test_render_check_passes_on_the_committed_files_and_writes_nothing() -> None:
    before = {p.name: p.stat().st_mtime_ns for p in SQL_DIR.glob("*.sql")}
    out = citybrain("indicators", "render", "--check", language="en")
    assert out.returncode == 0, out.stderr
    assert "is its rendering" in out.stdout
    assert {p.name: p.stat().st_mtime_ns for p in SQL_DIR.glob("*.sql")} == before

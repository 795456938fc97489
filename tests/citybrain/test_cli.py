"""The commands as a person runs them: real processes, real broker and database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import psutil
import pytest

from citybrain.settings import Settings
from tests.helpers import worker_env


def citybrain(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citybrain", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_db_status_reports_the_storage_mode(settings: Settings) -> None:
    out = citybrain("db", "status", "-o", "json", env=worker_env(settings))
    assert out.returncode == 0, out.stderr
    status = orjson.loads(out.stdout)
    assert status["mode"] == "postgresql"  # no TimescaleDB extension on this machine
    assert status["pending"] == []
    assert status["schema"] == settings.database_schema


def test_status_json_on_an_empty_store(settings: Settings) -> None:
    out = citybrain("status", "-o", "json", env=worker_env(settings))
    assert out.returncode == 0, out.stderr
    status = orjson.loads(out.stdout)
    assert status["events"] == dict.fromkeys(["iot", "video", "cloud", "security", "probe", "data"], 0)
    assert status["dead_lettered"] == 0


def test_assets_import_reports_errors_with_file_row_and_field(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("asset_id,kind,department_id,registered_at\ncam-1,camera,water,2026-01-01T00:00:00\n")
    out = citybrain("assets", "import", str(bad), env=worker_env(settings))
    assert out.returncode == 1
    assert "bad.csv row 2 (asset_id cam-1)" in out.stderr
    assert "registered_at" in out.stderr


def test_simulate_to_file_writes_replayable_json_lines(settings: Settings, tmp_path: Path) -> None:
    target = tmp_path / "city.jsonl"
    registry = tmp_path / "city.yaml"
    out = citybrain("simulate", "--days", "0.05", "--scale", "0.05", "--to-file", str(target),
                    "--registry-out", str(registry), env=worker_env(settings))
    assert out.returncode == 0, out.stderr
    lines = target.read_bytes().splitlines()
    assert len(lines) > 100
    topics = {orjson.loads(line)["topic"] for line in lines}
    assert topics == {settings.topic(f) for f in ("iot", "video", "cloud", "security", "probe", "data")}
    assert f"{len(lines)} messages written" in out.stdout
    imported = citybrain("assets", "import", str(registry), "-o", "json", env=worker_env(settings))
    assert imported.returncode == 0, imported.stderr
    assert orjson.loads(imported.stdout)["assets"] > 50


@pytest.mark.integration
def test_demo_runs_on_the_embedded_default_and_leaves_no_process(tmp_path: Path) -> None:
    """`make demo` in small: its own broker and database, a summary, nothing left running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    env["CITYBRAIN_DATA_DIR"] = str(tmp_path / "data")
    before = {p.pid for p in psutil.process_iter()}
    out = citybrain("demo", "--days", "0.1", "--speed", "20000", "--out", str(tmp_path / "out"),
                    env=env, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Stored events per family" in out.stdout
    assert "district_outage" in out.stdout
    assert "All messages stored" in out.stdout
    leftovers = [
        p for p in psutil.process_iter(["pid", "cmdline"])
        if p.info["pid"] not in before and p.info["cmdline"]
        and any(str(tmp_path) in part or "tansu" in part for part in p.info["cmdline"])
    ]
    assert leftovers == []

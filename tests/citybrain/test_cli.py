"""The commands as a person runs them: real processes, real broker and database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from citybrain.kernel.settings import Settings
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



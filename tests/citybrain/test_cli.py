"""The commands as a person runs them: real processes, real broker and database; their
help in the language of CITYBRAIN_LANGUAGE (zh-CN unless it says en)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import typer
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.testing import CliRunner

from citybrain.cli import app, command_tree, localize_help
from citybrain.kernel.i18n import Language
from citybrain.kernel.settings import FAMILIES, Settings
from tests.helpers import worker_env

CJK = re.compile(r"[\u4e00-\u9fff]")


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


def test_db_status_table_follows_the_language(settings: Settings) -> None:
    zh = citybrain("db", "status", env=worker_env(settings))
    en = citybrain("db", "status", env={**worker_env(settings), "CITYBRAIN_LANGUAGE": "en"})
    assert zh.returncode == 0 and en.returncode == 0, zh.stderr + en.stderr
    assert f"模式 {settings.database_schema}" in zh.stdout and "待执行：无" in zh.stdout
    assert f"schema {settings.database_schema}" in en.stdout and "pending: none" in en.stdout
    assert not CJK.search(en.stdout)


def test_status_json_on_an_empty_store(settings: Settings) -> None:
    out = citybrain("status", "-o", "json", env=worker_env(settings))
    assert out.returncode == 0, out.stderr
    status = orjson.loads(out.stdout)
    assert status["events"] == dict.fromkeys(FAMILIES, 0)
    assert status["dead_lettered"] == 0


def test_assets_import_reports_errors_with_file_row_and_field(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("asset_id,kind,department_id,registered_at\ncam-1,camera,water,2026-01-01T00:00:00\n")
    out = citybrain("assets", "import", str(bad), env=worker_env(settings, CITYBRAIN_LANGUAGE="zh-CN"))
    assert out.returncode == 1
    assert "bad.csv 第 2 行（asset_id cam-1）：registered_at：应带时区偏移" in out.stderr
    english = citybrain("assets", "import", str(bad), env=worker_env(settings, CITYBRAIN_LANGUAGE="en"))
    assert english.returncode == 1
    assert "bad.csv row 2 (asset_id cam-1): registered_at: Input should have timezone info" in english.stderr
    fixture = Path(__file__).parents[1] / "schemas" / "fixtures" / "registry.yaml"
    good = citybrain("assets", "import", str(fixture), env=worker_env(settings, CITYBRAIN_LANGUAGE="zh-CN"))
    assert good.returncode == 0, good.stderr
    imported = r"已导入 \d+ 个部门、\d+ 个区县、\d+ 项资产（新增 \d+，更新 0）"
    assert re.search(imported, good.stdout), good.stdout


def test_simulate_to_file_writes_replayable_json_lines(settings: Settings, tmp_path: Path) -> None:
    target = tmp_path / "city.jsonl"
    registry = tmp_path / "city.yaml"
    out = citybrain("simulate", "--days", "0.05", "--scale", "0.05", "--to-file", str(target),
                    "--registry-out", str(registry), env=worker_env(settings, CITYBRAIN_LANGUAGE="en"))
    assert out.returncode == 0, out.stderr
    lines = target.read_bytes().splitlines()
    assert len(lines) > 100
    topics = {orjson.loads(line)["topic"] for line in lines}
    # 72 minutes of a twentieth of the city: every family but the sparse ratings.
    assert {settings.topic(f) for f in FAMILIES if f != "rating"} <= topics <= {
        settings.topic(f) for f in FAMILIES}
    assert f"{len(lines):,} messages written" in out.stdout
    imported = citybrain("assets", "import", str(registry), "-o", "json", env=worker_env(settings))
    assert imported.returncode == 0, imported.stderr
    assert orjson.loads(imported.stdout)["assets"] > 50




def help_text(*command: str, language: Language | None) -> str:
    # Wide, so that no text is cut where the assertions look for it.
    env = {"CITYBRAIN_LANGUAGE": language, "COLUMNS": "250", "TERMINAL_WIDTH": "250"}
    result = CliRunner().invoke(app, [*command, "--help"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_help_is_in_chinese_unless_the_language_is_english() -> None:
    default = help_text(language=None)
    assert "Citybrain 城市运行管理中心平台" in default
    for summary in ("资产台账。", "事件与 30 分钟响应流程。", "导出五大重点领域指标报表",
                    "在模拟城市上运行完整数据管道"):
        assert summary in default, summary
    english = help_text(language="en")
    assert "Citybrain, the city operations centre's platform" in english
    assert "Incidents and the 30-minute response workflow." in english
    assert not CJK.search(english)


def test_a_subcommands_help_and_its_options_follow_the_language() -> None:
    chinese = help_text("incidents", "list", language="zh-CN")
    assert "事件列表，最新的在前。" in chinese
    assert "生成时间不早于（ISO 8601）" in chinese and "责任部门 ID" in chinese
    english = help_text("incidents", "list", language="en")
    assert "Incidents, newest first." in english and "owning department id" in english
    assert "模拟天数" in help_text("demo", language="zh-CN")
    assert "simulated days" in help_text("demo", language="en")


def test_every_help_text_of_the_command_tree_has_its_chinese() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    localize_help(root, "zh-CN")
    # Typer's own options (shell completion) are not ours to translate.
    typers_own = {"install_completion", "show_completion"}
    untranslated = []
    for command in command_tree(root):
        texts = [command.help] + [p.help for p in command.params
                                  if isinstance(p, TyperOption | TyperArgument) and p.name not in typers_own]
        untranslated += [f"{command.name}: {t}" for t in texts if t and not CJK.search(t)]
    assert untranslated == []

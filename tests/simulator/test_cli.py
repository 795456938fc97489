"""``citybrain simulate`` as a person runs it: a bad option is an error in the reader's
language that names the option, before anything is built or started."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.kernel.errors import CitybrainError


def simulate(*args: str, language: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["simulate", *args], env={
        "CITYBRAIN_LANGUAGE": language, "COLUMNS": "250", "TERMINAL_WIDTH": "250"})
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "zh", "en"), [
    (("--days", "0"), "--days 必须大于 0（模拟天数），当前为 0.0", "--days must be more than 0"),
    (("--speed", "-5"), "--speed 必须大于 0", "--speed must be more than 0"),
    (("--scale", "0"), "--scale 必须大于 0", "--scale must be more than 0"),
])
def test_a_bad_option_is_an_error_naming_it(args: tuple[str, ...], zh: str, en: str) -> None:
    code, said = simulate(*args, "--to-file", "/nonexistent/never-written.jsonl", language="zh-CN")
    assert code == 2
    assert "错误：" in said and zh in said
    code, said = simulate(*args, "--to-file", "/nonexistent/never-written.jsonl", language="en")
    assert code == 2
    assert "error:" in said and en in said


def test_an_unwritable_output_file_is_an_error_not_a_traceback() -> None:
    result = CliRunner().invoke(app, ["simulate", "--days", "0.01", "--scale", "0.01",
                                      "--to-file", "/nonexistent/city.jsonl"],
                                env={"CITYBRAIN_LANGUAGE": "zh-CN"})
    # A CitybrainError, which the CLI's main() prints as "错误： …" (exit 1); CliRunner,
    # which calls the app without main(), hands it back as the exception.
    assert isinstance(result.exception, CitybrainError)
    assert str(result.exception).startswith("无法将消息写入 /nonexistent/city.jsonl")

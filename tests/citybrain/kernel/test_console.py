"""Invalid settings, said to a person: each CITYBRAIN_* variable at fault and what is wrong,
in the language of CITYBRAIN_LANGUAGE (zh-CN unless it says en), never the value."""

from __future__ import annotations

import pytest
import typer
from pydantic import BaseModel, Field, ValidationError

from citybrain.kernel import validation
from citybrain.kernel.console import load_settings
from citybrain.kernel.i18n import use_language


def _refused(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(typer.Exit) as exited:
        load_settings()
    assert exited.value.exit_code == 2
    return capsys.readouterr().err


@pytest.fixture
def invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("CITYBRAIN_API_PORT", "eighty")
    monkeypatch.setenv("CITYBRAIN_DATABASE_SCHEMA", "Secret-Schema")
    monkeypatch.delenv("CITYBRAIN_LANGUAGE", raising=False)


@pytest.mark.usefixtures("invalid")
def test_invalid_settings_are_named_in_chinese_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    said = _refused(capsys)
    assert said.startswith("CITYBRAIN_* 设置无效：")
    assert "CITYBRAIN_TIMEZONE: 未知的 IANA 时区 'Mars/Olympus'" in said
    assert "CITYBRAIN_API_PORT: 应为有效的整数" in said
    assert "CITYBRAIN_DATABASE_SCHEMA: 字符串应符合格式" in said
    assert "Secret-Schema" not in said and "eighty" not in said   # values are not echoed


@pytest.mark.usefixtures("invalid")
def test_invalid_settings_in_english_when_the_setting_says_so(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_LANGUAGE", "en")
    with use_language("zh-CN"):   # what the command had made current before it read the settings
        said = _refused(capsys)
    assert said.startswith("invalid CITYBRAIN_* setting:")
    assert "CITYBRAIN_TIMEZONE: unknown IANA time zone 'Mars/Olympus'" in said
    assert "CITYBRAIN_API_PORT: Input should be a valid integer" in said


def test_an_invalid_language_is_said_in_the_default_one(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_LANGUAGE", "fr")
    said = _refused(capsys)
    assert "CITYBRAIN_LANGUAGE: 应为以下值之一：'zh-CN', 'en'" in said


class _Thing(BaseModel):
    name: str = Field(max_length=3)
    count: int = Field(gt=0)


def test_pydantic_messages_in_the_current_language() -> None:
    with pytest.raises(ValidationError) as caught:
        _Thing.model_validate({"name": "long", "count": 0})
    errors = caught.value.errors()
    with use_language("en"):
        english = [validation.message(e) for e in errors]
    with use_language("zh-CN"):
        chinese = [validation.message(e) for e in errors]
    assert english == ["String should have at most 3 characters", "Input should be greater than 0"]
    assert english == [e["msg"] for e in errors]          # pydantic's own words in English
    assert chinese == ["字符串最多 3 个字符", "应大于 0"]

"""`citybrain dashboards push` against a recording stand-in for Grafana's HTTP API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from citybrain.kernel.settings import Settings
from dashboards import push
from dashboards.board import folder_uid
from dashboards.build import boards, committed_settings
from dashboards.errors import DashboardError
from tests.dashboards.grafana_standin import GrafanaStandIn

TOKEN = "glsa_test_token"
DB_URL = "postgresql://grafana_reader:s3cr%40t@timescaledb:5432/citybrain?sslmode=require"


@pytest.fixture
def grafana() -> Iterator[GrafanaStandIn]:
    standin = GrafanaStandIn(TOKEN)
    try:
        yield standin
    finally:
        standin.close()


def run_push(url: str, token: str, tmp_path: Path, *more: str,
             language: str = "zh-CN") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    env.update(CITYBRAIN_GRAFANA_DATABASE_URL=DB_URL, CITYBRAIN_GRAFANA_PROMETHEUS_URL="http://prom:9090",
               CITYBRAIN_DATA_DIR=str(tmp_path), CITYBRAIN_LANGUAGE=language)
    return subprocess.run([sys.executable, "-m", "citybrain", "dashboards", "push", "--url", url,
                           "--token", token, *more], capture_output=True, text=True, env=env, timeout=120)


def test_push_creates_then_only_updates(grafana: GrafanaStandIn, tmp_path: Path) -> None:
    built = boards(committed_settings())
    expected = {b.uid: b.to_json() for b in built}
    folder_of = {b.uid: folder_uid(b.language) for b in built}
    folders = {"citybrain", "citybrain-en"}  # one per language: the Chinese wall, the English copy

    first = run_push(grafana.url, TOKEN, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    state = grafana.state
    assert all(r.authorization == f"Bearer {TOKEN}" for r in state.requests)
    assert set(state.folders) == folders
    assert (state.folders["citybrain"]["title"], state.folders["citybrain-en"]["title"]) == \
        ("城市大脑", "Citybrain (English)")
    assert set(state.datasources) == {"citybrain-postgres", "citybrain-prometheus"}
    assert set(state.dashboards) == set(expected)
    for uid, stored in state.dashboards.items():
        assert stored["meta"]["folderUid"] == folder_of[uid]
        sent = {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")}
        assert sent == {k: v for k, v in expected[uid].items() if k != "id"}, uid
    postgres = state.datasources["citybrain-postgres"]
    assert postgres["type"] == "grafana-postgresql-datasource"
    assert postgres["url"] == "timescaledb:5432" and postgres["user"] == "grafana_reader"
    assert postgres["jsonData"]["timescaledb"] is True
    assert postgres["jsonData"]["database"] == "citybrain" and postgres["jsonData"]["sslmode"] == "require"
    assert postgres["secureJsonData"] == {"password": "s3cr@t"}
    assert "editable" not in postgres
    assert state.datasources["citybrain-prometheus"]["url"] == "http://prom:9090"
    # What it did, in the language of CITYBRAIN_LANGUAGE (Chinese by default).
    assert f"已创建 {2 + 2 + len(expected)} 项，已更新 0 项" in first.stdout
    assert "已创建 仪表盘“城市大脑 · 城市运行总览”（citybrain-overview）" in first.stdout

    seen = len(state.requests)
    second = run_push(grafana.url, TOKEN, tmp_path, language="en")
    assert second.returncode == 0, second.stdout + second.stderr
    again = state.requests[seen:]
    # Nothing new: no creating POST, the same objects, each one version further.
    assert not [r for r in again if r.method == "POST" and r.path.rstrip("/") in
                ("/api/folders", "/api/datasources")]
    assert all(r.body["overwrite"] is True for r in again if r.path == "/api/dashboards/db")
    assert set(state.folders) == folders and len(state.datasources) == 2
    assert set(state.dashboards) == set(expected)
    assert {f["version"] for f in state.folders.values()} == {2}
    assert {d["version"] for d in state.datasources.values()} == {2}
    assert {d["meta"]["version"] for d in state.dashboards.values()} == {2}
    assert f"0 created, {2 + 2 + len(expected)} updated" in second.stdout
    assert 'updated dashboard "Citybrain · City overview" (citybrain-overview-en)' in second.stdout


def test_push_one_language(grafana: GrafanaStandIn, tmp_path: Path) -> None:
    result = run_push(grafana.url, TOKEN, tmp_path, "--language", "zh-CN", "--skip-datasources")
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(grafana.state.folders) == {"citybrain"}
    assert set(grafana.state.dashboards) == {b.uid for b in boards(committed_settings(), ("zh-CN",))}
    assert all(not uid.endswith("-en") for uid in grafana.state.dashboards)


def test_a_rejected_token_is_an_error_with_a_hint(grafana: GrafanaStandIn, tmp_path: Path) -> None:
    result = run_push(grafana.url, "wrong", tmp_path)
    assert result.returncode == 1
    assert "Grafana 拒绝了推送" in result.stderr and "令牌未被接受" in result.stderr
    result = run_push(grafana.url, "wrong", tmp_path, language="en")
    assert result.returncode == 1
    assert "token was not accepted" in result.stderr.replace("\n", " ")
    assert not grafana.state.folders and not grafana.state.dashboards


def test_an_unreachable_grafana_is_an_error_with_a_hint(tmp_path: Path) -> None:
    standin = GrafanaStandIn(TOKEN)
    url = standin.url
    standin.close()  # nothing listens there any more
    result = run_push(url, TOKEN, tmp_path, language="en")
    assert result.returncode == 1
    assert "cannot reach Grafana" in result.stderr.replace("\n", " ")


def test_datasources_come_from_the_provisioning_file_with_every_variable_filled() -> None:
    settings = Settings(grafana_database_url=SecretStr(DB_URL), grafana_prometheus_url="http://p:9090")
    sources = push.datasources(push.datasource_variables(settings))
    text = json.dumps(sources)
    assert "${" not in text and "$GRAFANA" not in text
    assert [s["uid"] for s in sources] == ["citybrain-postgres", "citybrain-prometheus"]
    with pytest.raises(DashboardError, match="CITYBRAIN_GRAFANA_DATABASE_URL"):
        push.datasource_variables(Settings(grafana_database_url=None))


def test_push_without_url_or_token_says_what_to_give(tmp_path: Path) -> None:
    result = run_push("", "", tmp_path)
    assert result.returncode == 2
    assert "请提供 --url 和 --token" in result.stderr
    result = run_push("", "", tmp_path, language="en")
    assert result.returncode == 2
    assert "give --url and --token" in result.stderr

"""Every dashboard builds in both languages, the committed JSON is what the builders make,
panels reuse the SQL files, and a person reads the board's language throughout."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from citybrain.indicators.catalogue import load_catalogue
from citybrain.kernel.i18n import LANGUAGES
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql
from dashboards.board import (
    FOLDER_UID,
    POSTGRES_TYPE,
    POSTGRES_UID,
    PROMETHEUS_TYPE,
    PROMETHEUS_UID,
    folder_title,
    folder_uid,
)
from dashboards.build import BUILDERS, JSON_DIR, boards, committed_settings, documents, write
from dashboards.errors import DashboardError

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "dashboards" / "provisioning"
CJK = re.compile(r"[\u3400-\u9fff]")


def test_committed_json_is_up_to_date_with_the_builders() -> None:
    built = documents(committed_settings())
    committed = {p.relative_to(JSON_DIR).as_posix(): p.read_text(encoding="utf-8")
                 for p in JSON_DIR.rglob("*.json")}
    stale = sorted(set(committed) ^ set(built))
    assert not stale, f"dashboards/json differs in files {stale}: run `citybrain dashboards build`"
    changed = sorted(name for name in built if built[name] != committed[name])
    assert not changed, f"{changed} are out of date: run `citybrain dashboards build`"
    assert {name.split("/")[0] for name in built} == set(LANGUAGES)


def test_the_eight_dashboards_and_their_common_shape() -> None:
    built = boards(committed_settings())
    assert len(built) == len(BUILDERS) * len(LANGUAGES) == 16
    for board in built:
        doc = board.to_json()
        assert doc["uid"] == board.uid and doc["uid"].startswith("citybrain-")
        assert doc["tags"][:2] == ["citybrain", board.language]
        # The board's menu lists the boards of its own language only.
        [menu] = [link for link in doc["links"] if link["type"] == "dashboards"]
        assert menu["tags"] == ["citybrain", board.language]
        assert doc["timezone"] == "Asia/Shanghai"
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids)), f"{board.uid}: duplicate panel ids"
        for panel in doc["panels"]:
            if panel["type"] == "row":
                continue
            assert panel.get("title"), panel
            for target in panel["targets"]:
                ds = target["datasource"]
                assert (ds["type"], ds["uid"]) in {(POSTGRES_TYPE, POSTGRES_UID),
                                                   (PROMETHEUS_TYPE, PROMETHEUS_UID)}
                assert panel["datasource"] == ds
        if board.sql_panels:
            names = {v["name"]: v for v in doc["templating"]["list"]}
            assert {"department", "district", "key"} <= set(names)
            assert names["department"]["allValue"] == "NULL" and not names["department"]["multi"]
            assert names["district"]["multi"] and names["key"]["multi"]


def test_both_languages_side_by_side_the_chinese_wall_with_the_plain_uids() -> None:
    by_language = {language: boards(committed_settings(), (language,)) for language in LANGUAGES}
    zh, en = by_language["zh-CN"], by_language["en"]
    assert [b.uid for b in zh] == [b.base_uid for b in zh]
    assert [b.uid for b in en] == [f"{b.base_uid}-en" for b in en]
    assert folder_uid("zh-CN") == FOLDER_UID and folder_uid("en") == "citybrain-en"
    assert (folder_title("zh-CN"), folder_title("en")) == ("城市大脑", "Citybrain (English)")
    overview = zh[0].to_json()
    assert overview["title"] == "城市大脑 · 城市运行总览"
    assert en[0].to_json()["title"] == "Citybrain · City overview"


def _readable_texts(doc: dict[str, Any]) -> list[str]:
    """What a person reads on a board: its title, panel and row titles, variable labels,
    column headers, value-mapping texts, link titles."""
    found = [doc["title"]]
    found += [v["label"] for v in doc["templating"].get("list", []) if v.get("label")]
    for panel in doc["panels"]:
        found.append(panel["title"])
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "displayName":
                    found.append(prop["value"])
                elif prop["id"] == "mappings":
                    for mapping in prop["value"]:
                        found += [o["text"] for o in mapping["options"].values() if o.get("text")]
                elif prop["id"] == "links":
                    found += [link["title"] for link in prop["value"]]
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_person_reads_the_boards_language(language: str) -> None:
    for board in boards(committed_settings(), (language,)):  # type: ignore[arg-type]
        doc = board.to_json()
        texts = _readable_texts(doc)
        if language == "zh-CN":
            english = [text for text in texts if not CJK.search(text) and text != "%"]
            assert not english, f"{board.uid}: not in Chinese: {english}"
        else:
            chinese = [text for text in texts if CJK.search(text)]
            assert not chinese, f"{board.uid}: Chinese on the English board: {chinese}"


def test_the_overview_shows_labels_not_ids() -> None:
    """Severities, statuses, bands and keys from the catalogue; each open incident links to
    the one incident URL; the scores' SQL labels its bars in the board's language."""
    doc = boards(committed_settings(), ("zh-CN",))[0].to_json()
    panels = {p["title"]: p for p in doc["panels"]}
    table = panels["待处置事件"]
    props = {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
             for o in table["fieldConfig"]["overrides"]}
    severities = {k: v["text"] for k, v in props["severity"]["mappings"][0]["options"].items()}
    assert severities["I"] == "特别重大（Ⅰ级）" and severities["IV"] == "一般（Ⅳ级）"
    statuses = {k: v["text"] for k, v in props["status"]["mappings"][0]["options"].items()}
    assert (statuses["triggered"], statuses["acknowledged"]) == ("待响应", "已确认")
    assert props["department"]["displayName"] == "部门"
    [link] = props["title"]["links"]
    assert link["url"] == "http://127.0.0.1:8600/console/incidents/${__data.fields.incident_id}"
    assert props["key"]["custom.hidden"] is True
    scores = panels["五大重点及运维综合评分"]
    assert "成熟期" in scores["targets"][0]["rawSql"] and "基础设施" in scores["targets"][0]["rawSql"]
    steps = scores["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 55.0, 70.0, 85.0]
    today = panels["今日30分钟响应达标率"]
    assert "local_midnight(($__timeTo()::timestamptz AT TIME ZONE 'Asia/Shanghai')::date" in \
        today["targets"][0]["rawSql"]


@pytest.mark.parametrize(("language", "offline", "iot", "failed", "critical"), [
    ("zh-CN", "离线", "物联网", ("失败 wecom（rejected）", "失败 企业微信（被接收方拒收）"), "严重"),
    ("en", "Offline", "IoT",
     ("failed wecom (rejected)", "failed WeCom (rejected by the receiver)"), "Critical"),
])
def test_the_pipeline_names_the_prometheus_label_values(language: str, offline: str, iot: str,
                                                        failed: tuple[str, str], critical: str) -> None:
    """Prometheus names a series by its label values (``offline``, ``iot``); an override
    matched by that name shows the value's label, in the board's language and colour."""
    [board] = [b for b in boards(committed_settings(), (language,))  # type: ignore[arg-type]
               if b.base_uid == "citybrain-pipeline"]
    panels = board.to_json()["panels"]

    def renamed(panel: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
                for o in panel["fieldConfig"]["overrides"] if o["matcher"]["id"] == "byName"}

    by_expr = {t["expr"]: (p, t) for p in panels if p["type"] != "row" for t in p["targets"]}
    assets, target = by_expr["sum by (state) (citybrain_assets)"]
    assert target["legendFormat"] == "{{state}}"
    assert renamed(assets)["offline"] == {"displayName": offline,
                                          "color": {"mode": "fixed", "fixedColor": "red"}}
    ingested = next(p for expr, (p, _) in by_expr.items() if "citybrain_events_ingested_total" in expr)
    assert renamed(ingested)["iot"] == {"displayName": iot}
    notifications = next(p for expr, (p, _) in by_expr.items() if "notifications_failed" in expr)
    assert renamed(notifications)[failed[0]] == {"displayName": failed[1]}
    listing, target = next(v for expr, v in by_expr.items() if "ALERTS" in expr)
    assert target["format"] == "table"
    columns = renamed(listing)
    assert columns["severity"]["mappings"][0]["options"]["critical"]["text"] == critical
    assert columns["Time"]["custom.hidden"] is True


def test_the_time_zone_comes_from_settings() -> None:
    settings = Settings(timezone="Europe/Berlin")
    board = boards(settings)[0]
    doc = json.dumps(board.to_json())
    assert board.to_json()["timezone"] == "Europe/Berlin"
    assert "AT TIME ZONE 'Europe/Berlin'" in doc and "Asia/Shanghai" not in doc


def test_indicator_panels_carry_the_indicator_file_not_a_copy() -> None:
    """Each indicator panel's SQL holds its .sql file verbatim but for the four placeholders."""
    catalogue = {i.id: i for i in load_catalogue()}
    used: set[str] = set()
    header = re.compile(r"-- indicator ([a-z]+\.[a-z0-9_]+) v(\d+), from citybrain/indicators/sql/(\S+)")
    today = indicator_sql.today_start("Asia/Shanghai")
    for board in boards(committed_settings()):
        for panel in board.sql_panels:
            for ind_id, version, sql_file in header.findall(panel.query.sql):
                ind = catalogue[ind_id]
                assert (int(version), sql_file) == (ind.version, ind.sql_file)
                # The range's start, or (a panel about today) the local midnight of its end.
                found = [(body, placeholder) for start, placeholder in
                         (("$__timeFrom()", "$__timeFrom()"), (today, f"({today})"))
                         if (body := indicator_sql.grafana_text(ind, timezone="Asia/Shanghai", start=start))
                         in panel.query.sql]
                assert found, f"{panel.panel_title}: not the text of {sql_file}"
                [(body, placeholder)] = found
                # Put the placeholders back: the file itself, byte for byte.
                restored = (body.replace(placeholder, "%(start)s").replace("$__timeTo()", "%(end)s")
                            .replace("'Asia/Shanghai'", "%(tz)s").replace("$department", "%(department)s"))
                assert restored == ind.sql.rstrip().rstrip(";")
                used.add(ind_id)
    # The scorecard shows every indicator; the headline panels use a subset.
    assert used == set(catalogue)


def test_a_builder_naming_an_unknown_indicator_or_breakdown_does_not_build() -> None:
    with pytest.raises(DashboardError, match="does not have"):
        indicator_sql.total("infra.no_such_thing", timezone="UTC", label="x")
    with pytest.raises(DashboardError, match="no 'asset' breakdown"):
        indicator_sql.by_member("data.sharing_rate", timezone="UTC", dimension="asset", label="x",
                                member_label="m", language="en")


def test_build_writes_files_and_removes_stale_ones(tmp_path: Path) -> None:
    (tmp_path / "citybrain-overview.json").write_text("{}")  # the one-language layout
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "citybrain-retired-en.json").write_text("{}")
    (tmp_path / "someone-elses.json").write_text("{}")
    written = write(committed_settings(), tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == \
        sorted(documents(committed_settings()))
    assert not (tmp_path / "citybrain-overview.json").exists()
    assert not (tmp_path / "en" / "citybrain-retired-en.json").exists()
    assert (tmp_path / "someone-elses.json").exists()
    # One language: the other's folder is left as it is.
    (tmp_path / "zh-CN" / "citybrain-overview.json").write_text("{}")
    write(committed_settings(), tmp_path, ("en",))
    assert (tmp_path / "zh-CN" / "citybrain-overview.json").read_text() == "{}"


def test_provisioning_files_point_at_the_dashboards_and_datasources() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "citybrain.yaml").read_text())["datasources"]
    by_uid = {s["uid"]: s for s in sources}
    assert by_uid[POSTGRES_UID]["type"] == POSTGRES_TYPE
    assert by_uid[POSTGRES_UID]["jsonData"]["timescaledb"] is True
    assert by_uid[PROMETHEUS_UID]["type"] == PROMETHEUS_TYPE
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "citybrain.yaml").read_text())["providers"]
    # One provider (and Grafana folder) per language, each reading its own JSON folder.
    assert [(p["folderUid"], p["folder"], p["options"]["path"]) for p in providers] == [
        (folder_uid(language), folder_title(language), f"/var/lib/grafana/dashboards/citybrain/{language}")
        for language in LANGUAGES]
    assert providers[0]["folderUid"] == FOLDER_UID

"""Every dashboard builds, the committed JSON is what the builders make, panels reuse the SQL files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from citybrain.indicators.catalogue import load_catalogue
from citybrain.kernel.settings import Settings
from dashboards import indicator_sql
from dashboards.board import FOLDER_UID, POSTGRES_TYPE, POSTGRES_UID, PROMETHEUS_TYPE, PROMETHEUS_UID
from dashboards.build import BUILDERS, JSON_DIR, boards, committed_settings, documents, write
from dashboards.errors import DashboardError

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "dashboards" / "provisioning"


def test_committed_json_is_up_to_date_with_the_builders() -> None:
    built = documents(committed_settings())
    committed = {p.name: p.read_text(encoding="utf-8") for p in JSON_DIR.glob("*.json")}
    stale = sorted(set(committed) ^ set(built))
    assert not stale, f"dashboards/json differs in files {stale}: run `citybrain dashboards build`"
    changed = sorted(name for name in built if built[name] != committed[name])
    assert not changed, f"{changed} are out of date: run `citybrain dashboards build`"


def test_the_seven_dashboards_and_their_common_shape() -> None:
    built = boards(committed_settings())
    assert len(built) == len(BUILDERS) == 7
    for board in built:
        doc = board.to_json()
        assert doc["uid"] == board.uid and doc["uid"].startswith("citybrain-")
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
    for board in boards(committed_settings()):
        for panel in board.sql_panels:
            for ind_id, version, sql_file in header.findall(panel.query.sql):
                ind = catalogue[ind_id]
                assert (int(version), sql_file) == (ind.version, ind.sql_file)
                body = indicator_sql.grafana_text(ind, timezone="Asia/Shanghai")
                assert body in panel.query.sql, f"{panel.panel_title}: not the text of {sql_file}"
                # Put the placeholders back: the file itself, byte for byte.
                restored = (body.replace("$__timeFrom()", "%(start)s").replace("$__timeTo()", "%(end)s")
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
                                member_label="m")


def test_build_writes_files_and_removes_stale_ones(tmp_path: Path) -> None:
    (tmp_path / "citybrain-retired.json").write_text("{}")
    (tmp_path / "someone-elses.json").write_text("{}")
    written = write(committed_settings(), tmp_path)
    assert sorted(p.name for p in written) == sorted(documents(committed_settings()))
    assert not (tmp_path / "citybrain-retired.json").exists()
    assert (tmp_path / "someone-elses.json").exists()


def test_provisioning_files_point_at_the_dashboards_and_datasources() -> None:
    sources = yaml.safe_load((PROVISIONING / "datasources" / "citybrain.yaml").read_text())["datasources"]
    by_uid = {s["uid"]: s for s in sources}
    assert by_uid[POSTGRES_UID]["type"] == POSTGRES_TYPE
    assert by_uid[POSTGRES_UID]["jsonData"]["timescaledb"] is True
    assert by_uid[PROMETHEUS_UID]["type"] == PROMETHEUS_TYPE
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "citybrain.yaml").read_text())["providers"]
    assert providers[0]["folderUid"] == FOLDER_UID
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards/citybrain"

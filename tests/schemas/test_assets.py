from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from citybrain.kernel import store
from citybrain.kernel.errors import RegistryError, StoreError
from citybrain.kernel.i18n import use_language
from schemas.assets import (
    import_registry,
    load_registry,
    registered_counts,
    registry_to_yaml,
    write_registry,
)
from schemas.registry import Asset, Contact, Department, Registry

FIXTURES = Path(__file__).parent / "fixtures"


def _count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_yaml_import_stores_rows_with_five_keys(db: psycopg.Connection[Any]) -> None:
    report = import_registry(db, load_registry(FIXTURES / "registry.yaml"))

    assert (report.departments, report.districts, report.assets) == (2, 2, 7)
    assert (report.inserted_assets, report.updated_assets) == (7, 0)
    keys = dict(db.execute("SELECT asset_id, key FROM assets").fetchall())
    # Defaults from the kind, except the dataset whose file overrides it.
    assert keys == {
        "gw-001": "infrastructure", "wl-001": "infrastructure", "wl-002": "infrastructure",
        "cam-001": "infrastructure", "cam-old": "infrastructure", "portal-gov": "portal",
        "ds-flow": "system",
    }
    row = db.execute(
        "SELECT parent_id, tags, shared_with, district_id FROM assets WHERE asset_id = 'wl-002'"
    ).fetchone()
    assert row == ("gw-001", [], ["traffic"], None)
    dept = db.execute(
        "SELECT name_zh, first_responsible, contacts FROM departments"
        " WHERE department_id = 'traffic'"
    ).fetchone()
    assert dept is not None
    assert dept[0] == "交警支队"
    assert dept[1] == {
        "name": "Wang Lei", "role": "first_responsible", "phone": "+86 571 0000 0001"
    }
    assert [c["name"] for c in dept[2]] == ["Li Na", "Zhao Min"]
    retired = db.execute("SELECT retired_at FROM assets WHERE asset_id = 'cam-old'").fetchone()
    assert retired == (datetime(2023, 6, 30, 10, 0, tzinfo=UTC),)
    # An asset keeps its Chinese name beside its name; one without keeps NULL.
    names = db.execute("SELECT asset_id, name, name_zh FROM assets"
                       " WHERE asset_id IN ('cam-001', 'gw-001') ORDER BY asset_id").fetchall()
    assert names[0] == ("cam-001", "Wulin junction camera", "武林路口 视频监控")
    assert names[1][2] is None


def test_reimport_updates_instead_of_inserting(db: psycopg.Connection[Any]) -> None:
    registry = load_registry(FIXTURES / "registry.yaml")
    import_registry(db, registry)
    renamed = registry.model_copy(
        update={"assets": tuple(
            a.model_copy(update={"name": "Gateway 1"}) if a.asset_id == "gw-001" else a
            for a in registry.assets
        )}
    )

    again = import_registry(db, renamed)

    assert (again.inserted_assets, again.updated_assets) == (0, 7)
    assert (_count(db, "assets"), _count(db, "departments"), _count(db, "districts")) == (7, 2, 2)
    row = db.execute("SELECT name FROM assets WHERE asset_id = 'gw-001'").fetchone()
    assert row == ("Gateway 1",)


def test_csv_assets_import_into_departments_already_stored(db: psycopg.Connection[Any]) -> None:
    import_registry(db, load_registry(FIXTURES / "registry.yaml"))
    registry = load_registry(FIXTURES / "assets.csv")
    assert registry.departments == () and registry.districts == ()
    sensor = next(a for a in registry.assets if a.asset_id == "sec-101")
    # ';'-separated lists, blanks dropped; empty cells are absent fields.
    assert sensor.shared_with == ("traffic", "police") and sensor.tags == ("tamper",)
    assert sensor.expected_interval_s is None and sensor.five_key == "security"

    report = import_registry(db, registry)

    assert (report.assets, report.inserted_assets, report.updated_assets) == (3, 3, 0)
    row = db.execute(
        "SELECT name, parent_id, latitude, tags FROM assets WHERE asset_id = 'wl-101'"
    ).fetchone()
    assert row == (None, "gw-001", None, [])
    assert registered_counts(db) == {
        "infrastructure": 6, "data": 0, "system": 1, "portal": 1, "security": 1,
    }


def test_invalid_csv_reports_every_error_with_row_and_field() -> None:
    path = FIXTURES / "invalid.csv"
    with use_language("en"), pytest.raises(RegistryError) as caught:
        load_registry(path)

    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path}: 5 error(s) in the registry"
    assert lines[1:] == [
        f"{path} row 3 (asset_id cam-202): registered_at: Input should have timezone info",
        f"{path} row 4 (asset_id cam-203): kind: Input should be 'iot_device', 'gateway',"
        " 'camera', 'cloud_host', 'portal', 'system', 'link', 'dataset', 'security_sensor'"
        " or 'other'",
        # The blank row 5 still counts, as a spreadsheet numbers it.
        f"{path} row 6 (asset_id cam-201): latitude: Input should be less than or equal to 90",
        f"{path} row 6 (asset_id cam-201): asset_id: duplicate of row 2 (asset_id cam-201)",
        f"{path} row 7: asset_id: Field required",
    ]


def test_registry_errors_are_said_in_the_current_language() -> None:
    path = FIXTURES / "invalid.csv"
    with pytest.raises(RegistryError) as caught:   # zh-CN: the CLI's default language
        load_registry(path)
    assert str(caught.value).splitlines() == [
        f"{path}：登记表中有 5 处错误",
        f"{path} 第 3 行（asset_id cam-202）：registered_at：应带时区偏移（如 +08:00）",
        f"{path} 第 4 行（asset_id cam-203）：kind：应为以下值之一：'iot_device', 'gateway', 'camera',"
        " 'cloud_host', 'portal', 'system', 'link', 'dataset', 'security_sensor', 'other'",
        f"{path} 第 6 行（asset_id cam-201）：latitude：应小于或等于 90",
        f"{path} 第 6 行（asset_id cam-201）：asset_id：与第 2 行（asset_id cam-201）重复",
        f"{path} 第 7 行：asset_id：缺少必填字段",
    ]


def test_invalid_yaml_reports_every_error_with_entry_and_field() -> None:
    path = FIXTURES / "invalid.yaml"
    with use_language("en"), pytest.raises(RegistryError) as caught:
        load_registry(path)

    message = str(caught.value)
    for expected in (
        f"{path}: owners: unknown top-level key",
        f"{path} departments[1] (department_id traffic): first_responsible.name: Field required",
        f"{path} departments[1] (department_id traffic): department_id: duplicate of"
        " departments[0]",
        f"{path} assets[0] (asset_id cam-001): department_id: unknown department 'parks'",
        f"{path} assets[1] (asset_id wl-001): retired_at is before registered_at",
        f"{path} assets[1] (asset_id wl-001): district_id: unknown district 'shangcheng'",
        f"{path} assets[1] (asset_id wl-001): parent_id: unknown parent asset 'gw-missing'",
    ):
        assert expected in message, expected
    assert message.splitlines()[0] == f"{path}: 7 error(s) in the registry"


def test_unknown_department_is_rejected_and_nothing_written(db: psycopg.Connection[Any]) -> None:
    registry = Registry(
        departments=(Department(department_id="parks", name="Parks",
                                first_responsible=Contact(name="Sun Li")),),
        assets=(
            Asset(asset_id="cam-9", kind="camera", department_id="ghost", expected_interval_s=30,
                  registered_at=datetime(2024, 1, 1, tzinfo=UTC)),
            Asset(asset_id="wl-9", kind="iot_device", department_id="parks", parent_id="gw-9",
                  expected_interval_s=60, registered_at=datetime(2024, 1, 1, tzinfo=UTC)),
        ),
    )
    with use_language("en"), pytest.raises(RegistryError) as caught:
        import_registry(db, registry)

    message = str(caught.value)
    assert "asset cam-9: department_id: 'ghost' is neither in the registry nor in the database" \
        in message
    assert "asset wl-9: parent_id: 'gw-9'" in message
    # The valid department did not land either: the import is all or nothing.
    assert (_count(db, "departments"), _count(db, "assets")) == (0, 0)


def test_naive_datetime_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(
        "assets:\n"
        "  - {asset_id: ds-1, kind: dataset, department_id: d, registered_at: 2024-01-01 08:00}\n",
        encoding="utf-8",
    )
    naive = r"assets\[0\] \(asset_id ds-1\): registered_at: Input should have timezone info"
    with use_language("en"), pytest.raises(RegistryError, match=naive):
        load_registry(path)


def test_yaml_round_trip(tmp_path: Path) -> None:
    registry = load_registry(FIXTURES / "registry.yaml")
    text = registry_to_yaml(registry)
    # Offsets are kept as written, not normalised to UTC.
    assert "'2024-03-01T08:00:00+08:00'" in text and "交警支队" in text and "武林路口 视频监控" in text

    path = tmp_path / "city.yml"
    write_registry(registry, path)

    assert load_registry(path) == registry
    assert not list(tmp_path.glob("*.tmp"))


def test_import_into_unmigrated_schema_is_a_store_error(database_url: str) -> None:
    registry = load_registry(FIXTURES / "registry.yaml")
    with (
        store.connect(database_url, "no_such_schema", autocommit=True) as conn,
        use_language("en"),
        pytest.raises(StoreError, match="migrated"),
    ):
        import_registry(conn, registry)


def test_catalogue_population_and_accounts_import(db: psycopg.Connection[Any]) -> None:
    report = import_registry(db, load_registry(FIXTURES / "catalogue.yaml"))

    assert (report.service_items, report.population, report.portal_accounts) == (3, 4, 2)
    items = db.execute(
        "SELECT service_id, kind, department_id, online_capable, portal_since, retired_at"
        " FROM service_items ORDER BY service_id").fetchall()
    assert items == [
        ("svc-0001", "licensing", "market", True, datetime(2024, 4, 30, 16, tzinfo=UTC), None),
        ("svc-0002", "licensing", "market", False, None, None),
        ("svc-0003", "confirmation", "market", True, datetime(2024, 5, 31, 16, tzinfo=UTC),
         datetime(2024, 12, 31, 16, tzinfo=UTC)),
    ]
    people = db.execute(
        "SELECT district_id, basis, as_of, people, source FROM population"
        " ORDER BY district_id, basis, as_of").fetchall()
    assert [(d, b, a.isoformat(), n) for d, b, a, n, _s in people] == [
        ("binjiang", "resident", "2023-12-31", 480000),
        ("binjiang", "resident", "2024-12-31", 500000),
        ("xihu", "household", "2024-12-31", 900000),
        ("xihu", "resident", "2024-12-31", 1200000),
    ]
    assert people[3][4] == "市统计局《2024年统计公报》"
    accounts = db.execute(
        "SELECT as_of, registered_users, verified_users FROM portal_accounts ORDER BY as_of"
    ).fetchall()
    assert [(a.isoformat(), r, v) for a, r, v in accounts] == [
        ("2024-12-31", 400000, None), ("2025-01-31", 410000, 380000)]


def test_catalogue_reimport_replaces_figures_of_the_same_date(db: psycopg.Connection[Any]) -> None:
    registry = load_registry(FIXTURES / "catalogue.yaml")
    import_registry(db, registry)
    corrected = registry.model_copy(update={
        "population": tuple(p.model_copy(update={"people": 1210000})
                            if (p.district_id, p.basis) == ("xihu", "resident") else p
                            for p in registry.population),
        "service_items": tuple(s.model_copy(update={"online_capable": True})
                               if s.service_id == "svc-0002" else s
                               for s in registry.service_items),
    })

    import_registry(db, corrected)

    assert (_count(db, "service_items"), _count(db, "population"),
            _count(db, "portal_accounts")) == (3, 4, 2)
    assert db.execute("SELECT people FROM population WHERE district_id = 'xihu'"
                      " AND basis = 'resident'").fetchone() == (1210000,)
    assert db.execute("SELECT online_capable FROM service_items"
                      " WHERE service_id = 'svc-0002'").fetchone() == (True,)


def test_invalid_catalogue_reports_every_error_with_entry_and_field() -> None:
    path = FIXTURES / "invalid_catalogue.yaml"
    with use_language("en"), pytest.raises(RegistryError) as caught:
        load_registry(path)

    lines = str(caught.value).splitlines()
    first_pop = "population[0] (district_id/basis/as_of xihu/resident/2024-12-31)"
    bad_pop = f"{path} population[2] (district_id/basis/as_of gongshu/census/2024-12-31)"
    assert lines[0] == f"{path}: 8 error(s) in the registry"
    assert lines[1:] == [
        f"{path} service_items[0] (service_id svc-0001): department_id: unknown department"
        " 'parks' in this file",
        f"{path} service_items[1] (service_id svc-0001): online_capable: Field required",
        f"{path} service_items[1] (service_id svc-0001): service_id: duplicate of"
        " service_items[0] (service_id svc-0001)",
        f"{path} population[1] (district_id/basis/as_of xihu/resident/2024-12-31):"
        f" district_id/basis/as_of: duplicate of {first_pop}",
        f"{bad_pop}: basis: Input should be 'resident' or 'household'",
        f"{bad_pop}: people: Input should be greater than 0",
        f"{bad_pop}: district_id: unknown district 'gongshu' in this file",
        f"{path} portal_accounts[0] (as_of 2025-01-31): registered_users: Input should be"
        " greater than or equal to 0",
    ]


def test_catalogue_references_are_checked_against_the_database(
        db: psycopg.Connection[Any]) -> None:
    stored = load_registry(FIXTURES / "catalogue.yaml")
    import_registry(db, Registry(departments=stored.departments, districts=stored.districts))
    # A file of catalogue items alone refers to departments already stored.
    only_items = Registry(service_items=stored.service_items)
    assert import_registry(db, only_items).service_items == 3
    dangling = Registry(
        service_items=(stored.service_items[0].model_copy(
            update={"service_id": "svc-9", "department_id": "ghost"}),),
        population=(stored.population[0].model_copy(update={"district_id": "nowhere"}),),
        portal_accounts=stored.portal_accounts,
    )
    with use_language("en"), pytest.raises(RegistryError) as caught:
        import_registry(db, dangling)

    message = str(caught.value)
    assert "service item svc-9: department_id: 'ghost' is neither in the registry nor in" \
        " the database" in message
    assert "population nowhere resident 2024-12-31: district_id: 'nowhere' is neither" in message
    # All or nothing: the valid account figures did not land either.
    assert (_count(db, "service_items"), _count(db, "population"),
            _count(db, "portal_accounts")) == (3, 0, 0)


def test_catalogue_yaml_round_trip(tmp_path: Path) -> None:
    registry = load_registry(FIXTURES / "catalogue.yaml")
    path = tmp_path / "city.yaml"
    write_registry(registry, path)

    assert load_registry(path) == registry
    assert "as_of: 2024-12-31" in path.read_text(encoding="utf-8")

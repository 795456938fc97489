"""The indicator SQL files are rendered from their family templates and the catalogue.

The committed files are what the reports, the API and the Grafana panels run, so they must
be exactly the rendering: an edit made in a .sql file instead of its template would be lost
at the next render, and one family member would silently stop counting like the others.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from citybrain.indicators import render
from citybrain.indicators.catalogue import (
    SQL_DIR,
    CatalogueError,
    find,
    load_catalogue,
    parse_definitions,
    read_definitions,
)
from citybrain.indicators.families import FAMILIES, KNOWN_STATES
from tests.citybrain.indicators.test_catalogue import entry as catalogue_entry


def test_committed_sql_is_the_rendering_of_the_templates() -> None:
    stale = render.stale_files()
    assert not stale, (f"citybrain/indicators/sql: {stale} differ from their rendering (templates/ and "
                       f"catalogue.yaml): run `{render.COMMAND}`, and edit the templates, not the SQL files")


def test_a_hand_edited_file_is_named_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    assert render.stale_files(sql_dir=sql_dir) == []
    edited = sql_dir / "system.availability.sql"
    edited.write_text(edited.read_text(encoding="utf-8").replace("'online', 'degraded'", "'online'"),
                      encoding="utf-8")
    (sql_dir / "infra.nothing.sql").write_text("SELECT 1", encoding="utf-8")
    (sql_dir / "ops.mtta.sql").unlink()
    named = ["infra.nothing.sql", "ops.mtta.sql", "system.availability.sql"]
    assert render.stale_files(sql_dir=sql_dir) == named
    # The command puts back exactly what is out of date, and then finds nothing more to do.
    assert sorted(p.name for p in render.write(sql_dir=sql_dir)) == named
    assert not (sql_dir / "infra.nothing.sql").exists()
    assert render.stale_files(sql_dir=sql_dir) == [] and render.write(sql_dir=sql_dir) == []


def test_rendered_files_are_plain_sql_with_their_header() -> None:
    for indicator in load_catalogue():
        text = indicator.sql
        # Nothing of the template language is left, and the header comes first.
        assert not re.search(r"\{[{%#]|[}%#]\}", text), indicator.sql_file
        assert text.startswith(f"-- {indicator.id}, version {indicator.version}: ")
        assert text.endswith("\n") and not text.endswith("\n\n")
        assert "\nWITH " in text and "-- Parameters" in text, indicator.sql_file


def test_every_family_has_its_template_and_members() -> None:
    assert {d.entry.template for d in read_definitions()} == set(FAMILIES)
    on_disk = {p.name.removesuffix(".sql.j2") for p in render.TEMPLATE_DIR.glob("*.sql.j2")}
    # Besides the families: the fragments they share (_*.sql.j2) and the daily facts' SQL.
    assert {n for n in on_disk if not n.startswith("_")} == set(FAMILIES) | {"availability_facts"}


def test_a_family_counts_alike_in_each_of_its_members() -> None:
    """The members of a family differ only where their parameters do."""
    by_id = {i.id: i.sql for i in load_catalogue()}
    body = {k: v[v.index("\nWITH "):] for k, v in by_id.items()}
    # The two p95s: the target kind, and nothing else.
    assert body["infra.latency_p95"].replace("'link'", "'portal'") == body["portal.response_time_p95"]
    # System and portal availability: the asset kind.
    assert body["system.availability"].replace("'system'", "'portal'") == body["portal.availability_7x24"]
    # Up states come from the catalogue: degraded is up for devices, not for intact cameras.
    assert "i.state IN ('online', 'degraded') THEN 'up'" in body["infra.device_online_rate"]
    assert "i.state IN ('online') THEN 'up'" in body["infra.camera_intact_rate"]


def test_the_daily_facts_account_as_the_indicators_do() -> None:
    """availability.py's facts and the indicators read the same per-state columns."""
    from citybrain import availability

    facts = availability.FACTS
    for state in KNOWN_STATES:
        assert f"FILTER (WHERE state = '{state}'), 0) AS {state}_us" in facts
        assert f"FILTER (WHERE state = '{state}'), 0) AS {state}_m_us" in facts
    known = " + ".join(f"f.{s}_us" for s in KNOWN_STATES)
    for indicator in load_catalogue():
        if "availability_daily" in indicator.sql:
            assert f"{known} AS known," in indicator.sql, indicator.id
    # The maintenance arithmetic is one fragment's, in the facts and in the live path.
    g = "coalesce(p.before[p.ib] + mod(p.ib, 2) * epoch_us(p.hi - p.bounds[p.ib]), 0)"
    assert g in facts
    assert g.replace("p.", "i.") in find("infra.device_online_rate").sql
    assert "maintenance'" not in facts.replace("mw.kind = 'maintenance'", "")


def entry(template: str, params: str, *, breakdowns: str = "[department, day]",
          availability: bool | None = None) -> str:
    return "indicators:" + catalogue_entry("infra.a", "infrastructure", template=template, params=params,
                                           breakdowns=breakdowns, availability=availability)


@pytest.mark.parametrize(("template", "params", "breakdowns", "problem"), [
    ("nothing", "about: a family nobody wrote", "[day]", "template: no family 'nothing'"),
    ("availability", "about: two feeds in one figure\nkinds: [camera, iot_device]\nup: [online]",
     "[day]", "params.kinds: the kinds must share one liveness feed"),
    ("availability", "about: facts have no asset\nkinds: [link]\nup: [online]\ndaily_facts: true",
     "[asset, day]", "params.daily_facts: the daily facts have no per-asset figures"),
    ("availability", "about: a series needs the facts\nkinds: [link]\nup: [online]",
     "[department, district, day, department_day, district_day]",
     "breakdowns: ['department_day', 'district_day'] are computed only with daily_facts: true"),
    ("availability", "about: no such state\nkinds: [link]\nup: [online, maintenance]",
     "[day]", "params.up.1: Input should be 'online', 'degraded' or 'offline'"),
    ("availability", "about: what a cloud host is not\nkinds: [cloud_host]\nup: [online]",
     "[day]", "params.kinds: the kinds must share one liveness feed"),
    ("probe_latency_p95", "about: a latency of what\ntarget_kind: link\ncolour: red",
     "[day]", "params.colour: Extra inputs are not permitted"),
    ("security_events", "about: one category, listed by category\ncategory: ddos",
     "[category, day]", "breakdowns: 'category' is one member only"),
])
def test_wrong_template_parameters_are_named_by_entry_and_field(template: str, params: str, breakdowns: str,
                                                                 problem: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_definitions(entry(template, params, breakdowns=breakdowns), "test.yaml")
    assert "test.yaml indicator infra.a: " + problem in str(caught.value)


def test_the_availability_flag_goes_with_the_availability_family() -> None:
    """Exports read adjusted_value and unknown_share by the flag; only that family has them."""
    with pytest.raises(CatalogueError, match=r"infra\.a: availability: true exactly for the template"):
        parse_definitions(entry("dataset_quality", "about: checks passed", availability=True), "test.yaml")


def test_a_new_entry_renders_without_a_committed_file(tmp_path: Path) -> None:
    """Rendering needs the catalogue only: a new indicator's file is written, not read."""
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(entry("availability", "about: gateways only (网关在线率).\nkinds: [gateway]\n"
                                               "up: [online, degraded]\ndaily_facts: true",
                               breakdowns="[department, day]"), encoding="utf-8")
    written = render.write(catalogue, tmp_path / "sql")
    assert [p.name for p in written] == ["a.sql"]
    text = written[0].read_text(encoding="utf-8")
    assert text.startswith("-- infra.a, version 1: gateways only (网关在线率).\n")
    assert "WHERE a.kind IN ('gateway')" in text and "feed = 'iot'" in text
    assert "f.online_us + f.degraded_us AS up" in text

"""The catalogue: the packaged one is complete and consistent; a broken one is refused
with every problem named by entry and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.indicators.catalogue import (
    SQL_DIR,
    CatalogueError,
    find,
    load_catalogue,
    parse_catalogue,
    sql_problems,
)
from citybrain.indicators.model import KEYS

REQUIRED = {
    "infra.camera_intact_rate", "infra.camera_access_rate", "infra.camera_sharing_rate",
    "infra.device_online_rate", "infra.packet_loss_rate", "infra.latency_p95",
    "infra.link_stability", "infra.cloud_fulfilment_rate", "infra.cloud_utilisation",
    "data.sharing_rate", "data.open_rate", "data.freshness_rate", "data.quality_pass_rate",
    "system.availability", "portal.availability_7x24", "portal.service_count",
    "portal.response_time_p95", "security.incidents", "security.data_leak_count",
    "ops.response_30min_rate", "ops.mtta", "ops.mttr", "ops.offhours_ack_rate",
}
AVAILABILITY = {"infra.camera_intact_rate", "infra.device_online_rate", "infra.link_stability",
                "system.availability", "portal.availability_7x24"}


def test_packaged_catalogue_is_complete() -> None:
    catalogue = load_catalogue()
    ids = [i.id for i in catalogue]
    assert len(ids) == len(set(ids))
    assert set(ids) >= REQUIRED   # the first indicators stay; the catalogue may grow
    assert {i.key for i in catalogue} == set(KEYS)
    assert {i.id for i in catalogue if i.availability} == AVAILABILITY
    for indicator in catalogue:
        # A figure per local day, or per local month for a monthly one (portal.mau).
        assert "day" in indicator.breakdowns or "month" in indicator.breakdowns, indicator.id
        assert indicator.weight >= 0
        assert indicator.name_zh and indicator.name_en and indicator.formula and indicator.formula_zh
        assert indicator.sql == (SQL_DIR / indicator.sql_file).read_text(encoding="utf-8")
        assert indicator.sql.lstrip().startswith(f"-- {indicator.id}, version {indicator.version}:")
        # scored indicators need a target to be scored against
        assert indicator.target is not None or indicator.weight == 0, indicator.id
    # one SQL file per indicator, and no file that nothing uses
    assert sorted(p.name for p in SQL_DIR.glob("*.sql")) == sorted(i.sql_file for i in catalogue)


def test_find_names_the_command_that_lists_ids() -> None:
    assert find("ops.mtta").unit == "minutes"
    with pytest.raises(CatalogueError, match="citybrain indicators list"):
        find("ops.nothing")


ENTRY = """
  - id: {id}
    key: {key}
    name_en: A rate
    name_zh: 比率
    unit: "%"
    direction: higher
    target: 90
    formula: seconds up over seconds known, as documented
    formula_zh: 在线秒数除以已知秒数，见文档
    version: 1
    sql: {sql}
    availability: {availability}
    breakdowns: {breakdowns}
    template: {template}
    params:
{params}
"""


def entry(indicator_id: str, key: str, sql: str = "a.sql", *, template: str = "dataset_quality",
          params: str = "about: a rate, as documented", breakdowns: str = "[day]",
          availability: bool | None = None) -> str:
    """One catalogue entry, rendered from the family `template` with `params` (YAML lines);
    `availability` follows the family unless given."""
    flag = template == "availability" if availability is None else availability
    return ENTRY.format(id=indicator_id, key=key, sql=sql, availability=str(flag).lower(),
                        breakdowns=breakdowns, template=template,
                        params="\n".join(f"      {line}" for line in params.strip().split("\n")))


def write_sql(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_every_problem_is_reported_with_entry_and_field(tmp_path: Path) -> None:
    good = "SELECT 1 WHERE now() BETWEEN %(start)s AND %(end)s AND %(tz)s IS NOT NULL"
    write_sql(tmp_path, "a.sql", good)
    write_sql(tmp_path, "b.sql", good + " AND %(site)s = 1 AND 7 % 2 = 1")
    text = "indicators:" + "".join([
        entry("infra.a", "infrastructure", "a.sql"),
        entry("infra.a", "infrastructure", "a.sql"),           # duplicate
        entry("data.b", "portal", "b.sql"),                     # prefix, SQL
        entry("system.c", "system", "missing.sql"),             # no file
        entry("ops.d", "ops", "a.sql") + "    colour: red\n",   # unknown field
    ])
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, tmp_path, "test.yaml")
    message = str(caught.value)
    assert "test.yaml indicator infra.a: id: duplicate id 'infra.a'" in message
    assert "test.yaml indicator data.b: id: prefix 'data' does not name key 'portal'" in message
    assert "indicator data.b: sql b.sql: unknown placeholders ['site']" in message
    assert "indicator data.b: sql b.sql: line 1: stray '%'" in message
    assert "indicator system.c: sql: file" in message and "missing.sql does not exist" in message
    assert "indicator ops.d: colour: Extra inputs are not permitted" in message


def test_malformed_documents_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not valid YAML"):
        parse_catalogue("indicators: [", tmp_path, "x.yaml")
    with pytest.raises(CatalogueError, match="non-empty 'indicators' list"):
        parse_catalogue("indicators: []", tmp_path, "x.yaml")
    with pytest.raises(CatalogueError, match=r"indicator infra\.a: unit"):
        write_sql(tmp_path, "a.sql", "SELECT %(start)s, %(end)s")
        parse_catalogue("indicators:" + entry("infra.a", "infrastructure", "a.sql")
                        .replace('unit: "%"', "unit: furlongs"), tmp_path, "x.yaml")


def test_sql_must_take_the_window() -> None:
    assert sql_problems("SELECT 1") == ["the query must filter on %(start)s and %(end)s"]
    assert sql_problems("SELECT %(start)s, %(end)s, %(tz)s, %(department)s") == []
    assert sql_problems("SELECT %(start)s, %(end)s, %s")[0].startswith("line 1: stray '%s'")

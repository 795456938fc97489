"""The operators' overview page: scores, open incidents, today's compliance, offline now.

The city: the incident tests' registry (``water`` 市水务局 with 1号水泵 pump-1 and pump-2,
``roads`` with camera cam-9). The clock stands at 2026-03-02 10:00 in Asia/Shanghai
(02:00Z), so today began at 2026-03-01T16:00Z and the month at 2026-02-28T16:00Z.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.incidents import store as incidents
from alerts.model import Severity
from citybrain.api.app import create_app
from citybrain.indicators.engine import WorkHours
from citybrain.indicators.model import ReportWindow
from citybrain.kernel import audit
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from citybrain.reports.document import build_report
from schemas.assets import import_registry
from tests.alerts.incidents.conftest import REGISTRY, alert
from tests.citybrain.console.support import section, sign_in, text_of

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)            # 10:00 in Asia/Shanghai
MONTH = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)        # 2026-03-01 00:00 local
ENGLISH = {"Accept-Language": "en"}
PERSON = audit.Actor("token:test", "oncall", "water")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def settings(database_url: str, schema: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)


def _client(settings: Settings, database_url: str) -> TestClient:
    return TestClient(create_app(settings, database_url, clock=lambda: NOW), headers=ENGLISH)


@pytest.fixture
def client(settings: Settings, database_url: str) -> Iterator[TestClient]:
    with _client(settings, database_url) as c:
        yield c


@pytest.fixture
def city(db: psycopg.Connection[Any], settings: Settings) -> dict[str, int]:
    """The registry, liveness this month, and six incidents around today's local midnight.

    ===  =====  ======  ====  ===================  ==========================  ===========
    no.  asset  dept    sev   opened (Z)           then                        today
    ===  =====  ======  ====  ===================  ==========================  ===========
    y    pump-1 water   II    03-01 15:50 (23:50)  nothing: open               not today
    a    pump-2 water   III   03-01 16:10 (00:10)  acked 16:25: open           met
    b    cam-9  roads   I     03-01 17:00          acked 17:45, resolved       missed
    c    cam-9  roads   IV    03-02 01:00          nothing (due 01:30): open   missed
    d    pump-1 water   III   03-02 01:50          nothing (due 02:20): open   pending
    e    pump-2 water   III   03-02 00:00          cleared 00:10 by itself     not due
    ===  =====  ======  ====  ===================  ==========================  ===========
    """
    import_registry(db, REGISTRY)
    for asset, state, start, end in (
            ("pump-1", "online", "2026-02-20T00:00", "2026-03-01T15:45"),
            ("pump-1", "offline", "2026-03-01T15:45", None),
            ("pump-2", "online", "2026-02-20T00:00", None),
            ("cam-9", "online", "2026-02-20T00:00", "2026-03-02T00:30"),
            ("cam-9", "offline", "2026-03-02T00:30", None)):
        db.execute("INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)"
                   " VALUES (%s, %s, %s, %s, 'test')", (asset, state, at(start), end and at(end)))
        if end is None:
            db.execute("INSERT INTO asset_state (asset_id, feed, state, since) VALUES (%s, %s, %s, %s)",
                       (asset, "video" if asset.startswith("cam") else "iot", state, at(start)))

    def opened(name: str, asset: str, severity: Severity, when: str) -> int:
        change = incidents.apply(db, alert(asset, rule=f"rule-{name}", severity=severity, at=at(when)),
                                 now=at(when), settings=settings)
        assert change.incident_id is not None
        return change.incident_id

    ids = {
        "y": opened("y", "pump-1", Severity.II, "2026-03-01T15:50"),
        "a": opened("a", "pump-2", Severity.III, "2026-03-01T16:10"),
        "b": opened("b", "cam-9", Severity.I, "2026-03-01T17:00"),
        "c": opened("c", "cam-9", Severity.IV, "2026-03-02T01:00"),
        "d": opened("d", "pump-1", Severity.III, "2026-03-02T01:50"),
        "e": opened("e", "pump-2", Severity.III, "2026-03-02T00:00"),
    }
    incidents.ack(db, ids["a"], PERSON, now=at("2026-03-01T16:25"))
    incidents.ack(db, ids["b"], PERSON, now=at("2026-03-01T17:45"))
    incidents.resolve(db, ids["b"], PERSON, "replaced the camera's switch", now=at("2026-03-01T18:30"))
    incidents.apply(db, alert("pump-2", rule="rule-e", firing=False, at=at("2026-03-02T00:10")),
                    now=at("2026-03-02T00:10"), settings=settings)
    return ids


def test_open_incidents_by_severity_and_department_link_to_the_list(
        client: TestClient, db: psycopg.Connection[Any], city: dict[str, int]) -> None:
    sign_in(client, db, Role.operator)
    page = client.get("/console/overview")
    assert page.status_code == 200, page.text
    part = section(page.text, "open-incidents")
    words = text_of(part)
    assert "4 open in all" in words
    # y (II), a and d (III), c (IV); b was resolved and e resolved itself.
    assert re.search(r"Level I \(especially serious\) 0 Level II \(serious\) 1 Level III \(major\) 2 "
                     r"Level IV \(general\) 1", words), words
    assert "Water Authority 3" in words and "Roads Bureau 1" in words
    assert 'href="/console/incidents?status=open&amp;severity=III">2</a>' in part
    assert 'href="/console/incidents?status=open&amp;department=water">3</a>' in part
    assert 'href="/console/incidents?status=open">4 open in all</a>' in part
    # The newest open ones first, each linked to its page.
    newest = re.findall(r'href="/console/incidents/(\d+)"', part)
    assert newest == [str(city[n]) for n in ("d", "c", "a", "y")]
    # The links lead to the incident list and pages (built by the incidents pages).
    assert client.get("/console/incidents?status=open&severity=III").status_code == 200
    assert client.get(f"/console/incidents/{city['d']}").status_code == 200


def test_todays_compliance_counts_from_local_midnight(
        client: TestClient, db: psycopg.Connection[Any], city: dict[str, int]) -> None:
    sign_in(client, db, Role.operator)
    words = text_of(section(client.get("/console/overview").text, "compliance"))
    # Today in Asia/Shanghai began at 16:00Z yesterday: a (00:10 local) is today's, y
    # (23:50 local the day before) is not. Met: a; missed: b (late), c (unanswered past
    # its deadline); pending: d; not due: e. 1 of 3 = 33.3 %.
    assert "Incidents opened since 2026-03-02 00:00 CST" in words
    assert "33.3% 1 of 3 answered in time" in words
    assert ("Answered in time 1 Answered late or not at all 2 Deadline not reached yet 1 "
            "Recovered by itself before its deadline 1 Opened today 5") in words


def test_compliance_before_anything_can_be_judged_says_no_data(
        settings: Settings, database_url: str, db: psycopg.Connection[Any], city: dict[str, int]) -> None:
    # At 00:05 local only a few minutes of the day have passed: nothing opened yet today.
    early = datetime(2026, 3, 1, 16, 5, tzinfo=UTC)
    with TestClient(create_app(settings, database_url, clock=lambda: early), headers=ENGLISH) as c:
        sign_in(c, db, Role.operator)
        words = text_of(section(c.get("/console/overview").text, "compliance"))
    assert "no data" in words
    assert "Opened today 0" in words


def test_offline_now_lists_names_since_when_and_the_open_incident(
        client: TestClient, db: psycopg.Connection[Any], city: dict[str, int]) -> None:
    sign_in(client, db, Role.operator)
    part = section(client.get("/console/overview").text, "offline")
    words = text_of(part)
    assert "2 offline in all" in words
    # Longest offline first: pump-1 since 23:45 local yesterday, then cam-9 since 08:30.
    assert re.search(r"Pump 1 \(pump-1\) Water Authority 2026-03-01 23:45 CST for 10 h 15 min "
                     rf"#{city['d']} .*cam-9 Roads Bureau 2026-03-02 08:30 CST for 1 h 30 min #{city['c']}",
                     words), words
    assert f'href="/console/incidents/{city["d"]}"' in part


def test_a_department_limited_session_sees_its_department_only(
        client: TestClient, db: psycopg.Connection[Any], city: dict[str, int]) -> None:
    sign_in(client, db, Role.operator, department="roads")
    page = client.get("/console/overview")
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert "Your session is limited to Roads Bureau" in words
    opened = text_of(section(page.text, "open-incidents"))
    assert "1 open in all" in opened and "Water Authority" not in opened
    assert "Level IV (general) 1" in opened
    assert "Answered in time 0 Answered late or not at all 2" in text_of(section(page.text, "compliance"))
    offline = text_of(section(page.text, "offline"))
    assert "1 offline in all" in offline and "pump-1" not in offline and "cam-9" in offline


def test_scores_are_the_reports_and_a_key_without_evidence_says_no_data(
        client: TestClient, db: psycopg.Connection[Any], settings: Settings, city: dict[str, int]) -> None:
    sign_in(client, db, Role.evaluator)
    page = client.get("/console/overview")
    assert page.status_code == 200, page.text
    words = text_of(section(page.text, "scores"))
    assert "Window 2026-03-01 00:00 CST to 2026-03-02 10:00 CST" in words
    # Device online rate, hand-computed over the month so far (34 h): pump-1 was online
    # 23 h 45 min, pump-2 all 34 h; the camera's figures come from cam-9 alone.
    doc = build_report(db, ReportWindow(MONTH, NOW, settings.tz), department=None, generated_by="test",
                       generated_at=NOW, work_hours=WorkHours.of(settings))
    online = next(r for r in doc.results if r.indicator.id == "infra.device_online_rate")
    assert online.figure.value == pytest.approx(100 * (23.75 + 34) / 68)
    infra = doc.scorecard.for_key("infrastructure")
    assert infra.score is not None
    tile = text_of(section(page.text, "scores").split('id="key-infrastructure"')[1].split('id="key-data"')[0])
    assert f"{infra.score:.2f}" in tile
    # Nothing reports on data resources, systems or portals: no data, never 0 or 100.
    for key in ("data", "system", "portal"):
        chunk = page.text.split(f'id="key-{key}"')[1].split("</div>\n</div>")[0]
        assert "no data" in text_of(chunk), chunk
        assert doc.scorecard.for_key(key).score is None


def test_grafana_links_only_when_grafana_is_configured(
        settings: Settings, database_url: str, db: psycopg.Connection[Any], city: dict[str, int]) -> None:
    with _client(settings, database_url) as c:
        sign_in(c, db, Role.operator)
        assert 'id="dashboards"' not in c.get("/console/overview").text
        assert "Grafana" not in c.get("/console/overview").text
    with_grafana = settings.model_copy(update={"grafana_url": "https://grafana.city.test/"})
    with _client(with_grafana, database_url) as c:
        sign_in(c, db, Role.operator, department="water")
        part = section(c.get("/console/overview").text, "dashboards")
    assert 'href="https://grafana.city.test/d/citybrain-overview-en?var-department=water"' in part
    assert "City overview" in text_of(part)


def test_the_page_is_chinese_first(client: TestClient, db: psycopg.Connection[Any],
                                   city: dict[str, int]) -> None:
    sign_in(client, db, Role.operator)
    page = client.get("/console/overview", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    words = text_of(page.text)
    assert "1号水泵" in words and "市水务局" in words
    assert "基础设施" in words


def test_an_unsigned_visitor_is_sent_to_sign_in(client: TestClient, city: dict[str, int]) -> None:
    page = client.get("/console/overview", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/console/sign-in?next=/console/overview")


def test_day_boundary_moves_with_the_local_day(
        settings: Settings, database_url: str, db: psycopg.Connection[Any], city: dict[str, int]) -> None:
    # At 23:59 local on 2026-03-01 (15:59Z), "today" is March 1st: y (15:50Z) is today's,
    # its deadline (16:20Z) not yet reached; a (16:10Z) has not happened yet.
    late = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)
    with TestClient(create_app(settings, database_url, clock=lambda: late), headers=ENGLISH) as c:
        sign_in(c, db, Role.operator)
        words = text_of(section(c.get("/console/overview").text, "compliance"))
    assert "Incidents opened since 2026-03-01 00:00 CST" in words
    assert "Deadline not reached yet 1" in words and "Opened today 1" in words

"""The admin pages: tokens, escalation policies and on-call rosters, as an admin's browser
uses them (TestClient over the app, a frozen clock, the real database)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from alerts.incidents import escalation_policy
from citybrain.api.app import create_app
from citybrain.console.admin_contacts import EMPTY_ROWS
from citybrain.kernel import audit
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.settings import Settings
from tests.citybrain.console.support import sign_in, sign_in_with
from tests.helpers import MovableClock

ENGLISH = {"Accept-Language": "en"}
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SECRET = "k3y-0f-th3-r0b0t"
ROBOT = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={SECRET}"
_CLEAR = re.compile(r"cbt_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")
_TEXTAREA = re.compile(r'<textarea [^>]*name="policy"[^>]*>(.*?)</textarea>', re.S)

Db = psycopg.Connection[Any]


Clock = MovableClock


@pytest.fixture
def registry(db: Db) -> Db:
    water = [{"role": "oncall", "name": "李娜", "email": "lina@water.example"},
             {"role": "lead", "name": "赵敏", "email": "zhao@water.example", "phone": "+86 571 0000 0002"}]
    db.execute("INSERT INTO departments (department_id, name, name_zh, first_responsible, contacts)"
               " VALUES ('water', 'Water Authority', '水务集团', %s, %s),"
               " ('roads', 'Roads Bureau', '交通局', %s, '[]')",
               (Jsonb({"name": "陈杰", "role": "first_responsible", "email": "chen@water.example"}),
                Jsonb(water),
                Jsonb({"name": "钱伟", "role": "first_responsible", "email": "qian@roads.example"})))
    return db


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def _settings(database_url: str, schema: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)


@pytest.fixture
def app(database_url: str, schema: str, tmp_path: Path, clock: Clock, registry: Db) -> Any:
    return create_app(_settings(database_url, schema, tmp_path), database_url, clock=clock)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers=ENGLISH) as c:
        yield c


def _audit(db: Db, action: str) -> list[tuple[Any, ...]]:
    return db.execute("SELECT actor, role, subject, details FROM audit_log WHERE action = %s ORDER BY id",
                      (action,)).fetchall()


def _count(db: Db, query: str, *params: Any) -> int:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def _one(db: Db, query: str, *params: Any) -> tuple[Any, ...]:
    row = db.execute(query, params).fetchone()
    assert row is not None
    return tuple(row)


def _textarea(page: str) -> str:
    found = _TEXTAREA.search(page)
    assert found is not None, "no policy edit box on the page"
    return html.unescape(found.group(1))


def _roster(db: Db, department: str) -> tuple[Any, Any]:
    row = db.execute("SELECT first_responsible, contacts FROM departments WHERE department_id = %s",
                     (department,)).fetchone()
    assert row is not None
    return row[0], row[1]


def _contact_form(rows: list[tuple[str, str, str, str]], csrf: str) -> dict[str, Any]:
    return {"csrf": csrf, "role": [r[0] for r in rows], "name": [r[1] for r in rows],
            "email": [r[2] for r in rows], "phone": [r[3] for r in rows], "im": ["" for _ in rows]}


# --- who may ------------------------------------------------------------------------------

PAGES = ["/console/admin", "/console/admin/tokens", "/console/admin/tokens/{token}/revoke",
         "/console/admin/policies", "/console/admin/policies/water", "/console/admin/contacts/water"]
POSTS = ["/console/admin/tokens", "/console/admin/tokens/{token}/revoke", "/console/admin/policies/water",
         "/console/admin/policies/water/delete", "/console/admin/contacts/water"]


@pytest.mark.parametrize(("role", "department"), [(Role.operator, None), (Role.oncall, "water"),
                                                  (Role.evaluator, None)])
def test_only_admins_reach_the_admin_pages(client: TestClient, db: Db, role: Role,
                                           department: str | None) -> None:
    victim, _clear = tokens.create(db, Role.evaluator, department="water", name="x", created_by="test")
    csrf = sign_in(client, db, role, department)
    for path in PAGES:
        page = client.get(path.format(token=victim.token_id))
        assert page.status_code == 403, path
        assert "Not allowed" in page.text and "admin" in page.text
    for path in POSTS:
        done = client.post(path.format(token=victim.token_id), data={
            "csrf": csrf, "name": "x", "role": "admin", "policy": "name: x", "confirm": "yes"})
        assert done.status_code == 403, path
    # Nothing was done: no token made or revoked, no policy or roster written.
    assert _count(db, "SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL") == 0
    assert _count(db, "SELECT count(*) FROM api_tokens") == 2
    assert _count(db, "SELECT count(*) FROM escalation_policies") == 0
    assert _audit(db, "registry.contacts") == [] and _audit(db, "token.create") == []
    # And the navigation does not offer the page.
    assert 'href="/console/admin"' not in client.get("/console/account").text


def test_a_form_without_its_anti_forgery_value_is_refused(client: TestClient, db: Db) -> None:
    sign_in(client, db, Role.admin)
    for path, data in (("/console/admin/tokens", {"name": "x", "role": "admin"}),
                       ("/console/admin/contacts/water", {"role": "oncall", "name": "x", "email": "x@y.cn"}),
                       ("/console/admin/policies/water", {"policy": "name: x"}),
                       ("/console/admin/policies/water/delete", {"confirm": "yes"})):
        refused = client.post(path, data=data)
        assert refused.status_code == 403 and "anti-forgery" in refused.text, path
    assert _count(db, "SELECT count(*) FROM api_tokens") == 1   # the admin's own
    assert _roster(db, "water")[1][0]["name"] == "李娜"


def test_the_index_links_to_the_three_pages(client: TestClient, db: Db) -> None:
    sign_in(client, db, Role.admin)
    page = client.get("/console/admin")
    assert page.status_code == 200
    for link in ("/console/admin/tokens", "/console/admin/policies", "/console/admin/contacts/water",
                 "/console/admin/contacts/roads"):
        assert f'href="{link}"' in page.text
    assert "Water Authority" in page.text
    assert "水务集团" in client.get("/console/admin", headers={"Accept-Language": "zh-CN"}).text


# --- tokens --------------------------------------------------------------------------------

def test_a_new_token_is_shown_once_works_and_ends_when_revoked(app: Any, client: TestClient, db: Db,
                                                                clock: Clock) -> None:
    csrf = sign_in(client, db, Role.admin, name="管理员")
    made = client.post("/console/admin/tokens", data={
        "csrf": csrf, "name": "区运维 王伟", "role": "operator", "department": "water", "lifetime": "90d"})
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    found = _CLEAR.search(made.text)
    assert found is not None
    clear = found.group(0)
    assert "cannot be shown again" in made.text
    token_id = clear.split("_")[1]
    stored = tokens.authenticate(db, clear)
    assert stored is not None and stored.token_id == token_id
    assert (stored.role, stored.department, stored.name) == (Role.operator, "water", "区运维 王伟")
    assert stored.expires_at == START + timedelta(days=90)
    [(actor, role, subject, details)] = _audit(db, "token.create")
    assert (role, subject) == ("admin", token_id) and actor.startswith("token:")
    assert details == {"role": "operator", "department": "water", "name": "区运维 王伟",
                       "expires_at": (START + timedelta(days=90)).isoformat()}
    assert clear not in json.dumps(details)

    # The listing names it, never its secret.
    listing = client.get("/console/admin/tokens")
    assert listing.status_code == 200
    assert token_id in listing.text and "区运维 王伟" in listing.text and "Water Authority" in listing.text
    assert clear not in listing.text and clear.split("_", 2)[2] not in listing.text
    assert "2026-05-31" in listing.text    # expiry, local time (Asia/Shanghai)

    # It works for the API and signs in to the console.
    api = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {clear}"})
    assert api.status_code == 200
    # A second browser: a client without its own lifespan shares the running app's pool.
    holder = TestClient(app, headers=ENGLISH)
    sign_in_with(holder, clear)
    assert holder.get("/console/account").status_code == 200

    confirm = client.get(f"/console/admin/tokens/{token_id}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    revoked = client.post(f"/console/admin/tokens/{token_id}/revoke", data={"csrf": csrf},
                          follow_redirects=False)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"/console/admin/tokens?revoked={token_id}"
    [(actor2, _role, subject, details)] = _audit(db, "token.revoke")
    assert (actor2, subject) == (actor, token_id) and details["name"] == "区运维 王伟"

    assert f"Token {token_id} is revoked" in client.get(revoked.headers["location"]).text
    assert "is revoked" not in client.get("/console/admin/tokens?revoked=deadbeef").text
    refused = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {clear}"})
    assert refused.status_code == 401
    # The session opened with it ends at its next request.
    ended = holder.get("/console/account", follow_redirects=False)
    assert ended.status_code == 401 and 'name="token"' in ended.text
    assert _count(db, "SELECT count(*) FROM console_sessions"
                      " WHERE token_id = %s AND ended_at IS NOT NULL", token_id) == 1
    again = client.post(f"/console/admin/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert again.status_code == 409
    assert len(_audit(db, "token.revoke")) == 1


def test_token_input_is_checked(client: TestClient, db: Db) -> None:
    csrf = sign_in(client, db, Role.admin)
    for data, says in (({"name": "", "role": "operator"}, "Name who or what holds the token"),
                       ({"name": "x", "role": "root"}, "Choose a role"),
                       ({"name": "x", "role": "oncall", "department": ""}, "needs a department"),
                       ({"name": "x", "role": "operator", "lifetime": "soon"}, "90d or 12h"),
                       ({"name": "x", "role": "operator", "department": "sewers"}, "unknown department")):
        page = client.post("/console/admin/tokens", data={"csrf": csrf, **data})
        assert page.status_code == 422, data
        assert says in page.text, data
        assert f'value="{data["name"]}"' in page.text   # what was typed is kept
    assert _count(db, "SELECT count(*) FROM api_tokens") == 1
    # No lifetime: a token until revoked.
    made = client.post("/console/admin/tokens", data={"csrf": csrf, "name": "audit", "role": "evaluator",
                                                      "lifetime": ""})
    assert made.status_code == 200 and "never" in made.text
    found = _CLEAR.search(made.text)
    assert found is not None
    stored = tokens.authenticate(db, found.group(0))
    assert stored is not None and stored.expires_at is None and stored.department is None


def test_a_department_admin_manages_its_own_department_tokens_only(client: TestClient, db: Db) -> None:
    other, _ = tokens.create(db, Role.operator, department="roads", name="roads-op", created_by="test")
    everywhere, _ = tokens.create(db, Role.operator, department=None, name="city-op", created_by="test")
    mine, _ = tokens.create(db, Role.oncall, department="water", name="water-oncall", created_by="test")
    csrf = sign_in(client, db, Role.admin, department="water")
    for department in ("roads", ""):
        refused = client.post("/console/admin/tokens", data={"csrf": csrf, "name": "x", "role": "operator",
                                                             "department": department})
        assert refused.status_code == 403, department
    made = client.post("/console/admin/tokens", data={"csrf": csrf, "name": "y", "role": "oncall",
                                                      "department": "water", "lifetime": "12h"})
    assert made.status_code == 200
    assert len(_audit(db, "token.create")) == 1
    listing = client.get("/console/admin/tokens").text
    assert mine.token_id in listing
    assert other.token_id not in listing and everywhere.token_id not in listing
    assert '<option value="roads"' not in listing
    for token in (other, everywhere):
        assert client.get(f"/console/admin/tokens/{token.token_id}/revoke").status_code == 403
        refused = client.post(f"/console/admin/tokens/{token.token_id}/revoke", data={"csrf": csrf})
        assert refused.status_code == 403
    done = client.post(f"/console/admin/tokens/{mine.token_id}/revoke", data={"csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303
    assert [r[2] for r in _audit(db, "token.revoke")] == [mine.token_id]
    # Its policy and roster pages likewise.
    assert client.get("/console/admin/policies/roads").status_code == 403
    assert client.get("/console/admin/contacts/roads").status_code == 403
    assert client.post("/console/admin/contacts/roads", data=_contact_form(
        [("first_responsible", "x", "x@roads.example", "")], csrf)).status_code == 403
    policies = client.get("/console/admin/policies").text
    assert "/console/admin/policies/water" in policies and "/console/admin/policies/roads" not in policies


# --- escalation policies ----------------------------------------------------------------------

POLICY = """name: 水务升级
steps:
  - {after_minutes: 0, notify: [oncall, group]}
  - {after_minutes: 15, notify: [lead, first_responsible]}
  - {after_minutes: 30, notify: [duty_supervisor], record_breach: true}
groups:
  - {name: 水务值班群, channel: wecom, address: "ROBOT"}
""".replace("ROBOT", ROBOT)


def test_the_policy_list_says_where_each_policy_comes_from(client: TestClient, db: Db) -> None:
    escalation_policy.replace_policy(db, "water", escalation_policy.parse_policy(
        {"name": "w", "steps": [{"after_minutes": 0, "notify": ["oncall"]}]}), audit.Actor("test"), now=START)
    sign_in(client, db, Role.admin)
    page = client.get("/console/admin/policies")
    assert page.status_code == 200
    items = {d: item for item in re.findall(r"<li>.*?</li>", page.text, re.S)
             for d in ("water", "roads") if f"[{d}]" in item}
    assert "Water Authority" in items["water"] and "stored by an admin" in items["water"]
    assert "Roads Bureau" in items["roads"] and "default ladder" in items["roads"]
    assert 'href="/console/admin/contacts/roads"' in page.text
    one = client.get("/console/admin/policies/roads")
    assert one.status_code == 200 and "The default ladder" in one.text and "duty supervisor" in one.text


def test_a_valid_policy_is_stored_and_audited(client: TestClient, db: Db) -> None:
    csrf = sign_in(client, db, Role.admin)
    done = client.post("/console/admin/policies/water", data={"csrf": csrf, "policy": POLICY},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/console/admin/policies/water?done=saved"
    stored = db.execute("SELECT policy, updated_by, updated_at FROM escalation_policies"
                        " WHERE department_id = 'water'").fetchone()
    assert stored is not None
    policy, by, at = stored
    assert policy["name"] == "水务升级" and [s["after_minutes"] for s in policy["steps"]] == [0, 15, 30]
    assert policy["groups"][0]["address"] == ROBOT and at == START and by.startswith("token:")
    [(actor, role, subject, details)] = _audit(db, "escalation_policy.replace")
    assert (actor, role, subject) == (by, "admin", "water")
    assert SECRET not in json.dumps(details)
    page = client.get(done.headers["location"])
    assert "The policy is stored" in page.text and "Stored by an admin" in page.text
    assert SECRET not in page.text


@pytest.mark.parametrize(("text", "says"), [
    ("name: x\nsteps: [\n", "not valid YAML"),
    ("name: x\nsteps:\n  - {after_minutes: 10, notify: [oncall]}\n  - {after_minutes: 5, notify: [lead]}\n",
     "strictly increasing"),
    ("name: x\nsteps:\n  - {after_minutes: 0, notify: [mayor]}\n", "steps.0.notify.0"),
    ("name: x\nsteps: []\n", "steps"),
    ("- just a list\n", "escalation policy (request) is invalid"),
    ("a: &a [x, x]\nb: *a\n", "anchors and aliases"),
])
def test_a_bad_policy_is_refused_with_the_text_kept(client: TestClient, db: Db, text: str, says: str) -> None:
    csrf = sign_in(client, db, Role.admin)
    page = client.post("/console/admin/policies/water", data={"csrf": csrf, "policy": text})
    assert page.status_code == 422
    assert says in html.unescape(page.text)
    assert _textarea(page.text) == text
    assert _count(db, "SELECT count(*) FROM escalation_policies") == 0
    assert _audit(db, "escalation_policy.replace") == []


def test_a_redacted_robot_address_keeps_the_stored_one(client: TestClient, db: Db) -> None:
    csrf = sign_in(client, db, Role.admin)
    assert client.post("/console/admin/policies/water", data={"csrf": csrf, "policy": POLICY},
                       follow_redirects=False).status_code == 303
    page = client.get("/console/admin/policies/water")
    assert SECRET not in page.text and "qyapi.weixin.qq.com" in page.text
    text = _textarea(page.text)
    assert "…" in text and SECRET not in text
    edited = text.replace("after_minutes: 15", "after_minutes: 12")
    assert edited != text
    done = client.post("/console/admin/policies/water", data={"csrf": csrf, "policy": edited},
                       follow_redirects=False)
    assert done.status_code == 303
    policy = _one(db, "SELECT policy FROM escalation_policies WHERE department_id = 'water'")[0]
    assert [s["after_minutes"] for s in policy["steps"]] == [0, 12, 30]
    assert policy["groups"][0]["address"] == ROBOT
    assert SECRET not in client.get("/console/admin/policies/water").text
    assert all(SECRET not in json.dumps(d) for *_, d in _audit(db, "escalation_policy.replace"))
    # A redacted address of another channel matches nothing stored: refused, not guessed.
    wrong = client.post("/console/admin/policies/water", data={"csrf": csrf,
                                                              "policy": edited.replace("wecom", "dingtalk")})
    assert wrong.status_code == 422 and "redacted address" in wrong.text
    assert SECRET not in wrong.text


def test_removing_the_stored_policy_goes_back_to_the_default(client: TestClient, db: Db) -> None:
    csrf = sign_in(client, db, Role.admin)
    client.post("/console/admin/policies/water", data={"csrf": csrf, "policy": POLICY})
    unconfirmed = client.post("/console/admin/policies/water/delete", data={"csrf": csrf})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    assert _count(db, "SELECT count(*) FROM escalation_policies") == 1
    done = client.post("/console/admin/policies/water/delete", data={"csrf": csrf, "confirm": "yes"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert _count(db, "SELECT count(*) FROM escalation_policies") == 0
    assert [r[2] for r in _audit(db, "escalation_policy.remove")] == ["water"]
    assert "The default ladder" in client.get(done.headers["location"]).text
    gone = client.post("/console/admin/policies/water/delete", data={"csrf": csrf, "confirm": "yes"})
    assert gone.status_code == 404


def test_an_unknown_department_is_not_found(client: TestClient, db: Db) -> None:
    csrf = sign_in(client, db, Role.admin)
    for path in ("/console/admin/policies/sewers", "/console/admin/contacts/sewers"):
        assert client.get(path).status_code == 404
    stored = client.post("/console/admin/policies/sewers", data={"csrf": csrf, "policy": POLICY})
    assert stored.status_code == 404
    assert client.post("/console/admin/contacts/sewers", data=_contact_form(
        [("first_responsible", "x", "x@y.example", "")], csrf)).status_code == 404


# --- rosters -----------------------------------------------------------------------------------

def test_the_roster_is_listed_and_replaced_with_an_audit_entry_without_addresses(client: TestClient,
                                                                                 db: Db) -> None:
    csrf = sign_in(client, db, Role.admin)
    page = client.get("/console/admin/contacts/water")
    assert page.status_code == 200
    for shown in ("陈杰", "chen@water.example", "李娜", "lina@water.example", "+86 571 0000 0002"):
        assert shown in page.text
    assert page.text.count('name="name"') == 3 + EMPTY_ROWS    # the three people, then the empty rows
    assert "citybrain assets import" in page.text

    rows = [("first_responsible", "陈杰", "chen@water.example", "+86 571 0000 0001"),
            ("oncall", "李娜", "lina@water.example", ""),
            ("oncall", "孙悦", "sunyue@water.gov.cn", "0571-8888 1234"),
            ("lead", "", "", ""),                                  # cleared: removed
            ("duty_supervisor", "周强", "zhou@centre.gov.cn", ""),
            ("oncall", "", "", "")]                                # an empty row
    done = client.post("/console/admin/contacts/water", data=_contact_form(rows, csrf),
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    first, others = _roster(db, "water")
    assert first == {"role": "first_responsible", "name": "陈杰", "email": "chen@water.example",
                     "phone": "+86 571 0000 0001"}
    assert [(c["role"], c["name"], c["email"]) for c in others] == [
        ("oncall", "李娜", "lina@water.example"), ("oncall", "孙悦", "sunyue@water.gov.cn"),
        ("duty_supervisor", "周强", "zhou@centre.gov.cn")]
    assert "phone" not in others[0]
    [(actor, role, subject, details)] = _audit(db, "registry.contacts")
    assert (role, subject) == ("admin", "water") and actor.startswith("token:")
    assert details == {"contacts": [
        {"role": "first_responsible", "name": "陈杰"}, {"role": "oncall", "name": "李娜"},
        {"role": "oncall", "name": "孙悦"}, {"role": "duty_supervisor", "name": "周强"}]}
    assert "@" not in json.dumps(details) and "0571" not in json.dumps(details)
    after = client.get(done.headers["location"])
    assert "The roster is stored" in after.text and "sunyue@water.gov.cn" in after.text
    assert "赵敏" not in after.text


@pytest.mark.parametrize(("row", "says"), [
    (("oncall", "孙悦", "sunyue@", ""), "is not an e-mail address"),
    (("oncall", "孙悦", "sun yue@water.gov.cn", ""), "is not an e-mail address"),
    (("oncall", "孙悦", "", ""), "row 2: email"),
    (("oncall", "孙悦", "sunyue@water.gov.cn", "call me"), "is not a phone number"),
    (("mayor", "孙悦", "sunyue@water.gov.cn", ""), "row 2: role"),
    (("oncall", "x" * 201, "sunyue@water.gov.cn", ""), "row 2: name"),
])
def test_a_bad_roster_is_refused_keeping_what_was_typed(client: TestClient, db: Db,
                                                        row: tuple[str, str, str, str], says: str) -> None:
    csrf = sign_in(client, db, Role.admin)
    before = _roster(db, "water")
    rows = [("first_responsible", "陈杰", "chen@water.example", ""), row]
    page = client.post("/console/admin/contacts/water", data=_contact_form(rows, csrf))
    assert page.status_code == 422
    assert says in html.unescape(page.text)
    assert f'value="{html.escape(row[2])}"' in page.text and f'value="{row[1]}"' in page.text
    assert _roster(db, "water") == before
    assert _audit(db, "registry.contacts") == []


def test_a_roster_needs_its_first_responsible_person(client: TestClient, db: Db) -> None:
    csrf = sign_in(client, db, Role.admin)
    page = client.post("/console/admin/contacts/water", data=_contact_form(
        [("oncall", "李娜", "lina@water.example", "")], csrf))
    assert page.status_code == 422 and "first responsible person" in page.text
    assert _roster(db, "water")[0]["name"] == "陈杰"

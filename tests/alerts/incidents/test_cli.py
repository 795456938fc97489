"""``citybrain incidents`` as a person runs it: a real process against the real database,
in the platform's language (zh-CN by default; English where CITYBRAIN_LANGUAGE=en)."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from typing import Any

import orjson
import psycopg

from alerts.incidents import store as incidents
from citybrain.kernel import audit
from citybrain.kernel.settings import Settings
from tests.alerts.incidents.conftest import T0, alert


def citybrain(settings: Settings, *args: str, language: str = "zh-CN") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CITYBRAIN_DATABASE_URL=settings.database_url or "",
               CITYBRAIN_DATABASE_SCHEMA=settings.database_schema, CITYBRAIN_LANGUAGE=language)
    return subprocess.run([sys.executable, "-m", "citybrain", "incidents", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_list_show_ack_resolve(city: psycopg.Connection[Any], inc_settings: Settings) -> None:
    iid = incidents.apply(city, alert("pump-1"), now=T0, settings=inc_settings).incident_id
    incidents.apply(city, alert("cam-9"), now=T0, settings=inc_settings)

    listed = citybrain(inc_settings, "list", "--department", "water", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [i["incident_id"] for i in orjson.loads(listed.stdout)["incidents"]] == [iid]

    table = citybrain(inc_settings, "list", "--status", "triggered")
    assert table.returncode == 0, table.stderr
    assert "pump-1 offline" in table.stdout and "03-02 09:00" in table.stdout   # Asia/Shanghai
    # For people: headers, severity and status in words, the registry's names with the ids.
    for said in ("编号", "响应时限", "待响应", "市水务局 (water)", "1号水泵 (pump-1)",
                 "时间均为 Asia/Shanghai"):
        assert said in table.stdout, (said, table.stdout)

    acked = citybrain(inc_settings, "ack", str(iid), "--note", "on it", "-o", "json")
    assert acked.returncode == 0, acked.stderr
    assert orjson.loads(acked.stdout)["status"] == "acknowledged"

    twice = citybrain(inc_settings, "ack", str(iid))
    assert twice.returncode == 1
    assert f"事件 {iid} 无法从“已确认”变为“已确认”（确认）" in twice.stderr
    in_english = citybrain(inc_settings, "ack", str(iid), language="en")
    assert in_english.returncode == 1
    assert f"incident {iid} cannot go from acknowledged to acknowledged (acknowledge)" in in_english.stderr

    unnoted = citybrain(inc_settings, "resolve", str(iid))
    assert unnoted.returncode == 2 and "--note" in unnoted.stderr

    done = citybrain(inc_settings, "resolve", str(iid), "--note", "reset the breaker", language="en")
    assert done.returncode == 0, done.stderr
    assert "resolved" in done.stdout and "reset the breaker" in done.stdout
    assert "Pump 1 (pump-1)" in done.stdout and "Water Authority (water)" in done.stdout

    shown = orjson.loads(citybrain(inc_settings, "show", str(iid), "-o", "json").stdout)
    assert [e["kind"] for e in shown["timeline"]] == ["opened", "acknowledged", "resolved"]
    actor = f"cli:{getpass.getuser()}"
    assert shown["acknowledged_by"] == actor and shown["resolved_by"] == actor
    assert [e.action for e in reversed(audit.entries(city)) if e.subject == str(iid)] == [
        "incident.ack", "incident.resolve"]

    missing = citybrain(inc_settings, "show", "424242", language="en")
    assert missing.returncode == 1 and "no incident 424242" in missing.stderr

"""The alerter end to end: a real `citybrain alerter` process, the real broker and database,
the real escalation loop and webhook notifier, a loopback HTTP receiver."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from citybrain.kernel.settings import Settings
from streams.topics import ensure_topics
from tests.alerts.receiver import receiver
from tests.alerts.registry import load
from tests.helpers import produce, stop, wait_for, worker_env


@contextmanager
def running_alerter(settings: Settings, log: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "citybrain", "alerter"],
                                env=worker_env(settings, **extra), stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop(proc)


def page_group_at_once(tmp_path: Path, url: str) -> Path:
    """A policy folder whose default ladder pages one webhook group as soon as an incident opens."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "default.yaml").write_text(
        "name: test\nsteps:\n  - {after_minutes: 0, notify: [group]}\n"
        f"groups:\n  - {{name: ops, channel: webhook, address: '{url}'}}\n")
    return policies


def incidents(db: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    rows = db.execute("SELECT fingerprint, status, severity FROM incidents").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.mark.integration
def test_offline_transition_and_level_one_event_open_incidents_and_page(
    settings: Settings, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    load(db)
    boot = settings.kafka_bootstrap or ""
    asyncio.run(ensure_topics(boot, settings))
    now = datetime.now(UTC).replace(microsecond=0)
    log = tmp_path / "alerter.log"
    with receiver() as hook:
        policies = page_group_at_once(tmp_path, hook.url)
        with running_alerter(settings, log, CITYBRAIN_ESCALATION_POLICY_DIR=str(policies),
                             CITYBRAIN_ALERT_STORM_HOLD_SECONDS="1") as proc:
            transition = {"asset_id": "pump-1", "feed": "iot", "state": "offline", "previous": "online",
                          "at": (now - timedelta(seconds=2)).isoformat(),
                          "reason": "no heartbeat within 150s"}
            event = {"event_id": "sec-1", "asset_id": "portal-1", "occurred_at": now.isoformat(),
                     "source": "ids", "category": "intrusion", "level": "I", "title": "webshell upload"}
            asyncio.run(produce(boot, settings.state_change_topic, [(b"pump-1", orjson.dumps(transition))]))
            asyncio.run(produce(boot, settings.topic("security"), [(b"portal-1", orjson.dumps(event))]))
            wait_for(lambda: len(incidents(db)) == 2, timeout=60, what="two incidents", alive=proc, log=log)
            assert incidents(db) == {"device-offline:pump-1": ("triggered", "IV"),
                                     "security-critical:portal-1:intrusion": ("triggered", "I")}
            pages = wait_for(lambda: hook.bodies() if len(hook.bodies()) >= 2 else None, timeout=30,
                             what="two pages", alive=proc, log=log)
            assert pages is not None  # wait_for returns only a truthy value
            # Titles in the platform's language (zh-CN by default); these assets have no
            # registered name, so their ids are shown.
            assert sorted(p["title"] for p in pages) == [
                "I级安全事件：webshell upload（portal-1）",
                "设备离线：pump-1（150 秒内无心跳）"]
            assert {p["department"] for p in pages} == {"water", "roads"}
            # The device comes back: its incident resolves itself; no further page.
            back = {**transition, "state": "online", "previous": "offline", "at": now.isoformat(),
                    "reason": "reported"}
            asyncio.run(produce(boot, settings.state_change_topic, [(b"pump-1", orjson.dumps(back))]))
            wait_for(lambda: incidents(db)["device-offline:pump-1"][0] == "resolved", timeout=30,
                     what="auto-resolution", alive=proc, log=log)
            assert len(hook.bodies()) == 2
            # pump-2 flaps: five changes within a minute mark it (more than 4 in 10 min).
            flaps, previous = [], "online"
            for i, state in enumerate(["offline", "online", "offline", "online", "offline", "online"]):
                flaps.append((b"pump-2", orjson.dumps({
                    "asset_id": "pump-2", "feed": "iot", "state": state, "previous": previous,
                    "at": (now + timedelta(seconds=10 * i)).isoformat(), "reason": "test"})))
                previous = state
            asyncio.run(produce(boot, settings.state_change_topic, flaps))
            wait_for(lambda: db.execute("SELECT count(*) FROM asset_flapping").fetchone() == (1,),
                     timeout=30, what="a flapping mark", alive=proc, log=log)
            wait_for(lambda: any("抖动" in p["title"] for p in hook.bodies()), timeout=30,
                     what="the flapping page", alive=proc, log=log)
        flapping = [p["title"] for p in hook.bodies() if "抖动" in p["title"]]
        assert flapping == ["状态频繁变化（抖动）：pump-2，10 分钟内状态变化 5 次"]   # once
        mark = db.execute("SELECT asset_id, marked_at, changes, cleared_at FROM asset_flapping").fetchone()
        assert mark == ("pump-2", now + timedelta(seconds=40), 5, None)   # marked at the 5th change
    row = db.execute("SELECT auto_resolved, resolved_by FROM incidents"
                     " WHERE fingerprint = 'device-offline:pump-1'").fetchone()
    assert row == (True, "system")

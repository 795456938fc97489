"""Detection's snapshot is all it holds: a detection restarted from its snapshot at any
step, after a trip through JSON as the database stores it, decides exactly what one that
never stopped decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from alerts.detection.evaluate import StateChange
from alerts.detection.pipeline import Detection
from alerts.maintenance.calendar import Calendar, Period
from alerts.model import Alert
from tests.alerts.detection.support import at, change, detection, probe, security

Step = Callable[[Detection], list[Alert]]


def reading(family: str, event: Any, now: float) -> Step:
    return lambda d: d.reading(family, event, at(now))


def state(c: StateChange, now: float) -> Step:
    return lambda d: d.state_change(c, at(now))


def tick(now: float) -> Step:
    return lambda d: d.advance(at(now))


def script() -> list[Step]:
    steps: list[Step] = []
    # 6.5 minutes of 10 % loss on a link, a probe every 30 s: fires at 5 minutes.
    steps += [reading("probe", probe("link-1", s, sent=100, lost=10), s) for s in range(0, 391, 30)]
    # 4 failed portal probes: the third fires.
    steps += [reading("probe", probe("portal-1", 400 + 20 * i, ok=False, kind="portal"), 400 + 20 * i)
              for i in range(4)]
    # A lone child held for its siblings (hold 10 s), then paged alone.
    steps += [state(change("dev-0", "offline", 500), 500), tick(505), tick(511)]
    # A storm of four children behind the gateway: one parent incident listing them.
    steps += [state(change(f"dev-{i}", "offline", 600 + i), 600 + i) for i in range(1, 5)]
    steps += [tick(700)]
    steps += [state(change(f"dev-{i}", "online", 800 + i, previous="offline"), 800 + i) for i in range(1, 5)]
    # A camera's picture fault lasting its 5-minute for-duration.
    steps += [state(change("cam-0", "degraded", 900, reason="black"), 900), tick(1100), tick(1201)]
    # Three level III intrusions within an hour on one asset.
    steps += [reading("security", security("host-1", 1300 + 60 * i, "III"), 1300 + 60 * i) for i in range(3)]
    # Flapping: the mark, then the held state reconciled once stable.
    previous = "online"
    for i, s in enumerate(["offline", "online"] * 3):
        steps.append(state(change("lonely-1", s, 2000 + 30 * i, previous=previous), 2000 + 30 * i))
        previous = s
    steps += [state(change("lonely-1", "offline", 2200, previous="online"), 2200), tick(2200 + 901)]
    return steps


def with_maintenance() -> Calendar:
    return Calendar([Period(1, "maintenance", "asset", "lonely-1", at(3000), at(3600))])


def run(steps: list[Step], restart_every_step: bool) -> list[list[tuple[str, bool, str]]]:
    d = detection()
    out = []
    for step in steps:
        if restart_every_step:
            stored = orjson.loads(orjson.dumps(d.snapshot()))
            d = detection()
            d.load(stored)
        out.append([(a.fingerprint, a.firing, a.title) for a in step(d)])
    return out


def test_a_restart_at_any_step_changes_nothing() -> None:
    steps = script()
    steady = run(steps, restart_every_step=False)
    fired = {fp for batch in steady for fp, firing, _ in batch if firing}
    # The script exercises what used to be lost on a restart.
    assert {"link-packet-loss:link-1", "portal-unavailable:portal-1", "device-offline:dev-0",
            "device-offline:gw-1", "camera-picture-fault:cam-0", "asset-flapping:lonely-1"} <= fired
    assert any(fp.startswith("security-major-repeated:host-1") for fp in fired)
    assert run(steps, restart_every_step=True) == steady


def test_an_alert_held_by_maintenance_survives_a_restart() -> None:
    d = detection(calendar=with_maintenance())
    assert d.state_change(change("lonely-1", "offline", 3100), at(3100)) == []   # held: planned work
    stored = orjson.loads(orjson.dumps(d.snapshot()))
    d = detection(calendar=with_maintenance())
    d.load(stored)
    out = d.advance(at(3601))
    assert [(a.fingerprint, a.firing) for a in out] == [("device-offline:lonely-1", True)]

"""The flapping stage on a frozen clock: marked once, held until stable, reconciled."""

from __future__ import annotations

from alerts.detection.flapping import FLAPPING_RULE
from alerts.model import Alert, Severity
from tests.alerts.detection.support import at, change, detection, fired


def test_flapping_asset_is_marked_and_notified_once_then_held_until_stable() -> None:
    d = detection()
    sent: list[Alert] = []
    states = ["offline", "online"] * 6            # a change every 30 s for 6 minutes
    previous = "online"
    for i, state in enumerate(states):
        sent += d.state_change(change("lonely-1", state, i * 30, previous=previous), at(i * 30))
        previous = state
        sent += d.advance(at(i * 30))
    flapping = [a for a in sent if a.rule_id == FLAPPING_RULE]
    assert fired(flapping) == [("asset-flapping:lonely-1", True)]       # notified once
    assert flapping[0].severity is Severity.III
    assert flapping[0].title == "状态频繁变化（抖动）：lonely-1，10 分钟内状态变化 5 次"
    # Before the mark (more than 4 changes in 10 min) the changes went out; after it, none.
    offline = [a for a in sent if a.rule_id == "device-offline"]
    assert fired(offline) == [("device-offline:lonely-1", True), ("device-offline:lonely-1", False)] * 2
    # It ends offline at 330 s; stable for 900 s means at 1230 s.
    sent = d.state_change(change("lonely-1", "offline", 360, previous="online"), at(360))
    assert sent == []                                   # still flapping: held
    assert d.advance(at(360 + 899)) == []
    out = d.advance(at(360 + 900))
    # The mark clears (the flapping incident resolves) and the held state goes out once.
    assert fired(out) == [("asset-flapping:lonely-1", False), ("device-offline:lonely-1", True)]
    assert [a for a in d.advance(at(4000)) if a.asset_id == "lonely-1"] == []  # nothing more


def test_flapping_that_ends_online_sends_no_stale_offline() -> None:
    d = detection()
    previous, sent = "online", []
    for i, state in enumerate(["offline", "online"] * 4):
        sent += d.state_change(change("lonely-1", state, i * 10, previous=previous), at(i * 10))
        previous = state
    assert [a.rule_id for a in sent].count(FLAPPING_RULE) == 1
    out = d.advance(at(70 + 900))
    assert fired(out) == [("asset-flapping:lonely-1", False)]   # ends online, as last sent


def test_an_incident_open_at_restart_resolves_when_its_flapping_asset_settles_online() -> None:
    d = detection()
    opened = Alert(rule_id="device-offline", fingerprint="device-offline:lonely-1", title="t",
                   severity=Severity.IV, event_at=at(-100), asset_id="lonely-1")
    d.restore([opened])                                  # open when the alerter restarted...
    d.flapping.restore("lonely-1", at(-50), at(0))       # ...and the asset marked flapping
    assert d.state_change(change("lonely-1", "online", 10, previous="offline"), at(10)) == []  # held
    assert d.advance(at(10 + 899)) == []
    out = d.advance(at(10 + 900))
    assert fired(out) == [("asset-flapping:lonely-1", False), ("device-offline:lonely-1", False)]

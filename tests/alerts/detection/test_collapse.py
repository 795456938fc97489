"""The topology stage on a frozen clock: storm collapse, holds for siblings, inhibition."""

from __future__ import annotations

from alerts.model import Alert, Severity
from tests.alerts.detection.support import at, change, detection, fired


def test_storm_of_children_becomes_one_parent_incident() -> None:
    d = detection()
    assert d.state_change(change("dev-0", "offline", 0), at(0)) == []   # held for its siblings
    assert d.state_change(change("dev-1", "offline", 5), at(5)) == []
    out = d.state_change(change("dev-2", "offline", 8), at(8))
    assert fired(out) == [("device-offline:gw-1", True)]
    storm = out[0]
    assert storm.asset_id == "gw-1" and storm.affected == ("dev-0", "dev-1", "dev-2")
    assert storm.event_at == at(0) and storm.severity is Severity.III   # one level above IV
    assert storm.title == "告警风暴：东区网关下挂 3 个资产离线" and storm.details["storm"] is True
    out = d.state_change(change("dev-3", "offline", 20), at(20))
    assert fired(out) == [("device-offline:gw-1", True)]                # a repeat, same incident
    assert out[0].affected == ("dev-0", "dev-1", "dev-2", "dev-3")
    assert d.advance(at(200)) == []                                     # no child pages later
    for i, s in enumerate((300, 301, 302)):
        assert d.state_change(change(f"dev-{i}", "online", s, previous="offline"), at(s)) == []
    out = d.state_change(change("dev-3", "online", 303, previous="offline"), at(303))
    assert fired(out) == [("device-offline:gw-1", False)] and out[0].event_at == at(303)


def test_a_storm_down_and_back_within_one_batch_still_opens_and_resolves() -> None:
    # A replay (or a lagging consumer) hands the alerter the whole outage at once.
    d = detection()
    changes = [change(f"dev-{i}", "offline", i) for i in range(3)]
    changes += [change(f"dev-{i}", "online", 600 + i, previous="offline") for i in range(3)]
    raw = [a for c in changes for a in d.collect_state(c)]
    out = d.process(raw, at(602))
    assert fired(out) == [("device-offline:gw-1", True), ("device-offline:gw-1", False)]
    assert out[0].affected == ("dev-0", "dev-1", "dev-2")
    assert out[0].title == "告警风暴：东区网关下挂 3 个资产离线"
    assert out[1].event_at == at(602)


def test_a_lone_child_goes_out_alone_after_the_hold() -> None:
    d = detection()
    assert d.state_change(change("dev-4", "offline", 0), at(0)) == []
    assert d.advance(at(9)) == []
    out = d.advance(at(10))
    assert fired(out) == [("device-offline:dev-4", True)]
    assert fired(d.state_change(change("dev-4", "online", 50, previous="offline"), at(50))) == [
        ("device-offline:dev-4", False)]
    # Back before the hold ran out: nobody is paged at all.
    d.state_change(change("dev-5", "offline", 100), at(100))
    assert d.state_change(change("dev-5", "online", 105, previous="offline"), at(105)) == []
    assert d.advance(at(200)) == []


def test_a_lone_child_down_longer_than_its_hold_is_paged_though_back_in_the_same_batch() -> None:
    # A 45-minute outage handed over at once (a replay, a lagging consumer): the hold ran
    # out by event time long before the recovery, so the outage opens and resolves.
    d = detection()
    raw = d.collect_state(change("dev-4", "offline", 0))
    raw += d.collect_state(change("dev-4", "online", 2700, previous="offline"))
    out = d.process(raw, at(2700))
    assert fired(out) == [("device-offline:dev-4", True), ("device-offline:dev-4", False)]
    assert out[0].event_at == at(0) and out[1].event_at == at(2700)
    # Back within the hold, in one batch: still nobody is paged.
    raw = d.collect_state(change("dev-5", "offline", 3000))
    raw += d.collect_state(change("dev-5", "online", 3005, previous="offline"))
    assert d.process(raw, at(3005)) == []
    assert d.advance(at(4000)) == []


def test_children_of_a_parent_that_is_down_are_inhibited_into_its_incident() -> None:
    d = detection()
    out = d.state_change(change("gw-1", "offline", 0), at(0))
    assert fired(out) == [("gateway-offline:gw-1", True)] and out[0].severity is Severity.III
    sent: list[Alert] = []
    for i in range(6):
        sent += d.state_change(change(f"dev-{i}", "offline", 30 + i), at(30 + i))
    sent += d.advance(at(100))
    assert {a.fingerprint for a in sent} == {"gateway-offline:gw-1"}       # no child incident
    assert sent[-1].affected == ("dev-0", "dev-1", "dev-2", "dev-3", "dev-4", "dev-5", "gw-1")
    assert sent[-1].title == "网关离线：东区网关（150 秒内无心跳）；下挂 6 个资产同时离线"
    # The gateway is back but its devices are not yet: the incident stays open until they are.
    assert d.state_change(change("gw-1", "online", 200, previous="offline"), at(200)) == []
    out = []
    for i in range(6):
        out += d.state_change(change(f"dev-{i}", "online", 210 + i, previous="offline"), at(210 + i))
    assert fired(out) == [("gateway-offline:gw-1", False)]


def test_a_parent_going_down_takes_in_children_held_for_siblings() -> None:
    d = detection()
    assert d.state_change(change("dev-0", "offline", 0), at(0)) == []
    out = d.state_change(change("gw-1", "offline", 2), at(2))
    assert fired(out) == [("gateway-offline:gw-1", True)] and out[0].affected == ("dev-0", "gw-1")
    assert d.advance(at(60)) == []                    # dev-0 is not paged on its own later

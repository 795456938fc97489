"""Noise control on a frozen clock: flapping, storm collapse, inhibition, maintenance holds."""

from __future__ import annotations

from alerts.maintenance_calendar import Calendar, Period
from alerts.model import Alert, Severity
from alerts.noise import FLAPPING_RULE
from tests.alerts.detection.support import at, change, detection, security


def fired(alerts: list[Alert]) -> list[tuple[str, bool]]:
    return [(a.fingerprint, a.firing) for a in alerts]


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
    assert flapping[0].severity is Severity.III and "5 state changes" in flapping[0].title
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


def test_storm_of_children_becomes_one_parent_incident() -> None:
    d = detection()
    assert d.state_change(change("dev-0", "offline", 0), at(0)) == []   # held for its siblings
    assert d.state_change(change("dev-1", "offline", 5), at(5)) == []
    out = d.state_change(change("dev-2", "offline", 8), at(8))
    assert fired(out) == [("device-offline:gw-1", True)]
    storm = out[0]
    assert storm.asset_id == "gw-1" and storm.affected == ("dev-0", "dev-1", "dev-2")
    assert storm.event_at == at(0) and storm.severity is Severity.III   # one level above IV
    assert storm.title == "3 assets behind gw-1 down" and storm.details["storm"] is True
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
    assert out[0].affected == ("dev-0", "dev-1", "dev-2") and out[0].title == "3 assets behind gw-1 down"
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
    assert sent[-1].title.startswith("Gateway gw-1 offline") and "6 asset(s) behind it down" in sent[-1].title
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


def test_maintenance_holds_alerts_in_scope_and_releases_what_still_holds_after() -> None:
    window = Period(1, "maintenance", "department", "water", at(0), at(600))
    d = detection(calendar=Calendar([window]))
    assert d.state_change(change("lonely-1", "offline", 100), at(100)) == []
    assert d.advance(at(599)) == []
    out = d.advance(at(600))                          # still offline when the window ends
    assert fired(out) == [("device-offline:lonely-1", True)] and out[0].details["after_maintenance"]
    # Back up inside the window: never an incident, and no clear for what was never sent.
    d2 = detection(calendar=Calendar([window]))
    d2.state_change(change("lonely-1", "offline", 100), at(100))
    assert d2.state_change(change("lonely-1", "online", 200, previous="offline"), at(200)) == []
    assert d2.advance(at(700)) == []
    # Assets of another department are not in scope.
    assert fired(d2.reading("security", security("portal-1", 100, "I", "malware"), at(100))) == [
        ("security-critical:portal-1:malware", True)]


def test_a_silence_does_not_stop_alerts_and_children_in_maintenance_make_no_storm() -> None:
    silence = Period(2, "silence", "all", None, at(0), at(3600))
    d = detection(calendar=Calendar([silence]))
    assert fired(d.state_change(change("lonely-1", "offline", 10), at(10))) == [
        ("device-offline:lonely-1", True)]
    works = Period(3, "maintenance", "asset", "dev-0", at(0), at(3600))
    works2 = Period(4, "maintenance", "asset", "dev-1", at(0), at(3600))
    d = detection(calendar=Calendar([works, works2]))
    for i in range(3):
        d.state_change(change(f"dev-{i}", "offline", i), at(i))
    out = d.advance(at(30))
    assert fired(out) == [("device-offline:dev-2", True)]   # two in maintenance: no storm of three



def test_devices_behind_a_gateway_in_maintenance_are_held_with_it() -> None:
    works = Period(5, "maintenance", "asset", "gw-1", at(0), at(600))
    d = detection(calendar=Calendar([works]))
    assert d.state_change(change("gw-1", "offline", 10), at(10)) == []
    for i in range(4):
        assert d.state_change(change(f"dev-{i}", "offline", 20 + i), at(20 + i)) == []
    assert d.advance(at(100)) == []                      # no storm, no child page
    for i in range(4):
        d.state_change(change(f"dev-{i}", "online", 300 + i, previous="offline"), at(300 + i))
    out = d.advance(at(600))                             # the gateway is still down after the works
    assert fired(out) == [("gateway-offline:gw-1", True)]


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

"""Each rule kind fires after its for-duration and clears, on a frozen event-time clock."""

from __future__ import annotations

from alerts.model import Alert, Severity
from tests.alerts.detection.support import at, change, data, detection, probe, security, usage


def fired(alerts: list[Alert]) -> list[tuple[str, bool]]:
    return [(a.fingerprint, a.firing) for a in alerts]


def test_link_packet_loss_fires_after_five_minutes_and_clears() -> None:
    d = detection()
    for minute in range(5):  # 10 % loss from minute 0 to 4: not yet five minutes
        assert d.reading("probe", probe("link-1", minute * 60, sent=100, lost=10), at(minute * 60)) == []
    out = d.reading("probe", probe("link-1", 300, sent=100, lost=10), at(300))
    assert fired(out) == [("link-packet-loss:link-1", True)]
    assert out[0].event_at == at(0)                      # when the breach began
    assert out[0].severity is Severity.III and out[0].title == "链路丢包率过高：滨江链路（10.0%）"
    assert out[0].department_id == "water" and out[0].key == "infrastructure"
    assert d.reading("probe", probe("link-1", 360, sent=100, lost=10), at(360)) == []  # firing already
    out = d.reading("probe", probe("link-1", 420, sent=100, lost=1), at(420))
    assert fired(out) == [("link-packet-loss:link-1", False)] and out[0].event_at == at(420)


def test_a_breach_that_is_interrupted_starts_its_duration_again() -> None:
    d = detection()
    for s in (0, 60, 120):
        d.reading("probe", probe("link-1", s, sent=100, lost=20), at(s))
    d.reading("probe", probe("link-1", 180, sent=100, lost=0), at(180))      # recovered
    for s in (240, 300, 360, 420, 480):
        assert d.reading("probe", probe("link-1", s, sent=100, lost=20), at(s)) == []
    assert fired(d.reading("probe", probe("link-1", 540, sent=100, lost=20), at(540))) == [
        ("link-packet-loss:link-1", True)]


def test_late_readings_do_not_flip_a_decision() -> None:
    d = detection()
    for s in range(0, 301, 60):
        d.reading("probe", probe("link-1", s, sent=100, lost=50), at(s))
    # A healthy reading from before the latest one (a slow partition) does not clear it.
    assert d.reading("probe", probe("link-1", 200, sent=100, lost=0), at(400)) == []


def test_three_consecutive_failed_portal_probes() -> None:
    d = detection()
    assert d.reading("probe", probe("portal-1", 0, ok=False, kind="portal"), at(0)) == []
    assert d.reading("probe", probe("portal-1", 60, ok=False, kind="portal"), at(60)) == []
    d.reading("probe", probe("portal-1", 120, kind="portal"), at(120))        # one success resets
    assert d.reading("probe", probe("portal-1", 180, ok=False, kind="portal"), at(180)) == []
    assert d.reading("probe", probe("portal-1", 240, ok=False, kind="portal"), at(240)) == []
    out = d.reading("probe", probe("portal-1", 300, ok=False, kind="portal"), at(300))
    assert fired(out) == [("portal-unavailable:portal-1", True)]
    assert out[0].event_at == at(180) and out[0].severity is Severity.II and out[0].key == "portal"
    out = d.reading("probe", probe("portal-1", 360, kind="portal"), at(360))
    assert fired(out) == [("portal-unavailable:portal-1", False)]


def test_cloud_utilisation_above_90_percent_for_15_minutes() -> None:
    d = detection()
    for minute in range(15):
        assert d.reading("cloud", usage("host-1", minute * 60, 95.0), at(minute * 60)) == []
    out = d.reading("cloud", usage("host-1", 900, 96.0), at(900))
    assert fired(out) == [("cloud-utilisation-high:host-1", True)]
    assert out[0].title == "云主机资源使用率过高：税务云主机（96%）"
    assert fired(d.reading("cloud", usage("host-1", 960, 40.0), at(960))) == [
        ("cloud-utilisation-high:host-1", False)]


def test_dataset_not_updated_within_its_cadence() -> None:
    d = detection()
    assert d.advance(at(0)) == []               # first watched now: one full cadence (3600 s)
    d.reading("data", data("ds-1", 1800), at(1800))
    d.reading("data", data("ds-1", 2000, action="opened"), at(2000))  # not an update
    # Cadence 3600 s with the rule's grace (factor 1.25): due 1800 + 4500 = 6300.
    assert d.advance(at(6299)) == []
    out = d.advance(at(6300))
    assert fired(out) == [("dataset-stale:ds-1", True)] and out[0].event_at == at(6300)
    assert d.advance(at(9000)) == []            # fires once
    assert fired(d.reading("data", data("ds-1", 9100), at(9100))) == [("dataset-stale:ds-1", False)]


def test_offline_fires_at_once_unknown_holds_and_online_clears() -> None:
    d = detection()
    out = d.state_change(change("lonely-1", "offline", 0), at(0))
    assert fired(out) == [("device-offline:lonely-1", True)]
    assert out[0].title == "设备离线：lonely-1（150 秒内无心跳）" and out[0].severity is Severity.IV
    assert d.state_change(change("lonely-1", "unknown", 30, previous="offline"), at(30)) == []
    out = d.state_change(change("lonely-1", "online", 60, previous="unknown"), at(60))
    assert fired(out) == [("device-offline:lonely-1", False)] and out[0].event_at == at(60)


def test_camera_picture_fault_after_five_minutes() -> None:
    d = detection()
    d.state_change(change("cam-0", "degraded", 0, reason="picture fault"), at(0))
    assert d.advance(at(299)) == []
    out = d.advance(at(300))
    assert fired(out) == [("camera-picture-fault:cam-0", True)] and out[0].event_at == at(0)
    assert out[0].title == "视频画面故障：cam-0（画面故障）"
    out = d.state_change(change("cam-0", "online", 400, previous="degraded", reason="recovered"), at(400))
    assert fired(out) == [("camera-picture-fault:cam-0", False)]
    # A fault shorter than five minutes never fires.
    d.state_change(change("cam-1", "degraded", 1000, reason="picture fault"), at(1000))
    d.state_change(change("cam-1", "online", 1100, previous="degraded"), at(1100))
    assert d.advance(at(2000)) == []
    # A fault that lasted 40 minutes in event time, whose end arrives before the clock
    # ticked past its due time (one batch of a replay carried both changes): fired, then
    # cleared.
    d.state_change(change("cam-2", "degraded", 3000, reason="picture fault"), at(3000))
    out = d.state_change(change("cam-2", "online", 5400, previous="degraded", reason="recovered"), at(3000))
    assert fired(out) == [("camera-picture-fault:cam-2", True), ("camera-picture-fault:cam-2", False)]
    assert out[0].event_at == at(3000) and out[1].event_at == at(5400)


def test_security_levels_one_and_two_open_at_once_three_needs_a_pattern_four_never() -> None:
    d = detection()
    out = d.reading("security", security("portal-1", 0, "I"), at(0))
    assert fired(out) == [("security-critical:portal-1:intrusion", True)]
    assert out[0].severity is Severity.I and out[0].key == "security"
    assert out[0].title == "I级安全事件：intrusion attempt（市民服务门户）"
    # A repeat of the category on the asset is the same fingerprint (the store counts it).
    assert fired(d.reading("security", security("portal-1", 10, "II"), at(10))) == [
        ("security-critical:portal-1:intrusion", True)]
    assert d.reading("security", security("host-1", 0, "IV"), at(0)) == []
    for s in (0, 600):
        assert d.reading("security", security("host-1", s, "III", "malware"), at(s)) == []
    out = d.reading("security", security("host-1", 1200, "III", "malware"), at(1200))
    assert fired(out) == [("security-major-repeated:host-1:malware", True)]
    assert out[0].severity is Severity.III
    # Three level III events spread over more than an hour are not a pattern.
    for s in (0, 2000, 4000):
        assert d.reading("security", security("ds-1", s, "III", "ddos"), at(s)) == []
    out = d.reading("security", security("ds-1", 5000, "IV", "data_leak"), at(5000))
    assert fired(out) == [("security-data-leak:ds-1:data_leak", True)] and out[0].severity is Severity.II

"""build_notifiers(): every channel from settings, one shared HTTP client, lookup by Recipient.channel."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest

from alerts.notifiers import NotifierError, RetryPolicy, build_notifiers
from alerts.notifiers.delivery import DeliveryAttempt
from citybrain.kernel.settings import Settings
from tests.alerts.notifiers.receiver import Recorded, Reply, RobotServiceStandIn
from tests.alerts.notifiers.support import (
    FakeTime,
    FixedRng,
    closed_port,
    frozen_clock,
    make_notification,
    recipient,
)
from tests.alerts.notifiers.support import notify_settings as make_settings


async def test_channels_from_settings() -> None:
    async with build_notifiers(make_settings(), clock=frozen_clock) as registry:
        assert registry.channels == ("dingtalk", "feishu", "webhook", "wecom")
        with pytest.raises(NotifierError, match="set CITYBRAIN_SMTP_HOST"):
            registry.get("email")
        with pytest.raises(NotifierError, match="no notifier for channel 'sms'"):
            registry.for_recipient(recipient("sms", "+8613800001111"))

    async with build_notifiers(make_settings(smtp_host="mail.example.cn"), clock=frozen_clock) as registry:
        assert registry.channels == ("dingtalk", "email", "feishu", "webhook", "wecom")
        assert registry.get("email").channel == "email"


async def test_unknown_channel_is_an_audited_failure(fake_time: FakeTime) -> None:
    entries: list[DeliveryAttempt] = []
    async with build_notifiers(make_settings(), clock=frozen_clock) as registry:
        outcome = await registry.deliver(make_notification(), recipient("sms", "+8613800001111"),
                                         policy=RetryPolicy(), sleep=fake_time.sleep, audit=entries.append,
                                         rng=FixedRng(), monotonic=fake_time.monotonic)
    assert not outcome.delivered and not outcome.retryable
    assert [e.kind for e in entries] == ["notification.failed"]
    assert entries[0].detail()["result"].startswith("no notifier for channel 'sms'")


async def test_robot_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                       stand_in: RobotServiceStandIn,
                                                       fake_time: FakeTime) -> None:
    address = stand_in.url("/robot/send?access_token=tok")
    secret = "SECfrom-the-environment"
    monkeypatch.setenv("CITYBRAIN_NOTIFY_ROBOT_SECRETS", json.dumps({address: secret}))

    def verify(request: Recorded) -> Reply:
        timestamp = request.query["timestamp"][0]
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()).decode()
        ok = request.query["sign"] == [expected]
        return Reply(200, {"errcode": 0 if ok else 310000, "errmsg": "ok" if ok else "sign not match"})

    stand_in.respond_with(verify)
    settings = Settings()
    assert "SECfrom-the-environment" not in repr(settings)
    async with build_notifiers(settings, clock=frozen_clock) as registry:
        outcome = await registry.deliver(make_notification(), recipient("dingtalk", address),
                                         policy=RetryPolicy(), sleep=fake_time.sleep, audit=lambda _e: None,
                                         rng=FixedRng(), monotonic=fake_time.monotonic)
    assert outcome.delivered, outcome.detail


async def test_proxy_comes_from_settings_not_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                                  stand_in: RobotServiceStandIn,
                                                                  fake_time: FakeTime) -> None:
    # An HTTP_PROXY left in the service's environment must not reroute pages...
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    stand_in.respond_with(lambda _r: Reply(200, b""))
    async with build_notifiers(make_settings(), clock=frozen_clock) as registry:
        direct = await registry.get("webhook").send(make_notification(),
                                                     recipient("webhook", stand_in.url("/h")))
    assert direct.delivered, direct.detail

    # ...while CITYBRAIN_NOTIFY_PROXY_URL does: the stand-in, acting as the proxy, gets the request.
    via_proxy = make_settings(notify_proxy_url=stand_in.base_url)
    async with build_notifiers(via_proxy, clock=frozen_clock) as registry:
        proxied = await registry.get("webhook").send(make_notification(),
                                                      recipient("webhook", "http://itsm.internal.example/hooks/x"))
    assert proxied.delivered, proxied.detail
    assert stand_in.requests[-1].headers["host"] == "itsm.internal.example"
    assert stand_in.requests[-1].path == "/hooks/x"


async def test_the_registry_closes_the_client_it_made(stand_in: RobotServiceStandIn,
                                                      fake_time: FakeTime) -> None:
    registry = build_notifiers(make_settings(), clock=frozen_clock)
    async with registry:
        pass
    outcome = await registry.deliver(make_notification(), recipient("webhook", stand_in.url("/h")),
                                     policy=RetryPolicy(), sleep=fake_time.sleep, audit=lambda _e: None,
                                     rng=FixedRng(), monotonic=fake_time.monotonic)
    assert not outcome.delivered and "client has been closed" in outcome.detail
    assert stand_in.requests == []


async def test_a_shared_client_stays_open(stand_in: RobotServiceStandIn) -> None:
    async with httpx.AsyncClient(trust_env=False) as shared:
        async with build_notifiers(make_settings(), clock=frozen_clock, client=shared) as registry:
            assert (await registry.get("webhook").send(make_notification(),
                                                       recipient("webhook", stand_in.url("/h")))).delivered
        assert not shared.is_closed

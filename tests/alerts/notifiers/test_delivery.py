"""deliver(): retries with back-off on what is worth retrying, none on 4xx, every attempt audited.

The notifiers talk to the loopback robot-service stand-in; ``sleep`` and the monotonic
clock are a fake pair, so back-off delays are asserted exactly and nothing waits.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from alerts.model import Notification, Notifier, Outcome, Recipient
from alerts.notifiers.delivery import DeliveryAttempt, RetryPolicy, deliver
from alerts.notifiers.dingtalk import DingTalkNotifier
from alerts.notifiers.feishu import FeishuNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.notifiers.wecom import WeComNotifier
from tests.alerts.notifiers.receiver import Reply, RobotServiceStandIn
from tests.alerts.notifiers.support import (
    OPENED_AT,
    FakeTime,
    FixedRng,
    closed_port,
    frozen_clock,
    make_notification,
    recipient,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = RetryPolicy(attempts=4, base_delay_seconds=2.0, max_delay_seconds=60.0, max_total_seconds=120.0)
WECOM_OK = Reply(200, {"errcode": 0, "errmsg": "ok"})


class AuditLog:
    def __init__(self) -> None:
        self.entries: list[DeliveryAttempt] = []

    async def __call__(self, entry: DeliveryAttempt) -> None:
        self.entries.append(entry)

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.entries]


async def test_retries_a_500_then_delivers(stand_in: RobotServiceStandIn, client: httpx.AsyncClient,
                                           fake_time: FakeTime) -> None:
    stand_in.script(Reply(500, b""), Reply(502, b"bad gateway"), WECOM_OK)
    audit = AuditLog()
    outcome = await deliver(WeComNotifier(client, SHANGHAI), make_notification(),
                            recipient("wecom", stand_in.url("/cgi-bin/webhook/send?key=k1")),
                            policy=POLICY, sleep=fake_time.sleep, audit=audit, rng=FixedRng(0.5),
                            monotonic=fake_time.monotonic)

    assert outcome == Outcome(delivered=True, retryable=False, detail="HTTP 200, code 0", attempts=3)
    assert len(stand_in.requests) == 3
    # base 2 s × 2^(n−1), jitter factor 0.5 + 0.5 × 0.5 = 0.75.
    assert fake_time.sleeps == [1.5, 3.0]
    assert audit.kinds == ["notification.retrying", "notification.retrying", "notification.delivered"]
    assert [e.detail()["result"] for e in audit.entries] == ["HTTP 500", "HTTP 502: bad gateway",
                                                             "HTTP 200, code 0"]
    assert [e.detail()["next_retry_in_s"] for e in audit.entries] == [1.5, 3.0, None]
    assert [e.attempt for e in audit.entries] == [1, 2, 3]


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_no_retry_on_4xx(stand_in: RobotServiceStandIn, client: httpx.AsyncClient, fake_time: FakeTime,
                               status: int) -> None:
    stand_in.respond_with(lambda _r: Reply(status, {"error": "rejected"}))
    audit = AuditLog()
    outcome = await deliver(WebhookNotifier(client, SHANGHAI), make_notification(),
                            recipient("webhook", stand_in.url("/hooks/itsm")),
                            policy=POLICY, sleep=fake_time.sleep, audit=audit, rng=FixedRng(),
                            monotonic=fake_time.monotonic)

    assert not outcome.delivered and not outcome.retryable
    assert outcome.attempts == 1
    assert outcome.detail == f'HTTP {status}: {{"error": "rejected"}}'
    assert len(stand_in.requests) == 1 and fake_time.sleeps == []
    assert audit.kinds == ["notification.failed"]


async def test_429_is_retried_like_a_rate_limit(stand_in: RobotServiceStandIn, client: httpx.AsyncClient,
                                                fake_time: FakeTime) -> None:
    stand_in.script(Reply(429, b"slow down"), Reply(200, b""))
    outcome = await deliver(WebhookNotifier(client, SHANGHAI), make_notification(),
                            recipient("webhook", stand_in.url("/hooks/itsm")),
                            policy=POLICY, sleep=fake_time.sleep, audit=AuditLog(), rng=FixedRng(),
                            monotonic=fake_time.monotonic)
    assert outcome.delivered and outcome.attempts == 2


async def test_time_out_is_retryable(stand_in: RobotServiceStandIn, client: httpx.AsyncClient,
                                     fake_time: FakeTime) -> None:
    # The client's time-out is 0.5 s; the receiver answers after 1.5 s.
    stand_in.respond_with(lambda _r: Reply(200, b"", delay=1.5))
    audit = AuditLog()
    policy = RetryPolicy(attempts=2, base_delay_seconds=1.0)
    outcome = await deliver(WebhookNotifier(client, SHANGHAI), make_notification(),
                            recipient("webhook", stand_in.url("/hooks/slow")),
                            policy=policy, sleep=fake_time.sleep, audit=audit, rng=FixedRng(),
                            monotonic=fake_time.monotonic)

    assert not outcome.delivered and outcome.retryable
    assert outcome.attempts == 2
    assert outcome.detail == "time-out (ReadTimeout) (gave up: 2 attempts made)"
    assert len(stand_in.requests) == 2
    assert audit.kinds == ["notification.retrying", "notification.failed"]
    assert audit.entries[-1].detail()["gave_up"] == "2 attempts made"


async def test_connection_refused_is_retryable(client: httpx.AsyncClient, fake_time: FakeTime) -> None:
    audit = AuditLog()
    outcome = await deliver(WebhookNotifier(client, SHANGHAI), make_notification(),
                            recipient("webhook", f"http://127.0.0.1:{closed_port()}/hooks/itsm"),
                            policy=RetryPolicy(attempts=3), sleep=fake_time.sleep, audit=audit,
                            rng=FixedRng(), monotonic=fake_time.monotonic)

    assert not outcome.delivered and outcome.retryable and outcome.attempts == 3
    assert outcome.detail.startswith("connection error (ConnectError")
    assert len(audit.entries) == 3 and len(fake_time.sleeps) == 2


@pytest.mark.parametrize(("channel", "answer", "delivered", "retryable"), [
    ("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}, False, True),
    ("wecom", {"errcode": -1, "errmsg": "system busy"}, False, True),
    ("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, False, False),
    ("dingtalk", {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, False, True),
    ("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, False, False),
    ("dingtalk", {"errcode": 300001, "errmsg": "token is not exist"}, False, False),
    ("feishu", {"code": 11232, "msg": "frequency limited psm"}, False, True),
    ("feishu", {"code": 19024, "msg": "Key Words Not Found"}, False, False),
    ("feishu", {"code": 9499, "msg": "Bad Request", "data": {}}, False, False),
    ("feishu", {"StatusCode": 0, "StatusMessage": "success"}, True, False),   # the older answer shape
])
async def test_robot_body_codes(stand_in: RobotServiceStandIn, client: httpx.AsyncClient,
                                fake_time: FakeTime, channel: str, answer: dict[str, Any], delivered: bool,
                                retryable: bool) -> None:
    stand_in.respond_with(lambda _r: Reply(200, answer))
    notifiers: dict[str, Notifier] = {
        "wecom": WeComNotifier(client, SHANGHAI),
        "dingtalk": DingTalkNotifier(client, SHANGHAI, frozen_clock),
        "feishu": FeishuNotifier(client, SHANGHAI, frozen_clock),
    }
    outcome = await deliver(notifiers[channel], make_notification(),
                            recipient(channel, stand_in.url("/robot")), policy=RetryPolicy(attempts=3),
                            sleep=fake_time.sleep, audit=AuditLog(), rng=FixedRng(),
                            monotonic=fake_time.monotonic)

    assert (outcome.delivered, outcome.retryable) == (delivered, retryable)
    # Retryable codes are retried up to the policy's 3 attempts; the others are not.
    assert len(stand_in.requests) == (3 if retryable else 1)
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode")))
    assert f"code {code}" in outcome.detail


async def test_a_200_that_is_not_a_robot_answer_is_not_delivered(stand_in: RobotServiceStandIn,
                                                                 client: httpx.AsyncClient) -> None:
    stand_in.script(Reply(200, b"<html>portal login</html>"))
    outcome = await WeComNotifier(client, SHANGHAI).send(make_notification(),
                                                         recipient("wecom", stand_in.url("/x")))
    assert not outcome.delivered and not outcome.retryable
    assert "not a robot answer" in outcome.detail


async def test_total_time_budget_stops_retries(stand_in: RobotServiceStandIn, client: httpx.AsyncClient,
                                               fake_time: FakeTime) -> None:
    stand_in.respond_with(lambda _r: Reply(503, b""))
    audit = AuditLog()
    policy = RetryPolicy(attempts=10, base_delay_seconds=10.0, max_delay_seconds=100.0,
                         max_total_seconds=35.0)
    outcome = await deliver(WebhookNotifier(client, SHANGHAI), make_notification(),
                            recipient("webhook", stand_in.url("/hooks/down")),
                            policy=policy, sleep=fake_time.sleep, audit=audit, rng=FixedRng(0.999),
                            monotonic=fake_time.monotonic)

    # Delays ≈ 10 and 20 s (30 s spent); the next, ≈ 40 s, would start after 35 s: give up.
    assert outcome.attempts == 3 and outcome.retryable and not outcome.delivered
    assert fake_time.sleeps == pytest.approx([9.995, 19.99])
    assert outcome.detail == "HTTP 503 (gave up: retry budget of 35 s spent)"
    assert audit.kinds[-1] == "notification.failed"


def test_back_off_doubles_is_capped_and_jittered_between_half_and_full() -> None:
    policy = RetryPolicy(attempts=8, base_delay_seconds=2.0, max_delay_seconds=30.0)
    assert [policy.nominal_delay(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    rng = random.Random(20260301)
    delays = [policy.delay(n, rng) for n in range(1, 7)]
    replay = random.Random(20260301)
    assert delays == [policy.nominal_delay(n) * (0.5 + 0.5 * replay.random()) for n in range(1, 7)]
    assert all(0.5 * policy.nominal_delay(n) <= d < policy.nominal_delay(n) for n, d in enumerate(delays, 1))
    assert len(set(delays)) == len(delays)


async def test_a_notifier_that_raises_is_an_audited_failure_not_a_crash(fake_time: FakeTime) -> None:
    class Broken:
        channel = "webhook"

        async def send(self, notification: Notification, recipient: Recipient) -> Outcome:
            raise RuntimeError("bug in a notifier")

    audit = AuditLog()
    outcome = await deliver(Broken(), make_notification(), recipient("webhook", "http://127.0.0.1:9/x"),
                            policy=POLICY, sleep=fake_time.sleep, audit=audit, rng=FixedRng(),
                            monotonic=fake_time.monotonic)
    assert not outcome.delivered and not outcome.retryable and outcome.attempts == 1
    assert outcome.detail == "notifier webhook raised RuntimeError: bug in a notifier"
    assert audit.kinds == ["notification.failed"]


async def test_a_synchronous_audit_callback_works_too(stand_in: RobotServiceStandIn,
                                                      client: httpx.AsyncClient, fake_time: FakeTime) -> None:
    seen: list[DeliveryAttempt] = []
    stand_in.script(Reply(500, b""), Reply(200, b""))
    await deliver(WebhookNotifier(client, SHANGHAI), make_notification(),
                  recipient("webhook", stand_in.url("/h")), policy=POLICY, sleep=fake_time.sleep,
                  audit=seen.append, rng=FixedRng(), monotonic=fake_time.monotonic)
    assert [e.kind for e in seen] == ["notification.retrying", "notification.delivered"]


async def test_audit_detail_hides_webhook_tokens(stand_in: RobotServiceStandIn, client: httpx.AsyncClient,
                                                 fake_time: FakeTime) -> None:
    stand_in.respond_with(lambda _r: Reply(200, {"errcode": 0, "code": 0}))
    audit = AuditLog()
    wecom = stand_in.url("/cgi-bin/webhook/send?key=693a91f6-7fe3-4bc4-97a0-0ec2sifa5aaa")
    feishu = stand_in.url("/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd")
    pairs: list[tuple[Notifier, str]] = [(WeComNotifier(client, SHANGHAI), wecom),
                                         (FeishuNotifier(client, SHANGHAI, frozen_clock), feishu)]
    for notifier, address in pairs:
        await deliver(notifier, make_notification(), recipient(notifier.channel, address), policy=POLICY,
                      sleep=fake_time.sleep, audit=audit, rng=FixedRng(), monotonic=fake_time.monotonic)

    targets = [e.detail()["target"] for e in audit.entries]
    assert targets == [stand_in.url("/cgi-bin/webhook/send?key=…"),
                       stand_in.url("/open-apis/bot/v2/hook/5e3d…")]
    dumped = json.dumps([e.detail() for e in audit.entries])
    assert "693a91f6-7fe3" not in dumped and "265f269f86fd" not in dumped


@pytest.mark.integration
async def test_every_attempt_lands_in_the_incident_timeline(db: psycopg.Connection[Any],
                                                            stand_in: RobotServiceStandIn,
                                                            client: httpx.AsyncClient,
                                                            fake_time: FakeTime) -> None:
    """The audit callback the incident store will pass: one incident_events row per attempt."""
    incident_id = db.execute(
        "INSERT INTO incidents (fingerprint, rule_id, title, severity, status, opened_at, last_seen_at,"
        " response_due_at, resolution_due_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING incident_id",
        ("portal.down:portal-07", "portal.down", "门户网站不可用 portal-07", "II", "triggered", OPENED_AT,
         OPENED_AT, OPENED_AT + timedelta(minutes=30), OPENED_AT + timedelta(hours=4)),
    ).fetchone()[0]  # type: ignore[index]

    def record(entry: DeliveryAttempt) -> None:
        db.execute("INSERT INTO incident_events (incident_id, at, actor, kind, detail)"
                   " VALUES (%s, %s, %s, %s, %s)",
                   (entry.notification.incident_id, OPENED_AT + timedelta(seconds=fake_time.now - 1000),
                    f"notifier:{entry.channel}", entry.kind, Jsonb(entry.detail())))

    stand_in.script(Reply(503, b"busy"), WECOM_OK)
    outcome = await deliver(WeComNotifier(client, SHANGHAI), make_notification(incident_id=incident_id),
                            recipient("wecom", stand_in.url("/cgi-bin/webhook/send?key=secretkey0123456789")),
                            policy=POLICY, sleep=fake_time.sleep, audit=record, rng=FixedRng(0.0),
                            monotonic=fake_time.monotonic)

    assert outcome.delivered and outcome.attempts == 2
    rows = db.execute("SELECT kind, actor, detail->>'attempt', detail->>'result', detail->>'target', at"
                      " FROM incident_events WHERE incident_id = %s ORDER BY id", (incident_id,)).fetchall()
    assert [r[:4] for r in rows] == [
        ("notification.retrying", "notifier:wecom", "1", "HTTP 503: busy"),
        ("notification.delivered", "notifier:wecom", "2", "HTTP 200, code 0"),
    ]
    assert all("secretkey0123456789" not in r[4] for r in rows)
    assert rows[1][5] - rows[0][5] == timedelta(seconds=1.0)    # the 1 s back-off (jitter factor 0.5)

"""Notifiers: deliver an incident's notifications and say whether a failure is worth retrying.

Channels: ``webhook`` (generic JSON), ``wecom`` (企业微信 group robot), ``dingtalk`` (钉钉
custom robot), ``feishu`` (飞书 custom bot), ``email`` (SMTP). Each notifier makes one
attempt and returns an ``Outcome`` (it never raises for a delivery failure);
``deliver`` adds retries with back-off and the audit entry of every attempt;
``build_notifiers`` makes them all from settings, sharing one HTTP client.

Typical use by the escalation runner::

    async with build_notifiers(settings, clock=clock) as notifiers:
        outcome = await notifiers.deliver(notification, recipient,
                                          policy=RetryPolicy.from_settings(settings),
                                          sleep=asyncio.sleep, audit=record_attempt,
                                          rng=random.Random())
"""

from alerts.notifiers.delivery import DeliveryAttempt, RetryPolicy, deliver
from alerts.notifiers.registry import NotifierError, NotifierRegistry, build_notifiers

__all__ = [
    "DeliveryAttempt",
    "NotifierError",
    "NotifierRegistry",
    "RetryPolicy",
    "build_notifiers",
    "deliver",
]

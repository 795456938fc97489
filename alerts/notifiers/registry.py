"""The notifiers of one process, built from settings and found by ``Recipient.channel``.

One ``httpx.AsyncClient`` serves every HTTP channel of the process (connection pooling
to the same robot hosts; one place for time-out and proxy); the registry owns it when it
created it and closes it in ``aclose`` (or ``async with``). The email channel exists only
when ``CITYBRAIN_SMTP_HOST`` is set.

A recipient whose channel has no notifier is not a crash either: ``deliver`` records a
failed, non-retryable attempt naming the missing channel, so the escalation step moves
on and the timeline shows why nobody was paged on that channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from alerts.model import Notification, Notifier, Outcome, Recipient
from alerts.notifiers.delivery import Audit, DeliveryAttempt, RetryPolicy, Rng, Sleep, deliver
from alerts.notifiers.dingtalk import DingTalkNotifier
from alerts.notifiers.email import EmailNotifier, SmtpConfig
from alerts.notifiers.feishu import FeishuNotifier
from alerts.notifiers.outcomes import permanent
from alerts.notifiers.webhook import WebhookNotifier
from alerts.notifiers.wecom import WeComNotifier
from citybrain.kernel.clock import Clock
from citybrain.kernel.errors import CitybrainError

if TYPE_CHECKING:
    from citybrain.kernel.settings import Settings

USER_AGENT = "citybrain-notifier/1"


class NotifierError(CitybrainError):
    """No notifier for a channel, or a notifier cannot be built from settings."""


class NotifierRegistry:
    def __init__(self, notifiers: Iterable[Notifier], *, client: httpx.AsyncClient | None = None) -> None:
        self._by_channel: dict[str, Notifier] = {}
        for notifier in notifiers:
            if notifier.channel in self._by_channel:
                raise NotifierError(f"two notifiers for channel {notifier.channel!r}; keep one")
            self._by_channel[notifier.channel] = notifier
        self._client = client

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_channel))

    def get(self, channel: str) -> Notifier:
        try:
            return self._by_channel[channel]
        except KeyError:
            hint = " (set CITYBRAIN_SMTP_HOST to enable e-mail)" if channel == "email" else ""
            known = ", ".join(self.channels)
            raise NotifierError(f"no notifier for channel {channel!r}{hint}; configured: {known}") from None

    def for_recipient(self, recipient: Recipient) -> Notifier:
        return self.get(recipient.channel)

    async def deliver(self, notification: Notification, recipient: Recipient, *, policy: RetryPolicy,
                      sleep: Sleep, audit: Audit, rng: Rng,
                      monotonic: Callable[[], float] = time.monotonic) -> Outcome:
        """``delivery.deliver`` through the recipient's channel; an unknown channel is audited, not raised."""
        try:
            notifier = self.for_recipient(recipient)
        except NotifierError as exc:
            outcome = permanent(str(exc))
            result = audit(DeliveryAttempt(notification=notification, recipient=recipient,
                                           channel=recipient.channel, attempt=1, outcome=outcome,
                                           duration_seconds=0.0, next_delay_seconds=None))
            if result is not None:
                await result
            return outcome
        return await deliver(notifier, notification, recipient, policy=policy, sleep=sleep, audit=audit,
                             rng=rng, monotonic=monotonic)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> NotifierRegistry:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


def http_client(settings: Settings) -> httpx.AsyncClient:
    # trust_env=False: the settings object is the only reader of the environment, so an
    # HTTP(S)_PROXY left in a service's environment cannot silently reroute pages.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.notify_timeout_seconds),
        proxy=settings.notify_proxy_url,
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


def build_notifiers(settings: Settings, *, clock: Clock,
                    client: httpx.AsyncClient | None = None) -> NotifierRegistry:
    """Every configured channel. Pass ``client`` to share one the caller owns (it is then not closed)."""
    owned = client is None
    http = client if client is not None else http_client(settings)
    secrets = {address: value.get_secret_value() for address, value in settings.notify_robot_secrets.items()}
    tz, language = settings.tz, settings.language
    notifiers: list[Notifier] = [
        WebhookNotifier(http, tz, language),
        WeComNotifier(http, tz, language),
        DingTalkNotifier(http, tz, clock, secrets, language),
        FeishuNotifier(http, tz, clock, secrets, language),
    ]
    smtp = SmtpConfig.from_settings(settings)
    if smtp is not None:
        notifiers.append(EmailNotifier(smtp, tz, clock, language))
    return NotifierRegistry(notifiers, client=http if owned else None)

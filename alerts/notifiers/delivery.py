"""Deliver one notification to one recipient: retries with back-off, every attempt audited.

``deliver`` calls the channel's notifier until it delivers, says the failure is not worth
retrying (4xx, bad token, keyword rejected), or the policy's budget is spent: at most
``attempts`` tries, and no retry starts later than ``max_total_seconds`` after the first.
Between tries it waits ``base × 2^(n−1)`` seconds, capped at ``max_delay_seconds``, times
a jitter factor drawn uniformly from [0.5, 1.0) by the injected RNG — so many incidents
failing at once (a robot rate-limited, a mail server restarting) do not retry in step,
while a retry never comes sooner than half the nominal back-off.

Each attempt's result goes to ``audit`` right after the attempt (before any wait), so
the incident's timeline (table ``incident_events``) shows every try, failed or not. An
exception escaping a notifier (a bug: notifiers return outcomes) is recorded as a
non-retryable failed attempt rather than crashing the escalation; an exception from
``audit`` itself propagates — losing the audit trail silently is worse than failing
the step.

``sleep`` and ``monotonic`` are injected: tests pass a fake pair that advances a
counter, so they neither wait nor depend on the machine's speed.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from alerts.model import Notification, Notifier, Outcome, Recipient
from alerts.notifiers.outcomes import permanent
from alerts.notifiers.transport import redact_address
from citybrain.kernel import metrics

if TYPE_CHECKING:
    from citybrain.kernel.settings import Settings


class Rng(Protocol):
    def random(self) -> float:
        """A float in [0, 1)."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 60.0
    max_total_seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.base_delay_seconds <= 0 or self.max_delay_seconds <= 0 or self.max_total_seconds <= 0:
            raise ValueError("retry delays and budget must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            attempts=settings.notify_retry_attempts,
            base_delay_seconds=settings.notify_retry_base_seconds,
            max_delay_seconds=settings.notify_retry_max_delay_seconds,
            max_total_seconds=settings.notify_retry_max_total_seconds,
        )

    def nominal_delay(self, failed_attempts: int) -> float:
        """The back-off before try ``failed_attempts + 1``, before jitter."""
        return min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** (failed_attempts - 1))

    def delay(self, failed_attempts: int, rng: Rng) -> float:
        return self.nominal_delay(failed_attempts) * (0.5 + 0.5 * rng.random())


@dataclass(frozen=True)
class DeliveryAttempt:
    """One try, as the incident timeline records it."""

    notification: Notification
    recipient: Recipient
    channel: str
    attempt: int                      # 1-based
    outcome: Outcome
    duration_seconds: float
    next_delay_seconds: float | None  # None: this was the last try
    gave_up: str | None = None        # why a retryable failure was not retried

    @property
    def final(self) -> bool:
        return self.next_delay_seconds is None

    @property
    def kind(self) -> str:
        """The ``incident_events.kind`` for this entry."""
        if self.outcome.delivered:
            return "notification.delivered"
        return "notification.failed" if self.final else "notification.retrying"

    def detail(self) -> dict[str, Any]:
        """The ``incident_events.detail`` JSON: no credentials (webhook tokens are redacted)."""
        return {
            "channel": self.channel,
            "recipient": self.recipient.name,
            "role": self.recipient.role,
            "target": redact_address(self.recipient.address),
            "step": self.notification.step,
            "attempt": self.attempt,
            "delivered": self.outcome.delivered,
            "retryable": self.outcome.retryable,
            "result": self.outcome.detail,
            "duration_ms": round(self.duration_seconds * 1000, 1),
            "next_retry_in_s": None if self.next_delay_seconds is None else round(self.next_delay_seconds, 3),
            "gave_up": self.gave_up,
        }


Audit = Callable[[DeliveryAttempt], Awaitable[None] | None]
Sleep = Callable[[float], Awaitable[None]]


async def deliver(notifier: Notifier, notification: Notification, recipient: Recipient, *,
                  policy: RetryPolicy, sleep: Sleep, audit: Audit, rng: Rng,
                  monotonic: Callable[[], float] = time.monotonic) -> Outcome:
    """Send with retries; the returned outcome is the last attempt's, with the count of attempts."""
    started = monotonic()
    attempt = 0
    while True:
        attempt += 1
        began = monotonic()
        outcome = await _attempt(notifier, notification, recipient)
        duration = monotonic() - began

        delay: float | None = None
        gave_up: str | None = None
        if not outcome.delivered and outcome.retryable:
            if attempt >= policy.attempts:
                gave_up = f"{policy.attempts} attempts made"
            else:
                candidate = policy.delay(attempt, rng)
                if monotonic() - started + candidate > policy.max_total_seconds:
                    gave_up = f"retry budget of {policy.max_total_seconds:g} s spent"
                else:
                    delay = candidate

        entry = DeliveryAttempt(notification=notification, recipient=recipient, channel=notifier.channel,
                                attempt=attempt, outcome=outcome, duration_seconds=duration,
                                next_delay_seconds=delay, gave_up=gave_up)
        result = audit(entry)
        if inspect.isawaitable(result):
            await result
        if delay is None:
            metrics.count_notification(notifier.channel, delivered=outcome.delivered,
                                       retryable=outcome.retryable)
            detail = outcome.detail if gave_up is None else f"{outcome.detail} (gave up: {gave_up})"
            return Outcome(delivered=outcome.delivered, retryable=outcome.retryable, detail=detail,
                           attempts=attempt)
        await sleep(delay)


async def _attempt(notifier: Notifier, notification: Notification, recipient: Recipient) -> Outcome:
    try:
        return await notifier.send(notification, recipient)
    except Exception as exc:  # a notifier bug must not take the escalation down with it
        return permanent(f"notifier {notifier.channel} raised {type(exc).__name__}: {exc}")

"""Short names for the three kinds of attempt result every notifier returns."""

from __future__ import annotations

from alerts.model import Outcome


def delivered(detail: str) -> Outcome:
    return Outcome(delivered=True, retryable=False, detail=detail)


def transient(detail: str) -> Outcome:
    """Not delivered, worth retrying: 5xx, time-out, connection error, rate limit, SMTP 4yz."""
    return Outcome(delivered=False, retryable=True, detail=detail)


def permanent(detail: str) -> Outcome:
    """Not delivered, and sending the same request again cannot help: 4xx, bad token, SMTP 5yz."""
    return Outcome(delivered=False, retryable=False, detail=detail)

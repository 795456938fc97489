"""Time, in one place: the ``Clock`` every component receives and the wall clock.

Domain code never reads the time itself; it is handed a clock (tests freeze one). Two
kinds of time are named apart everywhere:

* **event time**: when something happened in the city, as the event says (a reading's
  ``event_at``, a liveness feed's watermark, the alerter's ``EventClock``);
* **processing time**: when the platform handles it (an incident's ``opened_at``, an
  offset's ``updated_at``): the wall clock, ``utc_now``, in production, or
  ``alerts.watermark_clock.WatermarkClock`` when recorded or simulated events are replayed.

Both kinds are a ``Clock``: a call with no argument that returns an aware UTC datetime.
Entry points pick the clock; everything below them takes one as a parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of "now": an aware datetime, in UTC."""

    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    """The wall clock (processing time in production)."""
    return datetime.now(UTC)

"""Detection's clock: event time, as the events the alerter reads say it.

For-durations, holds, absences and maintenance ends are decided on event time — when
things happened in the city — not on when the alerter happens to process them: a
lagging consumer or a replay must decide as a live one would. ``EventClock`` is the
latest event time seen, moved on by the wall clock while nothing newer arrives (so holds
and absences still expire when a feed goes quiet). Processing time — what stamps
incidents, the 30-minute response clock — is the alerter's other clock, a kernel
``Clock`` (the wall clock, or ``alerts.watermark_clock.WatermarkClock`` in a replay).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from citybrain.kernel.clock import Clock


class EventClock:
    """Event time for detection: the latest event time seen (times further than
    ``max_future_skew`` ahead of ``processing`` are ignored), extrapolated by ``wall``
    (monotonic seconds) while nothing newer arrives; never goes back."""

    def __init__(self, processing: Clock, wall: Callable[[], float],
                 max_future_skew: timedelta) -> None:
        self._processing = processing
        self._wall = wall
        self._skew = max_future_skew
        self._latest: datetime | None = None
        self._wall_at = 0.0
        self._last: datetime | None = None

    @property
    def latest(self) -> datetime | None:
        return self._latest

    def resume(self, latest: datetime) -> None:
        """Restart from the latest event time stored before a stop: until the backlog
        arrives, time goes on from there, so holds do not all lapse at once over the time
        the alerter was down (their siblings may be waiting in the topics)."""
        self._latest, self._wall_at = latest, self._wall()

    def observe(self, at: datetime) -> None:
        if self._latest is not None and at <= self._latest:
            return
        if at > self._processing() + self._skew:
            return
        self._latest, self._wall_at = at, self._wall()

    def now(self) -> datetime:
        if self._latest is None:
            current = self._processing()
        else:
            current = self._latest + timedelta(seconds=max(0.0, self._wall() - self._wall_at))
        if self._last is not None and current < self._last:
            return self._last
        self._last = current
        return current

"""Processing time for replays: the liveness feeds' watermark as the alerter's "now".

Not a second kind of time but a second source of processing time (see
``citybrain.kernel.clock``). In production the alerter stamps incidents with the wall
clock. When events are replayed faster than real time (a simulation at 1,440×, a
back-fill), the wall clock says nothing about the city: a second of pipeline lag is 24
simulated minutes. ``WatermarkClock`` is the city's "now" as far as the platform has
processed it — the slowest liveness feed's event-time watermark — so the 30-minute
response clock and escalation run at the pace events are actually processed
(``CITYBRAIN_ALERTER_CLOCK=pipeline``). Detection's own clock is event time, a different
thing (``alerts.detection.event_clock``).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from alerts.model import Alert
from citybrain.kernel import store
from schemas.registry import LIVENESS_FEED

T = TypeVar("T")


class WatermarkClock:
    """A ``Clock`` (processing time) that reads the city's "now" as far as the pipeline has
    processed it: the slowest liveness feed's event-time watermark, polled from the
    database. It never goes back; before
    the first watermark it reads ``origin`` (``wait_first`` waits for one). ``marks``
    holds what the last poll saw, per feed (None: no watermark yet), so a caller waiting
    on the clock can say which feed holds it."""

    def __init__(self, database_url: str, schema: str, origin: datetime,
                 poll_seconds: float = 0.05) -> None:
        self._url, self._schema, self._poll = database_url, schema, poll_seconds
        self._now = origin
        self.marks: dict[str, datetime | None] = {}
        self._first = threading.Event()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watermark-clock", daemon=True)

    def __call__(self) -> datetime:
        return self._now

    @property
    def started(self) -> bool:
        """Whether every feed has a watermark (before, the clock reads its origin)."""
        return self._first.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        self._thread.join(10)

    def wait_first(self, timeout: float | None = None) -> bool:
        """Wait until a watermark exists: before the first data there is no "now"."""
        return self._first.wait(timeout)

    def _run(self) -> None:
        with store.connect(self._url, self._schema, autocommit=True) as conn:
            while not self._halt.wait(self._poll):
                # Every feed the registry has assets for counts: one whose derivation has
                # not started yet holds the clock (else the first feed to start would
                # carry it past the others).
                rows = conn.execute(
                    "SELECT DISTINCT f.feed, w.watermark"
                    " FROM unnest(%s::text[], %s::text[]) AS f(kind, feed)"
                    " JOIN (SELECT DISTINCT kind FROM assets WHERE expected_interval_s IS NOT NULL) a"
                    " USING (kind) LEFT JOIN feed_watermarks w ON w.feed = f.feed",
                    (list(_FEED_OF), list(_FEED_OF.values()))).fetchall()
                self.marks = {feed: mark for feed, mark in sorted(rows)}
                if not self.marks or None in self.marks.values():
                    continue
                mark = min(m for m in self.marks.values() if m is not None)
                if not self._first.is_set():
                    self._now = mark
                    self._first.set()
                elif mark > self._now:
                    self._now = mark


_FEED_OF = {kind: feed for kind, feed in sorted(LIVENESS_FEED.items()) if feed}


def not_before_evidence(sink: Callable[[Any, Alert, datetime], T]) -> Callable[[Any, Alert, datetime], T]:
    """An incident sink whose processing time is never earlier than the alert's evidence.

    The watermark clock is the slowest liveness watermark, while the alerter reads the
    readings (probes, security events, cloud usage) straight from their topics, ahead of
    it: stamped with the clock alone, an incident would open before the event that caused
    it. In a replay the platform has processed that event, so "now" is at least its time.
    (With the wall clock this does not arise but for a source whose clock runs fast, and
    there the wall clock is right: production keeps the plain sink.)"""
    def stamped(conn: Any, alert: Alert, now: datetime) -> T:
        return sink(conn, alert, max(now, alert.event_at))
    return stamped

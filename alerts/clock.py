"""Processing time for the alerter when it replays recorded or simulated events.

In production the alerter stamps incidents with the wall clock. When events are replayed
faster than real time (a simulation at 1,440×, a back-fill), the wall clock says nothing
about the city: a second of pipeline lag is 24 simulated minutes. ``PipelineClock`` is
the city's "now" as far as the platform has processed it — the slowest liveness feed's
event-time watermark — so detection, the 30-minute response clock and escalation run at
the pace events are actually processed (``CITYBRAIN_ALERTER_CLOCK=pipeline``).
"""

from __future__ import annotations

import threading
from datetime import datetime

from citybrain import store
from schemas.registry import LIVENESS_FEED


class PipelineClock:
    """The city's "now" as far as the pipeline has processed it: the slowest liveness
    feed's event-time watermark, polled from the database. It never goes back; before
    the first watermark it reads ``origin`` (``wait_first`` waits for one)."""

    def __init__(self, database_url: str, schema: str, origin: datetime,
                 poll_seconds: float = 0.05) -> None:
        self._url, self._schema, self._poll = database_url, schema, poll_seconds
        self._now = origin
        self._first = threading.Event()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeline-clock", daemon=True)

    def __call__(self) -> datetime:
        return self._now

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
                row = conn.execute(
                    "SELECT min(w.watermark), bool_and(w.watermark IS NOT NULL)"
                    " FROM unnest(%s::text[], %s::text[]) AS f(kind, feed)"
                    " JOIN (SELECT DISTINCT kind FROM assets WHERE expected_interval_s IS NOT NULL) a"
                    " USING (kind) LEFT JOIN feed_watermarks w ON w.feed = f.feed",
                    (list(_FEED_OF), list(_FEED_OF.values()))).fetchone()
                mark = None if row is None or not row[1] else row[0]
                if mark is None:
                    continue
                if not self._first.is_set():
                    self._now = mark
                    self._first.set()
                elif mark > self._now:
                    self._now = mark


_FEED_OF = {kind: feed for kind, feed in sorted(LIVENESS_FEED.items()) if feed}

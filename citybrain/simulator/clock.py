"""The simulated clock: whole epoch seconds inside, ISO 8601 UTC text and datetimes outside.

Millions of events share a few thousand distinct seconds, so formatting is cached per
second rather than done per event; integers also keep the arithmetic exact.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime


def epoch_of(moment: datetime) -> int:
    """Whole seconds since the epoch; naive times are refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the simulator needs an aware datetime (e.g. with tzinfo=UTC)")
    return math.floor(moment.timestamp())


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Stamps:
    """Per-second caches of ISO text and datetimes, emptied as the clock moves on."""

    __slots__ = ("_moments", "_texts")

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}
        self._moments: dict[int, datetime] = {}

    def text(self, epoch: int) -> str:
        found = self._texts.get(epoch)
        if found is None:
            found = self._texts[epoch] = iso(epoch)
        return found

    def moment(self, epoch: int) -> datetime:
        found = self._moments.get(epoch)
        if found is None:
            found = self._moments[epoch] = moment(epoch)
        return found

    def texts(self, base: int, count: int) -> list[str]:
        """The texts of ``base``, ``base + 1`` ... ``base + count - 1``, indexable by offset."""
        return [self.text(base + i) for i in range(count)]

    def clear(self) -> None:
        self._texts.clear()
        self._moments.clear()

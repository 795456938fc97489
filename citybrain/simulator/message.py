"""One message of the simulated stream, as it would go on the wire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SimMessage:
    family: str  # "iot", "video", "cloud", "security", "probe", "data"
    key: bytes | None  # asset id (utf-8) for single events; gateway/VMS id for envelopes
    value: bytes  # what goes on the wire (JSON, or deliberately malformed bytes)
    event_time: datetime  # aware UTC; messages are yielded in non-decreasing event_time
    malformed: str | None = None  # why, when deliberately bad
    # A producer retry: the same bytes (so the same event ids) sent a second time. Not
    # malformed: the platform must deduplicate it, not dead-letter it.
    duplicate: bool = False


class Outbox:
    """The messages of one tick, put in any order and drained in event-time order."""

    __slots__ = ("_items", "_moment")

    def __init__(self, moment: Callable[[int], datetime]) -> None:
        self._moment = moment
        self._items: list[tuple[int, int, SimMessage]] = []

    def put(self, epoch: int, family: str, key: str | None, value: bytes,
            malformed: str | None = None) -> None:
        message = SimMessage(family, None if key is None else key.encode(), value,
                             self._moment(epoch), malformed)
        # The running count breaks ties, so equal times keep the order they were put in.
        self._items.append((epoch, len(self._items), message))

    def drain(self) -> list[SimMessage]:
        self._items.sort(key=lambda item: (item[0], item[1]))
        out = [item[2] for item in self._items]
        self._items.clear()
        return out

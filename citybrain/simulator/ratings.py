"""The simulated city's 好差评 ratings: one per rated transaction, and the life of a bad one.

Ratings arrive through the day (more in office hours, when the halls are open), about two
a day per service item of the catalogue at scale 1 (600 items: some 1,200 ratings a day),
on the rating channels in the mix a portal reports (apps and mini-programs first). Most
are good; about 3 % are bad (不满意, 非常不满意) with one or two tags. A bad rating is
rectified — mostly within a few days, some late, a few not within the window — and the
person is called back after the rectification: usually reached within a day or two, now
and then only at the second call or too late, sometimes never. Times are whole seconds;
what would fall after the window is not sent.

The services and their departments come from the registry's service catalogue; a
registry without one rates its portals (kind ``portal``) instead. A random stream of its
own keeps the rest of the city the same with or without ratings.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import orjson

from schemas.registry import Registry

from .clock import epoch_of, iso
from .scenario import TickGrid
from .timeline import Entry

DAY = 86_400
PER_ITEM_PER_DAY = 2.0
CITY_UTC_OFFSET = 8 * 3600  # the simulated city keeps China Standard Time
# Relative arrival rate by local hour: halls open 08:30–17:30, apps used into the evening.
HOURLY = (0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.2, 0.5, 1.0, 1.6, 1.8, 1.6,
          1.0, 1.3, 1.7, 1.7, 1.5, 1.0, 0.7, 0.7, 0.6, 0.5, 0.3, 0.2)
LEVELS = ((5, 0.80), (4, 0.12), (3, 0.05), (2, 0.02), (1, 0.01))
CHANNELS = (("app", 0.35), ("mini_program", 0.25), ("web", 0.12), ("hall", 0.18), ("kiosk", 0.05),
            ("hotline", 0.05))
BAD_TAGS = ("slow", "unclear_guide", "repeated_visits", "too_many_materials", "staff_attitude",
            "system_error", "long_queue")


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _services(registry: Registry) -> list[tuple[str, str, int, int | None]]:
    """(service id, department, from, until) of what can be rated."""
    if registry.service_items:
        return [(s.service_id, s.department_id, epoch_of(s.registered_at),
                 None if s.retired_at is None else epoch_of(s.retired_at))
                for s in registry.service_items]
    return [(a.asset_id, a.department_id, epoch_of(a.registered_at),
             None if a.retired_at is None else epoch_of(a.retired_at))
            for a in registry.assets if a.kind == "portal"]


def _recorder(registry: Registry) -> str:
    """The registered system the rating events come from: the first portal (the unified
    portal hosts the rating system), else a name of its own."""
    portals = sorted(a.asset_id for a in registry.assets if a.kind == "portal")
    return portals[0] if portals else "haochaping"


class _Ratings:
    def __init__(self, registry: Registry, win: TickGrid, rng: random.Random) -> None:
        self.win, self.rng = win, rng
        self.services = _services(registry)
        self.source = _recorder(registry)
        self.entries: list[Entry] = []

    def add(self, t: int, rating_id: str, action: str, **more: Any) -> None:
        if self.win.start <= t < self.win.end:
            event = {"event_id": f"{rating_id}:{action}:{t}", "asset_id": self.source,
                     "occurred_at": iso(t), "action": action, "rating_id": rating_id, **more}
            self.entries.append((t, "rating", self.source, orjson.dumps(event), None))

    def arrivals(self) -> None:
        if not self.services:
            return
        per_second = PER_ITEM_PER_DAY * len(self.services) / DAY
        peak = max(HOURLY) / (sum(HOURLY) / len(HOURLY))
        t, n = self.win.start, 0
        while True:
            # Thinning: candidates at the peak rate, kept in proportion to the hour's rate.
            t += int(self.rng.expovariate(per_second * peak)) + 1
            if t >= self.win.end:
                return
            hour = (t + CITY_UTC_OFFSET) // 3600 % 24
            if self.rng.random() * max(HOURLY) >= HOURLY[hour]:
                continue
            live = [s for s in (self.rng.choice(self.services) for _ in range(3))
                    if s[2] <= t and (s[3] is None or t < s[3])]
            if live:
                n += 1
                self.rating(t, n, *live[0][:2])

    def rating(self, t: int, n: int, service: str, department: str) -> None:
        rating_id = f"rt-{t}-{n}"
        level = _pick(self.rng, LEVELS)
        bad = level <= 2
        tags = self.rng.sample(BAD_TAGS, self.rng.randint(1, 2)) if bad else []
        self.add(t, rating_id, "rated", transaction_id=f"tx-{t}-{n}", service_id=service,
                 department_id=department, channel=_pick(self.rng, CHANNELS), level=level, tags=tags)
        if bad:
            self.bad(t, rating_id)

    def bad(self, t: int, rating_id: str) -> None:
        fate = self.rng.random()
        if fate < 0.05:
            return                                                   # not rectified
        days = self.rng.uniform(0.3, 4.0) if fate < 0.85 else self.rng.uniform(8.0, 15.0)  # late
        fixed = t + int(days * DAY)
        self.add(fixed, rating_id, "rectified")
        call = self.rng.random()
        first = fixed + int(self.rng.uniform(0.1, 1.5) * DAY)
        if call < 0.75:
            self.add(first, rating_id, "return_visit", satisfied=self.rng.random() < 0.85)
        elif call < 0.88:                                            # reached at the second call
            self.add(first, rating_id, "return_visit")
            self.add(first + DAY, rating_id, "return_visit", satisfied=self.rng.random() < 0.7)
        elif call < 0.95:                                            # too late
            self.add(fixed + int(self.rng.uniform(6, 9) * DAY), rating_id, "return_visit",
                     satisfied=self.rng.random() < 0.6)


def lay_out(registry: Registry, win: TickGrid, seed: int) -> list[Entry]:
    """The rating events of the window, in no particular order."""
    ratings = _Ratings(registry, win, random.Random(f"{seed}:ratings"))
    ratings.arrivals()
    return ratings.entries


def add_to(sparse: dict[int, list[Entry]], registry: Registry, win: TickGrid, seed: int) -> None:
    """Add the window's rating events to the feed's sparse entries, by tick index."""
    for entry in lay_out(registry, win, seed):
        sparse.setdefault((entry[0] - win.start) // win.tick, []).append(entry)

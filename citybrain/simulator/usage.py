"""The simulated city's portal usage: sign-ins and service transactions, minute by minute.

The portal's registered users (the registry's latest account figure, else the config's)
are numbered people; each event carries the person's pseudonymous key, the HMAC-SHA256 of
the person's number under a fixed key, as the portal computes it before the event leaves.
People are not equally active: a few use the portal most days, more now and then, most
rarely, so at scale 1 (400,000 registered) some 35,000 are active on a day and about a
third of the registered in a month. Sessions follow the day in the city's time (UTC+8):
little at night, peaks mid-morning and mid-afternoon, a lighter evening; fewer at
weekends, when the halls are closed. A session on an app, mini-program, web or kiosk
starts with a sign-in; about a third go on to a transaction of a service item the portal
covers (popular items far more often); a hall visit is a transaction only. Most online
transactions are handled end to end online (全程网办); hall and kiosk ones are not.

Each portal (kind ``portal``) recording events sends them as one envelope per minute,
keyed by its id, at the minute's last second (each event alone when the config turns
batching off): the unified portal (the registry's first
portal) records every channel, and a department's own portal part of the online
transactions of that department's items. A random stream of its own keeps the rest of the
city the same with or without usage.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import itertools
import math
import random
from typing import Any

import orjson

from schemas.registry import Registry, ServiceItem

from .city import CityConfig
from .clock import Stamps, epoch_of
from .message import Outbox
from .scenario import TickGrid

PERSON_KEY = b"citybrain-simulated-city-portal-key"
CITY_UTC_OFFSET = 8 * 3600
# Sessions a day per registered user: 0.11 × 400,000 ≈ 44,000 sessions, ≈ 35,000 people.
SESSIONS_PER_USER_DAY = 0.11
# (share of the registered, share of the sessions): regular, occasional and rare users.
SEGMENTS = ((0.08, 0.60), (0.17, 0.37), (0.75, 0.03))
# Relative sessions by local hour.
HOURLY = (0.3, 0.15, 0.1, 0.1, 0.15, 0.3, 0.8, 1.8, 3.5, 5.5, 6.0, 5.5,
          4.0, 4.5, 5.5, 5.8, 5.2, 4.0, 3.0, 3.2, 3.6, 3.2, 2.0, 0.9)
CHANNELS = (("app", 0.45), ("mini_program", 0.25), ("web", 0.14), ("hall", 0.11), ("kiosk", 0.05))
CHANNEL_NAMES = tuple(c for c, _ in CHANNELS)
CHANNEL_WEIGHTS = tuple(w for _, w in CHANNELS)
HALL_HOURS = range(9, 17)       # local hours the halls serve, Monday to Friday
WEEKEND = 0.7                   # online sessions at weekends, relative to a weekday
TRANSACTION_SHARE = 0.35        # online sessions that go on to a transaction
FULLY_ONLINE = 0.85             # online transactions handled end to end online
OWN_PORTAL = 0.3                # online transactions a department's own portal records


def user_key(person: int) -> str:
    """The pseudonymous key of simulated person ``person``."""
    return hmac.new(PERSON_KEY, f"person-{person:08d}".encode(), hashlib.sha256).hexdigest()


class PortalUsage:
    """The usage events of every minute whose last second falls in a tick."""

    def __init__(self, registry: Registry, cfg: CityConfig, win: TickGrid, rng: random.Random,
                 stamps: Stamps) -> None:
        self.win, self.rng, self.stamps = win, rng, stamps
        self.batch = cfg.gateway_batch   # off: every event its own message, as the fleets do
        portals = [a for a in registry.assets if a.kind == "portal" and a.retired_at is None
                   and epoch_of(a.registered_at) <= win.start]
        self.unified = portals[0].asset_id if portals else None
        self.own: dict[str, str] = {}
        for a in portals[1:]:
            self.own.setdefault(a.department_id, a.asset_id)
        accounts = sorted(registry.portal_accounts, key=lambda a: a.as_of)
        self.users = accounts[-1].registered_users if accounts else cfg.portal_users
        self.segments: list[tuple[int, int]] = []   # (first person, people)
        first = 0
        for share, _ in SEGMENTS:
            people = max(1, round(self.users * share))
            self.segments.append((first, people))
            first += people
        self.per_day = self.users * SESSIONS_PER_USER_DAY
        total = sum(HOURLY)
        self.hourly = [h / total for h in HOURLY]
        self.items = [s for s in registry.service_items
                      if epoch_of(s.registered_at) <= win.start and s.retired_at is None]
        # Items become coverable when the portal starts covering them: the online choice
        # is rebuilt at each such moment inside the window.
        self.changes = sorted({epoch_of(s.portal_since) for s in self.items
                               if s.online_capable and s.portal_since is not None
                               and epoch_of(s.portal_since) > win.start})
        self.online: tuple[list[ServiceItem], list[float]] = ([], [])
        self.online_until = -1
        self.hall = self._popular(self.items)
        self.keys: dict[int, str] = {}

    def _popular(self, items: list[ServiceItem]) -> tuple[list[ServiceItem], list[float]]:
        """The items with cumulative Zipf-like weights (a fixed random rank per item)."""
        ranked = sorted(items, key=lambda s: random.Random(s.service_id).random())
        return ranked, list(itertools.accumulate(1 / (n + 1) for n in range(len(ranked))))

    def _online_items(self, t: int) -> tuple[list[ServiceItem], list[float]]:
        if t >= self.online_until:
            covered = [s for s in self.items if s.online_capable and s.portal_since is not None
                       and epoch_of(s.portal_since) <= t]
            self.online = self._popular(covered)
            later = bisect.bisect_right(self.changes, t)
            self.online_until = self.changes[later] if later < len(self.changes) else 2**62
        return self.online

    def _choose(self, pool: tuple[list[ServiceItem], list[float]]) -> ServiceItem | None:
        items, cumulative = pool
        if not items:
            return None
        return items[bisect.bisect_left(cumulative, self.rng.random() * cumulative[-1])]

    def _person(self) -> str:
        r = self.rng.random()
        for (first, people), (_, share) in zip(self.segments, SEGMENTS, strict=True):
            if r < share:
                person = first + self.rng.randrange(people)
                break
            r -= share
        else:
            first, people = self.segments[-1]
            person = first + self.rng.randrange(people)
        key = self.keys.get(person)
        if key is None:
            key = self.keys[person] = user_key(person)
        return key

    def emit(self, tick: int, out: Outbox) -> None:
        if self.unified is None:
            return  # no portal registered: nobody records usage
        lo = self.win.start + tick * self.win.tick
        hi = min(lo + self.win.tick, self.win.end)
        # The minutes (of the window's own minute grid) whose last second is in [lo, hi).
        first = max(0, math.ceil((lo - self.win.start - 59) / 60))
        minute = first
        while self.win.start + minute * 60 + 59 < hi:
            self._minute(self.win.start + minute * 60, self.unified, out)
            minute += 1

    def _minute(self, m: int, unified: str, out: Outbox) -> None:
        local = m + CITY_UTC_OFFSET
        hour = local % 86400 // 3600
        weekend = (local // 86400 + 3) % 7 >= 5   # 1970-01-01 was a Thursday
        rate = self.per_day * self.hourly[hour] / 60 * (WEEKEND if weekend else 1.0)
        sessions = max(0, round(self.rng.gauss(rate, math.sqrt(rate)))) if rate > 0 else 0
        halls_open = not weekend and hour in HALL_HOURS
        by_portal: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for n in range(sessions):
            channel = self.rng.choices(CHANNEL_NAMES, CHANNEL_WEIGHTS)[0]
            if channel == "hall" and not halls_open:
                channel = "app"
            t = m + self.rng.randrange(60)
            who = self._person()
            base = {"event_id": "", "asset_id": unified, "occurred_at": self.stamps.text(t),
                    "user_key": who, "channel": channel}
            item = None
            if channel == "hall":
                item = self._choose(self.hall)
            elif self.rng.random() < TRANSACTION_SHARE:
                item = self._choose(self._online_items(t))
            portal = unified
            if item is not None and channel in ("app", "mini_program", "web") \
                    and item.department_id in self.own and self.rng.random() < OWN_PORTAL:
                portal = self.own[item.department_id]
            if channel != "hall":
                by_portal.setdefault(portal, []).append(
                    (t, {**base, "asset_id": portal, "event_id": f"{portal}:usage:{m}:{n}:s",
                         "action": "sign_in"}))
            if item is not None:
                done = t + self.rng.randrange(m + 60 - t)   # within the minute
                online = channel in ("app", "mini_program", "web") and item.online_capable \
                    and self.rng.random() < FULLY_ONLINE
                by_portal.setdefault(portal, []).append((done, {
                    **base, "asset_id": portal, "event_id": f"{portal}:usage:{m}:{n}:t",
                    "occurred_at": self.stamps.text(done), "action": "transaction",
                    "service_id": item.service_id, "department_id": item.department_id,
                    "transaction_id": f"tx-{m}-{n}", "fully_online": online}))
        last = m + 59
        for portal in sorted(by_portal):
            timed = sorted(by_portal[portal], key=lambda p: p[0])
            if not self.batch:
                # Sent at the minute's last second too, so nothing goes before the tick.
                for _, event in timed:
                    out.put(last, "usage", portal, orjson.dumps(event))
                continue
            events = [e for _, e in timed]
            out.put(last, "usage", portal, orjson.dumps({"source": portal, "events": events}))

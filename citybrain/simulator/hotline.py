"""The simulated city's 12345 work orders: dozens a day, and a burst during each outage.

Orders are taken around the clock, most in the day (the hotline answers 7×24), at about
PER_DAY a day at scale 1 (scaled by the number of departments over the default 12). Each
is dispatched to the department of what it is about — a service item of the catalogue, or
one of the department's assets — then accepted, responded to, given a first feedback and
completed, with step timings drawn well inside the category's limits
(schemas/workorder_categories.yaml) and a few late ones; a few are returned by the
department and reassigned to another, a few reopened after an unsatisfactory reply and
completed again, a few duplicates merged into an earlier order (并单). Most completed
orders get a return visit (回访).

During each scripted outage (a district's gateway losing its uplink, a portal failing
its probes, a camera going offline) citizens call about the asset concerned, a few
minutes after it began and while it lasts, so the orders link to the incident the
platform opened for it. What would fall after the window is not sent. A random stream
of its own keeps the rest of the city the same with or without the hotline.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import orjson

from schemas.registry import Registry

from .clock import epoch_of, iso
from .scenario import Scenario, TickGrid
from .timeline import Entry

DAY, HOUR, MINUTE = 86_400, 3_600, 60
PER_DAY = 40.0
DEFAULT_DEPARTMENTS = 12
CITY_UTC_OFFSET = 8 * 3600  # the simulated city keeps China Standard Time
# Relative call rate by local hour.
HOURLY = (0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.7, 1.3, 1.8, 1.8, 1.5,
          1.0, 1.3, 1.6, 1.6, 1.4, 1.0, 0.8, 0.8, 0.6, 0.4, 0.3, 0.2)
CATEGORIES = (("urgent", 0.08), ("complaint", 0.27), ("consultation", 0.35), ("help", 0.2),
              ("suggestion", 0.1))
CHANNELS = (("phone", 0.7), ("wechat", 0.1), ("app", 0.1), ("web", 0.05), ("mini_program", 0.05))
# Typical completion (days) per category, and the share completed late (well past it).
COMPLETION_DAYS = {"complaint": (2.0, 10.0), "consultation": (0.2, 2.0), "help": (0.5, 4.0),
                   "suggestion": (2.0, 8.0)}
SATISFACTION = (("satisfied", 0.75), ("basically_satisfied", 0.17), ("dissatisfied", 0.08))
OUTAGE_CALLS = {"portal_outage": 6, "district_outage": 4, "camera_picture_fault": 1}


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _recorder(registry: Registry) -> str:
    """The registered system the work orders come from: a system named for the hotline,
    else the first business system, else the first portal, else a name of its own."""
    systems = sorted(a.asset_id for a in registry.assets if a.kind == "system")
    named = [s for s in systems if "12345" in s or "hotline" in s]
    portals = sorted(a.asset_id for a in registry.assets if a.kind == "portal")
    return (named or systems or portals or ["hotline-12345"])[0]


class _Hotline:
    def __init__(self, registry: Registry, scenario: Scenario, win: TickGrid, rng: random.Random) -> None:
        self.registry, self.scenario, self.win, self.rng = registry, scenario, win, rng
        self.source = _recorder(registry)
        self.entries: list[Entry] = []
        self.departments = sorted(d.department_id for d in registry.departments)
        # What citizens call about: service items of the catalogue, or (without one) assets.
        self.services = [(s.service_id, s.department_id) for s in registry.service_items]
        self.assets = [(a.asset_id, a.department_id, a.district_id) for a in registry.assets
                       if a.kind in ("camera", "iot_device", "portal", "system")]
        self.by_id = {a.asset_id: a for a in registry.assets}
        self.recent: list[tuple[int, str, str]] = []    # (created, order, category): merge targets
        self.n = 0

    def add(self, t: int, order_id: str, action: str, **more: Any) -> None:
        if self.win.start <= t < self.win.end:
            event = {"event_id": f"{order_id}:{action}:{t}", "asset_id": self.source,
                     "occurred_at": iso(t), "order_id": order_id, "action": action,
                     **{k: v for k, v in more.items() if v is not None}}
            self.entries.append((t, "hotline", self.source, orjson.dumps(event), None))

    def arrivals(self) -> None:
        if not self.departments or not (self.services or self.assets):
            return
        per_second = PER_DAY * max(1, len(self.departments)) / DEFAULT_DEPARTMENTS / DAY
        peak = max(HOURLY) / (sum(HOURLY) / len(HOURLY))
        t = self.win.start
        while True:
            # Thinning: candidates at the peak rate, kept in proportion to the hour's rate.
            t += int(self.rng.expovariate(per_second * peak)) + 1
            if t >= self.win.end:
                return
            if self.rng.random() * max(HOURLY) < HOURLY[(t + CITY_UTC_OFFSET) // HOUR % 24]:
                self.order(t)

    def order(self, t: int, *, subject: str | None = None, category: str | None = None) -> None:
        self.n += 1
        order_id = f"wo-{t}-{self.n}"
        category = category or _pick(self.rng, CATEGORIES)
        service, department, district = None, None, None
        if subject is not None:
            asset = self.by_id.get(subject)
            department = asset.department_id if asset else None
            district = asset.district_id if asset else None
        elif self.services and self.rng.random() < 0.7:
            service, department = self.rng.choice(self.services)
        else:
            subject, department, district = self.rng.choice(self.assets)
        department = department or self.rng.choice(self.departments)
        self.add(t, order_id, "created", category=category, channel=_pick(self.rng, CHANNELS),
                 subject_asset_id=subject, service_id=service, district_id=district)
        if self.recent and subject is None and self.rng.random() < 0.03:
            # A duplicate of an order taken in the last hours: merged into it (并单).
            earlier = [o for c, o, k in self.recent if k == category and t - c < 6 * HOUR]
            if earlier:
                self.add(t + int(self.rng.uniform(5, 40) * MINUTE), order_id, "merged",
                         merged_into=earlier[-1])
                return
        self.recent = [*self.recent[-50:], (t, order_id, category)]
        self.steps(t, order_id, category, department)

    def steps(self, t: int, order_id: str, category: str, department: str) -> None:
        rng = self.rng
        urgent = category == "urgent"
        at = t + int(rng.uniform(1, 5) * MINUTE if urgent else rng.uniform(5, 60) * MINUTE)
        self.add(at, order_id, "dispatched", department_id=department)
        if rng.random() < 0.05 and len(self.departments) > 1:
            # Returned (退单) by the department, reassigned (改派) to another.
            at += int(rng.uniform(10, 90) * MINUTE)
            self.add(at, order_id, "returned", department_id=department)
            department = rng.choice([d for d in self.departments if d != department])
            at += int(rng.uniform(5, 30) * MINUTE)
            self.add(at, order_id, "reassigned", department_id=department)
        at += int(rng.uniform(2, 10) * MINUTE if urgent else rng.uniform(10, 120) * MINUTE)
        self.add(at, order_id, "accepted", department_id=department)
        late = rng.random() < 0.06
        if urgent:
            responded = t + int((rng.uniform(32, 50) if late else rng.uniform(8, 28)) * MINUTE)
            fed_back = responded + int(rng.uniform(20, 80) * MINUTE)
            completed = t + int((rng.uniform(25, 30) if late else rng.uniform(3, 20)) * HOUR)
        else:
            responded = at + int((rng.uniform(30, 50) if late else rng.uniform(0.2, 6)) * HOUR)
            fed_back = responded + int(rng.uniform(2, 30) * HOUR)
            low, high = COMPLETION_DAYS[category]
            days = rng.uniform(low, high) * (rng.uniform(1.6, 2.5) if late else 1.0)
            completed = max(fed_back, t + int(days * DAY))
        self.add(max(responded, at + MINUTE), order_id, "responded", department_id=department)
        if category != "consultation":
            self.add(fed_back, order_id, "fed_back", department_id=department)
        self.add(completed, order_id, "completed", department_id=department)
        if rng.random() < 0.8:
            visit = completed + int(rng.uniform(0.3, 2.0) * DAY)
            satisfaction = _pick(rng, SATISFACTION)
            self.add(visit, order_id, "return_visit", satisfaction=satisfaction)
            if satisfaction == "dissatisfied" and rng.random() < 0.5:
                # Reopened (重办) and completed again, then called back once more.
                again = visit + int(rng.uniform(1, 6) * HOUR)
                self.add(again, order_id, "reopened", department_id=department)
                done = again + int(rng.uniform(0.5, 3.0) * DAY)
                self.add(done, order_id, "completed", department_id=department)
                self.add(done + int(rng.uniform(0.3, 1.5) * DAY), order_id, "return_visit",
                         satisfaction=_pick(rng, SATISFACTION[:2]))

    def outages(self) -> None:
        for kind, calls in OUTAGE_CALLS.items():
            for failure in self.scenario.of_kind(kind):
                if kind == "camera_picture_fault" and failure.param("fault") != "offline":
                    continue
                begin = epoch_of(failure.start)
                last = epoch_of(failure.end) if failure.end is not None else begin + HOUR
                # Calls a few minutes in (the platform has detected it), while it lasts.
                lo, hi = begin + 8 * MINUTE, max(begin + 9 * MINUTE, last - 2 * MINUTE)
                for _ in range(calls):
                    t = int(self.rng.uniform(lo, hi))
                    self.order(t, subject=failure.asset_ids[0],
                               category="urgent" if kind == "district_outage" else "help")


def lay_out(registry: Registry, scenario: Scenario, win: TickGrid, seed: int) -> list[Entry]:
    """The work-order events of the window, in no particular order."""
    hotline = _Hotline(registry, scenario, win, random.Random(f"{seed}:hotline"))
    hotline.arrivals()
    hotline.outages()
    return hotline.entries


def add_to(sparse: dict[int, list[Entry]], registry: Registry, scenario: Scenario, win: TickGrid,
           seed: int) -> None:
    """Add the window's work-order events to the feed's sparse entries, by tick index."""
    for entry in lay_out(registry, scenario, win, seed):
        sparse.setdefault((entry[0] - win.start) // win.tick, []).append(entry)

"""Golden tests of the four data indicators, hand-computed.

Window: two Shanghai days, H0 = 2026-03-10 00:00 local; the midnight between them is H24.

    ds-1  water    cadence 24 h; updated H−10, H12, H36 (H12 → H36 is exactly one cadence);
                   shared H5; opened H30; checks H12.1 passed, H36.1 passed
    ds-2  water    cadence 6 h; updated H−2, H4, H10, H16, H22, H28, then never (stale from
                   H34); opened H20; checks H4 passed, H28 failed
    ds-3  traffic  no declared cadence (daily); registered H6; updated H20 (stale from H44);
                   shared H7
    ds-4  traffic  cadence 12 h; retired H20; updated H−13 (stale from H−1) and H3 (stale
                   from H15); shared H2 and H25 (after retirement); opened H21 (after);
                   checks H3 passed, H22 failed (after retirement)
    ds-5  water    cadence 24 h; no event at all
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from citybrain.simulator import prepared as simulation
from citybrain.simulator.scenario import tick_grid
from citybrain.simulator.timeline import lay_out
from schemas.assets import import_registry
from tests.citybrain.indicators.city import (
    BERLIN,
    SHANGHAI,
    Clock,
    Conn,
    asset,
    data,
    department,
    local,
    members,
    run,
    window,
)

H = Clock(local(SHANGHAI, 2026, 3, 10))
W = window(H(0), H(48))
DATA = ["data.sharing_rate", "data.open_rate", "data.freshness_rate", "data.quality_pass_rate"]


def build_datasets(db: Conn) -> None:
    department(db, "water", "traffic", "empty")
    asset(db, "ds-1", "dataset", "water", key="data", interval=86400)
    asset(db, "ds-2", "dataset", "water", key="data", interval=6 * 3600)
    asset(db, "ds-3", "dataset", "traffic", key="data", interval=None, registered=H(6))
    asset(db, "ds-4", "dataset", "traffic", key="data", interval=12 * 3600, retired=H(20))
    asset(db, "ds-5", "dataset", "water", key="data", interval=86400)
    asset(db, "iot-1", "iot_device", "water")
    for hour in (-10, 12, 36):
        data(db, "ds-1", H(hour), "updated")
    data(db, "ds-1", H(5), "shared")
    data(db, "ds-1", H(30), "opened")
    data(db, "ds-1", H(12.1), "quality_check", passed=True)
    data(db, "ds-1", H(36.1), "quality_check", passed=True)
    for hour in (-2, 4, 10, 16, 22, 28):
        data(db, "ds-2", H(hour), "updated")
    data(db, "ds-2", H(20), "opened")
    data(db, "ds-2", H(4), "quality_check", passed=True)
    data(db, "ds-2", H(28), "quality_check", passed=False)
    data(db, "ds-3", H(20), "updated")
    data(db, "ds-3", H(7), "shared")
    for hour in (-13, 3):
        data(db, "ds-4", H(hour), "updated")
    data(db, "ds-4", H(2), "shared")
    data(db, "ds-4", H(25), "shared")
    data(db, "ds-4", H(21), "opened")
    data(db, "ds-4", H(3), "quality_check", passed=True)
    data(db, "ds-4", H(22), "quality_check", passed=False)
    data(db, "iot-1", H(1), "shared")  # not a dataset


def test_sharing_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.sharing_rate", W)
    # catalogued: all five; shared within scope: ds-1 (H5), ds-3 (H7), ds-4 (H2) → 3 / 5
    assert (result.figure.numerator, result.figure.denominator) == (3, 5)
    # water ds-1 of ds-1, ds-2, ds-5; traffic ds-3, ds-4 of both
    assert members(result, "department") == pytest.approx({"water": 100 / 3, "traffic": 100.0})
    # day 1: five in scope, three shared; day 2: four (ds-4 retired), none (H25 is after)
    assert members(result, "day") == pytest.approx({"2026-03-10": 60.0, "2026-03-11": 0.0})


def test_open_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.open_rate", W)
    # opened within scope: ds-1 (H30), ds-2 (H20); ds-4's H21 is after its retirement → 2 / 5
    assert (result.figure.numerator, result.figure.denominator) == (2, 5)
    assert members(result, "department") == pytest.approx({"water": 200 / 3, "traffic": 0.0})
    # day 1: ds-2 of five; day 2: ds-1 of four
    assert members(result, "day") == pytest.approx({"2026-03-10": 20.0, "2026-03-11": 25.0})


def test_freshness_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.freshness_rate", W)
    # fresh throughout: ds-1 only (H−10 covers H0–H14, H12 → H36 exactly one cadence, H36
    # covers the rest). Stale: ds-2 from H34, ds-3 from H44 (daily by default), ds-4 H0–H3
    # and H15–H20, ds-5 always → 1 / 5
    assert (result.figure.numerator, result.figure.denominator) == (1, 5)
    assert members(result, "department") == pytest.approx({"water": 100 / 3, "traffic": 0.0})
    # day 1: ds-1, ds-2, ds-3 (registered H6, updated H20) fresh; ds-4, ds-5 stale → 3/5;
    # day 2: ds-1 fresh; ds-2, ds-3, ds-5 stale → 1/4
    assert members(result, "day") == pytest.approx({"2026-03-10": 60.0, "2026-03-11": 25.0})


def test_quality_pass_rate(db: Conn) -> None:
    build_datasets(db)
    result = run(db, "data.quality_pass_rate", W)
    # checked: ds-1 (all passed), ds-2 (H28 failed), ds-4 (H3 passed; H22 is after its
    # retirement) → 2 / 3; ds-3 and ds-5 were not checked and are left out
    assert (result.figure.numerator, result.figure.denominator) == (2, 3)
    assert members(result, "department") == pytest.approx({"water": 50.0, "traffic": 100.0})
    # day 1: ds-1, ds-2 (H4), ds-4 passed → 3/3; day 2: ds-1 passed, ds-2 failed → 1/2
    assert members(result, "day") == pytest.approx({"2026-03-10": 100.0, "2026-03-11": 50.0})


@pytest.mark.parametrize("indicator", DATA)
def test_empty_department_is_no_data(db: Conn, indicator: str) -> None:
    build_datasets(db)
    result = run(db, indicator, W, department="empty")
    assert result.figure.value is None
    assert (result.figure.numerator, result.figure.denominator) == (0, 0)
    assert members(result, "day") == {"2026-03-10": None, "2026-03-11": None}


def test_berlin_days_across_the_spring_change(db: Conn) -> None:
    department(db, "water")
    asset(db, "ds-1", "dataset", "water", key="data", interval=86400)
    # 2026-03-29 lasts 23 h: 22:00 UTC on the 29th is already 00:00 CEST on the 30th.
    # The update at 23:30 CET on the 28th (22:30 UTC) keeps ds-1 fresh until 22:30 UTC on
    # the 29th = 00:30 CEST on the 30th: fresh on the 29th, stale on the 30th (with 24-hour
    # days from the window's start, the 29th would have taken the stale half hour).
    data(db, "ds-1", local(BERLIN, 2026, 3, 27, 23, 30), "updated")
    data(db, "ds-1", local(BERLIN, 2026, 3, 28, 23, 30), "updated")
    # Shared at 23:30 CEST on the 29th (21:30 UTC) and 00:30 CEST on the 30th (22:30 UTC)
    data(db, "ds-1", local(BERLIN, 2026, 3, 29, 23, 30), "shared")
    data(db, "ds-1", local(BERLIN, 2026, 3, 29, 23, 30), "quality_check", passed=False)
    data(db, "ds-1", local(BERLIN, 2026, 3, 30, 0, 30), "quality_check", passed=True)
    win = window(local(BERLIN, 2026, 3, 28), local(BERLIN, 2026, 3, 31), BERLIN)
    fresh = run(db, "data.freshness_rate", win)
    assert members(fresh, "day") == {"2026-03-28": 100.0, "2026-03-29": 100.0, "2026-03-30": 0.0}
    shared = run(db, "data.sharing_rate", win)
    assert members(shared, "day") == {"2026-03-28": 0.0, "2026-03-29": 100.0, "2026-03-30": 0.0}
    quality = run(db, "data.quality_pass_rate", win)
    assert members(quality, "day") == {"2026-03-28": None, "2026-03-29": 0.0, "2026-03-30": 100.0}


# --- the data feed's first event ----------------------------------------------------
# The platform's evidence about datasets begins with the first data event it stored (F):
# earlier time is judged for no dataset, and a dataset's clock starts at the later of its
# registration and F (as the dataset-stale alert rule gives a dataset one full cadence
# from when it is first watched). Before version 2 every dataset registered before the
# platform's first data was stale from W's start until its first update, so a city's first
# day read 0 % (issue 12, item 8).
#
# Same two Shanghai days, H0 = 2026-03-10 00:00 local; the data feed starts at H3.
#
#     fd-a  water    cadence 6 h; updated H5, H11, …, H47 (every 6 h)
#     fd-b  water    cadence 24 h; shared H3 (the first data event of the city);
#                    updated H20, H44
#     fd-c  water    cadence 1 h; never updated (stale from H3 + 1 h = H4)
#     fd-d  traffic  cadence 12 h; registered H30; updated H40
#     fd-e  traffic  cadence 12 h; retired H2, before F

def build_first_day(db: Conn) -> None:
    department(db, "water", "traffic")
    asset(db, "fd-a", "dataset", "water", key="data", interval=6 * 3600)
    asset(db, "fd-b", "dataset", "water", key="data", interval=86400)
    asset(db, "fd-c", "dataset", "water", key="data", interval=3600)
    asset(db, "fd-d", "dataset", "traffic", key="data", interval=12 * 3600, registered=H(30))
    asset(db, "fd-e", "dataset", "traffic", key="data", interval=12 * 3600, retired=H(2))
    for hour in range(5, 48, 6):
        data(db, "fd-a", H(hour), "updated")
    data(db, "fd-b", H(3), "shared")
    for hour in (20, 44):
        data(db, "fd-b", H(hour), "updated")
    data(db, "fd-d", H(40), "updated")


def test_freshness_is_judged_from_the_data_feeds_first_event(db: Conn) -> None:
    build_first_day(db)
    result = run(db, "data.freshness_rate", W)
    # Scope from F = H3: fd-a fresh (H3 + 6 h covers H5, then every 6 h; H47 covers the
    # end), fd-b fresh (H3 + 24 h covers H20, H20 → H44 is one cadence, H44 the rest), fd-c
    # stale from H4, fd-d fresh (registered H30, updated H40 within 12 h); fd-e retired
    # before F: not in scope → 3 / 4. (Version 1: fd-a stale H0–H5, fd-b H0–H20, fd-c all,
    # fd-e H0–H2 → 1 / 5.)
    assert (result.figure.numerator, result.figure.denominator) == (3, 4)
    assert result.figure.value == pytest.approx(75.0)
    assert members(result, "department") == pytest.approx({"water": 200 / 3, "traffic": 100.0})
    # day 1: fd-a, fd-b fresh, fd-c stale (fd-d not yet registered) → 2/3;
    # day 2: fd-a, fd-b, fd-d fresh, fd-c stale → 3/4
    assert members(result, "day") == pytest.approx({"2026-03-10": 200 / 3, "2026-03-11": 75.0})


def test_freshness_feed_start_is_the_citys_not_the_departments(db: Conn) -> None:
    build_first_day(db)
    # traffic has no event before H40, yet the city's feed started at H3: fd-d is judged
    # from its registration (H30), fd-e (retired H2) is out → 1 / 1
    result = run(db, "data.freshness_rate", W, department="traffic")
    assert (result.figure.numerator, result.figure.denominator) == (1, 1)
    assert members(result, "day") == {"2026-03-10": None, "2026-03-11": 100.0}


def test_freshness_before_the_data_feeds_first_event_is_no_data(db: Conn) -> None:
    build_first_day(db)
    # The day before H0 and H0–H3: the platform had no data yet → no data, not 0 %
    for before in (window(H(-24), H(0)), window(H(0), H(3))):
        result = run(db, "data.freshness_rate", before)
        assert result.figure.value is None
        assert (result.figure.numerator, result.figure.denominator) == (0, 0)
        assert all(value is None for value in members(result, "day").values())
    # A store without any data event: no data either
    db.execute("DELETE FROM data_events")
    result = run(db, "data.freshness_rate", W)
    assert result.figure.value is None
    assert members(result, "day") == {"2026-03-10": None, "2026-03-11": None}


def test_the_simulated_citys_first_day_reads_its_one_stale_dataset(db: Conn) -> None:
    """The demo's city (seed 7): its data events through the indicator, as `make demo` stores
    them. The simulator emits one day and nothing before it, so the store begins with the
    day; only the injected stale dataset (1 h cadence, never updated) may be stale. Version
    1 read 0 % here: every dataset stale from W's start until its first update."""
    start = datetime(2026, 5, 19, 9, tzinfo=UTC)
    city = simulation.prepare(seed=7, scale=1.0, start=start, days=1)
    import_registry(db, city.registry)
    sim = tick_grid(city.config, start, 1)
    for entries in lay_out(city.registry, city.scenario, sim, city.config.seed).values():
        for _, family, _, value, malformed in entries:
            if family == "data" and malformed is None:
                e = orjson.loads(value)
                db.execute("INSERT INTO data_events (occurred_at, event_id, asset_id, action, passed)"
                           " VALUES (%s, %s, %s, %s, %s)",
                           (e["occurred_at"], e["event_id"], e["asset_id"], e["action"], e.get("passed")))
    datasets = [a.asset_id for a in city.registry.assets if a.kind == "dataset"]
    stale = [f.asset_ids for f in city.scenario.of_kind("stale_dataset")]
    assert (len(datasets), stale) == (40, [("ds-029",)])
    result = run(db, "data.freshness_rate", window(start, start + timedelta(days=1)))
    assert (result.figure.numerator, result.figure.denominator) == (39, 40)
    # Shanghai days: 2026-05-19 from 17:00 local, 2026-05-20 until 17:00; ds-029 stale in both
    assert members(result, "day") == pytest.approx({"2026-05-19": 97.5, "2026-05-20": 97.5})

"""Golden tests of the as-of rule (README, "Rules an evaluator can check"), end to end
through `citybrain report`: figures cover the window up to the earlier of its end and the
report's time, and a liveness feed's assets only up to the feed's watermark; later time
is outside the scope, the provenance states the as-of times and the command warns.

Every expected figure is computed by hand in the comment beside it. Times: Shanghai is
UTC+8, so the local day 2026-03-01 is [2026-02-28T16:00Z, 2026-03-01T16:00Z).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from citybrain.kernel.settings import Settings
from tests.citybrain.reports.command import citybrain, indicator

HOUR = 3600


def report(settings: Settings, out: Path, *args: str, language: str = "en") -> tuple[dict[str, Any], str]:
    """The JSON report of ``args`` and what the command wrote on stderr (its warnings, in
    ``language``: English unless asked)."""
    done = citybrain("report", *args, "--tz", "Asia/Shanghai", "--format", "json", "-o", str(out),
                     settings=settings, CITYBRAIN_LANGUAGE=language)
    assert done.returncode == 0, done.stderr
    return orjson.loads(out.read_bytes()), " ".join(done.stderr.split())


def members(entry: dict[str, Any], dimension: str) -> dict[str, float | None]:
    return {b["member"]: b["value"] for b in entry["breakdowns"] if b["dimension"] == dimension}


@pytest.mark.usefixtures("city")
def test_a_future_window_reports_no_data(settings: Settings, tmp_path: Path) -> None:
    # The issue's command, on the wall clock: January 2030 has not happened.
    before = datetime.now(UTC)
    doc, warnings = report(settings, tmp_path / "2030.json", "--from", "2030-01-01", "--to", "2030-01-31")
    after = datetime.now(UTC)
    # Before: 100 % with unknown_share 0 (the open intervals ran to 2030).
    online = indicator(doc, "infra.device_online_rate")
    assert (online["value"], online["numerator"], online["denominator"], online["unknown_share"]) == (
        None, None, None, None)
    assert all(i["value"] is None for i in doc["indicators"])
    assert doc["provenance"]["data_completeness"]["with_data"] == 0
    as_of = doc["provenance"]["as_of"]
    assert as_of["at"] == doc["provenance"]["generated_at"]
    assert before <= datetime.fromisoformat(as_of["at"]) <= after
    assert set(as_of["feeds"]) == {"iot", "probe", "video"} and all(
        datetime.fromisoformat(t) == datetime.fromisoformat(as_of["at"]) for t in as_of["feeds"].values())
    assert "warning: the window starts after its as-of time" in warnings
    assert "every indicator reports no data" in warnings
    # In the settings' language, zh-CN by default.
    _, said = report(settings, tmp_path / "2030-zh.json", "--from", "2030-01-01", "--to", "2030-01-31",
                     language="zh-CN")
    assert "警告： 时间窗口开始于数据截止时间" in said and "因此所有指标均无数据" in said


@pytest.mark.usefixtures("city")
def test_the_current_period_is_cut_at_now(settings: Settings, tmp_path: Path) -> None:
    # March, reported on 03-01 at 18:00 local (10:00Z): the figures cover
    # [02-28T16:00Z, 03-01T10:00Z) = 18 h per device.
    doc, warnings = report(settings, tmp_path / "march.json", "--from", "2026-03-01", "--to", "2026-03-31",
                           "--generated-at", "2026-03-01T18:00:00+08:00")
    online = indicator(doc, "infra.device_online_rate")
    # water up 18 h; traffic up 16:00–22:00 and 04:00–10:00 = 12 h, offline 6 h.
    # (30 + 12 =) 30 h up of 36 h known = 83.333333 %; before: the rest of March counted
    # as up, (744 + 738) / 1488 = 99.596774 %.
    assert (online["value"], online["numerator"], online["denominator"], online["unknown_share"]) == (
        83.333333, 30 * HOUR, 36 * HOUR, 0)
    assert members(online, "department") == {"traffic": 66.666667, "water": 100}
    assert members(online, "day") == {"2026-03-01": 83.333333}  # the days after now are not in scope
    p = doc["provenance"]
    assert p["window"]["to"] == "2026-04-01T00:00:00+08:00"
    assert p["as_of"] == {"at": "2026-03-01T10:00:00+00:00", "at_local": "2026-03-01T18:00:00+08:00",
                          "feeds": {"iot": "2026-03-01T18:00:00+08:00", "probe": "2026-03-01T18:00:00+08:00",
                                    "video": "2026-03-01T18:00:00+08:00"}}
    assert ("warning: the window reaches past its as-of time 2026-03-01T18:00:00+08:00 (the time the report "
            "was generated): the figures cover 2026-03-01T00:00:00+08:00 – 2026-03-01T18:00:00+08:00 only; "
            "later time is outside the scope") in warnings
    # The stamp reproduces the export byte for byte, as-of included.
    again = tmp_path / "again.json"
    report(settings, again, "--from", "2026-03-01", "--to", "2026-03-31",
           "--generated-at", "2026-03-01T18:00:00+08:00")
    assert again.read_bytes() == (tmp_path / "march.json").read_bytes()


@pytest.fixture
def stalled(db: psycopg.Connection[Any]) -> None:
    """The iot feed's data stop at 2026-03-01T03:00Z (11:00 local): its watermark. The
    video feed goes on to 2026-03-02T12:00Z. iot-w online throughout (open), iot-t online
    until 2026-02-28T22:00Z and offline since (open), iot-x registered with no interval;
    cam-1 online throughout (open)."""
    db.execute("INSERT INTO departments (department_id, name) VALUES ('water', 'Water')")
    db.execute(
        "INSERT INTO assets (asset_id, kind, key, department_id, expected_interval_s, registered_at) VALUES"
        " ('iot-w', 'iot_device', 'infrastructure', 'water', 30, '2026-01-01T00:00Z'),"
        " ('iot-t', 'iot_device', 'infrastructure', 'water', 30, '2026-01-01T00:00Z'),"
        " ('iot-x', 'iot_device', 'infrastructure', 'water', 30, '2026-01-01T00:00Z'),"
        " ('cam-1', 'camera', 'infrastructure', 'water', 60, '2026-01-01T00:00Z')")
    db.execute(
        "INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason) VALUES"
        " ('iot-w', 'online', '2026-02-01T00:00Z', NULL, 'heartbeat'),"
        " ('iot-t', 'online', '2026-02-01T00:00Z', '2026-02-28T22:00Z', 'heartbeat'),"
        " ('iot-t', 'offline', '2026-02-28T22:00Z', NULL, 'heartbeat timeout'),"
        " ('cam-1', 'online', '2026-02-01T00:00Z', NULL, 'health')")
    db.execute("INSERT INTO feed_watermarks (feed, watermark) VALUES"
               " ('iot', '2026-03-01T03:00Z'), ('video', '2026-03-02T12:00Z')")


@pytest.mark.usefixtures("stalled")
def test_a_feed_whose_data_stop_mid_window(settings: Settings, tmp_path: Path) -> None:
    doc, warnings = report(settings, tmp_path / "day.json", "--from", "2026-03-01", "--to", "2026-03-01",
                           "--generated-at", "2026-03-05T09:00:00+08:00")
    online = indicator(doc, "infra.device_online_rate")
    # The iot devices' scope is 02-28T16:00Z – 03-01T03:00Z = 11 h each (33 h): iot-w up
    # 11 h, iot-t up 6 h and offline 5 h, iot-x unknown 11 h. 17 h up of 22 h known =
    # 77.272727 %, unknown 11 / 33. Before: the open intervals ran to the day's end,
    # (24 + 6) / 48 = 62.5 % (unknown 24 / 72); had the time after the watermark been
    # unknown instead of outside the scope, unknown would be 50 / 72.
    assert (online["value"], online["numerator"], online["denominator"], online["unknown_share"]) == (
        77.272727, 17 * HOUR, 22 * HOUR, 0.333333)
    assert members(online, "day") == {"2026-03-01": 77.272727}
    # The video feed has data for the whole day: the camera's 24 h are all there.
    intact = indicator(doc, "infra.camera_intact_rate")
    assert (intact["value"], intact["numerator"], intact["denominator"], intact["unknown_share"]) == (
        100, 24 * HOUR, 24 * HOUR, 0)
    p = doc["provenance"]
    assert p["as_of"] == {"at": "2026-03-01T16:00:00+00:00", "at_local": "2026-03-02T00:00:00+08:00",
                          "feeds": {"iot": "2026-03-01T11:00:00+08:00", "probe": "2026-03-02T00:00:00+08:00",
                                    "video": "2026-03-02T00:00:00+08:00"}}
    assert ("warning: the iot feed's state intervals reach only 2026-03-01T11:00:00+08:00 (its watermark): "
            "its assets' availability covers the window up to then; later time is outside the scope"
            ) in warnings
    assert "reaches past its as-of time" not in warnings and "video feed" not in warnings


@pytest.mark.usefixtures("stalled")
def test_the_as_of_times_are_in_every_format(settings: Settings, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    args = ("--from", "2026-03-01", "--to", "2026-03-01", "--tz", "Asia/Shanghai",
            "--generated-at", "2026-03-05T09:00:00+08:00")
    csv, xlsx = tmp_path / "r.csv", tmp_path / "r.xlsx"
    for fmt, path in (("csv", csv), ("xlsx", xlsx)):
        done = citybrain("report", *args, "--format", fmt, "-o", str(path), settings=settings)
        assert done.returncode == 0, done.stderr
    lines = csv.read_text().splitlines()
    assert "# as_of: 2026-03-01T16:00:00+00:00" in lines
    assert "# as_of_local: 2026-03-02T00:00:00+08:00" in lines
    feeds = ("iot 2026-03-01T11:00:00+08:00, probe 2026-03-02T00:00:00+08:00, "
             "video 2026-03-02T00:00:00+08:00")
    assert f"# as_of_feeds: {feeds}" in lines
    # The provenance sheet is the last: (label, field, value) rows.
    prov = {r[1]: r[2] for r in load_workbook(xlsx).worksheets[-1].iter_rows(min_row=2, values_only=True)}
    assert (prov["as_of"], prov["as_of_local"], prov["as_of_feeds"]) == (
        "2026-03-01T16:00:00+00:00", "2026-03-02T00:00:00+08:00", feeds)

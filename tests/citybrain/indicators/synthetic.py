"""A synthetic city at the scale the indicator engine must handle, written straight into a
schema with set-based SQL (seconds, not the hours a simulated month of events would take).

Used by the performance check (``python -m tests.citybrain.indicators.synthetic URL``) that
times every indicator over a 30-day window; the golden tests use hand-made fixtures instead.
The shape: 100,000 IoT devices, 2,000 gateways, 10,000 cameras, links, portals, systems,
cloud hosts and datasets over 60 departments; every liveness asset has a state history with
churn on one in ten, a feed-wide ingestion gap, maintenance windows of every scope, and raw
readings (probes, cloud usage, data, security) and incidents at configurable rates; the
hourly rollups are rebuilt from the raw rows after loading (``streams.rollups.rebuild``).

``python -m tests.citybrain.indicators.synthetic URL [SCHEMA] [--reuse]``: --reuse times the
indicators on an already loaded schema instead of dropping and reloading it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from citybrain.indicators.engine import compute, load_catalogue
from citybrain.indicators.model import ReportWindow
from citybrain.kernel import store
from streams import rollups


@dataclass(frozen=True)
class Shape:
    devices: int = 100_000
    gateways: int = 2_000
    cameras: int = 10_000
    links: int = 200
    portals: int = 500
    systems: int = 500
    cloud_hosts: int = 200
    datasets: int = 500
    departments: int = 60
    districts: int = 10
    days: int = 30
    probe_interval_s: int = 300
    cloud_interval_s: int = 300
    incidents: int = 5_000
    security_events: int = 5_000
    lifecycle_every: int = 1000  # every n-th asset registers (n ≡ 1) or retires (n ≡ 2) in W


START = datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)

LOAD_SQL = """
INSERT INTO departments (department_id, name)
SELECT 'dept-' || n, 'Department ' || n FROM generate_series(1, %(departments)s) n;
INSERT INTO districts (district_id, name)
SELECT 'dist-' || n, 'District ' || n FROM generate_series(1, %(districts)s) n;

INSERT INTO assets (asset_id, kind, key, department_id, district_id, expected_interval_s,
                    shared_with, tags, registered_at, retired_at)
SELECT k.prefix || n, k.kind, k.key,
       'dept-' || (1 + n %% %(departments)s), 'dist-' || (1 + n %% %(districts)s), k.interval_s,
       CASE WHEN k.kind IN ('camera', 'dataset') AND n %% 7 = 0
            THEN ARRAY['dept-' || (1 + (n + 1) %% %(departments)s)] ELSE '{}' END,
       CASE WHEN n %% 50 = 0 THEN ARRAY['solar'] ELSE '{}' END,
       CASE WHEN n %% %(lifecycle_every)s = 1 THEN %(start)s + %(days)s * interval '8 hours'
            ELSE %(start)s - interval '90 days' END,
       CASE WHEN n %% %(lifecycle_every)s = 2 THEN %(start)s + %(days)s * interval '16 hours' END
FROM (VALUES ('iot-', 'iot_device', 'infrastructure', 60, %(devices)s),
             ('gw-', 'gateway', 'infrastructure', 60, %(gateways)s),
             ('cam-', 'camera', 'infrastructure', 60, %(cameras)s),
             ('link-', 'link', 'infrastructure', 60, %(links)s),
             ('portal-', 'portal', 'portal', 60, %(portals)s),
             ('sys-', 'system', 'system', 60, %(systems)s),
             ('vm-', 'cloud_host', 'infrastructure', 300, %(cloud_hosts)s),
             ('ds-', 'dataset', 'data', 86400, %(datasets)s))
     AS k(prefix, kind, key, interval_s, how_many),
     generate_series(1, k.how_many) n;

-- State history: every liveness asset online from 30 days before the window; one in ten
-- flips state 2..20 times in the window; the iot feed has a 10-minute ingestion gap.
CREATE TEMP TABLE changes AS
SELECT a.asset_id, a.kind,
       %(start)s + (random() * %(days)s * 86400) * interval '1 second' AS at
FROM assets a, generate_series(1, 2 + (hashtext(a.asset_id) & 15)) g
WHERE a.kind IN ('iot_device', 'gateway', 'camera', 'link', 'portal', 'system')
  AND hashtext(a.asset_id) %% 10 = 0;

INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)
SELECT asset_id,
       CASE WHEN rn %% 2 = 1 THEN 'online'
            WHEN kind = 'camera' AND rn %% 4 = 0 THEN 'degraded' ELSE 'offline' END,
       started_at, ended_at, 'synthetic'
FROM (
    SELECT asset_id, kind, at AS started_at, lead(at) OVER w AS ended_at,
           row_number() OVER w AS rn
    FROM (SELECT a.asset_id, a.kind, %(start)s - interval '30 days' AS at
          FROM assets a
          WHERE a.kind IN ('iot_device', 'gateway', 'camera', 'link', 'portal', 'system')
          UNION ALL
          SELECT asset_id, kind, at FROM changes) c
    WINDOW w AS (PARTITION BY asset_id ORDER BY at)
) s;

-- Holes: some assets have time with no interval at all (their offline spells).
DELETE FROM state_intervals si USING assets a
WHERE a.asset_id = si.asset_id AND si.state = 'offline' AND hashtext(a.asset_id) %% 7 = 0;

-- The ingestion gap: every iot-feed asset that was online at the gap is unknown for it.
WITH gap AS (SELECT %(start)s + interval '12 days' AS gs, %(start)s + interval '12 days 10 minutes' AS ge),
hit AS (
    SELECT si.asset_id, si.started_at, si.ended_at, si.state
    FROM state_intervals si, gap, assets a
    WHERE a.asset_id = si.asset_id AND a.kind IN ('iot_device', 'gateway')
      AND si.started_at < gap.gs AND coalesce(si.ended_at, 'infinity') > gap.ge
),
cut AS (
    UPDATE state_intervals si SET ended_at = gap.gs
    FROM hit, gap
    WHERE si.asset_id = hit.asset_id AND si.started_at = hit.started_at
    RETURNING si.asset_id
)
INSERT INTO state_intervals (asset_id, state, started_at, ended_at, reason)
SELECT hit.asset_id, 'unknown', gap.gs, gap.ge, 'ingestion gap' FROM hit, gap
UNION ALL
SELECT hit.asset_id, hit.state, gap.ge, hit.ended_at, 'resumed' FROM hit, gap;

INSERT INTO maintenance_windows (kind, scope, target, starts_at, ends_at, timezone, reason, created_by)
VALUES ('maintenance', 'all', NULL, %(start)s + interval '3 days', %(start)s + interval '3 days 2 hours',
        'Asia/Shanghai', 'city-wide upgrade', 'bench'),
       ('maintenance', 'department', 'dept-1', %(start)s, %(start)s + interval '4 hours',
        'Asia/Shanghai', 'weekly', 'bench'),
       ('maintenance', 'district', 'dist-2', %(start)s + interval '5 days',
        %(start)s + interval '5 days 6 hours', 'Asia/Shanghai', 'district works', 'bench'),
       ('maintenance', 'tag', 'solar', %(start)s + interval '7 days', %(start)s + interval '8 days',
        'Asia/Shanghai', 'panel cleaning', 'bench'),
       ('silence', 'all', NULL, %(start)s, %(start)s + interval '30 days', 'Asia/Shanghai', 'noise', 'bench');
-- Removed an hour into its four hours and its period left whole: only that hour counts.
INSERT INTO maintenance_windows (kind, scope, target, starts_at, ends_at, timezone, reason, created_by,
                                 removed_at)
VALUES ('maintenance', 'all', NULL, %(start)s + interval '2 days', %(start)s + interval '2 days 4 hours',
        'Asia/Shanghai', 'cancelled', 'bench', %(start)s + interval '2 days 1 hour');
INSERT INTO maintenance_periods (window_id, starts_at, ends_at)
SELECT window_id, starts_at + w * interval '7 days', ends_at + w * interval '7 days'
FROM maintenance_windows, generate_series(0, 4) w
WHERE target = 'dept-1' OR w = 0;

INSERT INTO probe_events (occurred_at, event_id, asset_id, target_kind, ok, status_code, latency_ms,
                          packets_sent, packets_lost)
SELECT t, a.asset_id || ':' || extract(epoch FROM t), a.asset_id, a.kind, random() > 0.001,
       CASE WHEN a.kind <> 'link' THEN 200 END, 5 + random() * 400,
       CASE WHEN a.kind = 'link' THEN 50 END, CASE WHEN a.kind = 'link' THEN (random() * 1.1)::int END
FROM assets a,
     generate_series(%(start)s, %(start)s + %(days)s * interval '1 day' - interval '1 second',
                     %(probe_interval_s)s * interval '1 second') t
WHERE a.kind IN ('link', 'portal', 'system');

INSERT INTO cloud_events (occurred_at, event_id, asset_id, kind, cpu_alloc_cores, cpu_used_cores,
                          mem_alloc_gb, mem_used_gb, storage_alloc_gb, storage_used_gb)
SELECT t, a.asset_id || ':' || extract(epoch FROM t), a.asset_id, 'usage', 16, random() * 16,
       64, random() * 64, 500, 200 + random() * 100
FROM assets a,
     generate_series(%(start)s, %(start)s + %(days)s * interval '1 day' - interval '1 second',
                     %(cloud_interval_s)s * interval '1 second') t
WHERE a.kind = 'cloud_host';
INSERT INTO cloud_events (occurred_at, event_id, asset_id, kind, request_id, resource_type,
                          requested_at, fulfilled_at, agreed_lead_hours)
SELECT t + phase.d, 'req-' || n || phase.name, 'vm-' || (1 + n %% %(cloud_hosts)s), 'request',
       'req-' || n, 'vm', t, CASE WHEN phase.name = 'fulfilled' THEN t + phase.d END, 24
FROM generate_series(1, 500) n,
     -- n in the sub-select makes it run per row (an uncorrelated one runs once).
     LATERAL (SELECT %(start)s + (random() + 0 * n) * (%(days)s - 2) * interval '1 day' AS t) r,
     LATERAL (VALUES ('filed', interval '0'), ('fulfilled', random() * interval '36 hours')) phase(name, d);

INSERT INTO security_events (occurred_at, event_id, asset_id, source, category, level, title)
SELECT %(start)s + random() * %(days)s * interval '1 day', 'sec-' || n,
       'vm-' || (1 + n %% %(cloud_hosts)s), 'ids',
       (ARRAY['intrusion', 'malware', 'ddos', 'vulnerability', 'policy_violation', 'data_leak'])[1 + n %% 6],
       (ARRAY['I', 'II', 'III', 'IV'])[1 + n %% 4], 'synthetic'
FROM generate_series(1, %(security_events)s) n;

INSERT INTO data_events (occurred_at, event_id, asset_id, action, target_department, completeness, passed)
SELECT t + x.off, a.asset_id || ':' || x.action || ':' || extract(epoch FROM t), a.asset_id, x.action,
       CASE WHEN x.action = 'shared' THEN 'dept-2' END,
       CASE WHEN x.action = 'quality_check' THEN 0.97 END,
       CASE WHEN x.action = 'quality_check' THEN hashtext(a.asset_id || t::text) %% 20 <> 0 END
FROM assets a,
     generate_series(%(start)s - interval '1 day',
                     %(start)s + %(days)s * interval '1 day' - interval '1 second', interval '1 day') t,
     (VALUES ('updated', interval '1 hour'), ('quality_check', interval '1 hour 2 minutes'),
             ('shared', interval '6 hours'), ('opened', interval '12 hours')) x(action, off)
WHERE a.kind = 'dataset' AND (hashtext(a.asset_id) %% 10 <> 0 OR x.action <> 'updated');

INSERT INTO incidents (fingerprint, rule_id, title, severity, status, key, department_id, asset_id,
                       opened_at, acknowledged_at, resolved_at, auto_resolved, last_seen_at,
                       response_due_at, resolution_due_at)
SELECT 'fp-' || n, 'rule', 'synthetic', (ARRAY['I', 'II', 'III', 'IV'])[1 + n %% 4], 'resolved',
       'infrastructure', 'dept-' || (1 + n %% %(departments)s), 'iot-' || n, o,
       o + random() * interval '50 minutes', o + random() * interval '6 hours', false, o,
       o + interval '30 minutes', o + interval '8 hours'
FROM generate_series(1, %(incidents)s) n,
     LATERAL (SELECT %(start)s + (random() + 0 * n) * %(days)s * interval '1 day' AS o) r;
ANALYZE;
"""


def load(conn: psycopg.Connection[Any], shape: Shape) -> None:
    params: dict[str, object] = {**shape.__dict__, "start": START}
    conn.execute("SELECT setseed(0.42)")
    for statement in LOAD_SQL.split(";\n"):
        if statement.strip():
            conn.execute(statement.encode(), params)
    # The raw rows went in around the pipeline, as a back-fill would: fill the hourly
    # rollups the probe and cloud indicators read (what the ingest path does per batch).
    rollups.rebuild(conn, START - timedelta(days=1), START + timedelta(days=shape.days + 1))
    conn.execute("ANALYZE probe_hourly, cloud_hourly")


def main(url: str, schema: str = "ind_synthetic", *flags: str) -> None:
    shape = Shape()
    if "--reuse" not in flags:
        store.drop_schema(url, schema)
    store.migrate(url, schema)
    with store.connect(url, schema, autocommit=True) as conn:
        if "--reuse" not in flags:
            began = time.perf_counter()
            load(conn, shape)
            print(f"loaded in {time.perf_counter() - began:.1f} s")
        window = ReportWindow(START, START + timedelta(days=shape.days), ZoneInfo("Asia/Shanghai"))
        total = 0.0
        for indicator in load_catalogue():
            best = float("inf")
            for _ in range(3):
                began = time.perf_counter()
                result = compute(conn, indicator, window)
                best = min(best, time.perf_counter() - began)
            total += best
            print(f"{indicator.id:36s} {best * 1000:8.1f} ms  value {result.figure.value!r:.24}"
                  f"  breakdowns {len(result.breakdowns)}")
        print(f"all indicators: {total * 1000:.0f} ms")


if __name__ == "__main__":
    main(*sys.argv[1:])

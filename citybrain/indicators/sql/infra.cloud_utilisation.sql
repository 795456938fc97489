-- infra.cloud_utilisation, version 2: gov-cloud resource utilisation (政务云资源利用率).
-- Per resource (CPU, memory, storage): Σ used / Σ allocated over the usage samples in W
-- of registered cloud hosts, while registered (registered_at ≤ occurred_at <
-- retired_at). The event contract sends used and allocated in pairs.
-- Hosts report on a fixed interval, so every sample weighs the same and the ratio is
-- the time average of used over allocated, weighted by capacity.
-- value = the mean of the three resource utilisations that have data; numerator and
-- denominator are NULL except in the 'category' breakdown, which gives each resource
-- (member cpu, memory, storage) with Σ used and Σ allocated.
-- Day: the local day (tz) of occurred_at.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'asset', 'day', 'category'; member;
-- value in percent; adjusted_value and unknown_share NULL). No sample: value NULL.
--
-- Where the samples come from (every sample counted once, on its own local day):
-- * Whole local days of W, in the zone of the daily rollups (rollup_zone) and wholly
--   inside the host's registered life: cloud_daily (migration 013), one row per host and day.
-- * The rest (the hours before the first and after the last whole day, the day a host is
--   registered or retired, every day when the report's zone is not the rollup's): the
--   hourly rollup cloud_hourly (migration 009) for every UTC hour wholly inside W, inside
--   the host's registered life and on one local day; the hours that a window edge, a
--   local midnight (zones with :30/:45 offsets) or a registration or retirement cuts are
--   completed from raw cloud_events rows (by the occurred_at index). Every sample is
--   counted once (summed in double precision; version 1 summed the real columns in single).
WITH zone AS MATERIALIZED (
    -- The daily rollup holds local days of one zone; it serves only reports in that zone.
    SELECT coalesce((SELECT z.tz = %(tz)s::text FROM rollup_zone z), false) AS daily
),
bounds AS MATERIALIZED (
    -- ds: the local date of W's start (day k of the window is ds + k). The whole local
    -- days of W are [dlo, dhi), from instant wlo to whi; read from the daily rollup only
    -- in its zone (otherwise wlo = whi = end: no day is read from it).
    SELECT ds, CASE WHEN z.daily AND dlo < dhi THEN dlo ELSE NULL END AS dlo,
           CASE WHEN z.daily AND dlo < dhi THEN dhi ELSE NULL END AS dhi,
           CASE WHEN z.daily AND dlo < dhi THEN local_midnight(dlo, %(tz)s::text)
                ELSE %(end)s::timestamptz END AS wlo,
           CASE WHEN z.daily AND dlo < dhi THEN local_midnight(dhi, %(tz)s::text)
                ELSE %(end)s::timestamptz END AS whi
    FROM zone z,
         LATERAL (SELECT (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date AS ds,
                         (%(end)s::timestamptz AT TIME ZONE %(tz)s::text)::date AS dhi) d,
         LATERAL (SELECT CASE WHEN local_midnight(d.ds, %(tz)s::text) >= %(start)s::timestamptz
                              THEN d.ds ELSE d.ds + 1 END AS dlo) l
),
midnights AS MATERIALIZED (
    -- width_bucket(t, at) = k: t lies on the window's day k (0 = the first).
    SELECT coalesce(array_agg(t ORDER BY t), '{}') AS at
    FROM (SELECT local_midnight(d::date, %(tz)s::text) AS t
          FROM generate_series(
              (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              (%(end)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              interval '1 day') AS d) m
    WHERE t > %(start)s::timestamptz AND t < %(end)s::timestamptz
),
cuts AS MATERIALIZED (
    -- The UTC hours a window edge or a local midnight cuts (read raw, for every host).
    SELECT coalesce(array_agg(DISTINCT h), '{}') AS hours
    FROM (SELECT t, date_bin('1 hour', t, '2000-01-01 00:00+00') AS h
          FROM (SELECT unnest(m.at) AS t FROM midnights m
                UNION ALL SELECT %(start)s::timestamptz
                UNION ALL SELECT %(end)s::timestamptz) c) x
    WHERE t <> h
),
scoped AS NOT MATERIALIZED (
    SELECT a.asset_id, a.registered_at, a.retired_at
    FROM assets a
    WHERE a.kind = 'cloud_host'
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
raw_hours AS MATERIALIZED (
    -- Hours read raw: the global cuts (asset_id NULL: every host), and each host's
    -- registration or retirement hour when it is not on a UTC hour.
    SELECT unnest(c.hours) AS h, NULL::text AS asset_id FROM cuts c
    UNION ALL
    SELECT date_bin('1 hour', x.t, '2000-01-01 00:00+00'), s.asset_id
    FROM scoped s CROSS JOIN cuts c
    CROSS JOIN LATERAL (VALUES (s.registered_at), (s.retired_at)) x(t)
    -- (the first two lines only spare the VALUES for the many assets with neither in W)
    WHERE ((s.registered_at > %(start)s::timestamptz AND s.registered_at < %(end)s::timestamptz)
           OR (s.retired_at > %(start)s::timestamptz AND s.retired_at < %(end)s::timestamptz))
      AND x.t > %(start)s::timestamptz AND x.t < %(end)s::timestamptz
      AND x.t <> date_bin('1 hour', x.t, '2000-01-01 00:00+00')
      AND date_bin('1 hour', x.t, '2000-01-01 00:00+00') <> ALL (c.hours)
),
partial_days AS MATERIALIZED (
    -- Inside the whole days, the day an asset is registered or retired (not at a local
    -- midnight) is not wholly in its registered life: that day is read from the hourly
    -- rollup and raw rows instead of the daily rollup, for that asset.
    -- (DISTINCT: registered and retired on the same day is still one day to read)
    SELECT DISTINCT s.asset_id, local_midnight(x.day, %(tz)s::text) AS lo,
           local_midnight(x.day + 1, %(tz)s::text) AS hi
    FROM bounds b
    JOIN scoped s ON (s.registered_at > b.wlo AND s.registered_at < b.whi)
                  OR (s.retired_at > b.wlo AND s.retired_at < b.whi)
    CROSS JOIN LATERAL (VALUES (s.registered_at), (s.retired_at)) t(at)
    CROSS JOIN LATERAL (SELECT (t.at AT TIME ZONE %(tz)s::text)::date AS day) x
    WHERE t.at > b.wlo AND t.at < b.whi
      AND t.at <> local_midnight(x.day, %(tz)s::text)
),
per_asset_day AS (
    SELECT asset_id, k,
           sum(cpu_used) AS cpu_used, sum(cpu_alloc) AS cpu_alloc,
           sum(mem_used) AS mem_used, sum(mem_alloc) AS mem_alloc,
           sum(disk_used) AS disk_used, sum(disk_alloc) AS disk_alloc
    FROM (-- Whole days from the daily rollup, only days inside the host's registered life.
          SELECT d.asset_id, d.day - b.ds AS k,
                 d.cpu_used_sum AS cpu_used, d.cpu_alloc_sum AS cpu_alloc,
                 d.mem_used_sum AS mem_used, d.mem_alloc_sum AS mem_alloc,
                 d.storage_used_sum AS disk_used, d.storage_alloc_sum AS disk_alloc
          FROM bounds b
          JOIN cloud_daily d ON d.day >= b.dlo AND d.day < b.dhi
          JOIN scoped s ON s.asset_id = d.asset_id
          WHERE (s.registered_at <= b.wlo OR s.registered_at <= local_midnight(d.day, %(tz)s::text))
            AND (s.retired_at IS NULL OR s.retired_at >= b.whi
                 OR s.retired_at >= local_midnight(d.day + 1, %(tz)s::text))
          UNION ALL
          SELECT r.asset_id, width_bucket(r.hour, m.at) AS k,
                 r.cpu_used_sum AS cpu_used, r.cpu_alloc_sum AS cpu_alloc,
                 r.mem_used_sum AS mem_used, r.mem_alloc_sum AS mem_alloc,
                 r.storage_used_sum AS disk_used, r.storage_alloc_sum AS disk_alloc
          FROM (-- Hours before and after the whole days, every host; inside them, only the
                -- hosts registered or retired within [wlo, whi), on the days not wholly theirs.
                -- (LATERAL ... OFFSET 0: an index range scan on the hours, not a full scan
                -- filtered afterwards by bounds the planner cannot see)
                SELECT r.* FROM bounds bd
                CROSS JOIN LATERAL (SELECT * FROM cloud_hourly r
                                    WHERE r.hour >= %(start)s::timestamptz AND r.hour < bd.wlo OFFSET 0) r
                WHERE bd.dlo IS NOT NULL
                UNION ALL
                -- No whole day from the daily rollup (another zone): every hour, by a plain scan.
                SELECT r.* FROM cloud_hourly r
                WHERE r.hour >= %(start)s::timestamptz AND r.hour < %(end)s::timestamptz
                  AND (SELECT dlo IS NULL FROM bounds)
                UNION ALL
                SELECT r.* FROM bounds bd
                CROSS JOIN LATERAL (SELECT * FROM cloud_hourly r
                                    WHERE r.hour >= bd.whi AND r.hour < %(end)s::timestamptz OFFSET 0) r
                UNION ALL
                SELECT r.* FROM partial_days pd
                JOIN cloud_hourly r ON r.hour >= pd.lo AND r.hour < pd.hi AND r.asset_id = pd.asset_id) r
          JOIN scoped s ON s.asset_id = r.asset_id
          CROSS JOIN midnights m CROSS JOIN cuts c
          WHERE r.hour >= %(start)s::timestamptz AND r.hour + interval '1 hour' <= %(end)s::timestamptz
            AND r.hour >= s.registered_at
            AND (s.retired_at IS NULL OR r.hour + interval '1 hour' <= s.retired_at)
            AND r.hour <> ALL (c.hours)
          UNION ALL
          SELECT e.asset_id, width_bucket(e.occurred_at, m.at),
                 e.cpu_used_cores::float8, e.cpu_alloc_cores::float8, e.mem_used_gb::float8,
                 e.mem_alloc_gb::float8, e.storage_used_gb::float8, e.storage_alloc_gb::float8
          FROM raw_hours rh
          CROSS JOIN midnights m CROSS JOIN bounds bd
          -- OFFSET 0 keeps this a per-hour index range scan (not flattened into a full scan).
          CROSS JOIN LATERAL (
              SELECT e.*
              FROM cloud_events e
              JOIN scoped s ON s.asset_id = e.asset_id
              WHERE e.occurred_at >= rh.h AND e.occurred_at < rh.h + interval '1 hour'
                AND (rh.asset_id IS NULL OR rh.asset_id = e.asset_id)
                AND e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
                AND e.kind = 'usage'
                AND e.occurred_at >= s.registered_at AND (s.retired_at IS NULL OR e.occurred_at < s.retired_at)
              OFFSET 0) e
          -- Not in a day the daily rollup serves (the same days as the hourly rows above).
          WHERE e.occurred_at < bd.wlo OR e.occurred_at >= bd.whi
             OR EXISTS (SELECT 1 FROM partial_days pd
                        WHERE pd.asset_id = e.asset_id AND e.occurred_at >= pd.lo AND e.occurred_at < pd.hi)
         ) u
    GROUP BY asset_id, k
),
groups AS (
    SELECT CASE WHEN GROUPING(a.department_id) = 0 THEN 'department'
                WHEN GROUPING(p.asset_id) = 0 THEN 'asset'
                WHEN GROUPING(p.k) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(a.department_id) = 0 THEN a.department_id
                WHEN GROUPING(p.asset_id) = 0 THEN p.asset_id
                WHEN GROUPING(p.k) = 0
                    THEN ((%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date + p.k)::text END AS member,
           sum(p.cpu_used) AS cpu_used, sum(p.cpu_alloc) AS cpu_alloc,
           sum(p.mem_used) AS mem_used, sum(p.mem_alloc) AS mem_alloc,
           sum(p.disk_used) AS disk_used, sum(p.disk_alloc) AS disk_alloc
    FROM per_asset_day p
    JOIN assets a ON a.asset_id = p.asset_id
    GROUP BY GROUPING SETS ((), (a.department_id), (p.asset_id), (p.k))
),
ratios AS (
    SELECT g.dimension, g.member, g.cpu_used, g.cpu_alloc, g.mem_used, g.mem_alloc,
           g.disk_used, g.disk_alloc,
           100.0 * g.cpu_used / nullif(g.cpu_alloc, 0) AS cpu,
           100.0 * g.mem_used / nullif(g.mem_alloc, 0) AS mem,
           100.0 * g.disk_used / nullif(g.disk_alloc, 0) AS disk
    FROM groups g
)
SELECT dimension, member, value, numerator, denominator, adjusted_value, unknown_share
FROM (
    SELECT dimension, member,
           ((coalesce(cpu, 0) + coalesce(mem, 0) + coalesce(disk, 0))
            / nullif((cpu IS NOT NULL)::int + (mem IS NOT NULL)::int + (disk IS NOT NULL)::int, 0))::float8 AS value,
           NULL::float8 AS numerator, NULL::float8 AS denominator,
           NULL::float8 AS adjusted_value, NULL::float8 AS unknown_share
    FROM ratios
    UNION ALL
    SELECT 'category', c.member, c.value::float8, c.used::float8, c.alloc::float8, NULL, NULL
    FROM ratios r
    CROSS JOIN LATERAL (VALUES ('cpu', r.cpu, r.cpu_used, r.cpu_alloc),
                               ('memory', r.mem, r.mem_used, r.mem_alloc),
                               ('storage', r.disk, r.disk_used, r.disk_alloc)) AS c(member, value, used, alloc)
    WHERE r.dimension = 'total'
) f
ORDER BY dimension, member

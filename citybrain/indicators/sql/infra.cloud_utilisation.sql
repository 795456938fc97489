-- infra.cloud_utilisation, version 1: gov-cloud resource utilisation (政务云资源利用率).
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
WITH sums AS (
    -- Per host and day (k: the day's number in the window, from width_bucket over the
    -- local midnights): the sums of every usage sample in W, minus those a host sent
    -- outside its registered life (only hosts registered or retired inside W have any).
    -- No join and no CTE in the big branch, so its scan and aggregate can run in parallel.
    SELECT asset_id, k, sum(cpu_used) AS cpu_used, sum(cpu_alloc) AS cpu_alloc,
           sum(mem_used) AS mem_used, sum(mem_alloc) AS mem_alloc,
           sum(disk_used) AS disk_used, sum(disk_alloc) AS disk_alloc
    FROM (SELECT e.asset_id, width_bucket(e.occurred_at, m.at) AS k,
                 sum(e.cpu_used_cores) AS cpu_used, sum(e.cpu_alloc_cores) AS cpu_alloc,
                 sum(e.mem_used_gb) AS mem_used, sum(e.mem_alloc_gb) AS mem_alloc,
                 sum(e.storage_used_gb) AS disk_used, sum(e.storage_alloc_gb) AS disk_alloc
          FROM cloud_events e,
               (SELECT array_agg(t ORDER BY t) AS at FROM (
                    SELECT d AT TIME ZONE %(tz)s::text AS t
                    FROM generate_series(
                        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
                        (%(end)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
                        interval '1 day') AS d) x
                WHERE t > %(start)s::timestamptz AND t < %(end)s::timestamptz) m
          WHERE e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
            AND e.kind = 'usage'
          GROUP BY e.asset_id, k
          UNION ALL
          SELECT e.asset_id, width_bucket(e.occurred_at, m.at),
                 -sum(e.cpu_used_cores), -sum(e.cpu_alloc_cores), -sum(e.mem_used_gb),
                 -sum(e.mem_alloc_gb), -sum(e.storage_used_gb), -sum(e.storage_alloc_gb)
          FROM assets a
          JOIN cloud_events e ON e.asset_id = a.asset_id
          CROSS JOIN (SELECT array_agg(t ORDER BY t) AS at FROM (
                    SELECT d AT TIME ZONE %(tz)s::text AS t
                    FROM generate_series(
                        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
                        (%(end)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
                        interval '1 day') AS d) x
                WHERE t > %(start)s::timestamptz AND t < %(end)s::timestamptz) m
          WHERE a.kind = 'cloud_host'
            AND (a.registered_at > %(start)s::timestamptz OR a.retired_at < %(end)s::timestamptz)
            AND e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
            AND e.kind = 'usage'
            AND (e.occurred_at < a.registered_at OR e.occurred_at >= a.retired_at)
          GROUP BY e.asset_id, 2) s
    GROUP BY asset_id, k
),
per_asset_day AS (
    SELECT s.*
    FROM sums s
    JOIN assets a ON a.asset_id = s.asset_id
    WHERE a.kind = 'cloud_host'
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
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

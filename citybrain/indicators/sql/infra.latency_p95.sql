-- infra.latency_p95, version 2: network latency p95 (网络时延, 95th percentile).
-- The 95th percentile of latency_ms over the successful link probes in W (target_kind
-- 'link', ok), estimated from the hourly latency histograms; failed probes count in
-- packet loss and link stability, not here. Only registered assets, while registered
-- (registered_at ≤ occurred_at < retired_at). Day: the local day (tz) of occurred_at.
--
-- Estimate and error bound: the exact figure is percentile_cont(0.95) (position
-- p = 0.95 × (n − 1) among the n sorted samples, interpolated between samples ⌊p⌋ and
-- ⌈p⌉). Each of those two samples is estimated inside its histogram bucket
-- [0.1 ms × 1.025^b, 0.1 ms × 1.025^(b+1)) — the j-th of the bucket's c samples at
-- 0.1 × 1.025^(b + (j + 0.5) / c), clamped to the group's exact min and max — and the
-- two are interpolated as percentile_cont does. Sample and estimate share a bucket, so
-- exact/1.025 ≤ estimate ≤ exact × 1.025: at most 2.5 per cent relative error for latencies
-- between 0.1 ms and 600 s (below, within 0.1 ms; above, between 600 s and the maximum).
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'asset', 'day'; member; value in ms;
-- numerator NULL; denominator = samples (exact); adjusted_value and unknown_share NULL).
-- No sample: value NULL.
--
-- Reads the hourly rollup probe_hourly (migration 009) for every UTC hour wholly inside
-- W, inside the asset's registered life and on one local day; the hours that a window
-- edge, a local midnight (zones with :30/:45 offsets) or a registration or retirement
-- cuts are read from raw probe_events rows (by the occurred_at index), so every sample
-- is counted once and on its own local day.
WITH midnights AS MATERIALIZED (
    -- width_bucket(t, at) = k: t lies on the window's day k (0 = the first).
    SELECT coalesce(array_agg(t ORDER BY t), '{}') AS at
    FROM (SELECT d AT TIME ZONE %(tz)s::text AS t
          FROM generate_series(
              (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              (%(end)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              interval '1 day') AS d) m
    WHERE t > %(start)s::timestamptz AND t < %(end)s::timestamptz
),
cuts AS MATERIALIZED (
    -- The UTC hours a window edge or a local midnight cuts (read raw, for every asset).
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
    WHERE (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
raw_hours AS MATERIALIZED (
    -- Hours read raw: the global cuts (asset_id NULL: every asset), and each asset's
    -- registration or retirement hour when it is not on a UTC hour.
    SELECT unnest(c.hours) AS h, NULL::text AS asset_id FROM cuts c
    UNION ALL
    SELECT date_bin('1 hour', x.t, '2000-01-01 00:00+00'), s.asset_id
    FROM scoped s CROSS JOIN cuts c
    CROSS JOIN LATERAL (VALUES (s.registered_at), (s.retired_at)) x(t)
    WHERE x.t > %(start)s::timestamptz AND x.t < %(end)s::timestamptz
      AND x.t <> date_bin('1 hour', x.t, '2000-01-01 00:00+00')
      AND date_bin('1 hour', x.t, '2000-01-01 00:00+00') <> ALL (c.hours)
),
per_asset_day AS (
    -- Histogram buckets per asset and day: (b, n samples, exact min and max).
    SELECT asset_id, k, b, sum(n) AS n, min(lo) AS lo, max(hi) AS hi
    FROM (SELECT r.asset_id, width_bucket(r.hour, m.at) AS k, h.b, h.n, r.latency_min AS lo,
                 r.latency_max AS hi
          FROM probe_hourly r
          JOIN scoped s ON s.asset_id = r.asset_id
          CROSS JOIN midnights m CROSS JOIN cuts c
          CROSS JOIN LATERAL unnest(r.latency_buckets, r.latency_counts) AS h(b, n)
          WHERE r.hour >= %(start)s::timestamptz AND r.hour + interval '1 hour' <= %(end)s::timestamptz
            AND r.target_kind = 'link' AND r.latency_count > 0
            AND r.hour >= s.registered_at
            AND (s.retired_at IS NULL OR r.hour + interval '1 hour' <= s.retired_at)
            AND r.hour <> ALL (c.hours)
          UNION ALL
          SELECT e.asset_id, width_bucket(e.occurred_at, m.at), latency_bucket(e.latency_ms), 1,
                 e.latency_ms, e.latency_ms
          FROM raw_hours rh
          CROSS JOIN midnights m
          -- OFFSET 0 keeps this a per-hour index range scan (not flattened into a full scan).
          CROSS JOIN LATERAL (
              SELECT e.asset_id, e.occurred_at, e.latency_ms
              FROM probe_events e
              JOIN scoped s ON s.asset_id = e.asset_id
              WHERE e.occurred_at >= rh.h AND e.occurred_at < rh.h + interval '1 hour'
                AND (rh.asset_id IS NULL OR rh.asset_id = e.asset_id)
                AND e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
                AND e.target_kind = 'link' AND e.ok AND e.latency_ms IS NOT NULL
                AND e.occurred_at >= s.registered_at AND (s.retired_at IS NULL OR e.occurred_at < s.retired_at)
              OFFSET 0) e
         ) u
    GROUP BY asset_id, k, b
),
buckets AS (
    SELECT CASE WHEN GROUPING(a.department_id) = 0 THEN 'department'
                WHEN GROUPING(p.asset_id) = 0 THEN 'asset'
                WHEN GROUPING(p.k) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(a.department_id) = 0 THEN a.department_id
                WHEN GROUPING(p.asset_id) = 0 THEN p.asset_id
                WHEN GROUPING(p.k) = 0
                    THEN ((%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date + p.k)::text END AS member,
           p.b, sum(p.n) AS n, min(p.lo) AS lo, max(p.hi) AS hi
    FROM per_asset_day p
    JOIN assets a ON a.asset_id = p.asset_id
    GROUP BY GROUPING SETS ((p.b), (a.department_id, p.b), (p.asset_id, p.b), (p.k, p.b))
),
ranked AS (
    -- Samples before each bucket, the group's sample count, exact min and max, and the
    -- 0-based ranks ⌊p⌋ and ⌈p⌉ of the samples percentile_cont interpolates between.
    SELECT dimension, member, b, n, before, samples, gmin, gmax, pos,
           floor(pos) AS j_lo, ceil(pos) AS j_hi
    FROM (SELECT dimension, member, b, n,
                 sum(n) OVER (PARTITION BY dimension, member ORDER BY b) - n AS before,
                 sum(n) OVER (PARTITION BY dimension, member) AS samples,
                 min(lo) OVER (PARTITION BY dimension, member) AS gmin,
                 max(hi) OVER (PARTITION BY dimension, member) AS gmax,
                 0.95 * (sum(n) OVER (PARTITION BY dimension, member) - 1) AS pos
          FROM buckets) w
),
figures AS (
    SELECT dimension, member, max(samples) AS samples, max(pos) AS pos,
           max(j_lo) AS j_lo,
           max(least(gmax, greatest(gmin, latency_bucket_floor(b)
                     * power(1.025::float8, ((j_lo - before + 0.5) / n)::float8))))
               FILTER (WHERE j_lo >= before AND j_lo < before + n) AS v_lo,
           max(least(gmax, greatest(gmin, latency_bucket_floor(b)
                     * power(1.025::float8, ((j_hi - before + 0.5) / n)::float8))))
               FILTER (WHERE j_hi >= before AND j_hi < before + n) AS v_hi
    FROM ranked
    GROUP BY dimension, member
)
SELECT dimension, member,
       (v_lo + (pos - j_lo)::float8 * (v_hi - v_lo))::float8 AS value,
       NULL::float8 AS numerator,
       samples::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member

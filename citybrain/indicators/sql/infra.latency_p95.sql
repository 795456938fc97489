-- infra.latency_p95, version 2: network latency p95 (网络时延, 95th percentile).
-- The 95th percentile of latency_ms over the successful link probes in W (target_kind
-- 'link', ok), estimated from latency histograms; failed probes count in
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
-- Where the samples come from (every sample counted once, on its own local day):
-- * Whole local days of W, in the zone of the daily rollup (rollup_zone, migration 011)
--   and wholly inside the asset's registered life: probe_latency_coarse (migration 014),
--   one row per (asset, day) with its samples per coarse bucket c = b / 16, and
--   probe_latency_daily, one row per (asset, day, coarse bucket) with the 16 fine counts
--   of that bucket.
-- * The rest (the hours before the first and after the last whole day, the day an asset
--   is registered or retired, every day when the report's zone is not the rollup's):
--   the hourly rollup probe_hourly (migration 009) for whole UTC hours inside the
--   asset's life, and raw probe_events rows for the hours a window edge, a local
--   midnight (zones with :30/:45 offsets) or a registration or retirement cuts.
--
-- Two passes, so a 30-day report does not merge every fine bucket of every asset-day:
-- 1. per group (the city, each department, asset and day), the samples per coarse
--    bucket locate the coarse bucket of each rank ⌊p⌋ and ⌈p⌉ (whole days: one row per
--    asset and day, its 40 coarse counts summed as columns);
-- 2. only the wanted coarse buckets are read at fine resolution, which locates the fine
--    bucket b of each rank and the samples before it. The estimate is then exactly the
--    one described above: the figures equal a single-level merge of the fine buckets.
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
    -- The UTC hours a window edge or a local midnight cuts (read raw, for every asset).
    SELECT coalesce(array_agg(DISTINCT h), '{}') AS hours
    FROM (SELECT t, date_bin('1 hour', t, '2000-01-01 00:00+00') AS h
          FROM (SELECT unnest(m.at) AS t FROM midnights m
                UNION ALL SELECT %(start)s::timestamptz
                UNION ALL SELECT %(end)s::timestamptz) c) x
    WHERE t <> h
),
scoped AS NOT MATERIALIZED (
    SELECT a.asset_id, a.department_id, a.registered_at, a.retired_at
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
day_assets AS MATERIALIZED (
    -- The scoped assets with whole days in the daily rollup (a few hundred probe targets,
    -- not every asset: the joins below hash these).
    SELECT s.asset_id, s.department_id, s.registered_at, s.retired_at
    FROM scoped s
    WHERE s.asset_id IN (SELECT d.asset_id FROM bounds b
                         JOIN probe_latency_coarse d ON d.target_kind = 'link'
                              AND d.day >= b.dlo AND d.day < b.dhi)
),
daily AS (
    -- Whole days from the daily rollup, one row per (asset, day) with its samples per coarse
    -- bucket (probe_latency_coarse), only days inside the asset's registered life.
    SELECT d.asset_id, s.department_id, d.day - b.ds AS k, d.n, d.lo, d.hi, d.counts
    FROM bounds b
    JOIN probe_latency_coarse d ON d.target_kind = 'link' AND d.day >= b.dlo AND d.day < b.dhi
    JOIN day_assets s ON s.asset_id = d.asset_id
    WHERE (s.registered_at <= b.wlo OR s.registered_at <= local_midnight(d.day, %(tz)s::text))
      AND (s.retired_at IS NULL OR s.retired_at >= b.whi
           OR s.retired_at >= local_midnight(d.day + 1, %(tz)s::text))
),
hourly AS (
    -- The hourly rollup rows outside the whole days: the hours before and after them, every
    -- asset; inside them, only the assets registered or retired within [wlo, whi), on the
    -- days not wholly theirs.
    SELECT r.asset_id, r.hour, r.latency_min, r.latency_max, r.latency_buckets, r.latency_counts FROM bounds bd
    JOIN probe_hourly r ON r.target_kind = 'link' AND r.latency_count > 0
         AND r.hour >= %(start)s::timestamptz AND r.hour < bd.wlo
    UNION ALL
    SELECT r.asset_id, r.hour, r.latency_min, r.latency_max, r.latency_buckets, r.latency_counts FROM bounds bd
    JOIN probe_hourly r ON r.target_kind = 'link' AND r.latency_count > 0
         AND r.hour >= bd.whi AND r.hour + interval '1 hour' <= %(end)s::timestamptz
    UNION ALL
    SELECT r.asset_id, r.hour, r.latency_min, r.latency_max, r.latency_buckets, r.latency_counts FROM partial_days pd
    JOIN probe_hourly r ON r.target_kind = 'link' AND r.latency_count > 0
         AND r.hour >= pd.lo AND r.hour < pd.hi AND r.asset_id = pd.asset_id
),
edge AS (
    -- Everything else, per fine bucket b: the hourly rows above, and the cut hours from
    -- raw rows.
    SELECT asset_id, department_id, k, b, sum(n)::bigint AS n, min(lo) AS lo, max(hi) AS hi
    FROM (SELECT r.asset_id, s.department_id, width_bucket(r.hour, m.at) AS k, h.b, h.n, r.latency_min AS lo,
                 r.latency_max AS hi
          FROM hourly r
          CROSS JOIN midnights m CROSS JOIN cuts c
          -- (When the window is whole days of the rollup zone and no asset is registered or
          -- retired inside them, there are no such rows: the gate spares hashing every asset.)
          JOIN scoped s ON s.asset_id = r.asset_id
               AND (EXISTS (SELECT 1 FROM bounds bd
                            WHERE bd.wlo > %(start)s::timestamptz OR bd.whi < %(end)s::timestamptz)
                    OR EXISTS (SELECT 1 FROM partial_days))
          CROSS JOIN LATERAL unnest(r.latency_buckets, r.latency_counts) AS h(b, n)
          WHERE r.hour >= s.registered_at
            AND (s.retired_at IS NULL OR r.hour + interval '1 hour' <= s.retired_at)
            AND r.hour <> ALL (c.hours)
          UNION ALL
          SELECT e.asset_id, e.department_id, width_bucket(e.occurred_at, m.at), latency_bucket(e.latency_ms), 1,
                 e.latency_ms, e.latency_ms
          FROM raw_hours rh
          CROSS JOIN midnights m CROSS JOIN bounds bd
          -- OFFSET 0 keeps this a per-hour index range scan (not flattened into a full scan).
          CROSS JOIN LATERAL (
              SELECT e.asset_id, s.department_id, e.occurred_at, e.latency_ms
              FROM probe_events e
              JOIN scoped s ON s.asset_id = e.asset_id
              WHERE e.occurred_at >= rh.h AND e.occurred_at < rh.h + interval '1 hour'
                AND (rh.asset_id IS NULL OR rh.asset_id = e.asset_id)
                AND e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
                AND e.target_kind = 'link' AND e.ok AND e.latency_ms IS NOT NULL
                AND e.occurred_at >= s.registered_at AND (s.retired_at IS NULL OR e.occurred_at < s.retired_at)
              OFFSET 0) e
          -- Not in a day the daily rollup serves (the same days as the hourly rows above).
          WHERE e.occurred_at < bd.wlo OR e.occurred_at >= bd.whi
             OR EXISTS (SELECT 1 FROM partial_days pd
                        WHERE pd.asset_id = e.asset_id AND e.occurred_at >= pd.lo AND e.occurred_at < pd.hi)
         ) u
    GROUP BY asset_id, department_id, k, b
),
edge_coarse AS (
    SELECT asset_id, department_id, k, b / 16 AS c, mod(b, 16) AS f, n, lo, hi FROM edge
),
daily_sums AS MATERIALIZED (
    -- Pass 1 over the whole days: the 40 coarse counts summed as columns, per (department,
    -- day) and per asset, with exact min and max, in one pass over the rows.
    SELECT asset_id, department_id, k, min(lo) AS lo, max(hi) AS hi,
           sum(counts[1]) AS c0,
           sum(counts[2]) AS c1,
           sum(counts[3]) AS c2,
           sum(counts[4]) AS c3,
           sum(counts[5]) AS c4,
           sum(counts[6]) AS c5,
           sum(counts[7]) AS c6,
           sum(counts[8]) AS c7,
           sum(counts[9]) AS c8,
           sum(counts[10]) AS c9,
           sum(counts[11]) AS c10,
           sum(counts[12]) AS c11,
           sum(counts[13]) AS c12,
           sum(counts[14]) AS c13,
           sum(counts[15]) AS c14,
           sum(counts[16]) AS c15,
           sum(counts[17]) AS c16,
           sum(counts[18]) AS c17,
           sum(counts[19]) AS c18,
           sum(counts[20]) AS c19,
           sum(counts[21]) AS c20,
           sum(counts[22]) AS c21,
           sum(counts[23]) AS c22,
           sum(counts[24]) AS c23,
           sum(counts[25]) AS c24,
           sum(counts[26]) AS c25,
           sum(counts[27]) AS c26,
           sum(counts[28]) AS c27,
           sum(counts[29]) AS c28,
           sum(counts[30]) AS c29,
           sum(counts[31]) AS c30,
           sum(counts[32]) AS c31,
           sum(counts[33]) AS c32,
           sum(counts[34]) AS c33,
           sum(counts[35]) AS c34,
           sum(counts[36]) AS c35,
           sum(counts[37]) AS c36,
           sum(counts[38]) AS c37,
           sum(counts[39]) AS c38,
           sum(counts[40]) AS c39
    FROM daily
    GROUP BY GROUPING SETS ((department_id, k), (asset_id))
),
daily_groups AS (
    -- ... rolled up to the city, each department and day; each group's counts as an array.
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(k) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(k) = 0 THEN k::text
                ELSE '' END AS member,
           min(lo) AS lo, max(hi) AS hi,
           ARRAY[sum(c0), sum(c1), sum(c2), sum(c3), sum(c4), sum(c5), sum(c6), sum(c7), sum(c8), sum(c9), sum(c10), sum(c11), sum(c12), sum(c13), sum(c14), sum(c15), sum(c16), sum(c17), sum(c18), sum(c19), sum(c20), sum(c21), sum(c22), sum(c23), sum(c24), sum(c25), sum(c26), sum(c27), sum(c28), sum(c29), sum(c30), sum(c31), sum(c32), sum(c33), sum(c34), sum(c35), sum(c36), sum(c37), sum(c38), sum(c39)] AS cs
    FROM daily_sums WHERE asset_id IS NULL
    GROUP BY GROUPING SETS ((), (department_id), (k))
    UNION ALL
    SELECT 'asset', asset_id, lo, hi,
           ARRAY[c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, c25, c26, c27, c28, c29, c30, c31, c32, c33, c34, c35, c36, c37, c38, c39]
    FROM daily_sums WHERE asset_id IS NOT NULL
),
edge_sums AS MATERIALIZED (
    -- Pass 1 over the rest: samples per (department, day, coarse bucket) and per (asset,
    -- coarse bucket).
    SELECT asset_id, department_id, k, c, sum(n) AS n, min(lo) AS lo, max(hi) AS hi
    FROM edge_coarse
    GROUP BY GROUPING SETS ((department_id, k, c), (asset_id, c))
),
coarse AS (
    -- Pass 1: samples per coarse bucket for every group (city, department, day; asset),
    -- with the group's exact min and max: the whole days' counts and the rest's, added.
    SELECT dimension, member, c, sum(n) AS n, min(lo) AS lo, max(hi) AS hi
    FROM (SELECT g.dimension, g.member, (u.i - 1)::integer AS c, u.n, g.lo, g.hi
          FROM daily_groups g CROSS JOIN LATERAL unnest(g.cs) WITH ORDINALITY AS u(n, i)
          WHERE u.n > 0
          UNION ALL
          SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                      WHEN GROUPING(k) = 0 THEN 'day'
                      ELSE 'total' END,
                 CASE WHEN GROUPING(department_id) = 0 THEN department_id
                      WHEN GROUPING(k) = 0 THEN k::text
                      ELSE '' END,
                 c, sum(n), min(lo), max(hi)
          FROM edge_sums WHERE asset_id IS NULL
          GROUP BY GROUPING SETS ((c), (department_id, c), (k, c))
          UNION ALL
          SELECT 'asset', asset_id, c, n, lo, hi FROM edge_sums WHERE asset_id IS NOT NULL) u
    GROUP BY dimension, member, c
),
targets AS MATERIALIZED (
    -- Per group: the sample count, exact min and max, the position p = 0.95 (n − 1) and the
    -- 0-based ranks ⌊p⌋ and ⌈p⌉ percentile_cont interpolates between; each rank's coarse
    -- bucket (c_lo, c_hi) and the samples before that bucket (before_lo, before_hi).
    SELECT dimension, member, max(samples) AS samples, min(gmin) AS gmin, max(gmax) AS gmax,
           max(pos) AS pos, max(floor(pos)) AS j_lo, max(ceil(pos)) AS j_hi,
           max(c) FILTER (WHERE floor(pos) >= before AND floor(pos) < before + n) AS c_lo,
           max(before) FILTER (WHERE floor(pos) >= before AND floor(pos) < before + n) AS before_lo,
           max(c) FILTER (WHERE ceil(pos) >= before AND ceil(pos) < before + n) AS c_hi,
           max(before) FILTER (WHERE ceil(pos) >= before AND ceil(pos) < before + n) AS before_hi
    FROM (SELECT dimension, member, c, n,
                 sum(n) OVER (PARTITION BY dimension, member ORDER BY c) - n AS before,
                 sum(n) OVER (PARTITION BY dimension, member) AS samples,
                 min(lo) OVER (PARTITION BY dimension, member) AS gmin,
                 max(hi) OVER (PARTITION BY dimension, member) AS gmax,
                 0.95 * (sum(n) OVER (PARTITION BY dimension, member) - 1) AS pos
          FROM coarse) w
    GROUP BY dimension, member
),
wanted AS MATERIALIZED (
    -- The coarse buckets some group's p95 falls in: only these are read at fine resolution.
    SELECT coalesce(array_agg(DISTINCT c), '{}') AS cs
    FROM (SELECT c_lo AS c FROM targets UNION ALL SELECT c_hi FROM targets) t
),
fine_in AS MATERIALIZED (
    -- Pass 2 input: the 16 fine counts of each row inside a wanted coarse bucket (an edge
    -- row is one fine bucket: a count at its position, zeros elsewhere).
    SELECT d.asset_id, s.department_id, d.day - b.ds AS k, d.coarse AS c, d.fine AS f
    FROM bounds b CROSS JOIN wanted w
    JOIN probe_latency_daily d ON d.target_kind = 'link' AND d.coarse = ANY (w.cs)
         AND d.day >= b.dlo AND d.day < b.dhi
    JOIN day_assets s ON s.asset_id = d.asset_id
    WHERE (s.registered_at <= b.wlo OR s.registered_at <= local_midnight(d.day, %(tz)s::text))
      AND (s.retired_at IS NULL OR s.retired_at >= b.whi
           OR s.retired_at >= local_midnight(d.day + 1, %(tz)s::text))
    UNION ALL
    SELECT e.asset_id, e.department_id, e.k, e.c, ARRAY[(e.f = 0)::int * e.n, (e.f = 1)::int * e.n, (e.f = 2)::int * e.n, (e.f = 3)::int * e.n, (e.f = 4)::int * e.n, (e.f = 5)::int * e.n, (e.f = 6)::int * e.n, (e.f = 7)::int * e.n, (e.f = 8)::int * e.n, (e.f = 9)::int * e.n, (e.f = 10)::int * e.n, (e.f = 11)::int * e.n, (e.f = 12)::int * e.n, (e.f = 13)::int * e.n, (e.f = 14)::int * e.n, (e.f = 15)::int * e.n]::integer[]
    FROM edge_coarse e CROSS JOIN wanted w
    WHERE e.c = ANY (w.cs)
),
fine_sums AS (
    -- Pass 2: the fine counts summed per group, element by element (16 sums per row, not
    -- 16 rows per row), once per (asset, bucket) and once per (department, day, bucket).
    SELECT asset_id, department_id, k, c,
           sum(f[1]) AS n1,
           sum(f[2]) AS n2,
           sum(f[3]) AS n3,
           sum(f[4]) AS n4,
           sum(f[5]) AS n5,
           sum(f[6]) AS n6,
           sum(f[7]) AS n7,
           sum(f[8]) AS n8,
           sum(f[9]) AS n9,
           sum(f[10]) AS n10,
           sum(f[11]) AS n11,
           sum(f[12]) AS n12,
           sum(f[13]) AS n13,
           sum(f[14]) AS n14,
           sum(f[15]) AS n15,
           sum(f[16]) AS n16
    FROM fine_in
    GROUP BY GROUPING SETS ((department_id, k, c), (asset_id, c))
),
fine_groups AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(k) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(k) = 0 THEN k::text
                ELSE '' END AS member,
           c, ARRAY[sum(n1), sum(n2), sum(n3), sum(n4), sum(n5), sum(n6), sum(n7), sum(n8), sum(n9), sum(n10), sum(n11), sum(n12), sum(n13), sum(n14), sum(n15), sum(n16)] AS ns
    FROM fine_sums WHERE asset_id IS NULL
    GROUP BY GROUPING SETS ((c), (department_id, c), (k, c))
    UNION ALL
    SELECT 'asset', asset_id, c, ARRAY[n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11, n12, n13, n14, n15, n16] FROM fine_sums WHERE asset_id IS NOT NULL
),
fine AS (
    -- Samples per fine bucket f (0..15) inside the wanted coarse buckets, per group.
    SELECT g.dimension, g.member, g.c, (u.f - 1)::integer AS f, u.n
    FROM fine_groups g CROSS JOIN LATERAL unnest(g.ns) WITH ORDINALITY AS u(n, f)
    WHERE u.n > 0
),
located AS (
    -- For each rank (⌊p⌋, ⌈p⌉): its fine bucket b = 16c + f, the samples before it (before)
    -- and in it (n); the rank's sample is estimated inside its bucket as before.
    SELECT t.dimension, t.member, t.samples, t.gmin, t.gmax, t.pos, t.j_lo, r.which, r.j,
           (16 * fb.c + fb.f)::integer AS b, r.before_c + fb.before AS before, fb.n
    FROM targets t
    CROSS JOIN LATERAL (VALUES ('lo', t.j_lo, t.c_lo, t.before_lo), ('hi', t.j_hi, t.c_hi, t.before_hi))
        AS r(which, j, c, before_c)
    JOIN (SELECT dimension, member, c, f, n, sum(n) OVER (PARTITION BY dimension, member, c ORDER BY f) - n AS before
          FROM fine) fb
      ON fb.dimension = t.dimension AND fb.member = t.member AND fb.c = r.c
    WHERE r.j >= r.before_c + fb.before AND r.j < r.before_c + fb.before + fb.n
),
figures AS (
    SELECT dimension, member, max(samples) AS samples, max(pos) AS pos, max(j_lo) AS j_lo,
           max(least(gmax, greatest(gmin, latency_bucket_floor(b)
                     * power(1.025::float8, ((j - before + 0.5) / n)::float8)))) FILTER (WHERE which = 'lo') AS v_lo,
           max(least(gmax, greatest(gmin, latency_bucket_floor(b)
                     * power(1.025::float8, ((j - before + 0.5) / n)::float8)))) FILTER (WHERE which = 'hi') AS v_hi
    FROM located
    GROUP BY dimension, member
)
SELECT dimension,
       -- The total's member is '' inside (plain equality joins), NULL outside.
       CASE WHEN dimension = 'day' THEN ((SELECT ds FROM bounds) + member::int)::text
            WHEN dimension = 'total' THEN NULL ELSE member END AS member,
       (v_lo + (pos - j_lo)::float8 * (v_hi - v_lo))::float8 AS value,
       NULL::float8 AS numerator,
       samples::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member

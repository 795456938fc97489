-- infra.link_stability, version 1: network link stability (网络稳定性).
-- Assets: kind link (e-gov extranet/intranet links, proven up by link probes).
-- Up: states online and degraded. Stability = 1 − down seconds / known seconds.
--
-- Parameters (psycopg named placeholders; a Grafana panel substitutes its macros):
--   start, end   the window W = [start, end), timestamptz
--   tz           IANA zone the day breakdown is cut in (local midnights, DST-safe)
--   department   a department id, or NULL for the whole city
-- Returns one row per figure: dimension ('total', 'department', 'district', 'asset',
-- 'day'), member (NULL for the total), value (percent), numerator (up seconds),
-- denominator (known seconds), adjusted_value (percent), unknown_share (0..1).
--
-- Availability accounting (the same in every availability indicator), from
-- state_intervals only: its cost grows with state changes, never with heartbeats.
-- * Per asset, scope = W ∩ [registered_at, retired_at), up to the watermark of the
--   probe feed (as of: later time has no evidence and is outside the scope; a feed
--   without one: up to W's end); intervals are clipped to it, so an open interval (the
--   current state) ends at the watermark.
-- * In-scope time covered by no interval, or by an 'unknown' one, is unknown;
--   known = scope − unknown. value = up / known; unknown_share = unknown / scope.
-- * adjusted_value = up outside maintenance / known outside maintenance. Maintenance =
--   the union of the asset's applicable maintenance periods (windows of kind
--   'maintenance' whose scope is all, the asset, its department, its district or one of
--   its tags; a removed window's periods count only before its removed_at).
-- * Nothing known: value NULL ("no data"), never 0 or 100.
-- * An asset's intervals never overlap (the liveness tracker closes one before it opens
--   the next), so seconds are summed interval by interval, as whole microseconds
--   (epoch_us, migration 010): the sums are exact, so no plan (parallel, hash or sort)
--   can change a figure, and a window with no gap has an unknown_share of exactly 0.
--
-- How it stays one pass over the intervals:
-- * Maintenance: assets to which the same windows apply share one maintenance union M
--   (their "class"). M is kept as its sorted boundaries with M's seconds before each, so
--   G(t) = seconds of M before t is a lookup, and interval [a, b) has G(b) − G(a) seconds
--   under maintenance.
-- * Days: the cuts are the local midnights and every maintenance boundary inside W.
--   With F(t) = seconds before t = Σ over intervals [a, b) of (t − a)⁺ − (t − b)⁺, the
--   segment between two cuts holds F(c₂) − F(c₁), and F at every cut needs only the count
--   and sum of interval starts and ends per segment. A segment lies wholly inside or
--   outside each class's M, so a day's maintenance seconds are sums over its segments.
WITH evidence AS MATERIALIZED (
    -- As of: the probe feed's state intervals are written up to its watermark, so its
    -- assets' scope ends there (no watermark yet: at W's end).
    SELECT least(%(end)s::timestamptz,
                 (SELECT watermark FROM feed_watermarks WHERE feed = 'probe')) AS until
),
planned AS MATERIALIZED (
    SELECT mw.window_id, mw.scope, mw.target,
           greatest(mp.starts_at, %(start)s::timestamptz) AS lo,
           least(mp.ends_at, mw.removed_at, %(end)s::timestamptz) AS hi
    FROM maintenance_periods mp
    JOIN maintenance_windows mw ON mw.window_id = mp.window_id
    WHERE mw.kind = 'maintenance'
      AND mp.starts_at < %(end)s::timestamptz AND mp.ends_at > %(start)s::timestamptz
      AND greatest(mp.starts_at, %(start)s::timestamptz) < coalesce(mw.removed_at, 'infinity')
),
cuts AS MATERIALIZED (
    -- width_bucket(t, at) = j: t lies in segment j = [at[j], at[j+1]) (0: before at[1]).
    SELECT coalesce(array_agg(t ORDER BY t), '{}') AS at
    FROM (SELECT local_midnight(d::date, %(tz)s::text) AS t
          FROM generate_series(
              (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              (%(end)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
              interval '1 day') AS d
          UNION SELECT lo FROM planned
          UNION SELECT hi FROM planned) c
    WHERE t > %(start)s::timestamptz AND t < %(end)s::timestamptz
),
scoped AS NOT MATERIALIZED (
    SELECT a.asset_id, a.kind, a.department_id, a.district_id, a.tags,
           greatest(a.registered_at, %(start)s::timestamptz) AS lo,
           least(a.retired_at, (SELECT until FROM evidence)) AS hi
    FROM assets a
    WHERE a.kind IN ('link')
      AND a.registered_at < %(end)s::timestamptz
      AND (a.retired_at IS NULL OR a.retired_at > greatest(a.registered_at, %(start)s::timestamptz))
      AND (SELECT until FROM evidence) > greatest(a.registered_at, %(start)s::timestamptz)
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
assets_in_scope AS MATERIALIZED (
    -- The same rows, read once by the small consumers below; the big join with
    -- state_intervals uses `scoped` itself so that the planner sees the assets' statistics.
    SELECT * FROM scoped
),
member_of AS MATERIALIZED (
    -- The windows narrower than 'all' that apply to an asset: its class.
    SELECT asset_id, array_agg(DISTINCT window_id ORDER BY window_id) AS class
    FROM (SELECT sc.asset_id, p.window_id
          FROM planned p JOIN assets_in_scope sc ON p.scope = 'asset' AND sc.asset_id = p.target
          UNION ALL
          SELECT sc.asset_id, p.window_id
          FROM planned p JOIN assets_in_scope sc ON p.scope = 'department' AND sc.department_id = p.target
          UNION ALL
          SELECT sc.asset_id, p.window_id
          FROM planned p JOIN assets_in_scope sc ON p.scope = 'district' AND sc.district_id = p.target
          UNION ALL
          SELECT sc.asset_id, p.window_id
          FROM planned p JOIN assets_in_scope sc ON p.scope = 'tag' AND sc.tags @> ARRAY[p.target]) x
    GROUP BY asset_id
),
class_pieces AS (
    SELECT cl.class, lower(r) AS lo, upper(r) AS hi, epoch_us(upper(r) - lower(r)) AS len,
           (sum(epoch_us(upper(r) - lower(r))) OVER (PARTITION BY cl.class ORDER BY lower(r)))::bigint AS cum
    FROM (SELECT DISTINCT class FROM member_of UNION SELECT '{}'::bigint[]) cl,
         unnest((SELECT range_agg(tstzrange(p.lo, p.hi)) FROM planned p
                 WHERE p.scope = 'all' OR p.window_id = ANY (cl.class))) AS r
),
classes AS MATERIALIZED (
    -- Per class: a small id, M's boundaries [lo₁, hi₁, lo₂, ...] and M's seconds before
    -- each; a class without maintenance has none (G = 0).
    SELECT (row_number() OVER (ORDER BY cl.class))::int AS class_id, cl.class, m.bounds, m.before
    FROM (SELECT DISTINCT class FROM member_of UNION SELECT '{}'::bigint[]) cl
    LEFT JOIN (
        SELECT class, array_agg(at ORDER BY at) AS bounds, array_agg(before ORDER BY at) AS before
        FROM (SELECT class, lo AS at, cum - len AS before FROM class_pieces
              UNION ALL
              SELECT class, hi, cum FROM class_pieces) b
        GROUP BY class
    ) m ON m.class = cl.class
),
cells AS MATERIALIZED (
    -- Seconds per group, class, state ('up', 'down', 'unknown'; 'scope' for the assets'
    -- scopes) and pair (segment of the start ka, segment of the end kb), with the count
    -- and sum (seconds since W's start) of starts and ends for the day formula.
    SELECT department_id, district_id, asset_id, class_id, state, ka, kb,
           sum(len) AS len, sum(mlen) AS mlen, count(*) AS n, sum(a) AS a, sum(b) AS b
    FROM (SELECT i.department_id, i.district_id, i.asset_id, i.class_id,
                 CASE WHEN i.state IN ('online', 'degraded') THEN 'up'
                      WHEN i.state = 'unknown' THEN 'unknown'
                      ELSE 'down' END AS state,
                 width_bucket(i.lo, cuts.at) AS ka, width_bucket(i.hi, cuts.at) AS kb,
                 epoch_us(i.hi - i.lo) AS len,
                 epoch_us(i.lo - %(start)s::timestamptz) AS a,
                 epoch_us(i.hi - %(start)s::timestamptz) AS b,
                 coalesce(i.before[i.ib] + mod(i.ib, 2) * epoch_us(i.hi - i.bounds[i.ib]), 0)
               - coalesce(i.before[i.ia] + mod(i.ia, 2) * epoch_us(i.lo - i.bounds[i.ia]), 0) AS mlen
          FROM (SELECT sc.department_id, sc.district_id, sc.asset_id, cl.class_id, cl.bounds, cl.before,
                       si.state, x.lo, x.hi,
                       width_bucket(x.lo, cl.bounds) AS ia, width_bucket(x.hi, cl.bounds) AS ib
                FROM scoped sc
                LEFT JOIN member_of mo ON mo.asset_id = sc.asset_id
                JOIN classes cl ON cl.class = coalesce(mo.class, '{}')
                JOIN state_intervals si ON si.asset_id = sc.asset_id
                CROSS JOIN LATERAL (SELECT greatest(si.started_at, sc.lo) AS lo,
                                           least(si.ended_at, sc.hi) AS hi) x
                WHERE si.started_at < %(end)s::timestamptz
                  AND (si.ended_at IS NULL OR si.ended_at > %(start)s::timestamptz)
                  AND si.started_at < sc.hi AND (si.ended_at IS NULL OR si.ended_at > sc.lo)
                OFFSET 0) i, cuts) s
    GROUP BY department_id, district_id, asset_id, class_id, state, ka, kb
    UNION ALL
    SELECT department_id, district_id, asset_id, 0, 'scope', ka, kb, sum(len), 0, count(*), sum(a), sum(b)
    FROM (SELECT sc.department_id, sc.district_id, sc.asset_id,
                 width_bucket(sc.lo, cuts.at) AS ka, width_bucket(sc.hi, cuts.at) AS kb,
                 epoch_us(sc.hi - sc.lo) AS len,
                 epoch_us(sc.lo - %(start)s::timestamptz) AS a,
                 epoch_us(sc.hi - %(start)s::timestamptz) AS b
          FROM assets_in_scope sc, cuts) s
    GROUP BY department_id, district_id, asset_id, ka, kb
),
by_group AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(district_id) = 0 THEN 'district'
                WHEN GROUPING(asset_id) = 0 THEN 'asset'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(district_id) = 0 THEN coalesce(district_id, '(none)')
                WHEN GROUPING(asset_id) = 0 THEN asset_id END AS member,
           coalesce(sum(len) FILTER (WHERE state = 'scope'), 0) AS scope,
           coalesce(sum(len) FILTER (WHERE state = 'up'), 0) AS up,
           coalesce(sum(len) FILTER (WHERE state IN ('up', 'down')), 0) AS known,
           coalesce(sum(mlen) FILTER (WHERE state = 'up'), 0) AS up_m,
           coalesce(sum(mlen) FILTER (WHERE state IN ('up', 'down')), 0) AS known_m
    FROM cells
    GROUP BY GROUPING SETS ((), (department_id), (district_id), (asset_id))
),
edges AS (
    -- Per class, measure and segment k: intervals starting (+count, +Σ start) and
    -- ending (−count, −Σ end) in segment k.
    SELECT e.class_id, m.measure, e.k, sum(e.n) AS n, sum(e.x) AS x
    FROM (SELECT class_id, state, ka AS k, n, a AS x FROM cells
          UNION ALL
          SELECT class_id, state, kb, -n, -b FROM cells) e
    JOIN (VALUES ('scope', 'scope'), ('up', 'up'), ('known', 'up'), ('known', 'down'))
         AS m(measure, state) ON m.state = e.state
    GROUP BY e.class_id, m.measure, e.k
),
segments AS (
    SELECT j AS k,
           CASE WHEN j = 0 THEN %(start)s::timestamptz ELSE cuts.at[j] END AS lo,
           CASE WHEN j = cardinality(cuts.at) THEN %(end)s::timestamptz ELSE cuts.at[j + 1] END AS hi
    FROM cuts, generate_series(0, cardinality(cuts.at)) AS j
),
seconds AS (
    -- F(hi) − F(lo) per class, measure and segment, where F(t) = t·open − Σ(start − end)
    -- over the intervals started before t (open: those not ended before t).
    SELECT g.class_id, g.measure, s.k,
           (epoch_us(s.hi - %(start)s::timestamptz) * sum(coalesce(e.n, 0)) OVER w
            - sum(coalesce(e.x, 0)) OVER w)
         - (epoch_us(s.lo - %(start)s::timestamptz) * (sum(coalesce(e.n, 0)) OVER w - coalesce(e.n, 0))
            - (sum(coalesce(e.x, 0)) OVER w - coalesce(e.x, 0))) AS f
    FROM (SELECT DISTINCT class_id, measure FROM edges) g
    CROSS JOIN segments s
    LEFT JOIN edges e ON e.class_id = g.class_id AND e.measure = g.measure AND e.k = s.k
    WINDOW w AS (PARTITION BY g.class_id, g.measure ORDER BY s.k)
),
by_day AS (
    -- Every day is listed; a segment is under its class's maintenance when its start is
    -- inside M.
    SELECT 'day' AS dimension, (g.lo AT TIME ZONE %(tz)s::text)::date::text AS member,
           coalesce(sum(s.f) FILTER (WHERE s.measure = 'scope'), 0) AS scope,
           coalesce(sum(s.f) FILTER (WHERE s.measure = 'up'), 0) AS up,
           coalesce(sum(s.f) FILTER (WHERE s.measure = 'known'), 0) AS known,
           coalesce(sum(s.f) FILTER (WHERE s.measure = 'up' AND m.inside), 0) AS up_m,
           coalesce(sum(s.f) FILTER (WHERE s.measure = 'known' AND m.inside), 0) AS known_m
    FROM segments g
    LEFT JOIN seconds s ON s.k = g.k
    LEFT JOIN classes c ON c.class_id = s.class_id
    CROSS JOIN LATERAL (SELECT coalesce(mod(width_bucket(g.lo, c.bounds), 2) = 1, false) AS inside) m
    GROUP BY 2
)
SELECT dimension, member,
       (CASE WHEN known > 0 THEN 100 * up / known END)::float8 AS value,
       (up / 1000000)::float8 AS numerator,
       (known / 1000000)::float8 AS denominator,
       (CASE WHEN known - known_m > 0 THEN 100 * (up - up_m) / (known - known_m) END)::float8 AS adjusted_value,
       (CASE WHEN scope > 0 THEN (scope - known) / scope END)::float8 AS unknown_share
FROM (SELECT * FROM by_group UNION ALL SELECT * FROM by_day) f
ORDER BY dimension, member

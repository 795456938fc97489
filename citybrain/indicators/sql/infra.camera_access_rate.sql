-- infra.camera_access_rate, version 1: camera access rate (视频监控设备接入率).
-- Cameras connected in W / cameras in the register during W.
--   in the register: a camera whose scope W ∩ [registered_at, retired_at) is not empty,
--   the scope ending at the video feed's watermark (as of: later time has no evidence
--   and is outside the scope, and an open interval ends there too);
--   connected: it was up (state online or degraded) for some time of its scope, read
--   from state_intervals (the liveness tracker's record of its health reports), never
--   from the raw video events, so the cost does not grow with the report rate.
-- Per day (local midnights in tz): cameras in the register that day, and those up that day.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'district', 'day'; member; value in
-- percent; numerator = connected cameras; denominator = cameras in the register;
-- adjusted_value and unknown_share NULL). No camera in scope: value NULL.
WITH evidence AS MATERIALIZED (
    -- As of: the video feed's state intervals are written up to its watermark, so its
    -- assets' scope ends there (no watermark yet: at W's end).
    SELECT least(%(end)s::timestamptz,
                 (SELECT watermark FROM feed_watermarks WHERE feed = 'video')) AS until
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
days AS (
    SELECT k, ((%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date + k)::text AS day
    FROM midnights, generate_series(0, cardinality(midnights.at)) AS k
),
scoped AS NOT MATERIALIZED (
    SELECT a.asset_id, a.department_id, a.district_id,
           greatest(a.registered_at, %(start)s::timestamptz) AS lo,
           least(a.retired_at, (SELECT until FROM evidence)) AS hi
    FROM assets a
    WHERE a.kind IN ('camera')
      AND a.registered_at < %(end)s::timestamptz
      AND (a.retired_at IS NULL OR a.retired_at > greatest(a.registered_at, %(start)s::timestamptz))
      AND (SELECT until FROM evidence) > greatest(a.registered_at, %(start)s::timestamptz)
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
up_days AS (
    -- Per camera, the days (as ranges of day numbers) on which it was up.
    SELECT sc.asset_id,
           range_agg(int4range(width_bucket(greatest(si.started_at, sc.lo), m.at),
                               width_bucket(least(si.ended_at, sc.hi) - interval '1 microsecond', m.at),
                               '[]')) AS days
    FROM scoped sc
    CROSS JOIN midnights m
    -- Each camera's own intervals by index: the closed ones by (asset_id, ended_at), the
    -- open one by the open-interval index (migration 016), so a camera costs the
    -- intervals of its scope, not its whole history. (`<= 'infinity'` makes the end a
    -- bounded range, which the planner estimates as narrow and reads by that index.)
    CROSS JOIN LATERAL (SELECT si.started_at, si.ended_at FROM state_intervals si
                        WHERE si.asset_id = sc.asset_id AND si.ended_at > sc.lo AND si.ended_at <= 'infinity'
                          AND si.started_at < sc.hi AND si.state IN ('online', 'degraded')
                        UNION ALL
                        SELECT si.started_at, si.ended_at FROM state_intervals si
                        WHERE si.asset_id = sc.asset_id AND si.ended_at IS NULL
                          AND si.started_at < sc.hi AND si.state IN ('online', 'degraded')) si
    WHERE greatest(si.started_at, sc.lo) < least(si.ended_at, sc.hi)
    GROUP BY sc.asset_id
),
cameras AS MATERIALIZED (
    SELECT sc.asset_id, sc.department_id, sc.district_id,
           int4range(width_bucket(sc.lo, m.at), width_bucket(sc.hi - interval '1 microsecond', m.at),
                     '[]') AS scope_days,
           u.days AS up_days
    FROM scoped sc
    CROSS JOIN midnights m
    LEFT JOIN up_days u ON u.asset_id = sc.asset_id
),
by_group AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(district_id) = 0 THEN 'district'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(district_id) = 0 THEN coalesce(district_id, '(none)') END AS member,
           count(*) FILTER (WHERE up_days IS NOT NULL) AS connected,
           count(*) AS registered
    FROM cameras
    GROUP BY GROUPING SETS ((), (department_id), (district_id))
),
edges AS (
    -- Day ranges open (+1) at their first day and close (−1) after their last.
    SELECT 'registered' AS measure, lower(scope_days) AS k, 1 AS n FROM cameras
    UNION ALL SELECT 'registered', upper(scope_days), -1 FROM cameras
    UNION ALL SELECT 'connected', lower(r), 1 FROM cameras, unnest(up_days) AS r
    UNION ALL SELECT 'connected', upper(r), -1 FROM cameras, unnest(up_days) AS r
),
by_day AS (
    SELECT 'day' AS dimension, d.day AS member,
           sum(coalesce(e.connected, 0)) OVER w AS connected,
           sum(coalesce(e.registered, 0)) OVER w AS registered
    FROM days d
    LEFT JOIN (SELECT k, sum(n) FILTER (WHERE measure = 'connected') AS connected,
                      sum(n) FILTER (WHERE measure = 'registered') AS registered
               FROM edges GROUP BY k) e ON e.k = d.k
    WINDOW w AS (ORDER BY d.k)
)
SELECT dimension, member,
       CASE WHEN registered > 0 THEN 100.0 * connected / registered END::float8 AS value,
       connected::float8 AS numerator,
       registered::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM (SELECT * FROM by_group UNION ALL SELECT * FROM by_day) f
ORDER BY dimension, member

-- portal.dau, version 1: daily active users of the unified portal (日活跃用户数, DAU).
-- Distinct user_key with a usage event (sign_in or transaction) on a local day (tz) of
-- occurred_at, averaged over the local days W touches (each over its part in W).
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'day'; member; value = the mean over the days;
-- numerator = Σ users of the days; denominator = the days; per day: value = numerator =
-- its distinct users; adjusted_value and unknown_share NULL). Every local day W touches
-- counts, over its part in W (a day with no event counts 0). No usage event in scope in
-- W: value NULL.
--
-- A user is active in a day with at least one usage event (a sign-in or a transaction)
-- whose occurred_at lies in it; users are their pseudonymous keys, never names. Department
-- scope: the events recorded by the systems (usage_events.asset_id, the portals and
-- service platforms) the department owns in the register; the whole city counts every
-- stored usage event.
--
-- Where the users come from (exact distinct counts on either path):
-- * A whole local day inside W, in the zone of the daily facts (rollup_zone):
--   usage_user_days (migration 026), one row per (day, user, system), counted as
--   distinct users over one index range.
-- * The rest (a day W cuts, every day when the report's zone is not the facts'):
--   the union of usage_user_days for the whole local days inside its part of W and the raw
--   usage_events rows of the hours before the first and after the last of them.
WITH zone AS MATERIALIZED (
    -- The facts hold local days of one zone; they serve only reports in that zone.
    SELECT coalesce((SELECT z.tz = %(tz)s::text FROM rollup_zone z), false) AS daily
),
systems AS MATERIALIZED (
    -- The department's systems (NULL: the whole city, every system).
    SELECT CASE WHEN %(department)s::text IS NULL THEN NULL
                ELSE coalesce(array_agg(a.asset_id), '{}') END AS ids
    FROM assets a
    WHERE a.department_id = %(department)s::text
),
periods AS MATERIALIZED (
    -- Every local day W touches: the part of W it covers [lo, hi); the whole local days
    -- inside that part the facts serve, [dlo, dhi) from instant wlo to whi (none: dlo NULL,
    -- wlo = whi = hi); whole: the day lies wholly in W and the facts serve it.
    SELECT g.period, g.lo, g.hi, w.dlo, w.dhi,
           coalesce(local_midnight(w.dlo, %(tz)s::text), g.hi) AS wlo,
           coalesce(local_midnight(w.dhi, %(tz)s::text), g.hi) AS whi,
           coalesce(w.dlo = g.period AND w.dhi = g.next, false) AS whole
    FROM (SELECT s::date AS period, (s + interval '1 day')::date AS next,
                 greatest(%(start)s::timestamptz, local_midnight(s::date, %(tz)s::text)) AS lo,
                 least(%(end)s::timestamptz,
                       local_midnight((s + interval '1 day')::date, %(tz)s::text)) AS hi
          FROM generate_series(
              date_trunc('day', %(start)s::timestamptz AT TIME ZONE %(tz)s::text),
              date_trunc('day', (%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text),
              interval '1 day') AS s) g
    CROSS JOIN zone z
    CROSS JOIN LATERAL (SELECT (g.lo AT TIME ZONE %(tz)s::text)::date AS d0,
                               (g.hi AT TIME ZONE %(tz)s::text)::date AS dhi) d
    CROSS JOIN LATERAL (SELECT CASE WHEN local_midnight(d.d0, %(tz)s::text) >= g.lo
                                    THEN d.d0 ELSE d.d0 + 1 END AS dlo) f
    CROSS JOIN LATERAL (SELECT CASE WHEN z.daily AND f.dlo < d.dhi THEN f.dlo END AS dlo,
                               CASE WHEN z.daily AND f.dlo < d.dhi THEN d.dhi END AS dhi) w
),
counted AS (
    -- Whole days: the distinct users of the day's facts (an index-only range).
    SELECT p.period,
           (SELECT count(*)
            FROM (SELECT DISTINCT r.user_key FROM usage_user_days r
                  WHERE r.day = p.period
                    AND (s.ids IS NULL OR r.asset_id = ANY (s.ids))) u) AS users
    FROM periods p CROSS JOIN systems s
    WHERE p.whole
    UNION ALL
    -- Cut days: their whole days' facts and the raw rows of the rest, as one set.
    SELECT p.period, count(DISTINCT u.user_key) AS users
    FROM periods p CROSS JOIN systems s
    LEFT JOIN LATERAL (
        SELECT r.user_key FROM usage_user_days r
        WHERE r.day >= p.dlo AND r.day < p.dhi
          AND (s.ids IS NULL OR r.asset_id = ANY (s.ids))
        UNION ALL
        SELECT decode(e.user_key, 'hex') FROM usage_events e
        WHERE e.occurred_at >= p.lo AND e.occurred_at < p.wlo
          AND (s.ids IS NULL OR e.asset_id = ANY (s.ids))
        UNION ALL
        SELECT decode(e.user_key, 'hex') FROM usage_events e
        WHERE e.occurred_at >= p.whi AND e.occurred_at < p.hi
          AND (s.ids IS NULL OR e.asset_id = ANY (s.ids))
    ) u ON true
    WHERE NOT p.whole
    GROUP BY p.period
),
has_data AS (
    SELECT coalesce(sum(users), 0) > 0 AS yes FROM counted
)
SELECT 'total' AS dimension, NULL::text AS member,
       CASE WHEN h.yes THEN sum(c.users)::float8 / count(*) END AS value,
       CASE WHEN h.yes THEN sum(c.users) END::float8 AS numerator,
       CASE WHEN h.yes THEN count(*) END::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM counted c CROSS JOIN has_data h
GROUP BY h.yes
UNION ALL
SELECT 'day', to_char(c.period, 'YYYY-MM-DD'),
       CASE WHEN h.yes THEN c.users END::float8,
       CASE WHEN h.yes THEN c.users END::float8,
       NULL::float8, NULL::float8, NULL::float8
FROM counted c CROSS JOIN has_data h
ORDER BY 1, 2

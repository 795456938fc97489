-- portal.ratings, version 1: service ratings by level (好差评评价数, 按等级; GB/T 39735-2020).
-- The number of ratings rated in W (rating_facts.rated_at in W: the first 'rated'
-- event of each rating_id). Level members '1'…'5': 5 非常满意, 4 满意, 3 基本满意,
-- 2 不满意, 1 非常不满意 (levels 1–2 are bad ratings, 差评). Channel: app,
-- mini_program, web, hall, kiosk, hotline. Department: the rated service's department.
-- Day: the local day (tz) of rated_at, every day of W listed.
-- "No data" (value NULL) when the scope has no rating in W; otherwise a count, 0 included.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'level', 'channel', 'department', 'day'; member;
-- value = ratings; numerator = ratings; denominator, adjusted_value and unknown_share
-- NULL).
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
rated AS MATERIALIZED (
    SELECT f.level, f.channel, f.department_id, (f.rated_at AT TIME ZONE %(tz)s::text)::date AS day
    FROM rating_facts f
    WHERE f.rated_at >= %(start)s::timestamptz AND f.rated_at < %(end)s::timestamptz
      AND f.level IS NOT NULL
      AND (%(department)s::text IS NULL OR f.department_id = %(department)s::text)
),
has_data AS (
    SELECT EXISTS (SELECT 1 FROM rated) AS yes
),
members AS (
    -- Every level and channel of the contract (schemas/events.py RatingEvent) and every
    -- day, with 0 when none; departments with a rating.
    SELECT 'total' AS dimension, NULL::text AS member
    UNION ALL SELECT 'level', l::text FROM generate_series(1, 5) AS l
    UNION ALL SELECT 'channel', c FROM unnest(ARRAY['app', 'mini_program', 'web', 'hall', 'kiosk',
                                                    'hotline']) AS c
    UNION SELECT 'channel', channel FROM rated WHERE channel IS NOT NULL
    UNION SELECT 'department', department_id FROM rated WHERE department_id IS NOT NULL
    UNION ALL SELECT 'day', day::text FROM days
),
counts AS (
    SELECT CASE WHEN GROUPING(level) = 0 THEN 'level'
                WHEN GROUPING(channel) = 0 THEN 'channel'
                WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(level) = 0 THEN level::text
                WHEN GROUPING(channel) = 0 THEN channel
                WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           count(*) AS n
    FROM rated
    GROUP BY GROUPING SETS ((), (level), (channel), (department_id), (day))
)
SELECT m.dimension, m.member,
       CASE WHEN h.yes THEN coalesce(c.n, 0) END::float8 AS value,
       CASE WHEN h.yes THEN coalesce(c.n, 0) END::float8 AS numerator,
       NULL::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM members m
CROSS JOIN has_data h
LEFT JOIN counts c ON c.dimension = m.dimension AND c.member IS NOT DISTINCT FROM m.member
ORDER BY m.dimension, m.member

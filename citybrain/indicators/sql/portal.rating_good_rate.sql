-- portal.rating_good_rate, version 1: good-rating rate (好评率; GB/T 39735-2020).
-- Good ratings / ratings rated in W (rating_facts.rated_at in W). Good: levels 3–5
-- (非常满意, 满意, 基本满意); bad (差评): 1–2 (不满意, 非常不满意). Day: the local day
-- (tz) of rated_at.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'channel', 'day'; member; value in
-- percent; numerator = good ratings; denominator = ratings; adjusted_value and
-- unknown_share NULL). No rating: value NULL.
WITH rated AS (
    SELECT f.bad, f.channel, f.department_id, (f.rated_at AT TIME ZONE %(tz)s::text)::date AS day
    FROM rating_facts f
    WHERE f.rated_at >= %(start)s::timestamptz AND f.rated_at < %(end)s::timestamptz
      AND f.level IS NOT NULL
      AND (%(department)s::text IS NULL OR f.department_id = %(department)s::text)
),
figures AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(channel) = 0 THEN 'channel'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(channel) = 0 THEN channel
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           count(*) FILTER (WHERE NOT bad) AS good, count(*) AS ratings
    FROM rated
    GROUP BY GROUPING SETS ((), (department_id), (channel), (day))
)
SELECT dimension, member,
       CASE WHEN ratings > 0 THEN 100.0 * good / ratings END::float8 AS value,
       good::float8 AS numerator,
       ratings::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member

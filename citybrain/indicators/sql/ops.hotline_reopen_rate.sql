-- ops.hotline_reopen_rate, version 1: 12345 reopen rate (12345工单重办率).
-- Orders whose first completion falls in W, reopened before W's end / those orders;
-- merged orders left out.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'category', 'day'; member; value in
-- percent; numerator = orders reopened; denominator = orders first completed in W;
-- adjusted_value and unknown_share NULL).
WITH completed AS (
    -- Orders first completed (办结) in W, not merged into another; reopened (重办) when a
    -- reopening is known before W's end.
    SELECT coalesce(o.department_id, '(none)') AS department_id,
           coalesce(o.category, '(none)') AS category,
           (o.first_completed_at AT TIME ZONE %(tz)s::text)::date AS day,
           o.first_reopened_at IS NOT NULL AND o.first_reopened_at < %(end)s::timestamptz AS reopened
    FROM work_orders o
    WHERE o.first_completed_at >= %(start)s::timestamptz AND o.first_completed_at < %(end)s::timestamptz
      AND o.merged_into IS NULL
      AND (%(department)s::text IS NULL OR o.department_id = %(department)s::text)
),
figures AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(category) = 0 THEN 'category'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(category) = 0 THEN category
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           count(*) FILTER (WHERE reopened) AS hits,
           count(*) AS counted
    FROM completed
    GROUP BY GROUPING SETS ((), (department_id), (category), (day))
)
SELECT dimension, member,
       CASE WHEN counted > 0 THEN 100.0 * hits / counted END::float8 AS value,
       hits::float8 AS numerator,
       counted::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member

-- ops.hotline_satisfaction_rate, version 1: 12345 satisfaction rate (12345工单满意率).
-- Return visits (hotline_events, action 'return_visit') in W with satisfaction
-- 'satisfied' or 'basically_satisfied' / all return visits in W, of orders not merged
-- into another; every visit counts, a reopened order's second visit too.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'category', 'day'; member; value in
-- percent; numerator = satisfied and basically satisfied visits; denominator = return
-- visits; adjusted_value and unknown_share NULL).
WITH visits AS (
    -- Return visits (回访) in W of orders not merged into another.
    SELECT coalesce(o.department_id, '(none)') AS department_id,
           coalesce(o.category, '(none)') AS category,
           (e.occurred_at AT TIME ZONE %(tz)s::text)::date AS day,
           e.satisfaction IN ('satisfied', 'basically_satisfied') AS satisfied
    FROM hotline_events e
    JOIN work_orders o ON o.order_id = e.order_id
    WHERE e.action = 'return_visit'
      AND e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
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
           count(*) FILTER (WHERE satisfied) AS hits,
           count(*) AS counted
    FROM visits
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

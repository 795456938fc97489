-- ops.hotline_completion_on_time_rate, version 1: 12345 on-time completion rate (12345工单按时办结率).
-- The completion limits (work_order_limits, kind 'completion') of the orders created in
-- W: met when the final reply that stands (none after it was reopened) came by the due
-- time; missed when it came later, or had not come by W's end though the due time had
-- passed. Pending and unknown limits are left out; merged orders have none.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'category', 'day'; member; value in
-- percent; numerator = limits met; denominator = limits judged; adjusted_value and
-- unknown_share NULL).
WITH judged AS (
    -- The completion limit of each order created in W, as known at W's end: met when
    -- done by its due time; missed when done later, or not done by W's end though its due
    -- time came before it; pending otherwise (left out), and unknown when no due time could
    -- be computed (left out: a calendar year nobody described, an unknown category).
    SELECT coalesce(l.department_id, '(none)') AS department_id,
           coalesce(l.category, '(none)') AS category,
           (l.created_at AT TIME ZONE %(tz)s::text)::date AS day,
           CASE WHEN l.due_at IS NULL THEN 'unknown'
                WHEN l.done_at < %(end)s::timestamptz
                    THEN CASE WHEN l.done_at <= l.due_at THEN 'met' ELSE 'missed' END
                WHEN l.due_at < %(end)s::timestamptz THEN 'missed'
                ELSE 'pending' END AS outcome
    FROM work_order_limits l
    WHERE l.kind = 'completion'
      AND l.created_at >= %(start)s::timestamptz AND l.created_at < %(end)s::timestamptz
      AND (%(department)s::text IS NULL OR l.department_id = %(department)s::text)
),
figures AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(category) = 0 THEN 'category'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(category) = 0 THEN category
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           count(*) FILTER (WHERE outcome = 'met') AS hits,
           count(*) FILTER (WHERE outcome IN ('met', 'missed')) AS counted
    FROM judged
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

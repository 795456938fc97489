-- portal.return_visit_rate, version 1: return visits after rectification (差评整改回访率).
-- Rectified bad ratings judged in W whose person was reached by a return visit at or
-- after the rectification and before return_visit_due / judged.
-- rating_facts.return_visit_judged_at = that visit when it came in time, else the due.
-- Due: the close of the N-th working day after the rectification's local day, N =
-- the return-visit limit (setting, default 3). Visits that did not reach the person
-- (satisfied NULL) do not count. Day: the local day (tz) of the judgement.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'day'; member; value in percent;
-- numerator = met; denominator = judged; adjusted_value and unknown_share NULL). None
-- judged: value NULL.
WITH judged AS (
    SELECT f.department_id, (f.return_visit_judged_at AT TIME ZONE %(tz)s::text)::date AS day,
           f.return_visit_at IS NOT NULL AND f.return_visit_at < f.return_visit_due AS met
    FROM rating_facts f
    WHERE f.bad
      AND f.return_visit_judged_at >= %(start)s::timestamptz AND f.return_visit_judged_at < %(end)s::timestamptz
      AND (%(department)s::text IS NULL OR f.department_id = %(department)s::text)
),
figures AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           count(*) FILTER (WHERE met) AS met, count(*) AS judged
    FROM judged
    GROUP BY GROUPING SETS ((), (department_id), (day))
)
SELECT dimension, member,
       CASE WHEN judged > 0 THEN 100.0 * met / judged END::float8 AS value,
       met::float8 AS numerator,
       judged::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member

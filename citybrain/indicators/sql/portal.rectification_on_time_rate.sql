-- portal.rectification_on_time_rate, version 1: bad ratings rectified on time (差评按期整改率).
-- Bad ratings (levels 1–2) judged in W, rectified before rectification_due / judged.
-- rating_facts.rectification_judged_at = the rectification when it came before the due,
-- else the due: each bad rating is judged in exactly one window. Due: the close of the
-- N-th working day (official calendar, 调休, local and department days) after the
-- rating's local day, N = the department's limit (setting, default 5). Due unknown
-- (calendar_unknown): not judged. Day: the local day (tz) of the judgement.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'day'; member; value in percent;
-- numerator = met; denominator = judged; adjusted_value and unknown_share NULL). None
-- judged: value NULL.
WITH judged AS (
    SELECT f.department_id, (f.rectification_judged_at AT TIME ZONE %(tz)s::text)::date AS day,
           f.rectified_at IS NOT NULL AND f.rectified_at < f.rectification_due AS met
    FROM rating_facts f
    WHERE f.bad
      AND f.rectification_judged_at >= %(start)s::timestamptz AND f.rectification_judged_at < %(end)s::timestamptz
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

-- ops.mtta, version 1: mean time to acknowledge (平均响应时间, MTTA), in minutes.
-- Mean of acknowledged_at − opened_at over the incidents opened in W and acknowledged
-- before W's end (an acknowledgement after W's end is not known at W's end). Incidents
-- never acknowledged by then are not in the mean: the 30-minute rate counts them.
-- Department: owning department; level: severity (I–IV); key; day: the local day (tz)
-- of opened_at. No acknowledged incident: value NULL ("no data").
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city). The working hours come from
-- the session settings citybrain.work_start / citybrain.work_end (default 08:30, 17:30).
-- Returns rows (dimension: 'total', 'department', 'level', 'key', 'day'; member; value in
-- minutes; numerator = Σ minutes; denominator = incidents; adjusted_value, unknown_share
-- NULL).
WITH hours AS (
    -- Working hours, Monday–Friday in tz: the engine sets them from the settings; a
    -- panel without them gets the defaults 08:30–17:30.
    SELECT coalesce(nullif(current_setting('citybrain.work_start', true), ''), '08:30')::time AS starts,
           coalesce(nullif(current_setting('citybrain.work_end', true), ''), '17:30')::time AS ends
),
opened AS MATERIALIZED (
    -- Incidents opened in W, with what was known of them at W's end.
    SELECT i.incident_id, coalesce(i.department_id, '(none)') AS department_id, i.severity,
           coalesce(i.key, '(none)') AS key, i.opened_at,
           (i.opened_at AT TIME ZONE %(tz)s::text)::date AS day,
           CASE WHEN i.acknowledged_at < %(end)s::timestamptz THEN i.acknowledged_at END AS acked_at,
           CASE WHEN i.resolved_at < %(end)s::timestamptz THEN i.resolved_at END AS resolved_at,
           i.auto_resolved,
           CASE WHEN extract(isodow FROM i.opened_at AT TIME ZONE %(tz)s::text) BETWEEN 1 AND 5
                     AND (i.opened_at AT TIME ZONE %(tz)s::text)::time >= h.starts
                     AND (i.opened_at AT TIME ZONE %(tz)s::text)::time < h.ends
                THEN 'on_hours' ELSE 'off_hours' END AS hours
    FROM incidents i
    CROSS JOIN hours h
    WHERE i.opened_at >= %(start)s::timestamptz AND i.opened_at < %(end)s::timestamptz
      AND (%(department)s::text IS NULL OR i.department_id = %(department)s::text)
),
figures AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(severity) = 0 THEN 'level'
                WHEN GROUPING(key) = 0 THEN 'key'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(severity) = 0 THEN severity
                WHEN GROUPING(key) = 0 THEN key
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           sum(epoch_us(acked_at - opened_at)) FILTER (WHERE acked_at IS NOT NULL) / 60000000.0 AS minutes,
           count(acked_at) AS n
    FROM opened
    GROUP BY GROUPING SETS ((), (department_id), (severity), (key), (day))
)
SELECT dimension, member,
       CASE WHEN n > 0 THEN minutes / n END::float8 AS value,
       coalesce(minutes, 0)::float8 AS numerator,
       n::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member

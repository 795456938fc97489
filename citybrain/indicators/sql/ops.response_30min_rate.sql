-- ops.response_30min_rate, version 1: response within 30 minutes (30分钟响应率).
-- Incidents opened in W and acknowledged within 30 minutes / incidents opened in W that
-- can be judged at W's end. The 30-minute clock runs from opened_at (detection) to
-- acknowledged_at (the first human response); an acknowledgement at or after W's end is
-- not known at W's end, so a report on a past window does not change later.
--   met      acknowledged_at − opened_at ≤ 30 minutes;
--   missed   acknowledged later, or not acknowledged by W's end with its 30 minutes run out;
--   pending  not acknowledged at W's end, 30 minutes not yet run out: excluded;
--   excluded an incident that resolved itself (auto_resolved) within 30 minutes of opening
--            before anyone acknowledged it: no response was due.
-- Department: the incident's owning department; level: its severity (I–IV); key: its key;
-- day: the local day (tz) of opened_at. No incident judged: value NULL ("no data").
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city). The working hours come from
-- the session settings citybrain.work_start / citybrain.work_end (default 08:30, 17:30).
-- Returns rows (dimension: 'total', 'department', 'level', 'key', 'day'; member; value in
-- percent; numerator = met; denominator = met + missed; adjusted_value and unknown_share
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
judged AS (
    -- met: acknowledged within 30 minutes of opening; missed: acknowledged later, or not
    -- acknowledged by W's end though its 30 minutes ran out before it. Left out: pending
    -- (not acknowledged at W's end, 30 minutes not yet run out) and incidents that resolved
    -- themselves (auto_resolved) within 30 minutes before anyone acknowledged them.
    SELECT o.*,
           CASE WHEN o.acked_at IS NOT NULL
                    THEN CASE WHEN o.acked_at <= o.opened_at + interval '30 minutes' THEN 'met' ELSE 'missed' END
                WHEN o.auto_resolved AND o.resolved_at <= o.opened_at + interval '30 minutes' THEN 'excluded'
                WHEN o.opened_at + interval '30 minutes' > %(end)s::timestamptz THEN 'pending'
                ELSE 'missed' END AS outcome
    FROM opened o
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
           count(*) FILTER (WHERE outcome = 'met') AS met,
           count(*) FILTER (WHERE outcome IN ('met', 'missed')) AS judged
    FROM judged
    GROUP BY GROUPING SETS ((), (department_id), (severity), (key), (day))
)
SELECT dimension, member,
       CASE WHEN judged > 0 THEN 100.0 * met / judged END::float8 AS value,
       met::float8 AS numerator,
       judged::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM figures
ORDER BY dimension, member

-- security.incidents, version 1: security incidents by level (安全事件数, 按等级).
-- The number of security events in W (occurred_at in W), reported by any source (IDS,
-- WAF, EDR, SIEM, DLP, firewall, ...). The department of an event is that of its
-- affected asset; events about assets not in the register count city-wide, under the
-- department member 'unregistered'. Levels I (most severe) to IV and the contract's
-- categories are always listed, with 0 where there was none; day: the local day (tz).
-- "No data" (value NULL) only when the scope has no registered asset at all during W;
-- otherwise a count, 0 included.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'level', 'category', 'day'; member;
-- value = events; numerator = events; denominator, adjusted_value and unknown_share
-- NULL).
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
in_scope AS MATERIALIZED (
    -- The departments with an asset registered during W (listed even without events):
    -- one index probe per department rather than a pass over every asset.
    SELECT d.department_id
    FROM departments d
    WHERE (%(department)s::text IS NULL OR d.department_id = %(department)s::text)
      AND EXISTS (SELECT 1 FROM assets a
                  WHERE a.department_id = d.department_id
                    AND a.registered_at < %(end)s::timestamptz
                    AND (a.retired_at IS NULL OR a.retired_at > %(start)s::timestamptz))
),
has_data AS (
    SELECT EXISTS (SELECT 1 FROM in_scope) AS yes
),
events AS MATERIALIZED (
    SELECT coalesce(a.department_id, 'unregistered') AS department_id, e.level, e.category,
           (e.occurred_at AT TIME ZONE %(tz)s::text)::date AS day
    FROM security_events e
    LEFT JOIN assets a ON a.asset_id = e.asset_id
    WHERE e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
members AS (
    -- Every member listed, with 0 when nothing happened.
    SELECT 'total' AS dimension, NULL::text AS member
    UNION ALL SELECT 'level', l FROM unnest(ARRAY['I', 'II', 'III', 'IV']) AS l
    UNION ALL SELECT 'category', c FROM unnest(ARRAY['intrusion', 'malware', 'ddos', 'vulnerability',
                                                    'policy_violation', 'data_leak', 'other']) AS c
    UNION SELECT 'category', category FROM events
    UNION SELECT 'level', level FROM events
    UNION SELECT 'department', department_id FROM in_scope
    UNION SELECT 'department', department_id FROM events
    UNION ALL SELECT 'day', day::text FROM days
),
counts AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(level) = 0 THEN 'level'
                WHEN GROUPING(category) = 0 THEN 'category'
                WHEN GROUPING(day) = 0 THEN 'day'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(level) = 0 THEN level
                WHEN GROUPING(category) = 0 THEN category
                WHEN GROUPING(day) = 0 THEN day::text END AS member,
           count(*) AS n
    FROM events
    GROUP BY GROUPING SETS ((), (department_id), (level), (category), (day))
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

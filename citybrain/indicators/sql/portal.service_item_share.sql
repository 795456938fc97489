-- portal.service_item_share, version 1: share of service items covered by the unified portal (门户覆盖政务服务事项比例).
-- Covered items / catalogue items in the catalogue at any time in W.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'kind', 'day'; member; value in
-- percent; numerator = covered items; denominator = active items; adjusted_value and
-- unknown_share NULL). No active item in scope: value NULL. Day: each local day of W.
--
-- An item is active when it is in the catalogue at any time in W (its scope W ∩
-- [registered_at, retired_at) is not empty, as portal.service_count counts portals), and
-- covered when it is active, online_capable and the portal covers it before W's end E
-- (portal_since < E; E is the window's end or the report's as-of time). Department
-- scope: the items the department offers (service_items.department_id).
WITH days AS MATERIALIZED (
    SELECT d::date AS day,
           greatest(%(start)s::timestamptz, local_midnight(d::date, %(tz)s::text)) AS lo,
           least(%(end)s::timestamptz, local_midnight(d::date + 1, %(tz)s::text)) AS hi
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
active AS (
    SELECT s.service_id, s.kind, s.department_id,
           s.online_capable AND s.portal_since IS NOT NULL
               AND s.portal_since < %(end)s::timestamptz AS covered
    FROM service_items s
    WHERE s.registered_at < %(end)s::timestamptz
      AND (s.retired_at IS NULL
           OR s.retired_at > greatest(s.registered_at, %(start)s::timestamptz))
      AND (%(department)s::text IS NULL OR s.department_id = %(department)s::text)
),
by_day AS (
    -- Day: the items in the catalogue that local day, covered before the day's end in W.
    SELECT 'day' AS dimension, d.day::text AS member,
           count(*) FILTER (WHERE s.online_capable AND s.portal_since < d.hi) AS covered,
           count(*) AS items
    FROM days d
    JOIN service_items s
      ON s.registered_at < d.hi
     AND (s.retired_at IS NULL OR s.retired_at > greatest(s.registered_at, d.lo))
    WHERE %(department)s::text IS NULL OR s.department_id = %(department)s::text
    GROUP BY d.day
),
figures AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                WHEN GROUPING(kind) = 0 THEN 'kind'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id
                WHEN GROUPING(kind) = 0 THEN kind END AS member,
           count(*) FILTER (WHERE covered) AS covered,
           count(*) AS items
    FROM active
    GROUP BY GROUPING SETS ((), (department_id), (kind))
)
SELECT dimension, member,
       CASE WHEN items > 0 THEN 100.0 * covered / items END::float8 AS value,
       covered::float8 AS numerator,
       items::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM (SELECT * FROM figures UNION ALL SELECT * FROM by_day) f
ORDER BY dimension, member

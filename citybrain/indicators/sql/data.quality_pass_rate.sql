-- data.quality_pass_rate, version 1: data quality pass rate (数据质量合格率).
-- Datasets whose every quality check in W passed / datasets checked in W.
-- A check is a data event with action 'quality_check' inside the dataset's scope
-- (W ∩ [registered_at, retired_at)); a check without a verdict (passed NULL) counts as
-- failed. Datasets not checked in W are left out: a weekly dataset is not failed by a
-- daily report. Day (local midnights in tz): datasets checked that day, and those whose
-- checks that day all passed.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'day'; member; value in percent;
-- numerator = datasets passing; denominator = datasets checked; adjusted_value and
-- unknown_share NULL). No dataset checked: value NULL.
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(
        (%(start)s::timestamptz AT TIME ZONE %(tz)s::text)::date::timestamp,
        ((%(end)s::timestamptz - interval '1 microsecond') AT TIME ZONE %(tz)s::text)::date::timestamp,
        interval '1 day') AS d
),
checks AS MATERIALIZED (
    SELECT a.asset_id, a.department_id, (e.occurred_at AT TIME ZONE %(tz)s::text)::date AS day,
           coalesce(e.passed, false) AS passed
    FROM data_events e
    JOIN assets a ON a.asset_id = e.asset_id
    WHERE e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
      AND e.action = 'quality_check' AND a.kind = 'dataset'
      AND e.occurred_at >= a.registered_at AND (a.retired_at IS NULL OR e.occurred_at < a.retired_at)
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
),
per_dataset AS (
    SELECT asset_id, department_id, bool_and(passed) AS passed FROM checks GROUP BY asset_id, department_id
),
by_group AS (
    SELECT CASE WHEN GROUPING(department_id) = 0 THEN 'department'
                ELSE 'total' END AS dimension,
           CASE WHEN GROUPING(department_id) = 0 THEN department_id END AS member,
           count(*) FILTER (WHERE passed) AS passing, count(*) AS checked
    FROM per_dataset
    GROUP BY GROUPING SETS ((), (department_id))
),
by_day AS (
    SELECT 'day' AS dimension, d.day::text AS member,
           count(*) FILTER (WHERE c.passed) AS passing, count(c.asset_id) AS checked
    FROM days d
    LEFT JOIN (SELECT asset_id, day, bool_and(passed) AS passed FROM checks GROUP BY asset_id, day) c
        ON c.day = d.day
    GROUP BY d.day
)
SELECT dimension, member,
       CASE WHEN checked > 0 THEN 100.0 * passing / checked END::float8 AS value,
       passing::float8 AS numerator,
       checked::float8 AS denominator,
       NULL::float8 AS adjusted_value,
       NULL::float8 AS unknown_share
FROM (SELECT * FROM by_group UNION ALL SELECT * FROM by_day) f
ORDER BY dimension, member

-- infra.cloud_fulfilment_rate, version 1: gov-cloud resource fulfilment rate (资源满足率).
-- Resource requests filed in W (requested_at in W) and fulfilled within their agreed lead
-- time / requests filed in W that can be judged at W's end.
-- A request is one (host, request_id); its events in W give requested_at (the earliest;
-- the filing event's occurred_at if it has none), fulfilled_at (the earliest reported)
-- and agreed_lead_hours. Judged as of W's end, so a report on a past window does not
-- change when later events arrive:
--   met      fulfilled_at ≤ requested_at + lead (and fulfilled before W's end);
--   missed   not fulfilled by its due time, and the due time is before W's end;
--   pending  not fulfilled yet, due time after W's end: excluded;
--   requests without an agreed lead time cannot be judged: excluded.
-- Only registered cloud hosts' requests count. Day: the local day (tz) of requested_at.
--
-- Parameters: start, end (the window W = [start, end), timestamptz), tz (IANA zone),
-- department (a department id, or NULL for the whole city).
-- Returns rows (dimension: 'total', 'department', 'day'; member; value in percent;
-- numerator = met; denominator = met + missed; adjusted_value and unknown_share NULL). No
-- request judged: value NULL.
WITH requests AS (
    SELECT e.asset_id, e.request_id,
           min(coalesce(e.requested_at, e.occurred_at)) AS requested_at,
           min(e.fulfilled_at) FILTER (WHERE e.fulfilled_at < %(end)s::timestamptz) AS fulfilled_at,
           max(e.agreed_lead_hours) AS lead_hours
    FROM cloud_events e
    WHERE e.occurred_at >= %(start)s::timestamptz AND e.occurred_at < %(end)s::timestamptz
      AND e.kind = 'request' AND e.request_id IS NOT NULL
    GROUP BY e.asset_id, e.request_id
),
judged AS (
    SELECT a.department_id,
           (r.requested_at AT TIME ZONE %(tz)s::text)::date AS day,
           r.fulfilled_at IS NOT NULL
               AND r.fulfilled_at <= r.requested_at + r.lead_hours * interval '1 hour' AS met
    FROM requests r
    JOIN assets a ON a.asset_id = r.asset_id
    WHERE r.requested_at >= %(start)s::timestamptz AND r.requested_at < %(end)s::timestamptz
      AND r.lead_hours IS NOT NULL
      AND (r.fulfilled_at IS NOT NULL
           OR r.requested_at + r.lead_hours * interval '1 hour' <= %(end)s::timestamptz)
      AND (%(department)s::text IS NULL OR a.department_id = %(department)s::text)
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

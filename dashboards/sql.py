"""SQL of the panels that have no indicator: live lists, maps, event counts.

Written for Grafana's PostgreSQL datasource: the time range through ``$__timeFilter`` /
``$__timeFrom()`` / ``$__timeTo()``, buckets through ``$__timeGroupAlias(col, $__interval)``,
and the dashboard variables through the filters of ``dashboards.variables``. "Now" in
these queries is the end of the dashboard's range (``$__timeTo()``), never the database
clock, so a range in the past shows the past consistently.
"""

from __future__ import annotations

from alerts.incidents.lifecycle import OPEN_STATUSES_SQL as OPEN
from dashboards.variables import department_filter, district_filter, key_filter

OPEN_INCIDENTS_BY_SEVERITY = f"""SELECT sev.severity AS "Severity", count(i.incident_id) AS "Open"
FROM (VALUES ('I'), ('II'), ('III'), ('IV')) AS sev(severity)
LEFT JOIN (
    SELECT i.incident_id, i.severity
    FROM incidents i
    LEFT JOIN assets a ON a.asset_id = i.asset_id
    WHERE i.status IN {OPEN}
      AND {department_filter('i.department_id')}
      AND {district_filter('a.district_id')}
      AND (i.key IS NULL OR {key_filter('i.key')})
) i ON i.severity = sev.severity
GROUP BY sev.severity
ORDER BY array_position(ARRAY['I', 'II', 'III', 'IV'], sev.severity)"""

OPEN_INCIDENTS = f"""SELECT i.incident_id, i.severity, i.status, i.title,
       i.department_id AS department, coalesce(a.district_id, '(none)') AS district, i.key,
       i.asset_id, i.opened_at, i.acknowledged_at, i.response_due_at,
       round((extract(epoch FROM $__timeTo()::timestamptz - i.opened_at) / 60)::numeric, 1)
           AS minutes_open,
       (i.acknowledged_at IS NULL AND i.response_due_at < $__timeTo()::timestamptz) AS response_overdue
FROM incidents i
LEFT JOIN assets a ON a.asset_id = i.asset_id
WHERE i.status IN {OPEN}
  AND {department_filter('i.department_id')}
  AND {district_filter('a.district_id')}
  AND (i.key IS NULL OR {key_filter('i.key')})
ORDER BY i.severity, i.opened_at
LIMIT 500"""

INCIDENTS_OPENED = f"""SELECT $__timeGroupAlias(i.opened_at, $__interval),
       'severity ' || i.severity AS metric, count(*) AS value
FROM incidents i
LEFT JOIN assets a ON a.asset_id = i.asset_id
WHERE $__timeFilter(i.opened_at)
  AND {department_filter('i.department_id')}
  AND {district_filter('a.district_id')}
  AND (i.key IS NULL OR {key_filter('i.key')})
GROUP BY 1, 2
ORDER BY 1"""

BREACHES_BY_DEPARTMENT = f"""SELECT coalesce(d.name, b.department_id, '(none)') AS department,
       count(*) FILTER (WHERE b.kind = 'response') AS response,
       count(*) FILTER (WHERE b.kind = 'resolution') AS resolution
FROM sla_breaches b
LEFT JOIN departments d ON d.department_id = b.department_id
WHERE $__timeFilter(b.breached_at)
  AND {department_filter('b.department_id')}
GROUP BY 1
ORDER BY 2 DESC, 3 DESC, 1"""

OFFLINE_ASSETS = f"""SELECT a.asset_id, coalesce(a.name, a.asset_id) AS name, a.kind, a.key,
       a.department_id AS department, coalesce(a.district_id, '(none)') AS district,
       s.since AS offline_since,
       round((extract(epoch FROM $__timeTo()::timestamptz - s.since) / 60)::numeric) AS minutes_offline,
       a.latitude, a.longitude
FROM asset_state s
JOIN assets a ON a.asset_id = s.asset_id
WHERE s.state = 'offline'
  AND (a.retired_at IS NULL OR a.retired_at > $__timeTo()::timestamptz)
  AND {department_filter('a.department_id')}
  AND {district_filter('a.district_id')}
  AND {key_filter('a.key')}"""

OFFLINE_MAP = OFFLINE_ASSETS + "\n  AND a.latitude IS NOT NULL AND a.longitude IS NOT NULL"
OFFLINE_LIST = OFFLINE_ASSETS + "\nORDER BY s.since\nLIMIT 500"

SECURITY_EVENTS_BY = """SELECT $__timeGroupAlias(e.occurred_at, $__interval), {label} AS metric,
       count(*) AS value
FROM security_events e
LEFT JOIN assets a ON a.asset_id = e.asset_id
WHERE $__timeFilter(e.occurred_at)
  AND {department}
  AND {district}
GROUP BY 1, 2
ORDER BY 1"""

SECURITY_BY_LEVEL = SECURITY_EVENTS_BY.format(
    label="'level ' || e.level", department=department_filter("a.department_id"),
    district=district_filter("a.district_id"))
SECURITY_BY_CATEGORY = SECURITY_EVENTS_BY.format(
    label="e.category", department=department_filter("a.department_id"),
    district=district_filter("a.district_id"))

DATA_LEAK_EVENTS = f"""SELECT e.occurred_at AS "time", e.level, e.source, e.title, e.asset_id,
       a.department_id AS department, coalesce(a.district_id, '(none)') AS district
FROM security_events e
LEFT JOIN assets a ON a.asset_id = e.asset_id
WHERE $__timeFilter(e.occurred_at)
  AND e.category = 'data_leak'
  AND {department_filter('a.department_id')}
  AND {district_filter('a.district_id')}
ORDER BY e.occurred_at DESC
LIMIT 200"""

"""SQL of the panels that have no indicator: live lists, maps, event counts.

Written for Grafana's PostgreSQL datasource: the time range through ``$__timeFilter`` /
``$__timeFrom()`` / ``$__timeTo()``, buckets through ``$__timeGroupAlias(col, $__interval)``,
and the dashboard variables through the filters of ``dashboards.variables``. "Now" in
these queries is the end of the dashboard's range (``$__timeTo()``), never the database
clock, so a range in the past shows the past consistently.

Per language: departments, districts and assets by their registry names
(``schemas.names.name_sql``); series names (severity, level, category) from the
catalogue through ``texts.sql_label``, since Grafana cannot map a series name. Table
columns keep their English ids: the tables give them headers and value labels
(``panels.columns``). The filters compare ids, never names.
"""

from __future__ import annotations

from alerts.incidents.lifecycle import OPEN_STATUSES_SQL as OPEN
from citybrain.kernel.i18n import Translator
from dashboards import texts
from dashboards.variables import department_filter, district_filter, key_filter
from schemas.names import name_sql

SEVERITY_ORDER = "ARRAY['I', 'II', 'III', 'IV']"


def _name(alias: str, t: Translator, reference: str) -> str:
    """A registry row's display name in the translator's language; the id (``reference``)
    where the registry has no row, "(none)" in words where there is no reference."""
    none = texts.quote_literal(t.gettext(texts.NONE_TEXT))
    return f"coalesce({name_sql(alias, t.language).as_string(None)}, {reference}, {none})"


def open_incidents_by_severity(t: Translator) -> str:
    """Open incidents per severity, every severity present (0 when none): the bar's label."""
    return f"""SELECT {texts.sql_label(t, texts.SEVERITIES, 'sev.severity')} AS severity,
       count(i.incident_id) AS open
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
ORDER BY array_position({SEVERITY_ORDER}, sev.severity)"""


OPEN_INCIDENT_COLUMNS = ("incident_id", "severity", "status", "title", "department", "district", "key",
                         "asset", "opened_at", "acknowledged_at", "response_due_at", "minutes_open",
                         "response_overdue")


def open_incidents(t: Translator) -> str:
    """Open incidents (triggered or acknowledged), most severe first, then oldest; stored
    values (severity, status, key) as ids for the table's value labels."""
    return f"""SELECT i.incident_id, i.severity, i.status, i.title,
       {_name('d', t, 'i.department_id')} AS department,
       {_name('di', t, 'a.district_id')} AS district,
       coalesce(i.key, '(none)') AS key,
       {_name('a', t, 'i.asset_id')} AS asset,
       i.opened_at, i.acknowledged_at, i.response_due_at,
       round((extract(epoch FROM $__timeTo()::timestamptz - i.opened_at) / 60)::numeric, 1)
           AS minutes_open,
       (i.acknowledged_at IS NULL AND i.response_due_at < $__timeTo()::timestamptz) AS response_overdue
FROM incidents i
LEFT JOIN assets a ON a.asset_id = i.asset_id
LEFT JOIN departments d ON d.department_id = i.department_id
LEFT JOIN districts di ON di.district_id = a.district_id
WHERE i.status IN {OPEN}
  AND {department_filter('i.department_id')}
  AND {district_filter('a.district_id')}
  AND (i.key IS NULL OR {key_filter('i.key')})
ORDER BY array_position({SEVERITY_ORDER}, i.severity), i.opened_at
LIMIT 500"""


def incidents_opened(t: Translator) -> str:
    """Incidents opened per bucket and severity; within a bucket the most severe first, so
    the series (which Grafana orders as they first appear) tend to stack I at the bottom."""
    return f"""SELECT $__timeGroupAlias(i.opened_at, $__interval),
       {texts.sql_label(t, texts.SEVERITIES, 'i.severity')} AS metric, count(*) AS value
FROM incidents i
LEFT JOIN assets a ON a.asset_id = i.asset_id
WHERE $__timeFilter(i.opened_at)
  AND {department_filter('i.department_id')}
  AND {district_filter('a.district_id')}
  AND (i.key IS NULL OR {key_filter('i.key')})
GROUP BY 1, 2, i.severity
ORDER BY 1, array_position({SEVERITY_ORDER}, i.severity)"""


def breaches_by_department(t: Translator, *, response: str, resolution: str) -> str:
    """Breaches per department; ``response`` and ``resolution`` name the two series (a bar
    chart names its series by the query's columns)."""
    return f"""SELECT {_name('d', t, 'b.department_id')} AS department,
       count(*) FILTER (WHERE b.kind = 'response') AS "{response}",
       count(*) FILTER (WHERE b.kind = 'resolution') AS "{resolution}"
FROM sla_breaches b
LEFT JOIN departments d ON d.department_id = b.department_id
WHERE $__timeFilter(b.breached_at)
  AND {department_filter('b.department_id')}
GROUP BY 1
ORDER BY 2 DESC, 3 DESC, 1"""


OFFLINE_COLUMNS = ("asset_id", "name", "kind", "key", "department", "district", "offline_since",
                   "minutes_offline", "latitude", "longitude")


def _offline_assets(t: Translator) -> str:
    return f"""SELECT a.asset_id, {_name('a', t, 'a.asset_id')} AS name, a.kind, a.key,
       {_name('d', t, 'a.department_id')} AS department,
       {_name('di', t, 'a.district_id')} AS district,
       s.since AS offline_since,
       round((extract(epoch FROM $__timeTo()::timestamptz - s.since) / 60)::numeric) AS minutes_offline,
       a.latitude, a.longitude
FROM asset_state s
JOIN assets a ON a.asset_id = s.asset_id
LEFT JOIN departments d ON d.department_id = a.department_id
LEFT JOIN districts di ON di.district_id = a.district_id
WHERE s.state = 'offline'
  AND (a.retired_at IS NULL OR a.retired_at > $__timeTo()::timestamptz)
  AND {department_filter('a.department_id')}
  AND {district_filter('a.district_id')}
  AND {key_filter('a.key')}"""


def offline_map(t: Translator) -> str:
    return _offline_assets(t) + "\n  AND a.latitude IS NOT NULL AND a.longitude IS NOT NULL"


def offline_list(t: Translator) -> str:
    return _offline_assets(t) + "\nORDER BY s.since\nLIMIT 500"


def assets_by_state(t: Translator) -> str:
    """In-service assets per liveness state now, every state present (0 when none)."""
    states = ", ".join(f"({texts.quote_literal(s)}, {n})" for n, s in enumerate(texts.ASSET_STATES))
    return f"""SELECT {texts.sql_label(t, texts.ASSET_STATES, 'st.state')} AS state,
       count(a.asset_id) AS assets
FROM (VALUES {states}) AS st(state, position)
LEFT JOIN asset_state s ON s.state = st.state
LEFT JOIN assets a ON a.asset_id = s.asset_id
  AND (a.retired_at IS NULL OR a.retired_at > $__timeTo()::timestamptz)
  AND {department_filter('a.department_id')}
  AND {district_filter('a.district_id')}
  AND {key_filter('a.key')}
GROUP BY st.state, st.position
ORDER BY st.position"""


def _security_events_by(label: str) -> str:
    return f"""SELECT $__timeGroupAlias(e.occurred_at, $__interval), {label} AS metric,
       count(*) AS value
FROM security_events e
LEFT JOIN assets a ON a.asset_id = e.asset_id
WHERE $__timeFilter(e.occurred_at)
  AND {department_filter('a.department_id')}
  AND {district_filter('a.district_id')}
GROUP BY 1, 2
ORDER BY 1"""


def security_by_level(t: Translator) -> str:
    return _security_events_by(texts.sql_label(t, texts.SEVERITIES, "e.level"))


def security_by_category(t: Translator) -> str:
    return _security_events_by(texts.sql_label(t, texts.SECURITY_CATEGORIES, "e.category"))


DATA_LEAK_COLUMNS = ("time", "level", "source", "title", "asset", "department", "district")


def data_leak_events(t: Translator) -> str:
    return f"""SELECT e.occurred_at AS "time", e.level, e.source, e.title,
       {_name('a', t, 'e.asset_id')} AS asset,
       {_name('d', t, 'a.department_id')} AS department,
       {_name('di', t, 'a.district_id')} AS district
FROM security_events e
LEFT JOIN assets a ON a.asset_id = e.asset_id
LEFT JOIN departments d ON d.department_id = a.department_id
LEFT JOIN districts di ON di.district_id = a.district_id
WHERE $__timeFilter(e.occurred_at)
  AND e.category = 'data_leak'
  AND {department_filter('a.department_id')}
  AND {district_filter('a.district_id')}
ORDER BY e.occurred_at DESC
LIMIT 200"""

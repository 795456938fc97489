#!/bin/sh
# Grafana's read-only database role and exactly what it may read. Runs as the owner of the
# Citybrain schema after `citybrain db migrate` (compose: the one-shot `grafana-reader` job,
# on every start, before Grafana) and may be run again at any time:
#  - creates the role, or sets its password again when it exists,
#  - SELECT only (a dashboard can never change data), and only on what the panels read: the
#    list below is the one place it is written. Every earlier grant is revoked first, so a
#    role made by an older version of this script (which could read every table) loses
#    what it no longer needs,
#  - never readable: escalation policies and each incident's frozen copy of its policy
#    (robot webhook addresses are credentials), departments' contacts, who acknowledged,
#    resolved or was assigned an incident (may be an e-mail address), incident timelines,
#    notification_sends (addresses paged), api_tokens, ack_link_uses, the audit log,
#  - no default privileges: a table a later migration creates is NOT readable until it is
#    added here (tests/dashboards/test_panel_sql.py runs every panel as this role and
#    fails on a table or column it may not read),
#  - search_path = the Citybrain schema, because the panels (and the indicator SQL they
#    reuse) name tables without a schema, as the application does; then public, where
#    the image creates the TimescaleDB extension ($__timeGroup becomes time_bucket()),
#  - read-only transactions and a 60 s statement time-out.
# The tables must exist: run it after migrating (on a new migration's table it fails).
set -eu
: "${GRAFANA_DB_PASSWORD:?set GRAFANA_DB_PASSWORD}"
SCHEMA="${CITYBRAIN_DATABASE_SCHEMA:-citybrain}"
ROLE="${GRAFANA_DB_USER:-grafana_reader}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v schema="$SCHEMA" -v role="$ROLE" -v password="$GRAFANA_DB_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') AS new_role \gset
\if :new_role
CREATE ROLE :"role" LOGIN PASSWORD :'password';
\else
ALTER ROLE :"role" LOGIN PASSWORD :'password';
\endif
BEGIN;
SET LOCAL search_path = :"schema";
-- Start from nothing (column grants go with their table's), default privileges included.
REVOKE ALL ON ALL TABLES IN SCHEMA :"schema" FROM :"role";
ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" REVOKE ALL ON TABLES FROM :"role";
GRANT USAGE ON SCHEMA :"schema" TO :"role";
-- Whole tables: registry, events, liveness, SLA breaches, maintenance and the indicator
-- rollups. None holds a credential or a personal contact.
GRANT SELECT ON
    districts, assets,
    security_events, cloud_events, probe_events, data_events,
    asset_state, state_intervals, feed_watermarks,
    sla_breaches, maintenance_windows, maintenance_periods,
    rollup_zone, probe_hourly, cloud_hourly, probe_daily, cloud_daily,
    probe_latency_daily, probe_latency_coarse, availability_days, availability_daily,
    service_items, population, portal_accounts,
    usage_user_days, usage_user_months, usage_daily,
    hotline_events, work_orders, work_order_limits, rating_facts
TO :"role";
-- Portal usage: the pseudonymous user key (an HMAC, never a real-name id) is what DAU and
-- MAU count; the raw rows are read for days a window cuts and for reports in another zone.
GRANT SELECT ON usage_events TO :"role";
-- Tables with a secret or personal column: the other columns only.
--   departments: not first_responsible, contacts (names, phones, e-mail addresses)
GRANT SELECT (department_id, name, name_zh, updated_at) ON departments TO :"role";
--   incidents: not escalation_policy (the frozen policy, webhook credentials and contacts
--   included), acknowledged_by, resolved_by, assigned_to (people), details
GRANT SELECT (incident_id, fingerprint, rule_id, title, severity, status, key, department_id,
              asset_id, source_event_at, opened_at, acknowledged_at, resolved_at,
              auto_resolved, closed_at, reopened_count, repeat_count, last_seen_at,
              response_due_at, resolution_due_at, escalation_step, next_escalation_at)
    ON incidents TO :"role";
COMMIT;
ALTER ROLE :"role" SET search_path = :"schema", public;
ALTER ROLE :"role" SET default_transaction_read_only = on;
ALTER ROLE :"role" SET statement_timeout = '60s';
SQL

#!/bin/sh
# Runs once, when the TimescaleDB container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Creates the read-only role Grafana connects as:
#  - SELECT only (a dashboard can never change data),
#  - search_path = the Citybrain schema, because the panels (and the indicator SQL they
#    reuse) name tables without a schema, as the application does; then public, where
#    the image creates the TimescaleDB extension ($__timeGroup becomes time_bucket()),
#  - read access to tables the migrations create later (default privileges).
# On an existing volume run the same statements by hand (see dashboards/DEPLOY.md).
set -eu
: "${GRAFANA_DB_PASSWORD:?set GRAFANA_DB_PASSWORD}"
SCHEMA="${CITYBRAIN_DATABASE_SCHEMA:-citybrain}"
ROLE="${GRAFANA_DB_USER:-grafana_reader}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v schema="$SCHEMA" -v role="$ROLE" -v password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE SCHEMA IF NOT EXISTS :"schema" AUTHORIZATION CURRENT_USER;
GRANT USAGE ON SCHEMA :"schema" TO :"role";
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"role";
ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" GRANT SELECT ON TABLES TO :"role";
ALTER ROLE :"role" SET search_path = :"schema", public;
ALTER ROLE :"role" SET default_transaction_read_only = on;
ALTER ROLE :"role" SET statement_timeout = '60s';
SQL

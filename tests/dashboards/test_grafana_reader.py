"""The script that makes Grafana's read-only role, run on the real server: the role reads
what the panels need and no secret nor personal contact (issue #14). That it can run every
panel's query is tests/dashboards/test_panel_sql.py, which reads as this role."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.dashboards.reader import HAVE_PSQL, drop_role, reader_url, run_script

pytestmark = pytest.mark.skipif(not HAVE_PSQL, reason="psql is not installed; the script is untested")

# Credentials, personal contacts, tokens, the audit trail and the alerter's bookkeeping.
DENIED_TABLES = ("escalation_policies", "api_tokens", "audit_log", "incident_events",
                 "notification_sends", "ack_link_uses", "incident_assets", "detection_state",
                 "dead_letters", "unregistered_sources")
DENIED_COLUMNS = (("departments", "contacts"), ("departments", "first_responsible"),
                  ("incidents", "escalation_policy"), ("incidents", "acknowledged_by"),
                  ("incidents", "resolved_by"), ("incidents", "assigned_to"), ("incidents", "details"))


def _old_broad_grants(db: psycopg.Connection[Any], role: str, schema: str) -> None:
    """What the script granted before: every table, and every table created later."""
    db.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD \'old-pw\'')
    db.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
    db.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    db.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT SELECT ON TABLES TO "{role}"')


@pytest.mark.parametrize("before", ["no role", "the old script's role"])
def test_grafana_role_reads_what_panels_need_and_no_secret(before: str, db: psycopg.Connection[Any],
                                                          database_url: str, schema: str) -> None:
    role = f"grafana_{uuid.uuid4().hex[:8]}"
    try:
        if before != "no role":
            _old_broad_grants(db, role, schema)
        run_script(database_url, schema, role, "reader-pw")
        run_script(database_url, schema, role, "reader-pw")  # again: nothing changes, nothing fails
        # A table created after the script ran (a later migration) is not readable until listed.
        db.execute("CREATE TABLE later_table (x int)")
        db.execute("INSERT INTO departments (department_id, name, contacts) VALUES "
                   "('water', 'Water', '[{\"email\": \"duty@water.example\"}]')")
        db.execute("INSERT INTO escalation_policies (department_id, policy, updated_at, updated_by) VALUES "
                   "('water', '{\"groups\": [{\"address\": \"https://qyapi.example/send?key=SECRET\"}]}', "
                   "now(), 'admin')")
        with psycopg.connect(reader_url(database_url, role, "reader-pw"), autocommit=True) as conn:
            path = conn.execute("SHOW search_path").fetchone()
            # Then public, where the TimescaleDB image creates the extension (time_bucket).
            assert path is not None and path[0] == f"{schema}, public"
            # Panels name tables without a schema, as the application does.
            departments = conn.execute("SELECT department_id, name FROM departments").fetchall()
            assert departments == [("water", "Water")]
            assert conn.execute("SELECT count(*) FROM incidents WHERE key = 'data'").fetchone() == (0,)
            for table in (*DENIED_TABLES, "later_table"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT count(*) FROM {table}")
            for table, column in DENIED_COLUMNS:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT {column} FROM {table}")
            for table in ("departments", "incidents"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT * FROM {table}")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO districts (district_id, name) VALUES ('x', 'X')")
    finally:
        drop_role(database_url, role)


def test_a_second_run_sets_the_password_again(db: psycopg.Connection[Any], database_url: str,
                                              schema: str) -> None:
    """Rotating GRAFANA_DB_PASSWORD takes effect on the next run. (The test server trusts
    local connections, so the stored verifier is compared rather than a login tried.)"""
    if db.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() != (True,):
        pytest.skip("reading pg_authid needs a superuser")
    role = f"grafana_{uuid.uuid4().hex[:8]}"
    verifier = "SELECT rolpassword FROM pg_authid WHERE rolname = %s"
    try:
        run_script(database_url, schema, role, "first-pw")
        first = db.execute(verifier, (role,)).fetchone()
        run_script(database_url, schema, role, "second-pw")
        second = db.execute(verifier, (role,)).fetchone()
        assert first is not None and second is not None and first[0] and second[0] and first != second
    finally:
        drop_role(database_url, role)

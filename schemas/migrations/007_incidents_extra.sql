-- Escalation policies an admin replaced through the API, one per department. They win
-- over the packaged YAML files (alerts/policies/<department>.yaml, then default.yaml);
-- every edit is also an audit_log entry. Incidents keep the copy frozen when they opened
-- (incidents.escalation_policy), so an edit only affects incidents opened after it.
CREATE TABLE escalation_policies (
    department_id  text PRIMARY KEY REFERENCES departments (department_id),
    policy         jsonb NOT NULL,
    updated_at     timestamptz NOT NULL,
    updated_by     text NOT NULL
);

-- The escalation worker's scan: due, still triggered incidents (005 indexes
-- next_escalation_at for triggered rows already); the timeline is read per incident and
-- by kind for the delivery figures.
CREATE INDEX incident_events_kind_idx ON incident_events (kind, at);

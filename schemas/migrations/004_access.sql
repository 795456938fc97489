-- API access and the audit log. Tokens are stored as SHA-256 digests only: the clear
-- token is printed once by `citybrain tokens create` and cannot be read back.
CREATE TABLE api_tokens (
    token_id       text PRIMARY KEY,           -- short public id, shown in audit entries
    token_sha256   bytea NOT NULL UNIQUE,
    name           text NOT NULL DEFAULT '',
    role           text NOT NULL CHECK (role IN ('operator', 'oncall', 'evaluator', 'admin')),
    department_id  text REFERENCES departments (department_id),  -- scope; NULL = all
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL,
    revoked_at     timestamptz
);

-- Who did what, when: report exports, incident actions, maintenance edits, policy edits.
-- Append-only by convention; nothing in the code updates or deletes rows.
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,              -- token id, or "cli:<os user>"
    role      text,
    action    text NOT NULL,              -- e.g. report.export, incident.ack, maintenance.add
    subject   text,                       -- e.g. incident id, window id
    details   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);

-- The browser console (issue #17): sessions, one-time sign-in codes, the export history.

-- A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored, so a
-- copy of this table signs nobody in. A session names the person acting (the token's
-- name, or the roster contact who proved who they are with a code or their signed link),
-- the role and department they act with, and — for a notification link's session — the
-- one incident it may see and act on. It ends at expires_at, after idle_minutes without
-- a request, or when signed out (ended_at).
CREATE TABLE console_sessions (
    session_sha256  bytea PRIMARY KEY,
    session_id      text NOT NULL UNIQUE,        -- short public id, shown in the audit log
    actor_id        text NOT NULL,               -- what the audit log names: token:<id>, link:<name>, code:<name>
    person          text NOT NULL,               -- the name pages show
    role            text NOT NULL CHECK (role IN ('operator', 'oncall', 'evaluator', 'admin')),
    department_id   text REFERENCES departments (department_id),
    token_id        text REFERENCES api_tokens (token_id),
    incident_id     bigint REFERENCES incidents (incident_id) ON DELETE CASCADE,
    csrf            text NOT NULL,               -- the forms' anti-forgery value
    signed_in_with  text NOT NULL CHECK (signed_in_with IN ('token', 'code', 'link')),
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    ended_at        timestamptz
);
CREATE INDEX console_sessions_token_idx ON console_sessions (token_id);

-- One-time codes sent by e-mail to a roster contact (the department's on-call people):
-- to sign in, or to prove who is acting on a group's link. Stored as digests; a code
-- works once, for a few minutes, and a few wrong tries use it up.
CREATE TABLE sign_in_codes (
    code_id         bigserial PRIMARY KEY,
    request_sha256  bytea NOT NULL UNIQUE,       -- the browser's half: a random value in its form
    code_sha256     bytea NOT NULL,
    person          text NOT NULL,
    contact_role    text NOT NULL,
    department_id   text REFERENCES departments (department_id),
    incident_id     bigint REFERENCES incidents (incident_id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    used_at         timestamptz
);

-- Every report an evaluator downloaded from the console or the API, byte for byte: the
-- history lists who, when, the window and the SHA-256 of the file and of its data, and a
-- past report is downloaded again from here, checked against its recorded digest.
CREATE TABLE report_exports (
    export_id       bigserial PRIMARY KEY,
    audit_id        bigint NOT NULL REFERENCES audit_log (id),
    requested_by    text NOT NULL,
    requested_at    timestamptz NOT NULL,
    department_id   text,
    file_name       text NOT NULL,
    format          text NOT NULL,
    language        text NOT NULL,
    window_from     text NOT NULL,               -- the window's local bounds (ISO 8601 with the zone's
    window_to       text NOT NULL,               -- offset; the end exclusive), as the report states them
    timezone        text NOT NULL,               -- the zone its days are cut in
    file_sha256     text NOT NULL,
    data_sha256     text NOT NULL,
    bytes           integer NOT NULL,
    content         bytea NOT NULL
);
CREATE INDEX report_exports_at_idx ON report_exports (requested_at);
CREATE INDEX report_exports_department_idx ON report_exports (department_id, requested_at);

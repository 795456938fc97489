-- Incidents and their 30-minute response workflow, and maintenance windows / silences.
-- The indicators (response within 30 minutes, MTTA, MTTR, off-hours acknowledgement,
-- maintenance-adjusted availability) read these tables; the alerting code writes them.
--
-- The 30-minute clock starts at opened_at (when the platform opened the incident, i.e.
-- detection) and stops at acknowledged_at (the first human response). Times are UTC.
CREATE TABLE incidents (
    incident_id        bigserial PRIMARY KEY,
    fingerprint        text NOT NULL,          -- rule + asset (or parent for a storm)
    rule_id            text NOT NULL,
    title              text NOT NULL,
    severity           text NOT NULL CHECK (severity IN ('I', 'II', 'III', 'IV')),
    status             text NOT NULL
        CHECK (status IN ('triggered', 'acknowledged', 'resolved', 'closed')),
    key                text CHECK (key IN ('infrastructure', 'data', 'system', 'portal', 'security')),
    department_id      text,                   -- owning department
    asset_id           text,                   -- the asset (or the storm's parent)
    source_event_at    timestamptz,            -- event time of the condition that opened it
    opened_at          timestamptz NOT NULL,   -- processing time: detection; SLA clock starts
    acknowledged_at    timestamptz,            -- first response; SLA clock stops
    acknowledged_by    text,
    assigned_to        text,
    resolved_at        timestamptz,
    resolved_by        text,
    auto_resolved      boolean NOT NULL DEFAULT false,
    closed_at          timestamptz,
    reopened_count     integer NOT NULL DEFAULT 0,
    repeat_count       integer NOT NULL DEFAULT 1,   -- occurrences folded into this incident
    last_seen_at       timestamptz NOT NULL,
    response_due_at    timestamptz NOT NULL,
    resolution_due_at  timestamptz NOT NULL,
    escalation_policy  jsonb NOT NULL DEFAULT '{}'::jsonb,  -- frozen copy taken at opening
    escalation_step    integer NOT NULL DEFAULT 0,           -- next step to run
    next_escalation_at timestamptz,
    details            jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- One open incident per fingerprint; repeats are counted on it.
CREATE UNIQUE INDEX incidents_open_fingerprint
    ON incidents (fingerprint) WHERE status IN ('triggered', 'acknowledged');
CREATE INDEX incidents_opened_idx ON incidents (opened_at);
CREATE INDEX incidents_department_idx ON incidents (department_id, opened_at);
CREATE INDEX incidents_escalation_idx ON incidents (next_escalation_at)
    WHERE status = 'triggered';

CREATE TABLE incident_assets (
    incident_id  bigint NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    asset_id     text NOT NULL,
    PRIMARY KEY (incident_id, asset_id)
);

-- The timeline and audit log of one incident: transitions, notifications (sent and
-- failed), escalation steps, comments, assignments.
CREATE TABLE incident_events (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    kind         text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, at);

-- Every SLA breach as a fact: response (not acknowledged by response_due_at) or
-- resolution (not resolved by resolution_due_at).
CREATE TABLE sla_breaches (
    incident_id    bigint NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('response', 'resolution')),
    department_id  text,
    severity       text NOT NULL,
    opened_at      timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    breached_at    timestamptz NOT NULL,     -- when the platform recorded it
    PRIMARY KEY (incident_id, kind)
);

-- Maintenance windows (planned work: suppresses alerts and counts as maintenance in
-- the adjusted availability) and silences (suppress notifications only).
CREATE TABLE maintenance_windows (
    window_id    bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('maintenance', 'silence')),
    scope        text NOT NULL CHECK (scope IN ('all', 'asset', 'department', 'district', 'tag')),
    target       text,                      -- asset id, department id, district id or tag
    starts_at    timestamptz NOT NULL,      -- first occurrence
    ends_at      timestamptz NOT NULL,
    recurrence   text,                      -- RFC 5545 RRULE, expanded in `timezone`; NULL = one-off
    until_at     timestamptz,               -- last recurrence start (NULL: open-ended)
    timezone     text NOT NULL,
    reason       text NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    removed_at   timestamptz,
    removed_by   text,
    CHECK (ends_at > starts_at),
    CHECK ((scope = 'all') = (target IS NULL))
);

-- Occurrences of each window as absolute UTC periods (a one-off window has one; a
-- recurring one is expanded in its time zone, so 02:00–04:00 local stays local across
-- DST). SQL reads these, never the RRULE.
CREATE TABLE maintenance_periods (
    window_id  bigint NOT NULL REFERENCES maintenance_windows (window_id) ON DELETE CASCADE,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    PRIMARY KEY (window_id, starts_at),
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenance_periods_time_idx ON maintenance_periods (starts_at, ends_at);

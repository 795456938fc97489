-- What the alerter is waiting for, kept with the input positions it was computed from
-- (alerts/detection_state.py).
--
-- Detection holds progress that no incident shows yet: a for-duration under way, a
-- count of consecutive failed probes, a child held for its siblings (storm hold), an
-- alert held by maintenance or flapping. The alerter writes that state, the offsets of
-- the records it has applied and the incidents those records opened in ONE transaction,
-- so after any crash the three agree: it resumes from the stored state at the stored
-- offsets and skips the records it had applied already.
CREATE TABLE detection_state (
    part   text NOT NULL,            -- a tracker or stage and what it keeps, e.g. 'rule/link-down/series'
    key    text NOT NULL,            -- within the part: an asset id, a fingerprint, a parent id, ...
    value  jsonb NOT NULL,
    PRIMARY KEY (part, key)
);

CREATE TABLE detection_offsets (
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL,    -- the first record not yet applied
    PRIMARY KEY (topic, partition)
);

-- One row per page to send: (incident, ladder round, step, recipient). The step's claim
-- creates them; each is claimed on its own (pending -> sending, with the timeline's
-- notification.attempt entry) in a transaction committed before the send, and finished
-- (done, with the outcome's entries) after it. A crash after the step's claim leaves the
-- rest pending, sent by the next run; a crash during a send leaves it 'sending' with its
-- attempt on the timeline, never sent twice.
CREATE TABLE notification_sends (
    send_id      bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    round        integer NOT NULL,   -- incidents.reopened_count when the step ran
    step         integer NOT NULL,
    channel      text NOT NULL,
    address      text NOT NULL,
    recipient    jsonb NOT NULL,     -- name, role, channel, address
    state        text NOT NULL CHECK (state IN ('pending', 'sending', 'done', 'cancelled')),
    created_at   timestamptz NOT NULL,
    attempted_at timestamptz,
    finished_at  timestamptz,
    delivered    boolean,
    UNIQUE (incident_id, round, step, channel, address)
);
CREATE INDEX notification_sends_pending ON notification_sends (created_at) WHERE state = 'pending';

-- Least privilege (issue #14): tokens that expire, and acknowledge links that act once.

-- A token may carry an end (`citybrain tokens create --expires-in 90d`); after it the API
-- answers 401 "token expired". NULL = no end, as every token created before.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;

-- Each signed acknowledge link that acknowledged, by its signature (one per incident,
-- recipient and expiry). A link acts once: after the incident is reopened, the same link
-- shows when it was used instead of acknowledging again (the reopened incident's
-- escalation sends fresh links).
CREATE TABLE ack_link_uses (
    sig          text PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    used_at      timestamptz NOT NULL,
    used_by      text NOT NULL            -- the link's signer, as the audit log names it
);

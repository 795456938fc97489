-- The portal, 好差评 and 12345 families (schemas/events.py UsageEvent, RatingEvent,
-- WorkOrderEvent) and the registry they are measured against: the service catalogue,
-- population per district and the portal's registered accounts.
--
-- The event tables follow 002_events.sql: (occurred_at, event_id) is the delivery identity.
-- They are small next to the telemetry (tens of portal events a second, dozens of work
-- orders a day), so they carry the per-subject indexes the fact derivations read by.
CREATE TABLE usage_events (
    occurred_at     timestamptz NOT NULL,
    event_id        text NOT NULL,
    asset_id        text NOT NULL,
    action          text NOT NULL,
    user_key        text NOT NULL,      -- pseudonymous (hex HMAC-SHA256), never a real-name id
    channel         text NOT NULL,
    service_id      text,
    department_id   text,
    transaction_id  text,
    fully_online    boolean,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX usage_events_identity ON usage_events (occurred_at, event_id);

CREATE TABLE rating_events (
    occurred_at     timestamptz NOT NULL,
    event_id        text NOT NULL,
    asset_id        text NOT NULL,
    action          text NOT NULL,
    rating_id       text NOT NULL,
    transaction_id  text,
    service_id      text,
    department_id   text,
    channel         text,
    level           smallint,
    tags            text[] NOT NULL DEFAULT '{}',
    satisfied       boolean,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX rating_events_identity ON rating_events (occurred_at, event_id);
CREATE INDEX rating_events_rating ON rating_events (rating_id, occurred_at);

CREATE TABLE hotline_events (
    occurred_at       timestamptz NOT NULL,
    event_id          text NOT NULL,
    asset_id          text NOT NULL,
    order_id          text NOT NULL,
    action            text NOT NULL,
    category          text,
    department_id     text,
    subject_asset_id  text,
    service_id        text,
    district_id       text,
    channel           text,
    satisfaction      text,
    merged_into       text,
    received_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX hotline_events_identity ON hotline_events (occurred_at, event_id);
CREATE INDEX hotline_events_order ON hotline_events (order_id, occurred_at);
CREATE INDEX hotline_events_subject ON hotline_events (subject_asset_id, occurred_at)
    WHERE subject_asset_id IS NOT NULL;

-- The service catalogue (政务服务事项目录): every service item a department offers, its
-- kind, whether it can be handled online, and since when the unified portal covers it
-- (NULL: not covered). Retired items keep their row.
CREATE TABLE service_items (
    service_id         text PRIMARY KEY,
    name               text NOT NULL,
    name_zh            text,
    kind               text NOT NULL,
    department_id      text NOT NULL REFERENCES departments (department_id),
    online_capable     boolean NOT NULL,
    portal_since       timestamptz,
    registered_at      timestamptz NOT NULL,
    retired_at         timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (retired_at IS NULL OR retired_at >= registered_at)
);
CREATE INDEX service_items_department_idx ON service_items (department_id);

-- Population per district, dated, with its source: 常住 (resident) or 户籍 (registered
-- household). A coverage figure names which one it divides by.
CREATE TABLE population (
    district_id  text NOT NULL REFERENCES districts (district_id),
    basis        text NOT NULL CHECK (basis IN ('resident', 'household')),
    as_of        date NOT NULL,
    people       bigint NOT NULL CHECK (people > 0),
    source       text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_id, basis, as_of)
);

-- The portal's registered (real-name) accounts, dated, from its account system: the
-- platform sees sign-ins, not the years of registrations before it.
CREATE TABLE portal_accounts (
    as_of             date PRIMARY KEY,
    registered_users  bigint NOT NULL CHECK (registered_users >= 0),
    verified_users    bigint CHECK (verified_users IS NULL OR verified_users >= 0),
    source            text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

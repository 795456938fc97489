-- Asset registry: departments (with their first responsible person and on-call
-- contacts), districts and assets. Times are UTC (timestamptz).
CREATE TABLE departments (
    department_id      text PRIMARY KEY,
    name               text NOT NULL,
    name_zh            text,
    first_responsible  jsonb NOT NULL DEFAULT '{}'::jsonb,   -- {name, phone, email, ...}
    contacts           jsonb NOT NULL DEFAULT '[]'::jsonb,   -- [{role: oncall|lead, name, phone, ...}]
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE districts (
    district_id  text PRIMARY KEY,
    name         text NOT NULL,
    name_zh      text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE assets (
    asset_id             text PRIMARY KEY,
    name                 text,
    kind                 text NOT NULL,
    key                  text NOT NULL
        CHECK (key IN ('infrastructure', 'data', 'system', 'portal', 'security')),
    department_id        text NOT NULL REFERENCES departments (department_id),
    district_id          text REFERENCES districts (district_id),
    parent_id            text,          -- topology; not a foreign key so files import in any order
    expected_interval_s  integer CHECK (expected_interval_s IS NULL OR expected_interval_s > 0),
    latitude             double precision,
    longitude            double precision,
    shared_with          text[] NOT NULL DEFAULT '{}',
    tags                 text[] NOT NULL DEFAULT '{}',
    registered_at        timestamptz NOT NULL,
    retired_at           timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (retired_at IS NULL OR retired_at >= registered_at)
);
CREATE INDEX assets_department_idx ON assets (department_id);
CREATE INDEX assets_district_idx ON assets (district_id);
CREATE INDEX assets_parent_idx ON assets (parent_id) WHERE parent_id IS NOT NULL;

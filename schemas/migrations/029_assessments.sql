-- Assessed indicators (issue #18): what no sensor measures — the mechanisms, ease of use, the
-- team, the systems' completeness and interface standards — scored by an evaluator against
-- the item's rubric (citybrain/indicators/evaluation_table.yaml) and approved or rejected by
-- a second person (citybrain/assessments).
--
-- Nothing here is ever updated or deleted: a changed score is a new version, a decision on
-- a version is a row of its own, and each write has its audit_log entry in the same
-- transaction (audit_id). The figure of an (item, department, period) is its latest version
-- with an approval; a report as of time T reads the latest approved at or before T, so an
-- export made again with its stamp reproduces it.

-- An evidence file, stored once by its SHA-256 (two versions citing the same minutes share
-- it). Its bytes are checked against the digest whenever it is served.
CREATE TABLE assessment_files (
    sha256          text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes           integer NOT NULL CHECK (bytes > 0),
    content         bytea NOT NULL,
    stored_at       timestamptz NOT NULL
);

-- One version of a score. (item_id, department_id, period_from) names the series; version
-- counts 1, 2, … within it. The period is one whole calendar period of the item's kind, in
-- local dates of the city's zone (both days included). department_id NULL: the whole city.
-- The assessor's name is copied here when the version is entered, so a report names the
-- person who scored even after their token is renamed or revoked.
CREATE TABLE assessment_versions (
    version_id      bigserial PRIMARY KEY,
    item_id         text NOT NULL,
    department_id   text REFERENCES departments (department_id),
    period_from     date NOT NULL,
    period_to       date NOT NULL CHECK (period_to >= period_from),
    version         integer NOT NULL CHECK (version >= 1),
    level           text NOT NULL,
    score           numeric(7, 2) NOT NULL CHECK (score >= 0),
    max_score       numeric(7, 2) NOT NULL CHECK (max_score > 0 AND score <= max_score),
    comment         text NOT NULL,
    assessor_id     text NOT NULL,               -- the audit log's actor id (token:<id>, code:<name>, …)
    assessor_name   text NOT NULL,
    assessor_role   text NOT NULL,
    created_at      timestamptz NOT NULL,
    audit_id        bigint NOT NULL REFERENCES audit_log (id)
);
-- One version number per series (NULL departments compared equal: the city's series is one).
CREATE UNIQUE INDEX assessment_versions_series_idx
    ON assessment_versions (item_id, coalesce(department_id, ''), period_from, version);
CREATE INDEX assessment_versions_period_idx ON assessment_versions (period_from, period_to);

-- The files a version cites, in the order given, each with the name and type it was
-- uploaded with.
CREATE TABLE assessment_evidence (
    version_id      bigint NOT NULL REFERENCES assessment_versions (version_id),
    position        integer NOT NULL CHECK (position >= 1),
    file_name       text NOT NULL,
    content_type    text NOT NULL,
    sha256          text NOT NULL REFERENCES assessment_files (sha256),
    PRIMARY KEY (version_id, position)
);

-- The second person's decision on a version: one per version, by someone other than its
-- assessor (checked by the store, which knows who is who; recorded here for the audit).
CREATE TABLE assessment_reviews (
    version_id      bigint PRIMARY KEY REFERENCES assessment_versions (version_id),
    decision        text NOT NULL CHECK (decision IN ('approved', 'rejected')),
    comment         text NOT NULL,
    reviewer_id     text NOT NULL,
    reviewer_name   text NOT NULL,
    reviewer_role   text NOT NULL,
    reviewed_at     timestamptz NOT NULL,
    audit_id        bigint NOT NULL REFERENCES audit_log (id)
);
CREATE INDEX assessment_reviews_at_idx ON assessment_reviews (reviewed_at);

-- Append-only: the evidence of an evaluation is never edited in place, whoever connects.
CREATE FUNCTION assessments_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'assessments are append-only: % on % is refused; enter a new version instead',
        TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER assessment_files_append_only BEFORE UPDATE OR DELETE ON assessment_files
    FOR EACH ROW EXECUTE FUNCTION assessments_append_only();
CREATE TRIGGER assessment_versions_append_only BEFORE UPDATE OR DELETE ON assessment_versions
    FOR EACH ROW EXECUTE FUNCTION assessments_append_only();
CREATE TRIGGER assessment_evidence_append_only BEFORE UPDATE OR DELETE ON assessment_evidence
    FOR EACH ROW EXECUTE FUNCTION assessments_append_only();
CREATE TRIGGER assessment_reviews_append_only BEFORE UPDATE OR DELETE ON assessment_reviews
    FOR EACH ROW EXECUTE FUNCTION assessments_append_only();

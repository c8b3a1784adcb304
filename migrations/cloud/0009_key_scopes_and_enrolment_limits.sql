-- API key scopes (crates/omnitill-cloud/src/scopes.rs): names separated by spaces. Keys made
-- before scopes existed keep full access, so an e-shop keeps working after the upgrade.
ALTER TABLE api_key ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read orders loyalty admin';

-- An enrolment code brand IT withdrew before it was used (`enrolment-code revoke`).
ALTER TABLE enrolment_code ADD COLUMN revoked_at BIGINT;

-- Enrolment attempts per source address (crates/omnitill-cloud/src/enrolment_limit.rs): a row
-- for each failed attempt in the window, and for each attempt in flight. In the database, so
-- every cloud process on one PostgreSQL counts the same attempts.
CREATE TABLE enrolment_attempt (
    id     TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX enrolment_attempt_by_source ON enrolment_attempt (source, at);

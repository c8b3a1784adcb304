-- Races, version 7: an idempotency key names one request, and the hourly jobs run once per
-- period however many cloud processes serve the brand (crates/omnitill-cloud/src/idempotency.rs
-- and jobs.rs).

-- The first answer to each keyed request, per route. `request_hash` is the SHA-256 of the
-- request as the cloud understood it; the same key with another request is refused (409), the
-- same request is answered `response` again. A refused request leaves no row.
CREATE TABLE idempotent_request (
    route        TEXT NOT NULL,
    request_key  TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (route, request_key)
);

-- One row per job and period (an hour, UTC). A process claims a period with a conditional
-- upsert; a claim whose run never finished is taken over once its lease has passed.
CREATE TABLE job_run (
    job         TEXT NOT NULL,
    period      TEXT NOT NULL,
    owner       TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT,
    PRIMARY KEY (job, period)
);

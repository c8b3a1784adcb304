-- Events to the e-shop, version 13 (crates/omnitill-cloud/src/webhooks.rs): the endpoints the
-- brand registered, and every event owed to each, delivered at least once.

-- An endpoint: where events are POSTed, and the secret their HMAC-SHA-256 signature uses
-- (hex; shown once when the endpoint is registered).
CREATE TABLE webhook_endpoint (
    id         TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    removed_at BIGINT
);

-- One event owed to one endpoint, written in the transaction of the change it tells of. `id`
-- is the event id the receiver de-duplicates by. A sender claims a delivery by moving
-- next_attempt_at ahead (a conditional update), so two cloud processes never send it at once;
-- a failed attempt is tried again with backoff until the endpoint acknowledges it with a 2xx.
CREATE TABLE webhook_delivery (
    id              TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    PRIMARY KEY (id, endpoint_id)
);
CREATE INDEX webhook_delivery_due ON webhook_delivery (delivered_at, next_attempt_at);

-- Version 6: every pushed operation is checked against the till that pushes it
-- (crates/omnitill-cloud/src/push/).

-- The device id a till's operations carry (made by the till itself on its first start, kept
-- across enrolments). Sent at enrolment; learned from the first operation of a device enrolled
-- by a till that predates this. Several device rows share it when a till was enrolled again.
ALTER TABLE device ADD COLUMN till_id TEXT;
CREATE INDEX device_by_till ON device (till_id);

-- Receipt prefixes and the till that owns each: the prefix the cloud assigned at each of its
-- enrolments, and the one the till numbered with before its first enrolment. A prefix belongs
-- to one till only; `WEB` is the e-shop's and is never granted.
CREATE TABLE till_prefix (
    prefix     TEXT PRIMARY KEY,
    till_id    TEXT NOT NULL,
    granted_at BIGINT NOT NULL
);

-- Every version of the loyalty rules the cloud published; a till's sale names the version it
-- earned points by, and the cloud recomputes them by that version.
CREATE TABLE loyalty_rules_version (
    version      BIGINT PRIMARY KEY,
    rules        TEXT NOT NULL,
    published_at BIGINT NOT NULL
);

-- Refusals that cannot be kept in `operation` because their op_id is another till's: kept
-- per (device, seq) so that a re-sent push answers the same refusal.
CREATE TABLE operation_refusal (
    device_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    op_id      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    refused_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, seq)
);

-- Refunds are counted per sale (what is left to refund).
CREATE INDEX refund_by_sale ON refund (sale_id);

-- The brand's cloud, version 1. One file for SQLite and PostgreSQL: only TEXT and BIGINT
-- columns, explicit keys, no auto-increment. Times are Unix milliseconds; money minor units.

CREATE TABLE counter (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE store (
    id                  TEXT PRIMARY KEY,
    code                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    currency            TEXT NOT NULL,
    currency_exponent   BIGINT NOT NULL,
    tax_mode            TEXT NOT NULL,
    cash_rounding_minor BIGINT NOT NULL,
    utc_offset_minutes  BIGINT NOT NULL,
    created_at          BIGINT NOT NULL
);

-- A till. The token is stored only as a SHA-256 hash; last_applied_seq is the highest seq of
-- this device's operations that the cloud has applied (the write checkpoint).
CREATE TABLE device (
    id               TEXT PRIMARY KEY,
    store_id         TEXT NOT NULL REFERENCES store (id),
    name             TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    receipt_prefix   TEXT NOT NULL UNIQUE,
    last_applied_seq BIGINT NOT NULL DEFAULT 0,
    revoked_at       BIGINT,
    created_at       BIGINT NOT NULL
);

CREATE TABLE enrolment_code (
    code_hash  TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL REFERENCES store (id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    device_id  TEXT
);

-- Keys for the e-shop and other systems, stored as SHA-256 hashes.
CREATE TABLE api_key (
    key_hash   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE tax_class (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    rate_bp BIGINT NOT NULL
);

CREATE TABLE product (
    sku        TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    tax_class  TEXT NOT NULL REFERENCES tax_class (id),
    active     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE barcode (
    code TEXT PRIMARY KEY,
    sku  TEXT NOT NULL REFERENCES product (sku)
);
CREATE INDEX barcode_by_sku ON barcode (sku);

CREATE TABLE price (
    sku            TEXT NOT NULL REFERENCES product (sku),
    effective_from BIGINT NOT NULL,
    price_minor    BIGINT NOT NULL,
    PRIMARY KEY (sku, effective_from)
);

-- Stock is a sum of movements per store; stock_level is that sum, kept in the same
-- transaction as each movement. store_id 'online' is the e-shop's own pool.
CREATE TABLE stock_movement (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL,
    sku        TEXT NOT NULL,
    delta      BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    ref_id     TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX stock_movement_by_store_sku ON stock_movement (store_id, sku);

CREATE TABLE stock_level (
    store_id TEXT NOT NULL,
    sku      TEXT NOT NULL,
    on_hand  BIGINT NOT NULL,
    PRIMARY KEY (store_id, sku)
);

-- Every operation a till pushed, applied or refused, exactly once per op_id and per
-- (device, seq).
CREATE TABLE operation (
    op_id      TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES device (id),
    seq        BIGINT NOT NULL,
    op_type    TEXT NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    payload    TEXT NOT NULL,
    applied_at BIGINT NOT NULL,
    UNIQUE (device_id, seq)
);

CREATE TABLE sale (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL,
    device_id   TEXT,
    channel     TEXT NOT NULL,
    receipt_no  TEXT NOT NULL UNIQUE,
    staff_id    TEXT,
    created_at  BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    tax_minor   BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX sale_by_store_time ON sale (store_id, created_at);

CREATE TABLE sale_line (
    sale_id     TEXT NOT NULL REFERENCES sale (id),
    line_no     BIGINT NOT NULL,
    sku         TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    PRIMARY KEY (sale_id, line_no)
);

CREATE TABLE refund (
    id          TEXT PRIMARY KEY,
    sale_id     TEXT NOT NULL REFERENCES sale (id),
    store_id    TEXT NOT NULL,
    device_id   TEXT,
    receipt_no  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    payload     TEXT NOT NULL
);

CREATE TABLE refund_line (
    refund_id TEXT NOT NULL REFERENCES refund (id),
    line_no   BIGINT NOT NULL,
    sku       TEXT NOT NULL,
    quantity  BIGINT NOT NULL,
    PRIMARY KEY (refund_id, line_no)
);

-- The change feed: the latest state of each thing a till caches, one row per
-- (scope, entity, key), re-numbered on every change. scope is a store id, or '*' for what
-- every store sees (the catalog). Pulling from cursor 0 therefore downloads a full snapshot.
CREATE TABLE feed (
    cursor     BIGINT PRIMARY KEY,
    scope      TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (scope, entity, entity_key)
);
CREATE INDEX feed_by_scope ON feed (scope, cursor);

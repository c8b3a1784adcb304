-- The till's ledger, version 1: settings, device identity, catalog cache, staff, sales, refunds,
-- stock movements, the sync outbox and the audit trail. Times are Unix milliseconds (UTC);
-- money is integer minor units.

CREATE TABLE setting (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Exactly one row: who this till is. The receipt prefix keeps receipt numbers unique across tills.
CREATE TABLE device (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    device_id      TEXT NOT NULL,
    receipt_prefix TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

-- Named monotonic counters (receipt numbers, outbox sequence). Incremented inside the
-- transaction that uses the value, so a rolled-back sale leaves no gap.
CREATE TABLE counter (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE tax_class (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    rate_bp INTEGER NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000)
) WITHOUT ROWID;

CREATE TABLE product (
    id        INTEGER PRIMARY KEY,
    sku       TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    tax_class TEXT NOT NULL REFERENCES tax_class (id),
    active    INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

-- Normalised GTINs (EAN-13, or EAN-8); UPC-A is stored as its EAN-13 spelling.
CREATE TABLE barcode (
    code       TEXT PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES product (id)
) WITHOUT ROWID;
CREATE INDEX barcode_by_product ON barcode (product_id);

-- Effective-dated prices: the price at time T is the row with the latest effective_from <= T.
CREATE TABLE price (
    product_id     INTEGER NOT NULL REFERENCES product (id),
    effective_from INTEGER NOT NULL,
    price_minor    INTEGER NOT NULL CHECK (price_minor >= 0),
    PRIMARY KEY (product_id, effective_from)
) WITHOUT ROWID;

-- Substring search for names and SKUs of three or more characters (Chinese included).
CREATE VIRTUAL TABLE product_fts USING fts5 (
    name, sku, content = 'product', content_rowid = 'id', tokenize = 'trigram'
);
-- Search for one- and two-character queries: each CJK character and CJK bigram of a name is a
-- token, and each other word is a token for prefix queries. Filled by core (see catalog.rs).
CREATE VIRTUAL TABLE product_short_fts USING fts5 (
    grams, content = '', contentless_delete = 1, tokenize = 'unicode61', prefix = '1 2 3'
);

CREATE TRIGGER product_fts_insert AFTER INSERT ON product BEGIN
    INSERT INTO product_fts (rowid, name, sku) VALUES (new.id, new.name, new.sku);
END;
CREATE TRIGGER product_fts_delete AFTER DELETE ON product BEGIN
    INSERT INTO product_fts (product_fts, rowid, name, sku) VALUES ('delete', old.id, old.name, old.sku);
END;
CREATE TRIGGER product_fts_update AFTER UPDATE OF name, sku ON product BEGIN
    INSERT INTO product_fts (product_fts, rowid, name, sku) VALUES ('delete', old.id, old.name, old.sku);
    INSERT INTO product_fts (rowid, name, sku) VALUES (new.id, new.name, new.sku);
END;

CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('cashier', 'manager')),
    pin_hash        TEXT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE sale (
    id             TEXT PRIMARY KEY,
    receipt_no     TEXT NOT NULL UNIQUE,
    staff_id       TEXT NOT NULL REFERENCES staff (id),
    created_at     INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    tax_mode       TEXT NOT NULL CHECK (tax_mode IN ('inclusive', 'exclusive')),
    line_count     INTEGER NOT NULL,
    subtotal_minor INTEGER NOT NULL,
    discount_minor INTEGER NOT NULL,
    tax_minor      INTEGER NOT NULL,
    rounding_minor INTEGER NOT NULL,
    total_minor    INTEGER NOT NULL,
    change_minor   INTEGER NOT NULL,
    op_seq         INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;
CREATE INDEX sale_by_time ON sale (created_at);

CREATE TABLE sale_line (
    sale_id          TEXT NOT NULL REFERENCES sale (id),
    line_no          INTEGER NOT NULL,
    product_id       INTEGER NOT NULL,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    barcode          TEXT,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor INTEGER NOT NULL,
    discount_minor   INTEGER NOT NULL,
    tax_rate_bp      INTEGER NOT NULL,
    tax_minor        INTEGER NOT NULL,
    total_minor      INTEGER NOT NULL,
    PRIMARY KEY (sale_id, line_no)
) WITHOUT ROWID;

CREATE TABLE sale_tender (
    sale_id        TEXT NOT NULL REFERENCES sale (id),
    tender_no      INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('cash', 'card')),
    amount_minor   INTEGER NOT NULL,
    tendered_minor INTEGER NOT NULL,
    change_minor   INTEGER NOT NULL,
    reference      TEXT,
    PRIMARY KEY (sale_id, tender_no)
) WITHOUT ROWID;

CREATE TABLE refund (
    id             TEXT PRIMARY KEY,
    receipt_no     TEXT NOT NULL UNIQUE,
    sale_id        TEXT NOT NULL REFERENCES sale (id),
    staff_id       TEXT NOT NULL REFERENCES staff (id),
    approved_by    TEXT NOT NULL REFERENCES staff (id),
    created_at     INTEGER NOT NULL,
    tax_minor      INTEGER NOT NULL,
    rounding_minor INTEGER NOT NULL,
    total_minor    INTEGER NOT NULL,
    op_seq         INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;
CREATE INDEX refund_by_sale ON refund (sale_id);
CREATE INDEX refund_by_time ON refund (created_at);

CREATE TABLE refund_line (
    refund_id    TEXT NOT NULL REFERENCES refund (id),
    line_no      INTEGER NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    tax_minor    INTEGER NOT NULL,
    total_minor  INTEGER NOT NULL,
    PRIMARY KEY (refund_id, line_no)
) WITHOUT ROWID;

CREATE TABLE refund_tender (
    refund_id    TEXT NOT NULL REFERENCES refund (id),
    tender_no    INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('cash', 'card')),
    amount_minor INTEGER NOT NULL,
    reference    TEXT,
    PRIMARY KEY (refund_id, tender_no)
) WITHOUT ROWID;

-- Stock is a sum of movements. ref_id names the sale or refund that caused one, and op_seq
-- the outbox operation that carries it to the cloud, so the till can tell which movements the
-- cloud's stock levels already include (those up to the device's last applied seq).
CREATE TABLE stock_movement (
    id          INTEGER PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES product (id),
    delta       INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('sale', 'refund', 'receive', 'adjust')),
    ref_id      TEXT,
    op_seq      INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX stock_movement_by_product ON stock_movement (product_id, op_seq);

-- Everything that must reach the cloud, written in the same transaction as the rows it
-- describes. seq is this device's gap-free sequence; acked_at is set once the cloud has it.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,
    op_id      TEXT NOT NULL UNIQUE,
    op_type    TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    acked_at   INTEGER
);
-- What is still to push, in order, without scanning the acknowledged history.
CREATE INDEX outbox_pending ON outbox (seq, created_at) WHERE acked_at IS NULL;

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    staff_id   TEXT,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL
);

-- The link to the brand's cloud, once a manager has enrolled this till (one row, or none).
-- cursor is the store change feed's position; last_applied_seq the cloud's write checkpoint
-- for this device: operations up to it are in the cloud's data.
CREATE TABLE sync_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    cloud_url        TEXT NOT NULL,
    cloud_device_id  TEXT NOT NULL,
    store_id         TEXT NOT NULL,
    token            TEXT NOT NULL,
    cursor           INTEGER NOT NULL DEFAULT 0,
    last_applied_seq INTEGER NOT NULL DEFAULT 0,
    last_sync_at     INTEGER,
    revoked          INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    enrolled_at      INTEGER NOT NULL
);

-- What the cloud said of each operation it refused or flagged, for the manager's review list.
CREATE TABLE op_outcome (
    seq         INTEGER PRIMARY KEY REFERENCES outbox (seq),
    status      TEXT NOT NULL,
    reason      TEXT,
    received_at INTEGER NOT NULL,
    resolved_at INTEGER,
    resolved_by TEXT,
    note        TEXT
);

-- The cloud's stock level per product as of the last pull (which includes this till's
-- operations up to sync_state.last_applied_seq). The till shows this plus its own movements
-- with a higher op_seq.
CREATE TABLE stock_level (
    sku       TEXT PRIMARY KEY,
    on_hand   INTEGER NOT NULL,
    synced_at INTEGER NOT NULL
) WITHOUT ROWID;

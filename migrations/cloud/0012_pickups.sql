-- Click-and-collect, version 12 (crates/omnitill-cloud/src/pickups/): e-shop orders to be
-- collected at a store, the store stock they reserve, and their history.

-- An order to collect at `store_id`. `order_ref` is the e-shop's order number and the key of
-- every e-shop call about it; `code` is the short pickup code the customer says (unique across
-- the brand, so a typed code names one order). Status: new, picking, ready, collected,
-- partially_collected, expired or cancelled (the last four final). `payment` is paid_online or
-- pay_at_pickup. A member's order names them; a guest's carries a name and a masked contact.
-- `review` says why a person must look: a cancelled order that was handed over after all
-- (refund_after_handover), an order whose reserved stock was sold (short).
CREATE TABLE pickup_order (
    id             TEXT PRIMARY KEY,
    order_ref      TEXT NOT NULL UNIQUE,
    store_id       TEXT NOT NULL,
    code           TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL,
    payment        TEXT NOT NULL,
    member_id      TEXT,
    guest_name     TEXT,
    contact_masked TEXT,
    currency       TEXT NOT NULL,
    total_minor    BIGINT NOT NULL,
    promised_at    BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    review         TEXT
);
CREATE INDEX pickup_order_by_store ON pickup_order (store_id, status);
CREATE INDEX pickup_order_by_expiry ON pickup_order (status, expires_at);

-- An order's lines. State: to_pick, picked, missing or put_back. A missing line carries the
-- store's reason and what the cloud decided for it: a refund, or a substitute SKU.
CREATE TABLE pickup_line (
    order_id       TEXT NOT NULL,
    line_no        BIGINT NOT NULL,
    sku            TEXT NOT NULL,
    quantity       BIGINT NOT NULL,
    total_minor    BIGINT NOT NULL,
    state          TEXT NOT NULL,
    missing_reason TEXT,
    resolution     TEXT,
    substitute_sku TEXT,
    PRIMARY KEY (order_id, line_no)
);

-- A line's reservation of the store's stock: held when the order is placed, then taken at
-- handover or released (cancelled, expired, missing), once. Every move out of `held` is a
-- conditional update whose row count is checked, with the level's `reserved` moved in the same
-- transaction; `settled_by` says which event settled it.
CREATE TABLE pickup_reservation (
    order_id   TEXT NOT NULL,
    line_no    BIGINT NOT NULL,
    store_id   TEXT NOT NULL,
    sku        TEXT NOT NULL,
    quantity   BIGINT NOT NULL,
    state      TEXT NOT NULL,
    settled_by TEXT,
    settled_at BIGINT,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX pickup_reservation_by_stock ON pickup_reservation (store_id, sku, state);

-- What of a store's stock open pickup orders hold: available = on_hand - reserved.
ALTER TABLE stock_level ADD COLUMN reserved BIGINT NOT NULL DEFAULT 0;

-- Every status an order went through, who moved it (eshop, job, or till:<device id>) and why.
CREATE TABLE pickup_event (
    id       TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    status   TEXT NOT NULL,
    at       BIGINT NOT NULL,
    source   TEXT NOT NULL,
    note     TEXT
);
CREATE INDEX pickup_event_by_order ON pickup_event (order_id, at);

-- The brand's pickup settings; one row, id 1: days an order waits before it expires, and
-- when a member's pickup order earns points (online_payment or collection).
CREATE TABLE pickup_settings (
    id          BIGINT PRIMARY KEY,
    expiry_days BIGINT NOT NULL,
    points_on   TEXT NOT NULL
);
INSERT INTO pickup_settings (id, expiry_days, points_on) VALUES (1, 7, 'collection');

-- Click-and-collect orders to be collected at this store, as the cloud last sent them (the
-- feed's `pickup` changes; `data` is the JSON of omnitill_protocol::pickup::PickupOrder), and
-- what of each SKU's stock open orders hold (the feed's `stock_reserved`): available here is
-- on_hand - reserved. `local_data` is the order as this till moved it (picked, ready, handed
-- over) with `local_seq` the seq of its newest such operation: shown instead of `data` until a
-- pull's write checkpoint includes that operation.
CREATE TABLE pickup_order (
    id         TEXT PRIMARY KEY,
    order_ref  TEXT NOT NULL,
    code       TEXT NOT NULL,
    status     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    data       TEXT NOT NULL,
    local_data TEXT,
    local_seq  INTEGER
) WITHOUT ROWID;
CREATE INDEX pickup_order_by_code ON pickup_order (code);
CREATE INDEX pickup_order_by_status ON pickup_order (status);

ALTER TABLE stock_level ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;

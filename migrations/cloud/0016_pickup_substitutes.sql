-- Substitutes for missing pickup lines, version 16 (crates/omnitill-cloud/src/pickups/substitutes.rs).

-- Whether the customer accepts a substitute for a line the store cannot find (the e-shop says
-- so when it places the order; 0 = no, 1 = yes).
ALTER TABLE pickup_order ADD COLUMN accepts_substitutes BIGINT NOT NULL DEFAULT 0;

-- The brand's substitutes for a SKU, in the order it prefers them (preference 1 first).
CREATE TABLE pickup_substitute (
    sku            TEXT NOT NULL,
    preference     BIGINT NOT NULL,
    substitute_sku TEXT NOT NULL,
    PRIMARY KEY (sku, preference)
);

-- A line's reservations: `kind` is `ordered` (the line's own SKU, held at placement) or
-- `substitute` (the SKU the cloud offered when the line was missing, held then). Each still
-- settles once, by a conditional update. The table is made again with `kind` in its key; the
-- reservations so far are the lines' own.
CREATE TABLE pickup_reservation_v16 (
    order_id   TEXT NOT NULL,
    line_no    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    store_id   TEXT NOT NULL,
    sku        TEXT NOT NULL,
    quantity   BIGINT NOT NULL,
    state      TEXT NOT NULL,
    settled_by TEXT,
    settled_at BIGINT,
    PRIMARY KEY (order_id, line_no, kind)
);
INSERT INTO pickup_reservation_v16
    (order_id, line_no, kind, store_id, sku, quantity, state, settled_by, settled_at)
SELECT order_id, line_no, 'ordered', store_id, sku, quantity, state, settled_by, settled_at
FROM pickup_reservation;
DROP TABLE pickup_reservation;
ALTER TABLE pickup_reservation_v16 RENAME TO pickup_reservation;
CREATE INDEX pickup_reservation_by_stock ON pickup_reservation (store_id, sku, state);

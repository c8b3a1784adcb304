-- Members' e-shop favourites and recently viewed products, version 14
-- (crates/omnitill-cloud/src/interests.rs). The e-shop sends them; the stores whose tills keep
-- a member's look-up keys (member_store.keyed) get them in their feed.

-- A product a member saved, with its price when they saved it.
CREATE TABLE member_favourite (
    member_id     TEXT NOT NULL,
    sku           TEXT NOT NULL,
    saved_at      BIGINT NOT NULL,
    price_at_save BIGINT,
    PRIMARY KEY (member_id, sku)
);

-- The last time a member viewed a product; only the newest views per member are kept
-- (interests::MAX_VIEWED).
CREATE TABLE member_view (
    member_id TEXT NOT NULL,
    sku       TEXT NOT NULL,
    viewed_at BIGINT NOT NULL,
    PRIMARY KEY (member_id, sku)
);

-- Which products are bought together, brand-wide, from both channels' sales (the feed's
-- `bought_together`; `data` is the JSON of omnitill_protocol::floor::BoughtTogether). Read-only.
CREATE TABLE bought_together (
    sku  TEXT PRIMARY KEY,
    data TEXT NOT NULL
) WITHOUT ROWID;

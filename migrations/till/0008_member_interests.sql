-- Members' e-shop favourites and recently viewed products, for the shop floor (the feed's
-- `member_interests`, sent for the members whose look-up keys this store keeps; `data` is the
-- JSON of omnitill_protocol::loyalty::MemberInterests). Read-only at the till.
CREATE TABLE member_interests (
    member_id TEXT PRIMARY KEY,
    synced_at INTEGER NOT NULL,
    data      TEXT NOT NULL
) WITHOUT ROWID;

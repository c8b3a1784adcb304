-- Members at the till: a private cache of what checkout needs, the points and coupon uses this
-- till recorded and the cloud has not yet confirmed, and the review list's member conflicts.
-- (crates/omnitill-core/src/members.rs)
--
-- The cache holds no phone number, e-mail or card number in the clear. Look-up keys are
-- HMAC-SHA-256 hashes under the brand's member key (member_keys); display values are masked.
-- A member's `balance` is the cloud's sum of their points entries, including this till's
-- operations up to `as_of_seq` (the write checkpoint of the page that brought it); entries in
-- member_points_pending above that seq are this till's own, not yet in it.

CREATE TABLE member (
    id           TEXT PRIMARY KEY,
    card_hash    TEXT,
    phone_hash   TEXT,
    email_hash   TEXT,
    phone_masked TEXT,
    email_masked TEXT,
    name         TEXT NOT NULL,
    tier         TEXT NOT NULL,
    balance      INTEGER NOT NULL,
    as_of_seq    INTEGER NOT NULL,
    synced_at    INTEGER NOT NULL,
    -- JSON array of coupons the member can still use (omnitill_protocol::loyalty::CachedCoupon).
    coupons      TEXT NOT NULL DEFAULT '[]',
    -- 1 while the member was enrolled at this till and the cloud has not sent it back.
    local_only   INTEGER NOT NULL DEFAULT 0 CHECK (local_only IN (0, 1))
) WITHOUT ROWID;
CREATE INDEX member_by_card ON member (card_hash) WHERE card_hash IS NOT NULL;
CREATE INDEX member_by_phone ON member (phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX member_by_email ON member (email_hash) WHERE email_hash IS NOT NULL;

-- The brand's keys and rules, as the feed last sent them (one row each).
CREATE TABLE member_keys (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    member_key_hex    TEXT NOT NULL,
    qr_public_key_hex TEXT NOT NULL
);
CREATE TABLE loyalty_rules (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    rules TEXT NOT NULL
);

-- Points this till recorded: earned and redeemed on its sales, reversed and restored on its
-- refunds. Signed (a redemption is negative). `op_seq` is the outbox operation that carries
-- the entry (written after these rows in the same transaction, hence the deferred key); a
-- row is dropped once the member's cached balance includes that seq.
CREATE TABLE member_points_pending (
    op_seq    INTEGER NOT NULL REFERENCES outbox (seq) DEFERRABLE INITIALLY DEFERRED,
    member_id TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('earn', 'redeem', 'reverse', 'restore')),
    points    INTEGER NOT NULL,
    -- 1 for a redemption the till granted offline: it counts against the allowance.
    offline   INTEGER NOT NULL DEFAULT 0 CHECK (offline IN (0, 1)),
    PRIMARY KEY (op_seq, kind)
);
CREATE INDEX member_points_pending_by_member ON member_points_pending (member_id);

-- Coupons this till used and the cloud has not yet confirmed; hidden from the member's list.
CREATE TABLE coupon_use_pending (
    coupon_id TEXT PRIMARY KEY,
    op_seq    INTEGER NOT NULL REFERENCES outbox (seq) DEFERRABLE INITIALLY DEFERRED,
    member_id TEXT NOT NULL,
    offline   INTEGER NOT NULL CHECK (offline IN (0, 1))
);

-- Members and their points on each sale and refund, for receipts and refunds.
CREATE TABLE sale_member (
    sale_id             TEXT PRIMARY KEY REFERENCES sale (id),
    member_id           TEXT NOT NULL,
    member_name         TEXT NOT NULL,
    tier                TEXT NOT NULL,
    tier_discount_minor INTEGER NOT NULL,
    points_earned       INTEGER NOT NULL,
    points_redeemed     INTEGER NOT NULL,
    redemption          TEXT CHECK (redemption IN ('online', 'offline')),
    coupon_id           TEXT,
    coupon_title        TEXT,
    coupon_discount_minor INTEGER NOT NULL DEFAULT 0,
    -- The member's balance after the sale as the receipt showed it, and whether it was
    -- pending (not yet confirmed by the cloud) then.
    balance_after       INTEGER NOT NULL,
    balance_pending     INTEGER NOT NULL CHECK (balance_pending IN (0, 1))
);

-- The member part of each refund of a member's sale, for its receipt.
CREATE TABLE refund_member (
    refund_id       TEXT PRIMARY KEY REFERENCES refund (id),
    member_id       TEXT NOT NULL,
    member_name     TEXT NOT NULL,
    points_reversed INTEGER NOT NULL,
    points_restored INTEGER NOT NULL,
    balance_after   INTEGER NOT NULL,
    balance_pending INTEGER NOT NULL CHECK (balance_pending IN (0, 1))
);

-- This till's offline redemption allowance, as of the write checkpoint of the last pull.
ALTER TABLE sync_state ADD COLUMN allowance_granted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN allowance_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN allowance_as_of_seq INTEGER NOT NULL DEFAULT 0;

-- Member conflicts the cloud found (overdrafts, a coupon used twice, merged enrolments), for
-- the manager's review list. A resolution made here is an outbox operation.
CREATE TABLE member_conflict (
    id            TEXT PRIMARY KEY,
    conflict      TEXT NOT NULL,
    member_id     TEXT NOT NULL,
    summary       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    resolved_at   INTEGER,
    note          TEXT,
    resolved_here INTEGER NOT NULL DEFAULT 0 CHECK (resolved_here IN (0, 1))
);

-- Points become a tender. SQLite cannot widen a CHECK in place, so the two tender tables are
-- rebuilt with 'points' allowed and the number of points the tender paid or gave back.
CREATE TABLE sale_tender_v5 (
    sale_id        TEXT NOT NULL REFERENCES sale (id),
    tender_no      INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('cash', 'card', 'points')),
    amount_minor   INTEGER NOT NULL,
    tendered_minor INTEGER NOT NULL,
    change_minor   INTEGER NOT NULL,
    reference      TEXT,
    points         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sale_id, tender_no)
) WITHOUT ROWID;
INSERT INTO sale_tender_v5 (sale_id, tender_no, kind, amount_minor, tendered_minor, change_minor,
    reference)
SELECT sale_id, tender_no, kind, amount_minor, tendered_minor, change_minor, reference
FROM sale_tender;
DROP TABLE sale_tender;
ALTER TABLE sale_tender_v5 RENAME TO sale_tender;

CREATE TABLE refund_tender_v5 (
    refund_id    TEXT NOT NULL REFERENCES refund (id),
    tender_no    INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('cash', 'card', 'points')),
    amount_minor INTEGER NOT NULL,
    reference    TEXT,
    points       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (refund_id, tender_no)
) WITHOUT ROWID;
INSERT INTO refund_tender_v5 (refund_id, tender_no, kind, amount_minor, reference)
SELECT refund_id, tender_no, kind, amount_minor, reference FROM refund_tender;
DROP TABLE refund_tender;
ALTER TABLE refund_tender_v5 RENAME TO refund_tender;

-- Members, version 4: one member in both channels, with one points ledger and one coupon
-- wallet (crates/omnitill-cloud/src/members.rs). A member's balance is the sum of their
-- points entries, always; nothing else holds a balance.

-- The brand's secrets: `member_key` (hex; the HMAC key of the look-up hashes tills cache) and
-- `qr_key` (hex PKCS#8 of the Ed25519 key that signs member QR tokens). Made on first start.
CREATE TABLE brand_secret (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The loyalty rules (JSON of omnitill_protocol::loyalty::LoyaltyRules); one row, id 1.
CREATE TABLE loyalty_rules (
    id         BIGINT PRIMARY KEY,
    rules      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE member (
    id                TEXT PRIMARY KEY,
    phone             TEXT UNIQUE,
    email             TEXT UNIQUE,
    card_no           TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    birthday          TEXT,
    tier              TEXT NOT NULL,
    consent_terms     BIGINT NOT NULL,
    consent_marketing BIGINT NOT NULL,
    tags              TEXT NOT NULL,
    -- 'online' or the store id where the member enrolled.
    enrolled_channel  TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- An id merged into another member: a till enrolled someone whose phone or e-mail the brand
-- already knew. Everything sent under the old id is booked to the survivor.
CREATE TABLE member_alias (
    alias_id  TEXT PRIMARY KEY,
    member_id TEXT NOT NULL REFERENCES member (id),
    merged_at BIGINT NOT NULL
);

-- The points ledger. `points` is signed. `op_key` makes each entry happen once: the till's
-- op_id or the e-shop's order reference, with what the entry is for.
CREATE TABLE points_entry (
    id         TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES member (id),
    kind       TEXT NOT NULL,
    points     BIGINT NOT NULL,
    channel    TEXT NOT NULL,
    ref_id     TEXT,
    op_key     TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX points_entry_by_member ON points_entry (member_id, created_at);

-- Points a till reserved online for a sale it is completing, keyed by the sale id. The sale's
-- operation consumes the hold; a hold not consumed lapses at `expires_at`.
CREATE TABLE points_hold (
    sale_id    TEXT PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES member (id),
    points     BIGINT NOT NULL,
    device_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX points_hold_by_member ON points_hold (member_id, consumed, expires_at);

-- Spend that counts toward a member's tier, per sale or order, both channels.
CREATE TABLE member_spend (
    ref_key     TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES member (id),
    channel     TEXT NOT NULL,
    spend_minor BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX member_spend_by_member ON member_spend (member_id, created_at);

-- Coupons: single use across channels, within a validity window. A coupon reserved online is
-- held for one sale or order until `reserved_until`.
CREATE TABLE coupon (
    id              TEXT PRIMARY KEY,
    member_id       TEXT NOT NULL REFERENCES member (id),
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL,
    discount_kind   TEXT NOT NULL,
    value           BIGINT NOT NULL,
    min_spend_minor BIGINT NOT NULL,
    valid_from      BIGINT NOT NULL,
    valid_to        BIGINT NOT NULL,
    used_at         BIGINT,
    used_channel    TEXT,
    used_ref        TEXT,
    reserved_ref    TEXT,
    reserved_until  BIGINT
);
CREATE INDEX coupon_by_member ON coupon (member_id);

-- Conflicts found while applying operations, for a store's review list ('online' for the
-- e-shop's): overdrafts, a coupon used twice, merged enrolments. One per kind and reference.
CREATE TABLE member_conflict (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL,
    conflict    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    ref_id      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    resolved_by TEXT,
    note        TEXT,
    UNIQUE (conflict, ref_id)
);

-- Points a till has redeemed offline, counted from its enrolment, as its applied sales say.
-- Each pull grants it its share of the store's allowance on top (see members::allowance).
ALTER TABLE device ADD COLUMN allowance_used BIGINT NOT NULL DEFAULT 0;

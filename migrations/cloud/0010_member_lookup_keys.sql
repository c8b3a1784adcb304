-- Memory-hard look-up keys for tills (crates/omnitill-cloud/src/lookup_keys.rs,
-- ARCHITECTURE.md "Threat model").
--
-- A member's phone and e-mail look-up hashes are argon2id (12 MiB each), computed once, the
-- first time a store's tills need them, and kept here; the member's clear phone and e-mail
-- stay in `member`. The brand-wide member feed no longer carries any phone or e-mail hash.

CREATE TABLE member_lookup_key (
    member_id   TEXT PRIMARY KEY REFERENCES member (id),
    phone_hash  TEXT,
    email_hash  TEXT,
    computed_at BIGINT NOT NULL
);

-- The stores whose tills keep a member's look-up keys: members who shop there (a sale
-- applied), enrolled there, or were looked up there online. `last_at` is the latest of those.
-- Only the newest members of a store are `keyed` (their keys are in the store's feed);
-- older ones are withdrawn and found online (omnitill_core::lookup_keys::KEYED_MEMBERS_PER_STORE).
CREATE TABLE member_store (
    member_id TEXT NOT NULL REFERENCES member (id),
    store_id  TEXT NOT NULL,
    last_at   BIGINT NOT NULL,
    keyed     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (member_id, store_id)
);
CREATE INDEX member_store_keyed ON member_store (store_id, keyed, last_at);

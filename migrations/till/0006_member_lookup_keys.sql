-- Phone and e-mail look-up keys that a copied ledger cannot cheaply reverse
-- (crates/omnitill-core/src/lookup_keys.rs, ARCHITECTURE.md "Threat model").
--
-- Until now every cached member carried an HMAC-SHA-256 phone and e-mail hash beside the key
-- that makes them, and a mask with the last four digits: trying the 10^4 numbers that fit a
-- mask recovered a member's phone in microseconds. From here on:
-- - `member_lookup` holds argon2id hashes (12 MiB each), only for members who shop at this
--   store or were looked up here, as the store-scoped feed sends them (`member_lookup_keys`),
--   and for members enrolled at this till;
-- - the old fast hashes are cleared and never written again (member.phone_hash and
--   member.email_hash stay NULL); members not in `member_lookup` are found online;
-- - masks show no digit of a phone.
--
-- secure_delete overwrites what the updates free, so the old hashes and digits do not linger
-- in free pages of the file (the write-ahead log keeps copies until it is next overwritten).

PRAGMA secure_delete = ON;

CREATE TABLE member_lookup (
    member_id  TEXT PRIMARY KEY,
    phone_hash TEXT,
    email_hash TEXT
) WITHOUT ROWID;
CREATE INDEX member_lookup_by_phone ON member_lookup (phone_hash) WHERE phone_hash IS NOT NULL;
CREATE INDEX member_lookup_by_email ON member_lookup (email_hash) WHERE email_hash IS NOT NULL;

UPDATE member SET phone_hash = NULL, email_hash = NULL
WHERE phone_hash IS NOT NULL OR email_hash IS NOT NULL;
UPDATE member SET phone_masked = '••••••••' WHERE phone_masked IS NOT NULL;

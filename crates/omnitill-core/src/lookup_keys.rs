//! Member look-up keys that a copied ledger cannot turn back into a phone book.
//!
//! A till must find a member by the phone number or e-mail a cashier types, offline, so it
//! holds something it can compare a typed key against, and the brand's member key that makes
//! it. Whoever copies the ledger holds both, and can test guesses exactly as the till does.
//! What protects the members is the price of each guess: a phone or e-mail look-up key is an
//! argon2id hash with memory-hard parameters (`LOOKUP_KDF`), not a fast keyed hash, so testing
//! one candidate costs milliseconds of CPU and 12 MiB of memory instead of a microsecond.
//!
//! - **Phone and e-mail**: argon2id (`LOOKUP_KDF`), over `kind \0 normalised key`, with a salt
//!   derived from the brand's member key (`lookup_salt`), so two brands' hashes differ and no
//!   table can be computed ahead of a theft. The salt is one per brand, not one per member:
//!   the till must hash a typed number once and find it, so one pass over every candidate
//!   tests every cached member at once (ARCHITECTURE.md, "Threat model", counts that cost).
//! - **Card numbers** stay the fast HMAC of `loyalty::lookup_hash`: a card number is a random
//!   serial printed on a card, not a contact detail; recovering one gives an attacker nothing
//!   to call or write to, and the card's number is already printed on the card itself.
//!
//! The cloud computes a member's phone and e-mail hashes once, when it first sends them to a
//! store, and keeps them; a till computes one per typed look-up (and one per enrolment).

use argon2::{Algorithm, Argon2, Params, Version};
use ring::hmac;

use crate::error::{CoreError, CoreResult};
use crate::loyalty::{self, KeyKind};

/// Memory-hard parameters of phone and e-mail look-up hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupKdf {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes over that memory.
    pub passes: u32,
    /// Lanes (computed one after another by the `argon2` crate).
    pub lanes: u32,
}

/// The parameters every till and the cloud use: 12 MiB, one pass, one lane. Measured on the
/// project machine (release build, `scripts/bench`): about 5 ms per hash, which keeps a
/// look-up at the counter under 10 ms and makes each guess of an attacker cost the same 5 ms
/// (ARCHITECTURE.md, "Threat model", has the figures). RFC 9106 recommends argon2id with one
/// pass when memory is the constraint; 12 MiB is what a till can spend per typed look-up.
pub const LOOKUP_KDF: LookupKdf = LookupKdf {
    memory_kib: 12 * 1024,
    passes: 1,
    lanes: 1,
};

/// The floor any look-up hash parameters must meet: a test of a real ledger checks the
/// parameters against it, so nobody lowers them without the threat model noticing.
pub const LOOKUP_KDF_FLOOR: LookupKdf = LookupKdf {
    memory_kib: 8 * 1024,
    passes: 1,
    lanes: 1,
};

/// The most members whose phone and e-mail hashes one store's tills keep: the newest to shop,
/// enrol or be looked up there; older ones are withdrawn and found online (or by card and QR
/// offline). One pass over every Taiwanese mobile (`TAIWAN_MOBILE_CANDIDATES`) tests every
/// hash a ledger holds at once, so the attacker's cost per member is that pass shared by at
/// most this many: 10^8 × 5 ms / 100 ≈ 1.4 CPU-hours (ARCHITECTURE.md, "Threat model").
pub const KEYED_MEMBERS_PER_STORE: usize = 100;

/// Bytes of a look-up hash (32 hex digits), as long as the card's keyed hash.
pub const HASH_BYTES: usize = 16;

/// The look-up hash of a normalised key: argon2id for a phone or an e-mail, the fast keyed
/// hash for a card number (see the module header for why).
pub fn key_hash(member_key: &[u8], kind: KeyKind, normalised: &str) -> CoreResult<String> {
    match kind {
        KeyKind::Card => Ok(loyalty::lookup_hash(member_key, kind, normalised)),
        KeyKind::Phone | KeyKind::Email => slow_hash(member_key, kind, normalised, LOOKUP_KDF),
    }
}

/// The argon2id hash of `kind \0 normalised` under the brand's salt, hex.
pub fn slow_hash(
    member_key: &[u8],
    kind: KeyKind,
    normalised: &str,
    kdf: LookupKdf,
) -> CoreResult<String> {
    let params = Params::new(kdf.memory_kib, kdf.passes, kdf.lanes, Some(HASH_BYTES))
        .map_err(|e| CoreError::BadInput(format!("look-up hash parameters are unusable: {e}")))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut input = Vec::with_capacity(kind.label().len() + 1 + normalised.len());
    input.extend_from_slice(kind.label().as_bytes());
    input.push(0);
    input.extend_from_slice(normalised.as_bytes());
    let mut out = [0_u8; HASH_BYTES];
    argon
        .hash_password_into(&input, &lookup_salt(member_key), &mut out)
        .map_err(|e| CoreError::BadInput(format!("a look-up key cannot be hashed: {e}")))?;
    Ok(loyalty::hex(&out))
}

/// The brand's salt for look-up hashes: 16 bytes of an HMAC of a fixed label under the member
/// key. Anyone holding the key can compute it; it only keeps brands' hashes apart.
pub fn lookup_salt(member_key: &[u8]) -> [u8; 16] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, member_key);
    let tag = hmac::sign(&key, b"omnitill look-up salt v1");
    let mut salt = [0_u8; 16];
    salt.copy_from_slice(&tag.as_ref()[..16]);
    salt
}

/// Whether `kdf` meets `floor` in every dimension that makes a guess cost more.
pub fn meets_floor(kdf: LookupKdf, floor: LookupKdf) -> bool {
    kdf.memory_kib >= floor.memory_kib
        && u64::from(kdf.memory_kib) * u64::from(kdf.passes)
            >= u64::from(floor.memory_kib) * u64::from(floor.passes)
}

/// Taiwanese mobile numbers an attacker must try for a member whose mask shows no digit:
/// `+8869` and eight digits.
pub const TAIWAN_MOBILE_CANDIDATES: u64 = 100_000_000;

/// What recovering members from a copied ledger costs, from a measured time per hash.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackCost {
    /// CPU-hours to try every candidate once: this recovers every cached member at once.
    pub sweep_cpu_hours: f64,
    /// CPU-hours per member when one sweep recovers `members` of them.
    pub per_member_cpu_hours: f64,
    /// Expected CPU-hours to find one chosen member (half the candidates on average).
    pub targeted_cpu_hours: f64,
}

/// The attacker's cost: `candidates` × `seconds_per_hash`, shared among `members` recovered
/// by the one sweep.
pub fn attack_cost(candidates: u64, seconds_per_hash: f64, members: u64) -> AttackCost {
    #[allow(clippy::cast_precision_loss)]
    let sweep_cpu_hours = candidates as f64 * seconds_per_hash / 3_600.0;
    #[allow(clippy::cast_precision_loss)]
    let per_member_cpu_hours = sweep_cpu_hours / members.max(1) as f64;
    AttackCost {
        sweep_cpu_hours,
        per_member_cpu_hours,
        targeted_cpu_hours: sweep_cpu_hours / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_e_mail_hashes_are_memory_hard_and_card_hashes_are_keyed() {
        let key = b"brand key";
        let phone = key_hash(key, KeyKind::Phone, "+886912345678").expect("hashes");
        assert_eq!(phone.len(), 32, "128 bits, hex");
        assert_eq!(
            phone,
            slow_hash(key, KeyKind::Phone, "+886912345678", LOOKUP_KDF).expect("hashes"),
            "a phone's look-up hash is the argon2id hash with the shared parameters"
        );
        assert_ne!(
            phone,
            loyalty::lookup_hash(key, KeyKind::Phone, "+886912345678"),
            "a phone's look-up hash is not the fast keyed hash an old till kept"
        );
        assert_eq!(
            key_hash(key, KeyKind::Card, "2900000000427").expect("hashes"),
            loyalty::lookup_hash(key, KeyKind::Card, "2900000000427"),
            "a card stays a fast keyed hash"
        );
    }

    #[test]
    fn look_up_hashes_depend_on_the_brand_the_kind_and_the_value() {
        let a = key_hash(b"key-a", KeyKind::Phone, "+886912345678").expect("hashes");
        assert_eq!(
            a,
            key_hash(b"key-a", KeyKind::Phone, "+886912345678").expect("hashes"),
            "the same key typed twice finds the same member"
        );
        assert_ne!(
            a,
            key_hash(b"key-b", KeyKind::Phone, "+886912345678").expect("hashes"),
            "another brand's salt makes another hash"
        );
        assert_ne!(
            a,
            key_hash(b"key-a", KeyKind::Email, "+886912345678").expect("hashes"),
            "kinds are hashed apart"
        );
        assert_ne!(
            a,
            key_hash(b"key-a", KeyKind::Phone, "+886912345679").expect("hashes"),
            "one digit makes another hash"
        );
    }

    #[test]
    fn the_parameters_meet_the_floor_and_a_weaker_set_does_not() {
        assert!(meets_floor(LOOKUP_KDF, LOOKUP_KDF_FLOOR));
        let weak = LookupKdf {
            memory_kib: 64,
            passes: 3,
            lanes: 1,
        };
        assert!(
            !meets_floor(weak, LOOKUP_KDF_FLOOR),
            "64 KiB is no memory-hard hash, whatever the passes"
        );
    }

    #[test]
    fn the_attack_cost_is_candidates_times_hash_time_shared_by_one_sweep() {
        let cost = attack_cost(TAIWAN_MOBILE_CANDIDATES, 0.005, 100);
        assert!((cost.sweep_cpu_hours - 138.9).abs() < 0.1, "{cost:?}");
        assert!((cost.per_member_cpu_hours - 1.389).abs() < 0.01, "{cost:?}");
        assert!((cost.targeted_cpu_hours - 69.4).abs() < 0.1, "{cost:?}");
    }
}

//! How a customer proves a click-and-collect order is theirs: a short pickup code they can say
//! or type, and a QR code the cloud signs, which a till verifies with no network.
//!
//! A pickup code is 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z,
//! 5/S, 8/B, U/V): `ACDEFGHJKMNPQRTWXY34679`, 23 characters, so about 148 million codes. A
//! typed code is read case-blind, with spaces and dashes ignored (`normalise_code`).
//!
//! A pickup QR token is `OMP1.<order id>.<store id>.<code>.<expires, Unix s>.<Ed25519 signature,
//! hex>`, signed with the brand's key, the one that signs member QR codes: the till holds its
//! public half already. It names the order, the store it is to be collected at, and its code.

use chrono::{DateTime, Utc};
use ring::signature;

use crate::error::{CoreError, CoreResult};
use crate::loyalty::{hex, unhex};

/// The characters of a pickup code: none that a person could take for another.
pub const CODE_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTWXY34679";
/// How many characters a pickup code has.
pub const CODE_LEN: usize = 6;
/// The prefix of every pickup QR token.
pub const PICKUP_QR_PREFIX: &str = "OMP1.";

/// What a verified pickup QR token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickupQr {
    pub order_id: String,
    pub store_id: String,
    pub code: String,
}

/// A new pickup code, with `pick(n)` giving a random index below `n` for each character.
pub fn new_code(mut pick: impl FnMut(usize) -> usize) -> String {
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[pick(CODE_ALPHABET.len()) % CODE_ALPHABET.len()] as char)
        .collect()
}

/// A code as typed or said by a customer, in its one written form: upper case, without spaces
/// or dashes. `None` when it cannot be a pickup code (a wrong length, a character the alphabet
/// does not have).
pub fn normalise_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// Whether a scanned text is a pickup QR token (by its prefix).
pub fn looks_like_pickup_qr(text: &str) -> bool {
    text.trim().starts_with(PICKUP_QR_PREFIX)
}

/// What a pickup QR token's signature covers.
fn message(order_id: &str, store_id: &str, code: &str, expires_at_s: i64) -> String {
    format!("{PICKUP_QR_PREFIX}{order_id}.{store_id}.{code}.{expires_at_s}")
}

/// Signs a pickup QR token (the cloud does this, with the brand's Ed25519 key).
pub fn sign_pickup_qr(
    key_pair: &signature::Ed25519KeyPair,
    order_id: &str,
    store_id: &str,
    code: &str,
    expires_at_s: i64,
) -> String {
    let message = message(order_id, store_id, code, expires_at_s);
    let signed = key_pair.sign(message.as_bytes());
    format!("{message}.{}", hex(signed.as_ref()))
}

/// Checks a scanned pickup QR token against the brand's public key and the time; returns the
/// order it names. A token from another brand, an altered one and an expired one are refused
/// in words.
pub fn verify_pickup_qr(
    public_key: &[u8],
    token: &str,
    now: DateTime<Utc>,
) -> CoreResult<PickupQr> {
    let unreadable =
        || CoreError::BadInput("this QR code is not a pickup code of this brand".to_owned());
    let body = token
        .trim()
        .strip_prefix(PICKUP_QR_PREFIX)
        .ok_or_else(unreadable)?;
    let parts: Vec<&str> = body.split('.').collect();
    let [order_id, store_id, code, expires, signature_hex] = parts[..] else {
        return Err(unreadable());
    };
    if [order_id, store_id, code]
        .iter()
        .any(|part| part.is_empty())
    {
        return Err(unreadable());
    }
    let expires_at_s: i64 = expires.parse().map_err(|_| unreadable())?;
    let signature_bytes = unhex(signature_hex).ok_or_else(unreadable)?;
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(
            message(order_id, store_id, code, expires_at_s).as_bytes(),
            &signature_bytes,
        )
        .map_err(|_| unreadable())?;
    if now.timestamp() > expires_at_s {
        return Err(CoreError::BadInput(
            "this pickup QR code has expired: the order was not collected in time".to_owned(),
        ));
    }
    Ok(PickupQr {
        order_id: order_id.to_owned(),
        store_id: store_id.to_owned(),
        code: code.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::*;

    fn key_pair() -> Ed25519KeyPair {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("a key");
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key pair")
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).single().expect("a time")
    }

    #[test]
    fn codes_use_only_characters_nobody_takes_for_another() {
        for look_alike in b"0O1IL2Z5S8BUV" {
            assert!(
                !CODE_ALPHABET.contains(look_alike),
                "{} could be read as another character",
                *look_alike as char
            );
        }
        let mut next = 0;
        let code = new_code(|n| {
            next += 7;
            next % n
        });
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(
            normalise_code(&code).as_deref(),
            Some(code.as_str()),
            "a new code reads back as itself"
        );
    }

    #[test]
    fn a_typed_code_is_read_case_blind_without_spaces_or_dashes_and_nothing_else_passes() {
        assert_eq!(normalise_code(" acd-34f ").as_deref(), Some("ACD34F"));
        assert_eq!(normalise_code("ac d3 4f").as_deref(), Some("ACD34F"));
        for bad in [
            "",
            "ACD34",
            "ACD34FF",
            "ACD30F",
            "ACDS4F",
            "ÄCD34F",
            "ACD34\u{0}",
        ] {
            assert_eq!(normalise_code(bad), None, "{bad:?} is no pickup code");
        }
    }

    #[test]
    fn a_pickup_qr_is_accepted_until_it_expires_and_only_as_the_brand_signed_it() {
        let brand = key_pair();
        let public = brand.public_key().as_ref().to_vec();
        let token = sign_pickup_qr(&brand, "order-1", "TPE-XINYI", "ACD34F", 1_000);
        assert!(looks_like_pickup_qr(&token));
        assert_eq!(
            verify_pickup_qr(&public, &token, at(999)).ok(),
            Some(PickupQr {
                order_id: "order-1".into(),
                store_id: "TPE-XINYI".into(),
                code: "ACD34F".into(),
            })
        );
        let expired = verify_pickup_qr(&public, &token, at(1_001));
        assert!(
            matches!(&expired, Err(CoreError::BadInput(m)) if m.contains("expired")),
            "an expired token says so: {expired:?}"
        );
        let other_store = token.replace("TPE-XINYI", "TPE-DAAN");
        let other_brand = sign_pickup_qr(&key_pair(), "order-1", "TPE-XINYI", "ACD34F", 1_000);
        for forged in [
            other_store.as_str(),
            other_brand.as_str(),
            "OMP1.order-1.TPE-XINYI.ACD34F.1000",
            "OMP1.....",
            "OMP1.a.b.c.9999999999999999999999.00",
            "OMQ1.member.1000.00",
            "",
        ] {
            assert!(
                matches!(
                    verify_pickup_qr(&public, forged, at(0)),
                    Err(CoreError::BadInput(_))
                ),
                "{forged:?} must be refused"
            );
        }
    }
}

//! Which till a device is, and which receipt prefixes it owns.
//!
//! A till makes its own device id on its first start and writes it into every operation
//! (`device_id` in a sale or refund). The cloud learns it at enrolment (`EnrolRequest::till`)
//! and keeps it on the device row as `till_id`; a till enrolled again gets a new device row
//! with the same `till_id`, so its operations stay its own. An id already bound to a device
//! is granted again only with the token of one of those devices (`previous_token`), which
//! only the till that held it has: a hostile till cannot claim another's id. A device enrolled
//! by a till that predates this (no identity sent) learns its `till_id` from its first
//! operation that carries one, if no other device holds that id.
//!
//! Receipt numbers are `PREFIX-NNNNNN`. A till owns the prefix the cloud assigned at each of
//! its enrolments and the prefix it numbered with before its first enrolment (sent at
//! enrolment, granted when no other till owns it), recorded in `till_prefix`. A prefix
//! belongs to one till only. `WEB` is the e-shop's (`WEB-<order ref>`) and is never granted.

use omnitill_protocol::enrol::TillIdentity;
use sqlx::AnyConnection;

use crate::db::now_ms;
use crate::devices::hash_secret;
use crate::error::{CloudError, CloudResult};

/// The e-shop's receipt prefix, never a till's.
pub const ESHOP_PREFIX: &str = "WEB";
/// The longest device id a till may send.
const MAX_TILL_ID_LEN: usize = 64;

/// The prefix of a receipt number `PREFIX-DIGITS`, or `None` when it is not of that shape.
pub fn receipt_prefix(receipt_no: &str) -> Option<&str> {
    let (prefix, number) = receipt_no.split_once('-')?;
    let sound_prefix =
        (1..=12).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_alphanumeric());
    let sound_number =
        (1..=18).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    (sound_prefix && sound_number).then_some(prefix)
}

/// Whether `id` can be a till's device id: 1 to 64 letters, digits or dashes.
pub fn sound_till_id(id: &str) -> bool {
    (1..=MAX_TILL_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether a till may be granted `prefix` as the one it numbered with before enrolment.
fn grantable(prefix: &str) -> bool {
    (1..=12).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        && !prefix.eq_ignore_ascii_case(ESHOP_PREFIX)
}

/// Checks the identity a till sends at enrolment and answers the `till_id` to record. An id
/// that devices already hold needs the token of one of them.
pub async fn bind_at_enrolment(
    tx: &mut AnyConnection,
    identity: &TillIdentity,
) -> CloudResult<String> {
    let till_id = identity.device_id.trim();
    if !sound_till_id(till_id) {
        return Err(CloudError::BadRequest(format!(
            "a till's device id is 1 to {MAX_TILL_ID_LEN} letters, digits or dashes"
        )));
    }
    let holders: Vec<(String,)> =
        sqlx::query_as("SELECT token_hash FROM device WHERE till_id = $1")
            .bind(till_id)
            .fetch_all(&mut *tx)
            .await?;
    if holders.is_empty() {
        return Ok(till_id.to_owned());
    }
    let proof = identity.previous_token.as_deref().map(hash_secret);
    if proof.is_some_and(|proof| holders.iter().any(|(held,)| *held == proof)) {
        return Ok(till_id.to_owned());
    }
    Err(CloudError::Conflict(format!(
        "device id {till_id} belongs to a till enrolled before; only that till (with its last \
         token) can enrol under it again"
    )))
}

/// Whether the cloud may assign `candidate` to a new enrolment: no device and no till has it.
pub async fn prefix_free(tx: &mut AnyConnection, candidate: &str) -> CloudResult<bool> {
    if candidate.eq_ignore_ascii_case(ESHOP_PREFIX) {
        return Ok(false);
    }
    let taken: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM device WHERE receipt_prefix = $1
         UNION ALL SELECT 1 FROM till_prefix WHERE prefix = $1",
    )
    .bind(candidate)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(taken.is_none())
}

/// Records the prefixes `till_id` owns after an enrolment: the one the cloud just assigned, and
/// the one it numbered with until now, unless another till owns that one (its operations
/// numbered with it are then refused, each with the reason).
pub async fn grant_prefixes(
    tx: &mut AnyConnection,
    till_id: &str,
    assigned: &str,
    numbered_with: &str,
) -> CloudResult<()> {
    grant(tx, till_id, assigned).await?;
    let numbered_with = numbered_with.trim();
    if numbered_with != assigned && grantable(numbered_with) {
        let other_device: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM device WHERE receipt_prefix = $1 AND (till_id IS NULL OR till_id <> $2)",
        )
        .bind(numbered_with)
        .bind(till_id)
        .fetch_optional(&mut *tx)
        .await?;
        if other_device.is_none() {
            grant(tx, till_id, numbered_with).await?;
        }
    }
    Ok(())
}

async fn grant(tx: &mut AnyConnection, till_id: &str, prefix: &str) -> CloudResult<()> {
    sqlx::query(
        "INSERT INTO till_prefix (prefix, till_id, granted_at) VALUES ($1, $2, $3)
         ON CONFLICT (prefix) DO NOTHING",
    )
    .bind(prefix)
    .bind(till_id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The prefixes a device's till owns: its current enrolment's and every one granted to its
/// `till_id`.
pub async fn owned_prefixes(
    tx: &mut AnyConnection,
    till_id: Option<&str>,
    current: &str,
) -> CloudResult<Vec<String>> {
    let mut owned = vec![current.to_owned()];
    if let Some(till_id) = till_id {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT prefix FROM till_prefix WHERE till_id = $1")
                .bind(till_id)
                .fetch_all(&mut *tx)
                .await?;
        owned.extend(
            rows.into_iter()
                .map(|(prefix,)| prefix)
                .filter(|p| p != current),
        );
    }
    Ok(owned)
}

/// Binds a device enrolled without an identity to the device id its first operation carries,
/// and grants it the prefix of that operation's receipt number if no device and no till has
/// it (a till that predates identities numbered its sales before enrolment with a prefix of
/// its own, which it never told the cloud). Refused (with the reason) when another device
/// holds that id.
pub async fn learn_from_operation(
    tx: &mut AnyConnection,
    device_id: &str,
    receipt_prefix: &str,
    claimed: &str,
    first_receipt: &str,
) -> CloudResult<Result<(), String>> {
    if !sound_till_id(claimed) {
        return Ok(Err(format!(
            "device id {claimed:?} is not a till's device id (1 to {MAX_TILL_ID_LEN} letters, \
             digits or dashes)"
        )));
    }
    let other: Option<(String,)> =
        sqlx::query_as("SELECT id FROM device WHERE till_id = $1 AND id <> $2")
            .bind(claimed)
            .bind(device_id)
            .fetch_optional(&mut *tx)
            .await?;
    if other.is_some() {
        return Ok(Err(format!(
            "device id {claimed} belongs to another till, not to the till that pushed this"
        )));
    }
    sqlx::query("UPDATE device SET till_id = $1 WHERE id = $2 AND till_id IS NULL")
        .bind(claimed)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    grant(tx, claimed, receipt_prefix).await?;
    if let Some(numbered_with) = self::receipt_prefix(first_receipt)
        && grantable(numbered_with)
        && prefix_free(tx, numbered_with).await?
    {
        grant(tx, claimed, numbered_with).await?;
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_number_is_a_prefix_a_dash_and_digits() {
        for (receipt, prefix) in [
            ("AB12-000001", Some("AB12")),
            ("X-1", Some("X")),
            ("WEB-000123", Some("WEB")),
            ("WEB-ORDER-1", None),
            ("AB12000001", None),
            ("-000001", None),
            ("AB12-", None),
            ("AB 1-000001", None),
            ("AB12-00000x", None),
            ("ABCDEFGHIJKLM-1", None),
        ] {
            assert_eq!(
                receipt_prefix(receipt),
                prefix,
                "{receipt:?} must read as {prefix:?}: anything else names no till"
            );
        }
    }

    #[test]
    fn the_eshop_prefix_is_never_granted_to_a_till() {
        assert!(
            !grantable("WEB") && !grantable("web"),
            "WEB- is the e-shop's"
        );
        assert!(grantable("AB12"));
        assert!(
            !grantable("") && !grantable("A-B"),
            "only letters and digits"
        );
    }
}

//! An idempotency key names one request (migration 0007).
//!
//! A keyed use case claims its key inside its own transaction, before it writes anything:
//! `claim` inserts the key with the SHA-256 of the request as the cloud understood it. The
//! same key with another request is a 409 and nothing is booked; the same request again is
//! answered with the first answer, stored by `record` in the same transaction. A refused
//! request rolls back and leaves no key, so it can be asked again later.
//!
//! Two requests with one key at once: on PostgreSQL the second insert waits for the first
//! transaction and then finds its row (or inserts, if the first rolled back); on SQLite the
//! one writer runs them one after the other. Either way one request books and the other gets
//! its answer or a 409.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::error::{CloudError, CloudResult};

/// The routes that take a key; each has its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Earn,
    Redeem,
    Adjust,
    CouponRedeem,
    OnlineSale,
    Pickup,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Earn => "earn",
            Route::Redeem => "redeem",
            Route::Adjust => "adjust",
            Route::CouponRedeem => "coupon_redeem",
            Route::OnlineSale => "online_sale",
            Route::Pickup => "pickup",
        }
    }

    /// What the key is called in this route's body, for the refusal.
    fn key_name(self) -> &'static str {
        match self {
            Route::Adjust => "reference",
            _ => "order_ref",
        }
    }
}

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim<T> {
    /// The key is new: go on, and `record` the answer before committing.
    New,
    /// The same request was answered before: answer this again.
    Answered(T),
}

/// Claims `key` on `route` for `request`, or finds the first answer to the same request. A
/// different request under the key is a `Conflict` naming the key.
pub async fn claim<R: Serialize, T: DeserializeOwned>(
    tx: &mut AnyConnection,
    route: Route,
    key: &str,
    request: &R,
    at_ms: i64,
) -> CloudResult<Claim<T>> {
    let hash = request_hash(request)?;
    let inserted = sqlx::query(
        "INSERT INTO idempotent_request (route, request_key, request_hash, response, created_at)
         VALUES ($1, $2, $3, '', $4) ON CONFLICT (route, request_key) DO NOTHING",
    )
    .bind(route.name())
    .bind(key)
    .bind(&hash)
    .bind(at_ms)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let (first_hash, response): (String, String) = sqlx::query_as(
        "SELECT request_hash, response FROM idempotent_request
         WHERE route = $1 AND request_key = $2",
    )
    .bind(route.name())
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    if first_hash != hash {
        return Err(CloudError::Conflict(format!(
            "{} {key:?} was already used for a different request; a new request needs a new {}",
            route.key_name(),
            route.key_name()
        )));
    }
    let answer = serde_json::from_str(&response).map_err(|e| {
        CloudError::Internal(format!(
            "the stored answer to {} {key:?} cannot be read: {e}",
            route.key_name()
        ))
    })?;
    Ok(Claim::Answered(answer))
}

/// Stores the answer to a request whose key `claim` found new, in the same transaction.
pub async fn record<T: Serialize>(
    tx: &mut AnyConnection,
    route: Route,
    key: &str,
    answer: &T,
) -> CloudResult<()> {
    let response = serde_json::to_string(answer)
        .map_err(|e| CloudError::Internal(format!("an answer cannot be encoded: {e}")))?;
    sqlx::query(
        "UPDATE idempotent_request SET response = $1 WHERE route = $2 AND request_key = $3",
    )
    .bind(response)
    .bind(route.name())
    .bind(key)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The SHA-256 (hex) of a request's JSON form.
pub fn request_hash<R: Serialize>(request: &R) -> CloudResult<String> {
    let text = serde_json::to_vec(request)
        .map_err(|e| CloudError::Internal(format!("a request cannot be encoded: {e}")))?;
    Ok(hex::encode(Sha256::digest(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_hash_tells_different_requests_apart() {
        let one = request_hash(&("member-1", 1_i64)).expect("hashes");
        assert_eq!(
            one,
            request_hash(&("member-1", 1_i64)).expect("hashes"),
            "the same request must hash the same, or a retry would be refused"
        );
        assert_ne!(
            one,
            request_hash(&("member-1", 1_000_i64)).expect("hashes"),
            "1 point and 1,000 points must differ, or a retry could report points never taken"
        );
    }
}

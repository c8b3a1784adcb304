//! Events to the e-shop: signed webhooks, delivered at least once.
//!
//! The brand registers endpoints (`register`); each gets a secret, shown once. A change the
//! e-shop must hear of (a pickup order ready, collected, expired, cancelled) calls `enqueue` in
//! its own transaction, which owes the event to every endpoint (`webhook_delivery`): the event
//! exists exactly when the change does. `sender` POSTs what is owed, signed with HMAC-SHA-256
//! of the body under the endpoint's secret, and tries again with backoff until the endpoint
//! answers 2xx. Each event carries an id, the same on every attempt, for the receiver to drop
//! repeats.
//!
//! The request: `POST <url>`, `Content-Type: application/json`, `X-Omnitill-Event-Id: <id>`,
//! `X-Omnitill-Event-Type: <type>`, `X-Omnitill-Signature: sha256=<hex of
//! HMAC-SHA-256(secret, body)>`, and the body `{"id", "type", "created_at_ms", "data"}`.

pub mod sender;

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{CloudError, CloudResult};

/// The header with the event's id.
pub const EVENT_ID_HEADER: &str = "x-omnitill-event-id";
/// The header with the event's type.
pub const EVENT_TYPE_HEADER: &str = "x-omnitill-event-type";
/// The header with the body's signature, `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-omnitill-signature";
/// The most endpoints a brand may register.
pub const MAX_ENDPOINTS: usize = 20;

/// An endpoint as the brand registers it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewEndpoint {
    /// `https://...`; plain `http://` only to a loopback or private address.
    #[schema(min_length = 1, max_length = 500)]
    pub url: String,
}

/// A registered endpoint. `secret` is shown only in the answer to its registration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub created_at_ms: i64,
    /// The HMAC key (hex) the receiver checks signatures with; only in the registration's
    /// answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// An event as the receiver gets it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: String,
    /// `pickup.ready`, `pickup.collected`, `pickup.partially_collected`, `pickup.expired`,
    /// `pickup.cancelled`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at_ms: i64,
    pub data: serde_json::Value,
}

/// Registers an endpoint; its answer carries the secret, once.
pub async fn register(db: &Db, new: &NewEndpoint) -> CloudResult<Endpoint> {
    let url = new.url.trim();
    check_url(url)?;
    let mut tx = db.write.begin().await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM webhook_endpoint WHERE removed_at IS NULL")
            .fetch_one(&mut *tx)
            .await?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_ENDPOINTS {
        return Err(CloudError::Conflict(format!(
            "a brand may register at most {MAX_ENDPOINTS} endpoints: remove one first"
        )));
    }
    let secret = new_secret()?;
    let endpoint = Endpoint {
        id: uuid::Uuid::now_v7().to_string(),
        url: url.to_owned(),
        created_at_ms: db.now_ms(),
        secret: Some(secret.clone()),
    };
    sqlx::query(
        "INSERT INTO webhook_endpoint (id, url, secret, created_at, removed_at)
         VALUES ($1, $2, $3, $4, NULL)",
    )
    .bind(&endpoint.id)
    .bind(&endpoint.url)
    .bind(&secret)
    .bind(endpoint.created_at_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(endpoint)
}

/// The registered endpoints, without their secrets.
pub async fn list(db: &Db) -> CloudResult<Vec<Endpoint>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT id, url, created_at FROM webhook_endpoint WHERE removed_at IS NULL
         ORDER BY created_at, id",
    )
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, url, created_at_ms)| Endpoint {
            id,
            url,
            created_at_ms,
            secret: None,
        })
        .collect())
}

/// Removes an endpoint: nothing more is sent to it, what it was owed included.
pub async fn remove(db: &Db, id: &str) -> CloudResult<()> {
    let removed = sqlx::query(
        "UPDATE webhook_endpoint SET removed_at = $1 WHERE id = $2 AND removed_at IS NULL",
    )
    .bind(db.now_ms())
    .bind(id)
    .execute(&db.write)
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(CloudError::NotFound(format!("webhook endpoint {id}")));
    }
    Ok(())
}

/// Owes the event `event_type` about `data` to every endpoint, in the caller's transaction.
pub(crate) async fn enqueue(
    tx: &mut AnyConnection,
    event_type: &str,
    data: &impl Serialize,
    at_ms: i64,
) -> CloudResult<()> {
    let endpoints: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM webhook_endpoint WHERE removed_at IS NULL")
            .fetch_all(&mut *tx)
            .await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let event = Event {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: event_type.to_owned(),
        created_at_ms: at_ms,
        data: serde_json::to_value(data)
            .map_err(|e| CloudError::Internal(format!("an event cannot be encoded: {e}")))?,
    };
    let body = serde_json::to_string(&event)
        .map_err(|e| CloudError::Internal(format!("an event cannot be encoded: {e}")))?;
    for (endpoint_id,) in endpoints {
        sqlx::query(
            "INSERT INTO webhook_delivery (id, endpoint_id, event_type, body, created_at,
                 attempts, next_attempt_at, delivered_at, last_error)
             VALUES ($1, $2, $3, $4, $5, 0, $5, NULL, NULL)",
        )
        .bind(&event.id)
        .bind(&endpoint_id)
        .bind(event_type)
        .bind(&body)
        .bind(at_ms)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The signature header's value for `body` under `secret_hex`: `sha256=<hex>`.
pub fn signature(secret_hex: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &hex::decode(secret_hex).unwrap_or_default(),
    );
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

/// A new endpoint secret: 32 random bytes, hex.
fn new_secret() -> CloudResult<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0_u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CloudError::Internal("no randomness for a webhook secret".into()))?;
    Ok(hex::encode(bytes))
}

/// An endpoint address events may go to: `https://` anywhere, plain `http://` only to a
/// loopback or private address (an IP literal or `localhost`), at most 500 characters.
fn check_url(url: &str) -> CloudResult<()> {
    let bad = |why: &str| Err(CloudError::BadRequest(format!("url: {why}")));
    if url.is_empty() || url.len() > 500 {
        return bad("give an address of 1 to 500 characters");
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return bad("this is not an address (https://...)");
    };
    if parsed.username() != "" || parsed.password().is_some() {
        return bad("an address may not carry a user name or password");
    }
    match (parsed.scheme(), parsed.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() || ip.is_private() => Ok(()),
        ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => Ok(()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
        ("http", _) => {
            bad("plain http:// goes only to a loopback or private address; use https://")
        }
        _ => bad("use an https:// address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_over_https_or_to_a_private_address_only() {
        for good in [
            "https://shop.example.com/hooks",
            "http://127.0.0.1:9000/hooks",
            "http://10.0.0.5/hooks",
            "http://localhost:8080/x",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "http://shop.example.com/hooks",
            "http://8.8.8.8/hooks",
            "ftp://127.0.0.1/",
            "https://user:pw@shop.example.com/",
            "not a url",
        ] {
            assert!(
                matches!(check_url(bad), Err(CloudError::BadRequest(_))),
                "{bad:?} is refused"
            );
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_under_the_secret() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature(&hex::encode("Jefe"), b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

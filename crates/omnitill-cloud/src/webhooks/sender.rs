//! Sends the webhook deliveries that are due, and tries failed ones again with backoff.
//!
//! A delivery is claimed by a conditional update that moves its `next_attempt_at` a lease
//! ahead (`LEASE_MS`), so of several cloud processes one sends it; a process that dies holding
//! a claim leaves it due again when the lease ends. A 2xx answer marks it delivered; anything
//! else (a refusal, a timeout, no answer) schedules the next attempt after `backoff_ms`, up to
//! every 10 minutes, for as long as it takes. Redirects are not followed.

use std::time::Duration;

use crate::db::Db;
use crate::error::{CloudError, CloudResult};

use super::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature};

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim keeps a delivery from other senders.
const LEASE_MS: i64 = 60_000;
/// How many deliveries one pass claims.
const BATCH: i64 = 50;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 600_000;
/// How often the sending loop looks for due deliveries.
pub const EVERY: Duration = Duration::from_secs(1);

/// The wait before attempt `attempts + 1`, after `attempts` failed: 1 s, 2 s, 4 s ... up to
/// 10 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    1_000_i64.saturating_mul(1 << doublings).min(MAX_BACKOFF_MS)
}

/// An HTTP client for webhooks.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    /// Send only to loopback addresses; anything else is held back as a failed attempt.
    loopback_only: bool,
}

impl Sender {
    /// A sender; with `loopback_only`, nothing leaves this machine (demos, tests).
    pub fn new(loopback_only: bool) -> CloudResult<Sender> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        use rustls_platform_verifier::ConfigVerifierExt;
        let tls = rustls::ClientConfig::with_platform_verifier()
            .map_err(|e| CloudError::Internal(format!("no TLS settings for webhooks: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(tls)
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| CloudError::Internal(format!("no HTTP client for webhooks: {e}")))?;
        Ok(Sender {
            http,
            loopback_only,
        })
    }

    /// Sends every delivery due now (at most `BATCH`); returns how many were acknowledged.
    pub async fn send_due(&self, db: &Db) -> CloudResult<usize> {
        let now = db.now_ms();
        let due: Vec<(String, String)> = sqlx::query_as(
            "SELECT d.id, d.endpoint_id FROM webhook_delivery d
             JOIN webhook_endpoint e ON e.id = d.endpoint_id AND e.removed_at IS NULL
             WHERE d.delivered_at IS NULL AND d.next_attempt_at <= $1
             ORDER BY d.next_attempt_at, d.id LIMIT $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(&db.read)
        .await?;
        let mut acknowledged = 0;
        for (id, endpoint_id) in due {
            if self.attempt(db, &id, &endpoint_id, now).await? {
                acknowledged += 1;
            }
        }
        Ok(acknowledged)
    }

    /// Claims one delivery and sends it; whether the endpoint acknowledged it.
    async fn attempt(&self, db: &Db, id: &str, endpoint_id: &str, now: i64) -> CloudResult<bool> {
        let claimed: Option<(i64, String, String, String, String)> = sqlx::query_as(
            "UPDATE webhook_delivery SET attempts = attempts + 1, next_attempt_at = $1
             WHERE id = $2 AND endpoint_id = $3 AND delivered_at IS NULL
               AND next_attempt_at <= $4
             RETURNING attempts, event_type, body,
                 (SELECT url FROM webhook_endpoint WHERE id = $3),
                 (SELECT secret FROM webhook_endpoint WHERE id = $3)",
        )
        .bind(now.saturating_add(LEASE_MS))
        .bind(id)
        .bind(endpoint_id)
        .bind(now)
        .fetch_optional(&db.write)
        .await?;
        let Some((attempts, event_type, body, url, secret)) = claimed else {
            return Ok(false);
        };
        if self.loopback_only && !is_loopback(&url) {
            let why = "not sent: this cloud sends webhooks to loopback addresses only";
            return self.failed(db, id, endpoint_id, attempts, why.into()).await;
        }
        let outcome = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, id)
            .header(EVENT_TYPE_HEADER, &event_type)
            .header(SIGNATURE_HEADER, signature(&secret, body.as_bytes()))
            .body(body)
            .send()
            .await;
        let failure = match outcome {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("the endpoint answered {}", response.status())),
            Err(error) => Some(format!("the endpoint could not be reached: {error}")),
        };
        let done = db.now_ms();
        match failure {
            None => {
                sqlx::query(
                    "UPDATE webhook_delivery SET delivered_at = $1, last_error = NULL
                     WHERE id = $2 AND endpoint_id = $3",
                )
                .bind(done)
                .bind(id)
                .bind(endpoint_id)
                .execute(&db.write)
                .await?;
                Ok(true)
            }
            Some(why) => self.failed(db, id, endpoint_id, attempts, why).await,
        }
    }

    /// Records a failed attempt and when to try again.
    async fn failed(
        &self,
        db: &Db,
        id: &str,
        endpoint_id: &str,
        attempts: i64,
        why: String,
    ) -> CloudResult<bool> {
        sqlx::query(
            "UPDATE webhook_delivery SET next_attempt_at = $1, last_error = $2
             WHERE id = $3 AND endpoint_id = $4 AND delivered_at IS NULL",
        )
        .bind(db.now_ms().saturating_add(backoff_ms(attempts)))
        .bind(why)
        .bind(id)
        .bind(endpoint_id)
        .execute(&db.write)
        .await?;
        Ok(false)
    }
}

/// Whether `url` names a loopback host (an IP literal, or `localhost`).
fn is_loopback(url: &str) -> bool {
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// Sends due deliveries every `EVERY` while the cloud serves.
pub async fn run(db: Db, loopback_only: bool) {
    let sender = match Sender::new(loopback_only) {
        Ok(sender) => sender,
        Err(error) => {
            eprintln!("omnitill-cloud: webhooks are off: {error}");
            return;
        }
    };
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        ticks.tick().await;
        if let Err(error) = sender.send_due(&db).await {
            eprintln!("omnitill-cloud: sending webhooks failed: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn a_failed_delivery_waits_longer_each_time_up_to_ten_minutes() {
        let waits: Vec<i64> = (1..=12).map(backoff_ms).collect();
        assert_eq!(&waits[..5], &[1_000, 2_000, 4_000, 8_000, 16_000]);
        assert!(
            waits.windows(2).all(|w| w[0] <= w[1]),
            "never shorter: {waits:?}"
        );
        assert_eq!(backoff_ms(12), 600_000, "at most 10 minutes");
        assert_eq!(backoff_ms(i64::MAX), 600_000, "and no overflow");
        assert_eq!(backoff_ms(0), 1_000);
    }
}

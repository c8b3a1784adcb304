//! The protocol over HTTP: enrol, push, pull, with failures sorted by what to do about them.

use std::time::Duration;

use omnitill_core::outbox::OutboxOp;
use omnitill_protocol::enrol::{EnrolRequest, EnrolResponse};
use omnitill_protocol::loyalty::{
    CachedMember, CouponHoldRequest, Held, History, HoldRequest, MemberLookupRequest,
};
use omnitill_protocol::pull::PullResponse;
use omnitill_protocol::push::{Operation, PushRequest, PushResponse};
use omnitill_protocol::{ErrorBody, ErrorCode, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;

/// How long one request may take, end to end.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a cashier waits on a member call (look-up, points or coupon hold) before the till
/// goes on offline.
pub const MEMBER_CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No answer: refused, reset, timed out. Retried with backoff. The detail is for logs; the
    /// status bar says it in words.
    #[error("the cloud cannot be reached")]
    Unreachable(String),
    /// The cloud failed (5xx) or sent something unreadable. Retried with backoff.
    #[error("the cloud had a problem: {0}")]
    Server(String),
    /// The cloud refused this till's token as revoked. Permanent.
    #[error("this till was revoked")]
    Revoked,
    /// The cloud refused the request for good (version mismatch, unknown token, bad request).
    #[error("the cloud refused: {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the ledger failed: {0}")]
    Ledger(#[from] omnitill_core::CoreError),
}

impl SyncError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Unreachable(_) | SyncError::Server(_))
    }
}

/// A client for one cloud, as one till.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

/// The TLS settings every client shares: rustls with the ring provider, verifying against the
/// system's certificate authorities. Loading those takes milliseconds, so it happens once per
/// process rather than in every sync round.
fn tls_config() -> Result<rustls::ClientConfig, SyncError> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            use rustls_platform_verifier::ConfigVerifierExt;
            crate::install_tls_provider();
            rustls::ClientConfig::with_platform_verifier()
                .map(|mut config| {
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    config
                })
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| SyncError::Unreachable(format!("no TLS settings: {e}")))
}

impl Client {
    /// A client for the cloud at `base_url` (`http://` on loopback or a private network, or
    /// `https://`, verified against the system's certificate authorities).
    pub fn new(base_url: &str, token: Option<String>) -> Result<Client, SyncError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| SyncError::Unreachable(format!("no HTTP client: {e}")))?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION);
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<T, SyncError> {
        let (status, bytes) = self.exchange(builder).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::Server(format!("an unreadable answer ({status}): {e}")))
    }

    /// `send` for answers without a body (204).
    async fn send_empty(&self, builder: reqwest::RequestBuilder) -> Result<(), SyncError> {
        self.exchange(builder).await.map(|_| ())
    }

    /// Sends a request; a success answers its status and body, anything else the failure.
    async fn exchange(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), SyncError> {
        let response = builder
            .send()
            .await
            .map_err(|e| SyncError::Unreachable(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| SyncError::Unreachable(format!("the answer was cut off: {e}")))?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        if status.is_server_error() || body.is_none() {
            return Err(SyncError::Server(format!(
                "{status}: {}",
                body.map_or_else(
                    || String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                    |b| b.message
                )
            )));
        }
        let body = body.unwrap_or(ErrorBody {
            code: ErrorCode::Other,
            message: status.to_string(),
        });
        if body.code == ErrorCode::Revoked {
            return Err(SyncError::Revoked);
        }
        Err(SyncError::Refused {
            code: body.code,
            message: body.message,
        })
    }

    /// Enrols a new till (its first operation is seq 1).
    pub async fn enrol(&self, code: &str, device_name: &str) -> Result<EnrolResponse, SyncError> {
        self.enrol_from(code, device_name, 1).await
    }

    /// Enrols a till whose next operation to push is `first_seq` (see
    /// `omnitill_core::sync::first_unacknowledged_seq`).
    pub async fn enrol_from(
        &self,
        code: &str,
        device_name: &str,
        first_seq: i64,
    ) -> Result<EnrolResponse, SyncError> {
        let request = EnrolRequest {
            code: code.to_owned(),
            device_name: device_name.to_owned(),
            first_seq,
        };
        self.send(
            self.request(reqwest::Method::POST, "/v1/enrol")
                .json(&request),
        )
        .await
    }

    pub async fn push(&self, ops: &[OutboxOp]) -> Result<PushResponse, SyncError> {
        let operations = ops
            .iter()
            .map(|op| Operation {
                seq: op.seq,
                op_id: op.op_id.clone(),
                op_type: op.op_type.clone(),
                created_at_ms: op.created_at_ms,
                payload: serde_json::from_str(&op.payload).unwrap_or(serde_json::Value::Null),
            })
            .collect();
        let request = PushRequest { operations };
        self.send(
            self.request(reqwest::Method::POST, "/v1/sync/push")
                .json(&request),
        )
        .await
    }

    /// Asks the cloud for a member this till's cache lacks, by the normalised phone, e-mail or
    /// card number (`key`) the cashier gave, over the till's authenticated link. `None`: the
    /// cloud knows no such member. The answer carries the member's look-up keys.
    pub async fn look_up_member(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<CachedMember>, SyncError> {
        let request = MemberLookupRequest {
            kind: kind.to_owned(),
            hash: String::new(),
            key: Some(key.to_owned()),
        };
        let answer = self
            .send(
                self.request(reqwest::Method::POST, "/v1/till/members/lookup")
                    .timeout(MEMBER_CALL_TIMEOUT)
                    .json(&request),
            )
            .await;
        match answer {
            Ok(member) => Ok(Some(member)),
            Err(SyncError::Refused {
                code: ErrorCode::NotFound,
                ..
            }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// A member's points entries and purchases from both channels, newest first.
    pub async fn member_history(&self, member_id: &str) -> Result<History, SyncError> {
        self.send(
            self.request(
                reqwest::Method::GET,
                &format!("/v1/till/members/{member_id}/history"),
            )
            .timeout(MEMBER_CALL_TIMEOUT),
        )
        .await
    }

    /// Holds a member's points at the cloud for the sale being completed. A cloud that says
    /// the member has fewer points answers `Refused` with code `Conflict` and its reason.
    pub async fn hold_points(&self, request: &HoldRequest) -> Result<Held, SyncError> {
        self.send(
            self.request(reqwest::Method::POST, "/v1/till/points/holds")
                .timeout(MEMBER_CALL_TIMEOUT)
                .json(request),
        )
        .await
    }

    /// Releases the points held for a sale that was not completed.
    pub async fn release_points(&self, sale_id: &str) -> Result<(), SyncError> {
        self.send_empty(
            self.request(
                reqwest::Method::DELETE,
                &format!("/v1/till/points/holds/{sale_id}"),
            )
            .timeout(MEMBER_CALL_TIMEOUT),
        )
        .await
    }

    /// Reserves a member's coupon at the cloud for the sale being completed.
    pub async fn hold_coupon(&self, request: &CouponHoldRequest) -> Result<(), SyncError> {
        self.send_empty(
            self.request(reqwest::Method::POST, "/v1/till/coupons/holds")
                .timeout(MEMBER_CALL_TIMEOUT)
                .json(request),
        )
        .await
    }

    /// Lifts the coupon reservation of a sale that no longer uses the coupon.
    pub async fn release_coupon(&self, sale_id: &str) -> Result<(), SyncError> {
        self.send_empty(
            self.request(
                reqwest::Method::DELETE,
                &format!("/v1/till/coupons/holds/{sale_id}"),
            )
            .timeout(MEMBER_CALL_TIMEOUT),
        )
        .await
    }

    pub async fn pull(&self, cursor: i64, limit: i64) -> Result<PullResponse, SyncError> {
        self.send(self.request(
            reqwest::Method::GET,
            &format!("/v1/sync/pull?cursor={cursor}&limit={limit}"),
        ))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// An https cloud URL must be spoken to over TLS: the first bytes on the wire are a TLS
    /// handshake record (0x16, version 3.x), not plain HTTP and not an "unsupported scheme".
    #[tokio::test]
    async fn an_https_cloud_is_spoken_to_over_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("the till connects");
            let mut first = [0u8; 3];
            socket
                .read_exact(&mut first)
                .await
                .expect("the till sends a handshake");
            first
        });
        let client = Client::new(&format!("https://{address}"), Some("token".into()))
            .expect("a client for an https URL");
        let outcome = client.pull(0, 10).await;
        let first = server.await.expect("the listener ran");
        assert_eq!(
            (first[0], first[1]),
            (0x16, 0x03),
            "the first record is a TLS handshake"
        );
        assert!(
            matches!(outcome, Err(SyncError::Unreachable(_))),
            "a cloud that never completes the handshake is unreachable, got {outcome:?}"
        );
    }

    #[test]
    fn plain_http_urls_still_work_for_loopback_clouds() {
        assert!(Client::new("http://127.0.0.1:7300/", None).is_ok());
    }
}

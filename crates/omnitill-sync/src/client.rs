//! The protocol over HTTP: enrol, push, pull, with failures sorted by what to do about them.
//!
//! The device token travels on every request, so a cloud address is checked before any
//! request is made (`check_cloud_url`): `https://` anywhere, plain `http://` only to a loopback
//! or private address. Redirects are not followed. An answer is read at most
//! `MAX_RESPONSE_BYTES` (after gzip), so a garbage or huge answer is an error in words, never
//! an out-of-memory.

use std::time::Duration;

use omnitill_core::outbox::OutboxOp;
use omnitill_protocol::enrol::{EnrolRequest, EnrolResponse, TillIdentity};
use omnitill_protocol::floor::MemberFloor;
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
/// The most bytes of an answer the till reads, after decompression. The largest real answer is
/// a pull page of `MAX_PULL_CHANGES` (20,000) changes, about 10 MB of members or products.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

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
    /// The cloud address may not carry this till's token. Permanent.
    #[error("{0}")]
    BadCloudUrl(String),
    /// The cloud expects an operation this till never wrote. Permanent: a person must look.
    #[error(
        "the cloud expects operation {expected} from this till, but this till has written only \
         {newest_written}: the cloud holds operations this ledger does not (was this ledger \
         restored from an older copy, or is its enrolment used by another till?). Nothing was \
         sent; ask the brand's IT to check this till's enrolment"
    )]
    CloudAhead { expected: i64, newest_written: i64 },
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

/// The longest cloud address a till accepts.
pub const MAX_CLOUD_URL_BYTES: usize = 200;

/// Checks that a cloud address may carry this till's token: `https://` to any host, plain
/// `http://` only to a loopback or private address (an IP literal or `localhost`), nothing
/// else, and at most `MAX_CLOUD_URL_BYTES` long. A host name over plain HTTP is refused: what
/// it resolves to can change.
pub fn check_cloud_url(base_url: &str) -> Result<(), SyncError> {
    if base_url.len() > MAX_CLOUD_URL_BYTES {
        return Err(SyncError::BadCloudUrl(format!(
            "a cloud address is at most {MAX_CLOUD_URL_BYTES} characters"
        )));
    }
    let url = reqwest::Url::parse(base_url.trim()).map_err(|e| {
        SyncError::BadCloudUrl(format!(
            "{base_url:?} is not a cloud address ({e}); use https://host or http://<private IP>:port"
        ))
    })?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let private = match url.host() {
                Some(url::Host::Ipv4(ip)) => is_private_v4(ip),
                Some(url::Host::Ipv6(ip)) => is_private_v6(ip),
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if private {
                Ok(())
            } else {
                Err(SyncError::BadCloudUrl(format!(
                    "{base_url} is plain http:// to an address outside this network: the till's \
                     token would cross the internet readable. Use https://, or plain http:// only \
                     to a loopback or private address (127.x, 10.x, 172.16-31.x, 192.168.x)"
                )))
            }
        }
        other => Err(SyncError::BadCloudUrl(format!(
            "{base_url} uses {other}://; a cloud address starts with https:// (or http:// to a \
             private address)"
        ))),
    }
}

fn is_private_v4(ip: std::net::Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_private() || ip.is_link_local()
}

fn is_private_v6(ip: std::net::Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    let first = ip.segments()[0];
    // ::1, unique local fc00::/7, link-local fe80::/10.
    ip.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
}

impl Client {
    /// A client for the cloud at `base_url` (`https://`, verified against the system's
    /// certificate authorities, or `http://` to a loopback or private address; see
    /// `check_cloud_url`).
    pub fn new(base_url: &str, token: Option<String>) -> Result<Client, SyncError> {
        check_cloud_url(base_url)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
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
            .map_err(|e| SyncError::Unreachable(with_causes(&e)))?;
        let status = response.status();
        let bytes = read_capped(response, MAX_RESPONSE_BYTES).await?;
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

    /// Enrols a till whose next operation to push is `first_seq` (see
    /// `omnitill_core::sync::first_unacknowledged_seq`), telling the cloud who it is
    /// (`omnitill_core::sync::till_identity`), so that the operations it made before, under its
    /// own device id and receipt prefix, are recognised as its own.
    pub async fn enrol(
        &self,
        code: &str,
        device_name: &str,
        first_seq: i64,
        till: &TillIdentity,
    ) -> Result<EnrolResponse, SyncError> {
        let request = EnrolRequest {
            code: code.to_owned(),
            device_name: device_name.to_owned(),
            first_seq,
            till: Some(till.clone()),
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

    /// What the cloud adds to a member's view on the shop floor: their e-shop lists, tags,
    /// points lapsing soon, and their favourites' stock at the other stores.
    pub async fn member_floor(&self, member_id: &str) -> Result<MemberFloor, SyncError> {
        self.send(
            self.request(
                reqwest::Method::GET,
                &format!("/v1/till/members/{member_id}/floor"),
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

    /// The cloud's write checkpoint for this till: the last seq it holds. Read from a pull of
    /// one change, which is not applied.
    pub async fn checkpoint(&self, cursor: i64) -> Result<i64, SyncError> {
        Ok(self.pull(cursor, 1).await?.last_applied_seq)
    }

    pub async fn pull(&self, cursor: i64, limit: i64) -> Result<PullResponse, SyncError> {
        self.send(self.request(
            reqwest::Method::GET,
            &format!("/v1/sync/pull?cursor={cursor}&limit={limit}"),
        ))
        .await
    }
}

/// Reads an answer's body, refusing one longer than `cap` bytes (after decompression) without
/// holding more than `cap` of it.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<bytes::Bytes, SyncError> {
    let too_large = || {
        SyncError::Server(format!(
            "its answer is larger than {} MiB, more than any real answer; it was not read",
            cap / (1024 * 1024)
        ))
    };
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SyncError::Unreachable(format!("the answer was cut off: {e}")))?
    {
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// An error and its causes in one line ("error sending request: connection refused"), so a
/// log or the status bar's details say why, not only that, a request failed.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
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

    #[test]
    fn plain_http_is_allowed_only_to_loopback_and_private_addresses() {
        let allowed = [
            "http://127.0.0.1:7300",
            "http://127.9.9.9/",
            "http://localhost:7300",
            "http://LOCALHOST:7300",
            "http://10.0.0.5:7300",
            "http://172.16.0.1",
            "http://172.31.255.254",
            "http://192.168.1.20:8080",
            "http://169.254.10.1",
            "http://[::1]:7300",
            "http://[fd12:3456::1]:7300",
            "http://[fe80::1]:7300",
            "http://[::ffff:192.168.1.2]:7300",
            "https://cloud.example.com",
            "https://203.0.113.7:8443",
        ];
        for url in allowed {
            assert!(
                check_cloud_url(url).is_ok(),
                "{url} may carry the token: {:?}",
                check_cloud_url(url)
            );
        }
        let refused = [
            "http://203.0.113.7:7300",
            "http://8.8.8.8",
            "http://172.32.0.1",
            "http://172.15.255.255",
            "http://192.169.0.1",
            "http://cloud.example.com",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "http://[2001:db8::1]",
            "http://[::ffff:8.8.8.8]",
            "ftp://127.0.0.1",
            "file:///etc/passwd",
            "127.0.0.1:7300",
            "",
            "http://",
        ];
        let too_long = format!("https://{}.example.com", "a".repeat(MAX_CLOUD_URL_BYTES));
        for url in refused.iter().copied().chain([too_long.as_str()]) {
            let error = check_cloud_url(url).expect_err(url);
            assert!(
                matches!(error, SyncError::BadCloudUrl(_)) && !error.is_transient(),
                "{url} must be refused for good, in words: {error:?}"
            );
            assert!(
                Client::new(url, Some("token".into())).is_err(),
                "no client is made for {url}"
            );
        }
        let words = check_cloud_url("http://203.0.113.7:7300")
            .expect_err("a public address")
            .to_string();
        assert!(
            words.contains("https://") && words.contains("private"),
            "the refusal says what to use instead: {words}"
        );
    }

    /// Serves one HTTP answer with `body` (and, with `declare`, its true length) to the first
    /// connection on a loopback port.
    async fn serve_once(body: Vec<u8>, declare: bool) -> String {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("the till connects");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = if declare {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
            } else {
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                    .to_owned()
            };
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
            let _ = socket.shutdown().await;
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn a_huge_answer_is_a_clear_error_not_an_out_of_memory() {
        for declare in [true, false] {
            let body = vec![b' '; MAX_RESPONSE_BYTES + 1];
            let url = serve_once(body, declare).await;
            let client = Client::new(&url, Some("token".into())).expect("a client");
            let error = client
                .pull(0, 10)
                .await
                .expect_err("an answer past the cap is refused");
            let words = error.to_string();
            assert!(
                words.contains("larger than 64 MiB"),
                "the error says the answer was too large (length declared: {declare}): {words}"
            );
        }
    }

    #[tokio::test]
    async fn a_garbage_answer_is_a_clear_error() {
        let url = serve_once(b"\x00\xffnot json at all".to_vec(), true).await;
        let client = Client::new(&url, Some("token".into())).expect("a client");
        let error = client.pull(0, 10).await.expect_err("garbage is refused");
        assert!(
            matches!(&error, SyncError::Server(words) if words.contains("unreadable answer")),
            "garbage is an unreadable answer, retried later: {error:?}"
        );
    }
}

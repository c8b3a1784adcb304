//! The layers around the API's routes: each request runs to its end on its own task, responses
//! are gzip-compressed above 1 KiB and name the protocol version, till routes require it, and
//! no address may carry the NUL character.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use omnitill_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::error::CloudError;

/// Every request runs to its end, even when its client goes away mid-request: a till killed
/// during a push, a dropped link. Axum drops a request's future when its connection closes,
/// and a future dropped while sqlx waits for PostgreSQL's answer to `BEGIN` leaves that pooled
/// connection inside a transaction nothing ends (sqlx issue #4393): the pool hands it to later
/// requests, whose statements then run, and hold locks, inside it. Run on its own task, a
/// request's transactions always end in a commit or a rollback.
pub async fn run_to_completion(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(error) => CloudError::Internal(format!("the request stopped: {error}")).into_response(),
    }
}

/// Bodies below this many bytes are sent as they are: gzip would add more framing (its header,
/// chunked transfer) than it saves, and an idle sync round's answer is far smaller.
pub const COMPRESS_ABOVE_BYTES: u16 = 1_024;

/// gzip at its fastest level: a first catalog download is hundreds of megabytes of JSON, and
/// the fastest level compresses it several times faster than the default for a few percent
/// more bytes.
pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(
            SizeAbove::new(COMPRESS_ABOVE_BYTES)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE),
        )
}

/// An address whose path or query carries the NUL character (`%00`) is refused with 400:
/// PostgreSQL cannot store it in text, so it would fail as a 500 deep in a use case, and no id,
/// code or reference of this API contains it. Bodies get the same rule in `json_body`.
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let carries_nul = |text: &str| text.contains('\0') || text.to_ascii_lowercase().contains("%00");
    if carries_nul(uri.path()) || uri.query().is_some_and(carries_nul) {
        return CloudError::BadRequest(
            "the address may not contain the NUL character (%00)".into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Every response names the protocol version this cloud speaks.
pub async fn stamp_version(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    response
}

/// Till requests must speak this cloud's protocol version.
pub async fn require_protocol(request: Request, next: Next) -> Response {
    let sent = request
        .headers()
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match sent.as_deref().map(str::parse::<u32>) {
        Some(Ok(version)) if version == PROTOCOL_VERSION => next.run(request).await,
        Some(Ok(version)) => CloudError::VersionMismatch(format!(
            "this till speaks protocol version {version} and this cloud speaks version \
             {PROTOCOL_VERSION}; update the older of the two"
        ))
        .into_response(),
        _ => CloudError::VersionMismatch(format!(
            "the request has no usable {PROTOCOL_HEADER} header; this cloud speaks protocol \
             version {PROTOCOL_VERSION}"
        ))
        .into_response(),
    }
}

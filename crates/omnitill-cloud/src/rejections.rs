//! Every refusal is JSON: what axum itself answers (an unknown route, a method the route does
//! not take, a path or query string that does not decode, a body over the limit) is rewritten
//! as an `ErrorBody` with the code its status stands for and the reason in words.
//!
//! The cloud's own errors (`CloudError`) are JSON already and pass through untouched; the
//! middleware only reads the body of an error response that is not `application/json`. Headers
//! such as `Allow` on a 405 are kept.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::CloudError;

/// The most of a plain-text rejection that is read to quote it.
const QUOTE_BYTES: usize = 4_096;

/// The answer for a route that does not exist: 404 `not_found` naming the request.
pub async fn unknown_route(method: Method, uri: Uri) -> Response {
    CloudError::NotFound(format!("a route {method} {}", uri.path())).into_response()
}

/// Rewrites an error response whose body is not JSON as a JSON `ErrorBody`.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, QUOTE_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let allow = parts.headers.get(header::ALLOW).cloned();
    let mut json = rewritten(status, &method, &path, &text, allow.as_ref()).into_response();
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
    }
    json
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The `CloudError` a plain rejection stands for.
fn rewritten(
    status: StatusCode,
    method: &Method,
    path: &str,
    text: &str,
    allow: Option<&HeaderValue>,
) -> CloudError {
    let because = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    match status {
        StatusCode::NOT_FOUND => CloudError::NotFound(format!("a route {method} {path}")),
        StatusCode::METHOD_NOT_ALLOWED => {
            // Axum's method router adds `Allow` after the route's layers, so it is usually
            // not here yet; it is on the response the client gets.
            let allowed = allow
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map_or_else(
                    || "the Allow header names the methods it takes".to_owned(),
                    |allowed| format!("it takes {allowed}"),
                );
            CloudError::MethodNotAllowed(format!("{path} does not take {method}; {allowed}"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            CloudError::PayloadTooLarge(omnitill_protocol::MAX_BODY_BYTES)
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => CloudError::UnsupportedMediaType(
            "the body must be JSON with Content-Type: application/json".into(),
        ),
        s if s.is_server_error() => CloudError::Internal(format!("the request failed{because}")),
        _ => CloudError::BadRequest(format!("the request is not valid{because}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_405_names_the_methods_the_route_takes() {
        let allow = HeaderValue::from_static("GET,HEAD");
        let error = rewritten(
            StatusCode::METHOD_NOT_ALLOWED,
            &Method::PATCH,
            "/v1/stores",
            "",
            Some(&allow),
        );
        assert_eq!(error.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            error.to_string(),
            "/v1/stores does not take PATCH; it takes GET,HEAD"
        );
    }

    #[test]
    fn a_405_without_its_allow_header_yet_points_to_it() {
        let error = rewritten(
            StatusCode::METHOD_NOT_ALLOWED,
            &Method::PATCH,
            "/v1/stores",
            "",
            None,
        );
        assert_eq!(
            error.to_string(),
            "/v1/stores does not take PATCH; the Allow header names the methods it takes"
        );
    }

    #[test]
    fn a_plain_400_is_quoted_so_the_reason_survives() {
        let error = rewritten(
            StatusCode::BAD_REQUEST,
            &Method::GET,
            "/v1/sync/pull",
            "Failed to deserialize query string: cursor: invalid digit found in string",
            None,
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(
            error.to_string().contains("cursor: invalid digit"),
            "the decoder's reason is kept: {error}"
        );
    }

    #[test]
    fn a_422_from_the_json_decoder_is_a_bad_request() {
        let error = rewritten(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Method::POST,
            "/v1/enrol",
            "missing field `code`",
            None,
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }
}

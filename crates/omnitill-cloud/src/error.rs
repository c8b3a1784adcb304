//! The cloud's one error type, and how it becomes an HTTP response.
//!
//! Every refusal is a JSON `ErrorBody` with a code from the protocol crate and a sentence a
//! person can act on. Storage errors are logged in full and answered as `internal`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use omnitill_protocol::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is larger than the {0} bytes the cloud accepts")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("this till was revoked")]
    Revoked,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    VersionMismatch(String),
    #[error("{0}")]
    BadEnrolmentCode(String),
    #[error("operation seq {got} skips ahead; the cloud expects seq {expected} next")]
    SequenceGap { expected: i64, got: i64 },
    #[error("{0} was not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many failed enrolment attempts from this address; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("the cloud's database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

pub type CloudResult<T> = Result<T, CloudError>;

impl CloudError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CloudError::BadRequest(_) => ErrorCode::BadRequest,
            CloudError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            CloudError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            CloudError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            CloudError::RateLimited { .. } => ErrorCode::RateLimited,
            CloudError::Unauthorized(_) => ErrorCode::Unauthorized,
            CloudError::Revoked => ErrorCode::Revoked,
            CloudError::Forbidden(_) => ErrorCode::Forbidden,
            CloudError::VersionMismatch(_) => ErrorCode::VersionMismatch,
            CloudError::BadEnrolmentCode(_) => ErrorCode::BadEnrolmentCode,
            CloudError::SequenceGap { .. } => ErrorCode::SequenceGap,
            CloudError::NotFound(_) => ErrorCode::NotFound,
            CloudError::Conflict(_) => ErrorCode::Conflict,
            CloudError::Database(_) | CloudError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            CloudError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CloudError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            CloudError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CloudError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            CloudError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            CloudError::Unauthorized(_) | CloudError::Revoked => StatusCode::UNAUTHORIZED,
            CloudError::Forbidden(_) => StatusCode::FORBIDDEN,
            CloudError::VersionMismatch(_) => StatusCode::BAD_REQUEST,
            CloudError::BadEnrolmentCode(_) => StatusCode::BAD_REQUEST,
            CloudError::SequenceGap { .. } => StatusCode::CONFLICT,
            CloudError::NotFound(_) => StatusCode::NOT_FOUND,
            CloudError::Conflict(_) => StatusCode::CONFLICT,
            CloudError::Database(_) | CloudError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for CloudError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            CloudError::RateLimited { retry_after_s } => Some(*retry_after_s),
            _ => None,
        };
        let message = match &self {
            CloudError::Database(e) => {
                eprintln!("omnitill-cloud: database error: {e}");
                "the cloud could not complete the request; try again".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                code: self.code(),
                message,
            }),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

//! Request bodies: JSON of the handler's type, every refusal a JSON `CloudError`.
//!
//! A body must say `Content-Type: application/json` (else 415), fit in `MAX_BODY_BYTES` (else
//! 413) and decode (else 400, naming the field: `lines[2].quantity: invalid type ...`).
//! JSON Schema, and so the OpenAPI document, counts `2.0` as the integer 2, which serde's
//! integers refuse: a body that does not decode is read once more with every whole-number
//! float as an integer. Bodies that decode at once (every well-behaved client's) never pay
//! for that second reading.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use omnitill_protocol::MAX_BODY_BYTES;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{CloudError, CloudResult};

/// A JSON body whose every refusal is a JSON `CloudError`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = CloudError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(CloudError::UnsupportedMediaType(
                "the body must be JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    CloudError::PayloadTooLarge(MAX_BODY_BYTES)
                } else {
                    CloudError::BadRequest(format!(
                        "the body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        decode(&bytes).map(JsonBody)
    }
}

/// Decodes a body as `T`, taking whole-number floats as integers when it must.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> CloudResult<T> {
    if has_nul_escape(bytes) {
        return Err(CloudError::BadRequest(
            "text in the body may not contain the NUL character (\\u0000)".into(),
        ));
    }
    let first = match strict::<T>(bytes) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    if let Ok(mut value) = serde_json::from_slice::<Value>(bytes)
        && whole_floats_to_integers(&mut value)
        && let Ok(decoded) = serde_json::from_value::<T>(value)
    {
        return Ok(decoded);
    }
    Err(CloudError::BadRequest(format!(
        "the body is not valid: {first}"
    )))
}

fn strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            error.into_inner().to_string()
        } else {
            format!("{path}: {}", error.into_inner())
        }
    })?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Rewrites every float with no fractional part within `i64` as that integer; true when any
/// was rewritten.
fn whole_floats_to_integers(value: &mut Value) -> bool {
    match value {
        Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            match number.as_f64() {
                // Exact: every whole f64 in this range is an i64.
                Some(f) if f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&f) => {
                    *value = Value::from(f as i64);
                    true
                }
                _ => false,
            }
        }
        Value::Array(items) => rewrite_all(items.iter_mut()),
        Value::Object(fields) => rewrite_all(fields.values_mut()),
        _ => false,
    }
}

/// Rewrites every value (not stopping at the first), true when any was rewritten.
fn rewrite_all<'a>(values: impl Iterator<Item = &'a mut Value>) -> bool {
    let mut rewritten = false;
    for value in values {
        rewritten |= whole_floats_to_integers(value);
    }
    rewritten
}

/// `application/json`, or a `+json` type, with any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Whether a JSON text has a string with the NUL character, written `\u0000` (a raw NUL
/// byte is no JSON at all): PostgreSQL cannot store it in text, and no field of this API needs
/// it. Escapes are read in pairs, so an escaped backslash before `u0000` is not taken for one.
fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut index = 0;
    while let Some(offset) = bytes[index..].iter().position(|&b| b == b'\\') {
        let at = index + offset;
        if bytes.get(at + 1) == Some(&b'u') && bytes.get(at + 2..at + 6) == Some(b"0000") {
            return true;
        }
        index = at + 2;
        if index >= bytes.len() {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Line {
        quantity: i64,
    }

    #[test]
    fn a_whole_number_float_is_the_integer_json_schema_says_it_is() {
        let line: Line = decode(br#"{"quantity": 171.0}"#).expect("171.0 is the integer 171");
        assert_eq!(line, Line { quantity: 171 });
    }

    #[test]
    fn a_fraction_is_still_refused_naming_the_field() {
        let error = decode::<Vec<Line>>(br#"[{"quantity": 1}, {"quantity": 1.5}]"#)
            .expect_err("1.5 is no quantity");
        assert!(
            error.to_string().contains("[1].quantity"),
            "the refusal names where: {error}"
        );
    }

    #[test]
    fn trailing_garbage_and_out_of_range_floats_are_refused() {
        assert!(decode::<Line>(br#"{"quantity": 1} x"#).is_err());
        assert!(
            decode::<Line>(br#"{"quantity": 1e19}"#).is_err(),
            "a float beyond i64 must not wrap"
        );
    }

    #[test]
    fn only_json_content_types_are_bodies() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers), "no content type is not JSON");
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().expect("a header"));
            assert_eq!(is_json(&headers), json, "{value}");
        }
    }

    #[test]
    fn a_nul_character_anywhere_in_a_body_is_refused_and_nothing_else_is() {
        for (text, carries) in [
            (r#"{"a":"x\u0000"}"#, true),
            (r#"{"\u0000":1}"#, true),
            (r#"{"a":"\u00001"}"#, true),
            (r#"["\\\u0000"]"#, true),
            (r#"{"a":"\\u0000"}"#, false),
            (r#"{"a":"u0000"}"#, false),
            (r#"{"a":"\u0001"}"#, false),
            ("\\", false),
            ("", false),
        ] {
            assert_eq!(has_nul_escape(text.as_bytes()), carries, "{text}");
        }
        assert!(
            matches!(
                decode::<serde_json::Value>(br#"{"order_ref":"a\u0000b"}"#),
                Err(CloudError::BadRequest(_))
            ),
            "PostgreSQL cannot store a NUL, so the body is refused before any use case runs"
        );
    }
}

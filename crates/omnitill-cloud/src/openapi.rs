//! The OpenAPI 3.1 document of the cloud's API, served at `/openapi.json`, generated from the
//! routes (`api::routes`, each handler's `#[utoipa::path]`) and the request and response types
//! (`ToSchema`, `IntoParams`, with the constraints the code enforces).
//!
//! What every route of a kind shares is added here from what the route declares, so it is
//! never listed by hand: till routes (tag `till`) take the protocol version header and answer
//! 400 `version_mismatch` without it; a route with a security requirement answers 401, and
//! with an API key scope also 403; a route with a body answers 400, 413 and 415; a route with
//! parameters answers 400. Every error is an `ErrorBody`.

use std::sync::OnceLock;

use omnitill_protocol::{ErrorBody, MAX_BODY_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

use crate::scopes::Scope;

/// The kinds of coupon, as the document states them (`NewCoupon::kind`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CouponKind {
    Welcome,
    Birthday,
    Campaign,
}

/// How a coupon takes money off, as the document states it (`NewCoupon::discount_kind`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DiscountKind {
    Percent,
    Amount,
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

fn build() -> Value {
    let generated = crate::api::routes().into_openapi();
    let mut doc = serde_json::to_value(&generated).unwrap_or_else(|_| json!({}));
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "Omnitill cloud",
        "version": env!("CARGO_PKG_VERSION"),
        "description": format!(
            "Tills send `{PROTOCOL_HEADER}: {PROTOCOL_VERSION}` and `Authorization: Bearer <device \
             token>`. The e-shop sends `Authorization: Bearer <API key>`; each e-shop route names \
             the scope its key needs ({}). Bodies are JSON, at most {MAX_BODY_BYTES} bytes. Every \
             refusal is an `ErrorBody`: a code and a sentence.",
            Scope::ALL.map(Scope::name).join(", ")
        ),
    });
    doc["tags"] = json!([
        { "name": "till", "description": "Tills: enrolment, sync, member calls at the counter" },
        { "name": "e-shop", "description": "The e-shop and other systems, with an API key" },
        { "name": "service", "description": "Health and this document" },
    ]);
    let components = ensure_object(&mut doc, "components");
    let schemas = ensure_object_in(components, "schemas");
    schemas.insert("ErrorBody".into(), schema_of::<ErrorBody>());
    schemas.insert(
        "ErrorCode".into(),
        schema_of::<omnitill_protocol::ErrorCode>(),
    );
    components.insert(
        "securitySchemes".into(),
        json!({
            "deviceToken": { "type": "http", "scheme": "bearer", "description": "A till's device token, from enrolment" },
            "apiKey": { "type": "http", "scheme": "bearer", "description": "An API key from `omnitill-cloud api-key create --scope ...`" },
        }),
    );
    // What a field attribute cannot say: an adjustment moves points, up or down, never by 0.
    if let Some(points) = doc.pointer_mut("/components/schemas/Adjustment/properties/points") {
        points["not"] = json!({ "const": 0 });
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    add_shared(operation);
                }
            }
        }
    }
    doc
}

fn schema_of<T: ToSchema + PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).unwrap_or_else(|_| json!({}))
}

fn ensure_object<'a>(doc: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !doc.get(key).is_some_and(Value::is_object) {
        doc[key] = json!({});
    }
    doc[key].as_object_mut().expect("just made an object")
}

fn ensure_object_in<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("just made an object")
}

/// Adds the parameters and responses an operation shares with every route of its kind.
fn add_shared(operation: &mut Map<String, Value>) {
    let till = operation
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|tags| tags.iter().any(|t| t == "till"));
    let security: Vec<String> = operation
        .get("security")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_object)
                .flat_map(|requirement| requirement.keys().cloned())
                .collect()
        })
        .unwrap_or_default();
    let has_body = operation.contains_key("requestBody");
    let has_params = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if till {
        let parameters = operation
            .entry("parameters")
            .or_insert_with(|| json!([]))
            .as_array_mut();
        if let Some(parameters) = parameters {
            parameters.push(json!({
                "name": PROTOCOL_HEADER,
                "in": "header",
                "required": true,
                "description": "The protocol version the till speaks; another answers 400 `version_mismatch`",
                "schema": { "type": "integer", "enum": [PROTOCOL_VERSION] },
            }));
        }
        errors.push((
            "400",
            "The body, a parameter or the protocol version header is not valid (`bad_request`, `version_mismatch`, `bad_enrolment_code`)",
        ));
    } else if has_body || has_params {
        errors.push((
            "400",
            "The body or a parameter is not valid (`bad_request`)",
        ));
    }
    if !security.is_empty() {
        errors.push((
            "401",
            "No credentials, or unknown or revoked ones (`unauthorized`, `revoked`)",
        ));
    }
    if security.iter().any(|s| s == "apiKey") {
        errors.push((
            "403",
            "The API key does not hold the scope this route needs (`forbidden`)",
        ));
    }
    if has_body {
        errors.push((
            "413",
            "The body is larger than the cloud accepts (`payload_too_large`)",
        ));
        errors.push((
            "415",
            "The body is not `application/json` (`unsupported_media_type`)",
        ));
    }
    let responses = operation.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for (status, description) in errors {
        responses.entry(status).or_insert_with(|| {
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
            })
        });
    }
}

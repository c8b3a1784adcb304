//! The OpenAPI 3.1 document of the cloud's API, served at `/openapi.json`.

use omnitill_protocol::{MAX_BODY_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde_json::{Value, json};

fn error_responses() -> Value {
    json!({
        "400": { "description": "Malformed request or protocol version mismatch", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "401": { "description": "Missing, unknown or revoked credentials", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "413": { "description": "Body larger than the limit", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
    })
}

/// The document.
pub fn document() -> Value {
    let errors = error_responses();
    let with = |mut ok: Value| {
        if let (Some(map), Some(extra)) = (ok.as_object_mut(), errors.as_object()) {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        ok
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Omnitill cloud",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Tills send `{PROTOCOL_HEADER}: {PROTOCOL_VERSION}` and `Authorization: Bearer <device token>`. The e-shop sends `Authorization: Bearer <API key>`. Bodies are JSON, at most {MAX_BODY_BYTES} bytes.")
        },
        "components": {
            "securitySchemes": {
                "deviceToken": { "type": "http", "scheme": "bearer" },
                "apiKey": { "type": "http", "scheme": "bearer" }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string", "enum": ["bad_request", "payload_too_large", "unauthorized", "revoked", "forbidden", "version_mismatch", "bad_enrolment_code", "sequence_gap", "not_found", "internal"] }, "message": { "type": "string" } } },
                "StockLevel": { "type": "object", "properties": { "sku": { "type": "string" }, "on_hand": { "type": "integer" } } },
                "OnlineOrder": { "type": "object", "required": ["order_ref", "stock_from", "currency", "lines"], "properties": {
                    "order_ref": { "type": "string", "maxLength": 64 },
                    "stock_from": { "type": "string", "description": "\"online\" or a store id or code" },
                    "currency": { "type": "string" },
                    "lines": { "type": "array", "items": { "type": "object", "required": ["sku", "quantity", "total_minor"], "properties": { "sku": { "type": "string" }, "quantity": { "type": "integer", "minimum": 1, "maximum": 9999 }, "total_minor": { "type": "integer", "minimum": 0 } } } }
                } },
                "PriceChange": { "type": "object", "required": ["effective_from_ms", "price_minor"], "properties": { "effective_from_ms": { "type": "integer" }, "price_minor": { "type": "integer", "minimum": 0 } } }
            }
        },
        "paths": {
            "/health": { "get": { "summary": "Liveness and protocol version", "responses": { "200": { "description": "Up" } } } },
            "/v1/enrol": { "post": { "summary": "Enrol a till with a one-time code", "responses": with(json!({ "200": { "description": "Device token and receipt prefix" } })) } },
            "/v1/sync/push": { "post": { "summary": "Push a till's operations in seq order", "security": [{ "deviceToken": [] }], "responses": with(json!({ "200": { "description": "Outcome per operation" }, "409": { "description": "Sequence gap" } })) } },
            "/v1/sync/pull": { "get": { "summary": "Pull the store's change feed after a cursor", "security": [{ "deviceToken": [] }],
                "parameters": [ { "name": "cursor", "in": "query", "schema": { "type": "integer" } }, { "name": "limit", "in": "query", "schema": { "type": "integer" } } ],
                "responses": with(json!({ "200": { "description": "A page of changes" } })) } },
            "/v1/stores": { "get": { "summary": "List stores", "security": [{ "apiKey": [] }], "responses": with(json!({ "200": { "description": "Stores" } })) } },
            "/v1/stores/{store}/stock": { "get": { "summary": "Stock per SKU in a store (or \"online\")", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "store", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "sku", "in": "query", "schema": { "type": "string" } } ],
                "responses": with(json!({ "200": { "description": "Levels", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/StockLevel" } } } } } })) } },
            "/v1/stores/{store}/oversold": { "get": { "summary": "SKUs with negative stock", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "store", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": with(json!({ "200": { "description": "Oversold SKUs" } })) } },
            "/v1/stores/{store}/sales": { "get": { "summary": "Sales received from a store's tills and online", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "store", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer" } } ],
                "responses": with(json!({ "200": { "description": "Sales, newest first" } })) } },
            "/v1/online-sales": { "post": { "summary": "Record an e-shop order (idempotent by order_ref)", "security": [{ "apiKey": [] }],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OnlineOrder" } } } },
                "responses": with(json!({ "201": { "description": "Recorded" }, "200": { "description": "Already recorded" } })) } },
            "/v1/products/{sku}/prices": { "put": { "summary": "Schedule a price", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "sku", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PriceChange" } } } },
                "responses": with(json!({ "204": { "description": "Scheduled" } })) } }
        }
    })
}

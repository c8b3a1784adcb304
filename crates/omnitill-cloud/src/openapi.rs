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
                "Error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string", "enum": ["bad_request", "payload_too_large", "unauthorized", "revoked", "forbidden", "version_mismatch", "bad_enrolment_code", "sequence_gap", "not_found", "conflict", "internal"] }, "message": { "type": "string" } } },
                "StockLevel": { "type": "object", "properties": { "sku": { "type": "string" }, "on_hand": { "type": "integer" } } },
                "OnlineOrder": { "type": "object", "required": ["order_ref", "stock_from", "currency", "lines"], "properties": {
                    "order_ref": { "type": "string", "maxLength": 64 },
                    "stock_from": { "type": "string", "description": "\"online\" or a store id or code" },
                    "currency": { "type": "string" },
                    "lines": { "type": "array", "items": { "type": "object", "required": ["sku", "quantity", "total_minor"], "properties": { "sku": { "type": "string" }, "quantity": { "type": "integer", "minimum": 1, "maximum": 9999 }, "total_minor": { "type": "integer", "minimum": 0 } } } }
                } },
                "PriceChange": { "type": "object", "required": ["effective_from_ms", "price_minor"], "properties": { "effective_from_ms": { "type": "integer" }, "price_minor": { "type": "integer", "minimum": 0 } } },
                "SignUp": { "type": "object", "required": ["name", "consent_terms"], "description": "A phone or an e-mail (or both) is required. Phones are normalised to E.164 (numbers without a country code take the brand's), e-mails to lower case.", "properties": {
                    "phone": { "type": "string" }, "email": { "type": "string" }, "name": { "type": "string", "maxLength": 100 },
                    "birthday": { "type": "string", "format": "date" }, "consent_terms": { "type": "boolean", "const": true },
                    "consent_marketing": { "type": "boolean" }, "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 20 } } },
                "Coupon": { "type": "object", "properties": { "id": { "type": "string" }, "kind": { "type": "string", "enum": ["welcome", "birthday", "campaign"] }, "title": { "type": "string" },
                    "discount_kind": { "type": "string", "enum": ["percent", "amount"] }, "value": { "type": "integer", "description": "basis points or minor units" },
                    "min_spend_minor": { "type": "integer" }, "valid_from_ms": { "type": "integer" }, "valid_to_ms": { "type": "integer" } } },
                "Member": { "type": "object", "properties": {
                    "id": { "type": "string", "format": "uuid" }, "phone": { "type": ["string", "null"] }, "email": { "type": ["string", "null"] },
                    "card_no": { "type": "string", "description": "EAN-13 in the 29 range" }, "name": { "type": "string" }, "birthday": { "type": ["string", "null"] },
                    "tier": { "type": "string" }, "consent_marketing": { "type": "boolean" }, "tags": { "type": "array", "items": { "type": "string" } },
                    "balance": { "type": "integer", "description": "the sum of the member's points entries" },
                    "available": { "type": "integer", "description": "balance less points held for sales being completed at tills" },
                    "coupons": { "type": "array", "items": { "$ref": "#/components/schemas/Coupon" } } } },
                "OrderEarn": { "type": "object", "required": ["order_ref", "lines"], "properties": { "order_ref": { "type": "string", "maxLength": 64 },
                    "lines": { "type": "array", "items": { "type": "object", "required": ["sku", "total_minor"], "properties": { "sku": { "type": "string" }, "total_minor": { "type": "integer", "minimum": 0 } } } },
                    "paid_with_points_minor": { "type": "integer", "minimum": 0 } } },
                "OrderRedeem": { "type": "object", "required": ["order_ref", "points"], "properties": { "order_ref": { "type": "string", "maxLength": 64 }, "points": { "type": "integer", "minimum": 1 } } },
                "Adjustment": { "type": "object", "required": ["reference", "points", "reason"], "additionalProperties": false, "properties": { "reference": { "type": "string", "maxLength": 64 }, "points": { "type": "integer", "description": "up (positive) or down (negative), not 0" }, "reason": { "type": "string", "maxLength": 500 } } },
                "PointsBooked": { "type": "object", "properties": { "member_id": { "type": "string" }, "points": { "type": "integer" }, "balance": { "type": "integer" } } },
                "NewCoupon": { "type": "object", "required": ["kind", "title", "discount_kind", "value", "valid_from_ms", "valid_to_ms"], "properties": {
                    "kind": { "type": "string", "enum": ["welcome", "birthday", "campaign"] }, "title": { "type": "string", "maxLength": 80 },
                    "discount_kind": { "type": "string", "enum": ["percent", "amount"] }, "value": { "type": "integer", "minimum": 1 },
                    "min_spend_minor": { "type": "integer", "minimum": 0 }, "valid_from_ms": { "type": "integer" }, "valid_to_ms": { "type": "integer" } } },
                "LoyaltyRules": { "type": "object", "description": "Earn rate, point value, rounding (floor or nearest), tiers by 12-month spend with multiplier and discount, SKUs that earn nothing, dated bonus promotions, expiry in months, per-member offline cap and per-store offline allowance.",
                    "required": ["earn_minor_per_point", "point_value_minor", "rounding", "tiers", "no_earn_skus", "promotions", "expiry_months", "offline_member_cap_points", "offline_store_allowance_points", "default_calling_code"] }
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
                "responses": with(json!({ "204": { "description": "Scheduled" } })) } },
            "/v1/members": {
                "post": { "summary": "Sign a member up (409 if the phone or e-mail is already a member's); a welcome coupon is issued", "security": [{ "apiKey": [] }],
                    "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SignUp" } } } },
                    "responses": with(json!({ "201": { "description": "The member", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Member" } } } }, "409": { "description": "Already a member" } })) },
                "get": { "summary": "Look a member up by phone, e-mail or card number", "security": [{ "apiKey": [] }],
                    "parameters": [ { "name": "phone", "in": "query", "schema": { "type": "string" } }, { "name": "email", "in": "query", "schema": { "type": "string" } }, { "name": "card", "in": "query", "schema": { "type": "string" } } ],
                    "responses": with(json!({ "200": { "description": "The member", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Member" } } } }, "404": { "description": "No such member" } })) } },
            "/v1/members/{id}": { "get": { "summary": "A member by id (an id merged into another member finds the survivor)", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": with(json!({ "200": { "description": "The member", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Member" } } } }, "404": { "description": "No such member" } })) } },
            "/v1/members/{id}/history": { "get": { "summary": "Points entries and purchases from both channels, newest first", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 1000 } } ],
                "responses": with(json!({ "200": { "description": "History" } })) } },
            "/v1/members/{id}/earn": { "post": { "summary": "Earn points for an e-shop order by the brand's rules (idempotent by order_ref)", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OrderEarn" } } } },
                "responses": with(json!({ "200": { "description": "Points booked", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PointsBooked" } } } } })) } },
            "/v1/members/{id}/redeem": { "post": { "summary": "Redeem points on an e-shop order (idempotent by order_ref; 409 if fewer are available)", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OrderRedeem" } } } },
                "responses": with(json!({ "200": { "description": "Points booked", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PointsBooked" } } } }, "409": { "description": "Not enough points" } })) } },
            "/v1/members/{id}/adjust": { "post": { "summary": "Adjust a member's points with a reason, for customer service (idempotent by reference; 409 if a deduction is more than is available)", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Adjustment" } } } },
                "responses": with(json!({ "200": { "description": "Points booked", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PointsBooked" } } } }, "409": { "description": "Not enough points, or the reference was booked differently" } })) } },
            "/v1/members/{id}/coupons": { "post": { "summary": "Issue a birthday or campaign coupon", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NewCoupon" } } } },
                "responses": with(json!({ "201": { "description": "Issued" } })) } },
            "/v1/members/{id}/qr": { "post": { "summary": "A fresh signed QR token for the member's app (valid 5 minutes)", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": with(json!({ "200": { "description": "Token and expiry" } })) } },
            "/v1/coupons/{id}/redeem": { "post": { "summary": "Use a coupon on an e-shop order (single use across channels; 409 if used, reserved or out of date)", "security": [{ "apiKey": [] }],
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "requestBody": { "content": { "application/json": { "schema": { "type": "object", "required": ["order_ref"], "properties": { "order_ref": { "type": "string" } } } } } },
                "responses": with(json!({ "204": { "description": "Used" }, "409": { "description": "Not usable" } })) } },
            "/v1/loyalty/rules": {
                "get": { "summary": "The brand's loyalty rules", "security": [{ "apiKey": [] }], "responses": with(json!({ "200": { "description": "Rules", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LoyaltyRules" } } } } })) },
                "put": { "summary": "Replace the brand's loyalty rules (tills get them at their next sync)", "security": [{ "apiKey": [] }],
                    "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LoyaltyRules" } } } },
                    "responses": with(json!({ "204": { "description": "Replaced" } })) } },
            "/v1/till/members/lookup": { "post": { "summary": "A till looks up a member its cache lacks, by look-up hash", "security": [{ "deviceToken": [] }], "responses": with(json!({ "200": { "description": "The member as tills cache it" }, "404": { "description": "No such member" } })) } },
            "/v1/till/members/{id}/history": { "get": { "summary": "A till shows a member's points entries and purchases from both channels (newest 50)", "security": [{ "deviceToken": [] }], "responses": with(json!({ "200": { "description": "History" }, "404": { "description": "No such member" } })) } },
            "/v1/till/points/holds": { "post": { "summary": "A till holds points for a sale it is completing (key: sale id; 409 if fewer are available)", "security": [{ "deviceToken": [] }], "responses": with(json!({ "200": { "description": "Held" }, "409": { "description": "Not enough points" } })) } },
            "/v1/till/points/holds/{sale_id}": { "delete": { "summary": "Release a hold whose sale was not completed", "security": [{ "deviceToken": [] }],
                "parameters": [ { "name": "sale_id", "in": "path", "required": true, "schema": { "type": "string" } } ], "responses": with(json!({ "204": { "description": "Released" } })) } },
            "/v1/till/coupons/holds": { "post": { "summary": "A till reserves a coupon for a sale (409 if used or reserved elsewhere)", "security": [{ "deviceToken": [] }], "responses": with(json!({ "204": { "description": "Reserved" }, "409": { "description": "Not usable" } })) } },
            "/v1/till/coupons/holds/{sale_id}": { "delete": { "summary": "Lift the reservation a sale made on a coupon it no longer uses (a used coupon stays used)", "security": [{ "deviceToken": [] }],
                "parameters": [ { "name": "sale_id", "in": "path", "required": true, "schema": { "type": "string" } } ], "responses": with(json!({ "204": { "description": "Released, or nothing was reserved" } })) } }
        }
    })
}

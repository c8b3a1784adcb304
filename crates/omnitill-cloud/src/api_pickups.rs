//! The e-shop's click-and-collect routes: place a pickup order, read it, cancel it, the
//! brand's pickup settings, and the substitutes it names per SKU. Each is a few lines over
//! `pickups`; their `#[utoipa::path]` entries are part of `/openapi.json`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use omnitill_protocol::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiKey, AppState, JsonBody, need};
use crate::error::CloudResult;
use crate::pickups::cancel::{self, CancelRequest};
use crate::pickups::place::{self, PickupRequest};
use crate::pickups::settings::{self, PickupSettings};
use crate::pickups::substitutes::{self, PickupSubstitutes, SubstituteList};
use crate::pickups::{self, PickupView};

/// The click-and-collect routes, for `api::routes`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pickup_place))
        .routes(routes!(pickup_get))
        .routes(routes!(pickup_cancel))
        .routes(routes!(pickup_settings_get, pickup_settings_put))
        .routes(routes!(pickup_substitutes_get, pickup_substitutes_put))
}

#[utoipa::path(
    get,
    path = "/v1/pickup-substitutes/{sku}",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(("sku" = String, Path, description = "A SKU of the catalog")),
    responses(
        (status = 200, description = "The SKUs offered for a missing line of this SKU, preferred first", body = PickupSubstitutes),
        (status = 404, description = "No such SKU in the catalog", body = ErrorBody)
    )
)]
async fn pickup_substitutes_get(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
    Path(sku): Path<String>,
) -> CloudResult<Json<PickupSubstitutes>> {
    Ok(Json(substitutes::get(&state.db, &sku).await?))
}

#[utoipa::path(
    put,
    path = "/v1/pickup-substitutes/{sku}",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    params(("sku" = String, Path, description = "A SKU of the catalog")),
    request_body = SubstituteList,
    responses(
        (status = 200, description = "Named, replacing the SKU's list: a missing line of an order that accepts substitutes is offered the first that is active, in stock at the store and no dearer per unit", body = PickupSubstitutes),
        (status = 400, description = "A field is wrong, named in the message: too many SKUs, one named twice, the SKU itself, or one not in the catalog", body = ErrorBody),
        (status = 404, description = "No such SKU in the catalog", body = ErrorBody)
    )
)]
async fn pickup_substitutes_put(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    Path(sku): Path<String>,
    JsonBody(list): JsonBody<SubstituteList>,
) -> CloudResult<Json<PickupSubstitutes>> {
    Ok(Json(substitutes::set(&state.db, &sku, &list).await?))
}

#[utoipa::path(
    get,
    path = "/v1/pickup-settings",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    responses((status = 200, description = "The brand's pickup settings", body = PickupSettings))
)]
async fn pickup_settings_get(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
) -> CloudResult<Json<PickupSettings>> {
    Ok(Json(settings::get(&state.db).await?))
}

#[utoipa::path(
    put,
    path = "/v1/pickup-settings",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    request_body = PickupSettings,
    responses(
        (status = 200, description = "Set; orders placed from now on follow them", body = PickupSettings),
        (status = 400, description = "Days out of range, or an unknown points rule", body = ErrorBody)
    )
)]
async fn pickup_settings_put(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    JsonBody(new): JsonBody<PickupSettings>,
) -> CloudResult<Json<PickupSettings>> {
    Ok(Json(settings::set(&state.db, &new).await?))
}

#[utoipa::path(
    post,
    path = "/v1/pickups",
    tag = "e-shop",
    security(("apiKey" = ["orders"])),
    request_body = PickupRequest,
    responses(
        (status = 201, description = "Placed now: its pickup code, QR token and status; the store's stock is reserved", body = PickupView),
        (status = 200, description = "Placed before with the same `order_ref` and body; nothing more reserved", body = PickupView),
        (status = 400, description = "A field is out of range, a SKU or member unknown", body = ErrorBody),
        (status = 404, description = "No such store", body = ErrorBody),
        (status = 409, description = "The `order_ref` was placed with another order", body = ErrorBody)
    )
)]
async fn pickup_place(
    State(state): State<AppState>,
    _: ApiKey<need::Orders>,
    JsonBody(request): JsonBody<PickupRequest>,
) -> CloudResult<(StatusCode, Json<PickupView>)> {
    let (created, placed) = place::place(&state.db, &request).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(placed)))
}

#[utoipa::path(
    get,
    path = "/v1/pickups/{order_ref}",
    tag = "e-shop",
    security(("apiKey" = ["orders"])),
    params(("order_ref" = String, Path, description = "The e-shop's order number")),
    responses(
        (status = 200, description = "The order, its lines' states and its history", body = PickupView),
        (status = 404, description = "No such order", body = ErrorBody)
    )
)]
async fn pickup_get(
    State(state): State<AppState>,
    _: ApiKey<need::Orders>,
    Path(order_ref): Path<String>,
) -> CloudResult<Json<PickupView>> {
    Ok(Json(pickups::get(&state.db, &order_ref).await?))
}

#[utoipa::path(
    post,
    path = "/v1/pickups/{order_ref}/cancel",
    tag = "e-shop",
    security(("apiKey" = ["orders"])),
    params(("order_ref" = String, Path, description = "The e-shop's order number")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled (now or before); its reserved stock is released", body = PickupView),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Already collected or expired: it can no longer be cancelled", body = ErrorBody)
    )
)]
async fn pickup_cancel(
    State(state): State<AppState>,
    _: ApiKey<need::Orders>,
    Path(order_ref): Path<String>,
    JsonBody(request): JsonBody<CancelRequest>,
) -> CloudResult<Json<PickupView>> {
    Ok(Json(cancel::cancel(&state.db, &order_ref, &request).await?))
}

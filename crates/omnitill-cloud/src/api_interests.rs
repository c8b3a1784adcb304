//! The e-shop's routes for a member's favourites and recently viewed products: read them, save
//! or remove a favourite, record a view. Each answers the member's lists as they now stand.
//! And the till's route for the member's view on the shop floor (`member_floor`), which
//! `api::routes` puts behind the protocol version check with the other till routes.

use axum::Json;
use axum::extract::{Path, State};
use omnitill_protocol::ErrorBody;
use omnitill_protocol::floor::MemberFloor;
use omnitill_protocol::loyalty::MemberInterests;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiKey, AppState, JsonBody, TillAuth, need};
use crate::error::CloudResult;
use crate::interests::{self, RecordView, SaveFavourite};

/// The interests routes, for `api::routes`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(interests_get))
        .routes(routes!(favourite_save, favourite_remove))
        .routes(routes!(view_record))
}

/// The till's route of this module, for `api::routes` to put behind the protocol version
/// check with the other till routes.
pub fn till_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(till_member_floor))
}

#[utoipa::path(
    get,
    path = "/v1/members/{id}/interests",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(("id" = String, Path, description = "A member id")),
    responses(
        (status = 200, description = "The member's favourites and recently viewed products, newest first", body = MemberInterests),
        (status = 404, description = "No such member", body = ErrorBody)
    )
)]
async fn interests_get(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
    Path(id): Path<String>,
) -> CloudResult<Json<MemberInterests>> {
    Ok(Json(interests::get(&state.db, &id).await?))
}

#[utoipa::path(
    put,
    path = "/v1/members/{id}/favourites/{sku}",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    params(("id" = String, Path, description = "A member id"), ("sku" = String, Path, description = "A SKU of the catalog")),
    request_body = SaveFavourite,
    responses(
        (status = 200, description = "Saved, with the product's price now; the member's lists", body = MemberInterests),
        (status = 400, description = "An unknown SKU or a time out of range", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
        (status = 409, description = "The member keeps the most favourites already", body = ErrorBody)
    )
)]
async fn favourite_save(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    Path((id, sku)): Path<(String, String)>,
    JsonBody(request): JsonBody<SaveFavourite>,
) -> CloudResult<Json<MemberInterests>> {
    Ok(Json(
        interests::save_favourite(&state.db, &id, &sku, &request).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/members/{id}/favourites/{sku}",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    params(("id" = String, Path, description = "A member id"), ("sku" = String, Path, description = "A SKU")),
    responses(
        (status = 200, description = "No longer a favourite; the member's lists", body = MemberInterests),
        (status = 404, description = "No such member", body = ErrorBody)
    )
)]
async fn favourite_remove(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    Path((id, sku)): Path<(String, String)>,
) -> CloudResult<Json<MemberInterests>> {
    Ok(Json(
        interests::remove_favourite(&state.db, &id, &sku).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/views",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    params(("id" = String, Path, description = "A member id")),
    request_body = RecordView,
    responses(
        (status = 200, description = "Recorded; the member's lists (the newest 20 views)", body = MemberInterests),
        (status = 400, description = "An unknown SKU or a time out of range", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody)
    )
)]
async fn view_record(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    Path(id): Path<String>,
    JsonBody(view): JsonBody<RecordView>,
) -> CloudResult<Json<MemberInterests>> {
    Ok(Json(interests::record_view(&state.db, &id, &view).await?))
}

/// A member's view on the shop floor, for a till of the store: their lists, tags, the points
/// that lapse within 30 days, and their favourites' stock at the other stores.
#[utoipa::path(
    get,
    path = "/v1/till/members/{id}/floor",
    tag = "till",
    security(("deviceToken" = [])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    responses(
        (status = 200, description = "What the cloud adds to the member's floor view", body = MemberFloor),
        (status = 404, description = "No such member", body = ErrorBody)
    )
)]
async fn till_member_floor(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    Path(id): Path<String>,
) -> CloudResult<Json<MemberFloor>> {
    Ok(Json(
        crate::member_floor::for_till(&state.db, &device.store_id, &id, state.db.now()).await?,
    ))
}

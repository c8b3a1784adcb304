//! The HTTP API: sync endpoints for tills, an API for the e-shop, and the OpenAPI document.
//!
//! Tills authenticate with their device token and must send the protocol version header; the
//! e-shop authenticates with an API key. Bodies are limited to `MAX_BODY_BYTES`, malformed or
//! oversized ones get a JSON error and write nothing, and responses above 1 KiB are
//! gzip-compressed (fastest level) when the client accepts it (`api_layers`). Each handler's
//! `#[utoipa::path]` is its entry in `/openapi.json`; `routes()` adds it to the router and the
//! document in one step. Route groups of their own live beside it: `api_stores` (stores, stock,
//! sales), `api_pickups`, `api_webhooks` and `api_interests`.

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use omnitill_protocol::ErrorBody;
use omnitill_protocol::enrol::{EnrolRequest, EnrolResponse};
use omnitill_protocol::loyalty::{
    CachedMember, CouponHoldRequest, Held, History, HoldRequest, LoyaltyRules, MemberLookupRequest,
};
use omnitill_protocol::push::{PushRequest, PushResponse};
use omnitill_protocol::{MAX_BODY_BYTES, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::api_layers::COMPRESS_ABOVE_BYTES;
use crate::api_layers::{
    compression, refuse_nul, require_protocol, run_to_completion, stamp_version,
};
pub use crate::auth::{ApiKey, SourceAddress, TillAuth, need};
pub use crate::json_body::JsonBody;

use crate::db::Db;
use crate::devices;
use crate::error::{CloudError, CloudResult};
use crate::pull::FeedPage;
use crate::{catalog, members, online, openapi, pull, push as push_ops, rejections};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// On SQLite, pushes are applied in groups that share a commit; `None` on PostgreSQL.
    pub pushes: Option<push_ops::group_commit::GroupCommit>,
}

/// The whole API: the documented routes, a JSON 404 for any other path, and every refusal
/// (axum's own included) as a JSON `ErrorBody`.
pub fn router(state: AppState) -> Router {
    let (routes, _document) = routes().split_for_parts();
    routes
        .fallback(rejections::unknown_route)
        .layer(middleware::from_fn(refuse_nul))
        .layer(middleware::from_fn(rejections::json_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(compression())
        .layer(middleware::from_fn(stamp_version))
        .layer(middleware::from_fn(run_to_completion))
        .with_state(state)
}

/// Every route with its OpenAPI entry. A route is added only through `routes!`, which takes
/// its method and path from the handler's `#[utoipa::path]` and adds the entry to the document
/// at the same time, so the router and `/openapi.json` cannot disagree. E-shop routes name the
/// API key scope they need twice, in the handler's `ApiKey<need::...>` and in its `security`.
pub fn routes() -> OpenApiRouter<AppState> {
    let tills = OpenApiRouter::new()
        .routes(routes!(enrol))
        .routes(routes!(push))
        .routes(routes!(pull))
        .routes(routes!(till_member_lookup))
        .routes(routes!(till_member_history))
        .routes(routes!(till_hold_points))
        .routes(routes!(till_release_hold))
        .routes(routes!(till_reserve_coupon))
        .routes(routes!(till_release_coupon))
        .merge(crate::api_interests::till_routes())
        // A route layer: a method the route does not take is a 405 before the version check.
        .route_layer(middleware::from_fn(require_protocol));
    let eshop = OpenApiRouter::new()
        .routes(routes!(online_sale))
        .routes(routes!(set_price))
        .routes(routes!(member_sign_up, member_look_up))
        .routes(routes!(member_get))
        .routes(routes!(member_history))
        .routes(routes!(member_earn))
        .routes(routes!(member_redeem))
        .routes(routes!(member_adjust))
        .routes(routes!(member_issue_coupon))
        .routes(routes!(member_qr))
        .routes(routes!(coupon_redeem))
        .routes(routes!(loyalty_rules_get, loyalty_rules_put));
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(openapi_document))
        .merge(tills)
        .merge(eshop)
        .merge(crate::api_stores::routes())
        .merge(crate::api_pickups::routes())
        .merge(crate::api_webhooks::routes())
        .merge(crate::api_interests::routes())
}

/// The answer of `/health`.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    ok: bool,
    /// The protocol version this cloud speaks.
    protocol: u32,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses((status = 200, description = "The cloud is up, and the protocol version it speaks", body = Health))
)]
async fn health() -> Json<Health> {
    Json(Health {
        ok: true,
        protocol: PROTOCOL_VERSION,
    })
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "This document", body = Object))
)]
async fn openapi_document() -> Json<&'static serde_json::Value> {
    Json(openapi::document())
}

#[utoipa::path(
    post,
    path = "/v1/enrol",
    tag = "till",
    request_body = EnrolRequest,
    responses((status = 200, description = "The till is enrolled: its token (shown once) and receipt prefix", body = EnrolResponse), (status = 429, description = "Too many failed enrolment attempts from this address; `Retry-After` gives the seconds to wait", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until another attempt is counted"))))
)]
async fn enrol(
    State(state): State<AppState>,
    SourceAddress(source): SourceAddress,
    JsonBody(request): JsonBody<EnrolRequest>,
) -> CloudResult<Json<EnrolResponse>> {
    Ok(Json(
        devices::enrol(
            &state.db,
            &source,
            &request.code,
            &request.device_name,
            request.first_seq,
            request.till.as_ref(),
        )
        .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/sync/push",
    tag = "till",
    security(("deviceToken" = [])),
    request_body = PushRequest,
    responses((status = 200, description = "The outcome of each operation", body = PushResponse), (status = 409, description = "A sequence gap: the cloud names the seq it expects (`sequence_gap`)", body = ErrorBody))
)]
async fn push(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    JsonBody(request): JsonBody<PushRequest>,
) -> CloudResult<Json<PushResponse>> {
    let response = match &state.pushes {
        Some(pushes) => pushes.push(device, request).await?,
        None => push_ops::push(&state.db, &device, &request).await?,
    };
    Ok(Json(response))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PullQuery {
    /// The cursor of the last change the till has (0, or absent, for a full download).
    #[param(minimum = 0)]
    cursor: Option<i64>,
    /// Changes per page: 1,000 when absent; values outside 1 to 20,000 are taken as the
    /// nearest of the two.
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/sync/pull",
    tag = "till",
    security(("deviceToken" = [])),
    params(PullQuery),
    responses((status = 200, description = "A page of the store's change feed after the cursor", body = FeedPage))
)]
async fn pull(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> CloudResult<Json<FeedPage>> {
    let Query(query) = query.map_err(|e| {
        CloudError::BadRequest(format!("the query is not valid: {}", e.body_text()))
    })?;
    Ok(Json(
        pull::pull(
            &state.db,
            &device,
            query.cursor.unwrap_or(0),
            query.limit.unwrap_or(1_000),
        )
        .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/online-sales",
    tag = "e-shop",
    security(("apiKey" = ["orders"])),
    request_body = online::OnlineOrder,
    responses((status = 201, description = "Recorded now", body = online::OnlineSaleRecorded), (status = 200, description = "Recorded before (the same `order_ref`); no stock moved", body = online::OnlineSaleRecorded), (status = 404, description = "The store to take stock from does not exist", body = ErrorBody), (status = 409, description = "The `order_ref` was recorded with another order", body = ErrorBody))
)]
async fn online_sale(
    State(state): State<AppState>,
    _: ApiKey<need::Orders>,
    JsonBody(order): JsonBody<online::OnlineOrder>,
) -> CloudResult<(StatusCode, Json<online::OnlineSaleRecorded>)> {
    let (created, recorded) = online::record(&state.db, &order).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(recorded)))
}

#[derive(Debug, Deserialize, ToSchema)]
struct PriceChange {
    /// When the price applies from, Unix ms.
    effective_from_ms: i64,
    /// The price in minor units.
    #[schema(minimum = 0)]
    price_minor: i64,
}

#[utoipa::path(
    put,
    path = "/v1/products/{sku}/prices",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    params(("sku" = String, Path, description = "The product's SKU")),
    request_body = PriceChange,
    responses((status = 204, description = "Scheduled"), (status = 404, description = "No such product", body = ErrorBody))
)]
async fn set_price(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    Path(sku): Path<String>,
    JsonBody(change): JsonBody<PriceChange>,
) -> CloudResult<StatusCode> {
    catalog::set_price(
        &state.db,
        &sku,
        change.effective_from_ms,
        change.price_minor,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/members",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    request_body = members::SignUp,
    responses((status = 201, description = "The new member, with a welcome coupon", body = members::Member), (status = 409, description = "The phone or e-mail is already a member's", body = ErrorBody))
)]
async fn member_sign_up(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    JsonBody(sign_up): JsonBody<members::SignUp>,
) -> CloudResult<(StatusCode, Json<members::Member>)> {
    Ok((
        StatusCode::CREATED,
        Json(members::sign_up(&state.db, &sign_up).await?),
    ))
}

/// One of the three is needed; a card number is looked up first, then a phone or e-mail.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MemberQuery {
    /// A phone number (without a country code, the brand's is assumed).
    phone: Option<String>,
    /// An e-mail address.
    email: Option<String>,
    /// A member card number (EAN-13 in the 29 range).
    card: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/members",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(MemberQuery),
    responses((status = 200, description = "The member", body = members::Member), (status = 404, description = "No member has that phone, e-mail or card", body = ErrorBody))
)]
async fn member_look_up(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
    query: Result<Query<MemberQuery>, axum::extract::rejection::QueryRejection>,
) -> CloudResult<Json<members::Member>> {
    let Query(query) = query.map_err(|e| {
        CloudError::BadRequest(format!("the query is not valid: {}", e.body_text()))
    })?;
    Ok(Json(
        members::look_up(
            &state.db,
            query.phone.as_deref(),
            query.email.as_deref(),
            query.card.as_deref(),
        )
        .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/v1/members/{id}",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    responses((status = 200, description = "The member", body = members::Member), (status = 404, description = "No such member", body = ErrorBody))
)]
async fn member_get(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
    Path(id): Path<String>,
) -> CloudResult<Json<members::Member>> {
    Ok(Json(members::get(&state.db, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// Lines of each list: 100 when absent; values outside 1 to 1,000 are taken as the nearest.
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/members/{id}/history",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)"), HistoryQuery),
    responses((status = 200, description = "Points entries and purchases from both channels, newest first", body = History), (status = 404, description = "No such member", body = ErrorBody))
)]
async fn member_history(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> CloudResult<Json<History>> {
    let Query(query) = query.map_err(|e| {
        CloudError::BadRequest(format!("the query is not valid: {}", e.body_text()))
    })?;
    Ok(Json(
        members::history(&state.db, &id, query.limit.unwrap_or(100)).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/earn",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    request_body = members::OrderEarn,
    responses((status = 200, description = "Points booked by the brand's rules (once per `order_ref`)", body = members::PointsBooked), (status = 404, description = "No such member", body = ErrorBody), (status = 409, description = "The `order_ref` was booked differently", body = ErrorBody))
)]
async fn member_earn(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    Path(id): Path<String>,
    JsonBody(order): JsonBody<members::OrderEarn>,
) -> CloudResult<Json<members::PointsBooked>> {
    Ok(Json(members::earn_online(&state.db, &id, &order).await?))
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/redeem",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    request_body = members::OrderRedeem,
    responses((status = 200, description = "Points taken (once per `order_ref`)", body = members::PointsBooked), (status = 404, description = "No such member", body = ErrorBody), (status = 409, description = "Fewer points are available than asked for, or the `order_ref` was booked differently", body = ErrorBody))
)]
async fn member_redeem(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    Path(id): Path<String>,
    JsonBody(order): JsonBody<members::OrderRedeem>,
) -> CloudResult<Json<members::PointsBooked>> {
    Ok(Json(members::redeem_online(&state.db, &id, &order).await?))
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/adjust",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    request_body = members::Adjustment,
    responses((status = 200, description = "Points adjusted (once per `reference`)", body = members::PointsBooked), (status = 404, description = "No such member", body = ErrorBody), (status = 409, description = "A deduction is more than is available, or the reference was booked differently", body = ErrorBody))
)]
async fn member_adjust(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    Path(id): Path<String>,
    JsonBody(adjustment): JsonBody<members::Adjustment>,
) -> CloudResult<Json<members::PointsBooked>> {
    Ok(Json(members::adjust(&state.db, &id, &adjustment).await?))
}

#[derive(Debug, Serialize, ToSchema)]
struct CouponIssued {
    coupon_id: String,
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/coupons",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    request_body = members::NewCoupon,
    responses((status = 201, description = "Issued", body = CouponIssued), (status = 404, description = "No such member", body = ErrorBody))
)]
async fn member_issue_coupon(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    Path(id): Path<String>,
    JsonBody(coupon): JsonBody<members::NewCoupon>,
) -> CloudResult<(StatusCode, Json<CouponIssued>)> {
    let coupon_id = members::issue_coupon(&state.db, &id, &coupon).await?;
    Ok((StatusCode::CREATED, Json(CouponIssued { coupon_id })))
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/qr",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    responses((status = 200, description = "A signed QR token for the member's app, valid 5 minutes", body = members::QrToken), (status = 404, description = "No such member", body = ErrorBody))
)]
async fn member_qr(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    Path(id): Path<String>,
) -> CloudResult<Json<members::QrToken>> {
    Ok(Json(members::qr_token(&state.db, &id, 300).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
struct CouponRedeem {
    /// The e-shop's order number.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    order_ref: String,
}

#[utoipa::path(
    post,
    path = "/v1/coupons/{id}/redeem",
    tag = "e-shop",
    security(("apiKey" = ["loyalty"])),
    params(("id" = String, Path, description = "The coupon's id")),
    request_body = CouponRedeem,
    responses((status = 204, description = "Used"), (status = 404, description = "No such coupon", body = ErrorBody), (status = 409, description = "The coupon is used, reserved elsewhere or out of date", body = ErrorBody))
)]
async fn coupon_redeem(
    State(state): State<AppState>,
    _: ApiKey<need::Loyalty>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<CouponRedeem>,
) -> CloudResult<StatusCode> {
    members::redeem_coupon_online(&state.db, &id, &request.order_ref).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/loyalty/rules",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    responses((status = 200, description = "The brand's loyalty rules", body = LoyaltyRules))
)]
async fn loyalty_rules_get(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
) -> CloudResult<Json<LoyaltyRules>> {
    let mut conn = state.db.read.acquire().await?;
    Ok(Json(members::rules(&mut conn).await?))
}

#[utoipa::path(
    put,
    path = "/v1/loyalty/rules",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    request_body = LoyaltyRules,
    responses((status = 204, description = "Replaced; tills get them at their next sync"))
)]
async fn loyalty_rules_put(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    JsonBody(rules): JsonBody<LoyaltyRules>,
) -> CloudResult<StatusCode> {
    members::set_rules(&state.db, &rules).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/till/members/lookup",
    tag = "till",
    security(("deviceToken" = [])),
    request_body = MemberLookupRequest,
    responses((status = 200, description = "The member as tills cache it", body = CachedMember), (status = 404, description = "No member has that look-up hash", body = ErrorBody))
)]
async fn till_member_lookup(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    JsonBody(request): JsonBody<MemberLookupRequest>,
) -> CloudResult<Json<CachedMember>> {
    Ok(Json(
        crate::lookup_keys::till_look_up(&state.db, &device, &request).await?,
    ))
}

/// How many history lines a till is sent: what a look-up at the counter shows.
const TILL_HISTORY_LINES: i64 = 50;

/// A member's history across channels, for the floor staff's look-up at a till.
#[utoipa::path(
    get,
    path = "/v1/till/members/{id}/history",
    tag = "till",
    security(("deviceToken" = [])),
    params(("id" = String, Path, description = "A member id (an id merged into another member finds the survivor)")),
    responses((status = 200, description = "The newest 50 lines of the member's history", body = History), (status = 404, description = "No such member", body = ErrorBody))
)]
async fn till_member_history(
    State(state): State<AppState>,
    TillAuth(_device): TillAuth,
    Path(id): Path<String>,
) -> CloudResult<Json<History>> {
    Ok(Json(
        members::history(&state.db, &id, TILL_HISTORY_LINES).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/till/points/holds",
    tag = "till",
    security(("deviceToken" = [])),
    request_body = HoldRequest,
    responses((status = 200, description = "Held (asking again for the same sale answers the same)", body = Held), (status = 404, description = "No such member", body = ErrorBody), (status = 409, description = "Fewer points are available, or the sale holds points of another member", body = ErrorBody))
)]
async fn till_hold_points(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    JsonBody(request): JsonBody<HoldRequest>,
) -> CloudResult<Json<Held>> {
    Ok(Json(
        members::hold_points(&state.db, &device.id, &request).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/till/points/holds/{sale_id}",
    tag = "till",
    security(("deviceToken" = [])),
    params(("sale_id" = String, Path, description = "The sale the points were held for")),
    responses((status = 204, description = "Released, or nothing was held"))
)]
async fn till_release_hold(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    Path(sale_id): Path<String>,
) -> CloudResult<StatusCode> {
    members::release_hold(&state.db, &device.id, &sale_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/v1/till/coupons/holds/{sale_id}",
    tag = "till",
    security(("deviceToken" = [])),
    params(("sale_id" = String, Path, description = "The sale that reserved the coupon")),
    responses((status = 204, description = "Released, or nothing was reserved (a used coupon stays used)"))
)]
async fn till_release_coupon(
    State(state): State<AppState>,
    TillAuth(_device): TillAuth,
    Path(sale_id): Path<String>,
) -> CloudResult<StatusCode> {
    members::release_coupon(&state.db, &sale_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/till/coupons/holds",
    tag = "till",
    security(("deviceToken" = [])),
    request_body = CouponHoldRequest,
    responses((status = 204, description = "Reserved for the sale"), (status = 404, description = "No such coupon", body = ErrorBody), (status = 409, description = "The coupon is used, reserved by another sale or out of date", body = ErrorBody))
)]
async fn till_reserve_coupon(
    State(state): State<AppState>,
    TillAuth(_device): TillAuth,
    JsonBody(request): JsonBody<CouponHoldRequest>,
) -> CloudResult<StatusCode> {
    members::reserve_coupon(&state.db, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes_are_added_only_through_routes_so_each_is_in_the_document() {
        let source = include_str!("api.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let plain_route = concat!(".", "route(");
        assert!(
            !code.contains(plain_route),
            "a route added with Router::route would be missing from /openapi.json: use routes!"
        );
        let routed: usize = code
            .split("routes!(")
            .skip(1)
            .map(|call| call[..call.find(')').unwrap_or(0)].split(',').count())
            .sum();
        assert_eq!(
            code.matches("#[utoipa::path(").count(),
            routed,
            "every handler with a #[utoipa::path] is routed through routes!, and only those"
        );
    }
}

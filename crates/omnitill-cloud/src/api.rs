//! The HTTP API: sync endpoints for tills, an API for the e-shop, and the OpenAPI document.
//!
//! Tills authenticate with their device token and must send the protocol version header; the
//! e-shop authenticates with an API key. Bodies are limited to `MAX_BODY_BYTES`, malformed or
//! oversized ones get a JSON error and write nothing, and responses above 1 KiB are
//! gzip-compressed (fastest level) when the client accepts it.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use omnitill_protocol::enrol::{EnrolRequest, EnrolResponse};
use omnitill_protocol::push::{PushRequest, PushResponse};
use omnitill_protocol::{MAX_BODY_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::db::Db;
use crate::devices::{self, Device};
use crate::error::{CloudError, CloudResult};
use crate::{catalog, members, online, openapi, stock, sync};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let tills = Router::new()
        .route("/v1/enrol", post(enrol))
        .route("/v1/sync/push", post(push))
        .route("/v1/sync/pull", get(pull))
        .route("/v1/till/members/lookup", post(till_member_lookup))
        .route("/v1/till/members/{id}/history", get(till_member_history))
        .route("/v1/till/points/holds", post(till_hold_points))
        .route("/v1/till/points/holds/{sale_id}", delete(till_release_hold))
        .route("/v1/till/coupons/holds", post(till_reserve_coupon))
        .route(
            "/v1/till/coupons/holds/{sale_id}",
            delete(till_release_coupon),
        )
        .layer(middleware::from_fn(require_protocol));
    let eshop = Router::new()
        .route("/v1/stores", get(list_stores))
        .route("/v1/stores/{store}/stock", get(store_stock))
        .route("/v1/stores/{store}/oversold", get(store_oversold))
        .route("/v1/stores/{store}/sales", get(store_sales))
        .route("/v1/online-sales", post(online_sale))
        .route("/v1/products/{sku}/prices", put(set_price))
        .route("/v1/members", post(member_sign_up).get(member_look_up))
        .route("/v1/members/{id}", get(member_get))
        .route("/v1/members/{id}/history", get(member_history))
        .route("/v1/members/{id}/earn", post(member_earn))
        .route("/v1/members/{id}/redeem", post(member_redeem))
        .route("/v1/members/{id}/adjust", post(member_adjust))
        .route("/v1/members/{id}/coupons", post(member_issue_coupon))
        .route("/v1/members/{id}/qr", post(member_qr))
        .route("/v1/coupons/{id}/redeem", post(coupon_redeem))
        .route(
            "/v1/loyalty/rules",
            get(loyalty_rules_get).put(loyalty_rules_put),
        );
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi_document))
        .merge(tills)
        .merge(eshop)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(compression())
        .layer(middleware::from_fn(stamp_version))
        .layer(middleware::from_fn(run_to_completion))
        .with_state(state)
}

/// Every request runs to its end, even when its client goes away mid-request: a till killed
/// during a push, a dropped link. Axum drops a request's future when its connection closes,
/// and a future dropped while sqlx waits for PostgreSQL's answer to `BEGIN` leaves that pooled
/// connection inside a transaction nothing ends (sqlx issue #4393): the pool hands it to later
/// requests, whose statements then run, and hold locks, inside it. Run on its own task, a
/// request's transactions always end in a commit or a rollback.
async fn run_to_completion(request: Request, next: Next) -> Response {
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
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(
            SizeAbove::new(COMPRESS_ABOVE_BYTES)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE),
        )
}

/// Every response names the protocol version this cloud speaks.
async fn stamp_version(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    response
}

/// Till requests must speak this cloud's protocol version.
async fn require_protocol(request: Request, next: Next) -> Response {
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

/// A JSON body whose every refusal is a JSON `CloudError`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = CloudError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(CloudError::PayloadTooLarge(MAX_BODY_BYTES))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(CloudError::BadRequest(
                "the body must be JSON with Content-Type: application/json".into(),
            )),
            Err(rejection) => Err(CloudError::BadRequest(format!(
                "the body is not valid: {}",
                rejection.body_text()
            ))),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

/// An authenticated till.
pub struct TillAuth(pub Device);

impl FromRequestParts<AppState> for TillAuth {
    type Rejection = CloudError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| CloudError::Unauthorized("a device token is required".into()))?;
        Ok(TillAuth(devices::authenticate(&state.db, token).await?))
    }
}

/// An authenticated e-shop or other system.
pub struct ApiKey;

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = CloudError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(parts)
            .ok_or_else(|| CloudError::Unauthorized("an API key is required".into()))?;
        devices::check_api_key(&state.db, key).await?;
        Ok(ApiKey)
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true, "protocol": PROTOCOL_VERSION }))
}

async fn openapi_document() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn enrol(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<EnrolRequest>,
) -> CloudResult<Json<EnrolResponse>> {
    Ok(Json(
        devices::enrol(
            &state.db,
            &request.code,
            &request.device_name,
            request.first_seq,
        )
        .await?,
    ))
}

async fn push(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    JsonBody(request): JsonBody<PushRequest>,
) -> CloudResult<Json<PushResponse>> {
    Ok(Json(sync::push(&state.db, &device, &request).await?))
}

#[derive(Debug, Deserialize)]
struct PullQuery {
    cursor: Option<i64>,
    limit: Option<i64>,
}

async fn pull(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> CloudResult<Json<sync::FeedPage>> {
    let Query(query) = query.map_err(|e| {
        CloudError::BadRequest(format!("the query is not valid: {}", e.body_text()))
    })?;
    Ok(Json(
        sync::pull(
            &state.db,
            &device,
            query.cursor.unwrap_or(0),
            query.limit.unwrap_or(1_000),
        )
        .await?,
    ))
}

async fn list_stores(
    State(state): State<AppState>,
    _: ApiKey,
) -> CloudResult<Json<Vec<devices::Store>>> {
    Ok(Json(devices::list_stores(&state.db).await?))
}

#[derive(Debug, Deserialize)]
struct StockQuery {
    sku: Option<String>,
}

#[derive(Debug, Serialize)]
struct StockLevel {
    sku: String,
    on_hand: i64,
}

async fn store_stock(
    State(state): State<AppState>,
    _: ApiKey,
    Path(store): Path<String>,
    Query(query): Query<StockQuery>,
) -> CloudResult<Json<Vec<StockLevel>>> {
    let store_id = if store == stock::ONLINE_POOL {
        store
    } else {
        devices::find_store(&state.db, &store).await?.id
    };
    let levels = stock::levels(&state.db, &store_id, query.sku.as_deref()).await?;
    Ok(Json(
        levels
            .into_iter()
            .map(|(sku, on_hand)| StockLevel { sku, on_hand })
            .collect(),
    ))
}

async fn store_oversold(
    State(state): State<AppState>,
    _: ApiKey,
    Path(store): Path<String>,
) -> CloudResult<Json<Vec<StockLevel>>> {
    let store = devices::find_store(&state.db, &store).await?;
    let levels = stock::oversold(&state.db, &store.id).await?;
    Ok(Json(
        levels
            .into_iter()
            .map(|(sku, on_hand)| StockLevel { sku, on_hand })
            .collect(),
    ))
}

#[derive(Debug, Serialize)]
struct SaleSummary {
    id: String,
    receipt_no: String,
    channel: String,
    device_id: Option<String>,
    created_at_ms: i64,
    total_minor: i64,
}

#[derive(Debug, Deserialize)]
struct SalesQuery {
    limit: Option<i64>,
}

async fn store_sales(
    State(state): State<AppState>,
    _: ApiKey,
    Path(store): Path<String>,
    Query(query): Query<SalesQuery>,
) -> CloudResult<Json<Vec<SaleSummary>>> {
    let store = devices::find_store(&state.db, &store).await?;
    let rows: Vec<(String, String, String, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT id, receipt_no, channel, device_id, created_at, total_minor FROM sale
         WHERE store_id = $1 ORDER BY created_at DESC, receipt_no DESC LIMIT $2",
    )
    .bind(&store.id)
    .bind(query.limit.unwrap_or(100).clamp(1, 10_000))
    .fetch_all(&state.db.read)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(
                |(id, receipt_no, channel, device_id, created_at_ms, total_minor)| SaleSummary {
                    id,
                    receipt_no,
                    channel,
                    device_id,
                    created_at_ms,
                    total_minor,
                },
            )
            .collect(),
    ))
}

async fn online_sale(
    State(state): State<AppState>,
    _: ApiKey,
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

#[derive(Debug, Deserialize)]
struct PriceChange {
    effective_from_ms: i64,
    price_minor: i64,
}

async fn set_price(
    State(state): State<AppState>,
    _: ApiKey,
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

async fn member_sign_up(
    State(state): State<AppState>,
    _: ApiKey,
    JsonBody(sign_up): JsonBody<members::SignUp>,
) -> CloudResult<(StatusCode, Json<members::Member>)> {
    Ok((
        StatusCode::CREATED,
        Json(members::sign_up(&state.db, &sign_up).await?),
    ))
}

#[derive(Debug, Deserialize)]
struct MemberQuery {
    phone: Option<String>,
    email: Option<String>,
    card: Option<String>,
}

async fn member_look_up(
    State(state): State<AppState>,
    _: ApiKey,
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

async fn member_get(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
) -> CloudResult<Json<members::Member>> {
    Ok(Json(members::get(&state.db, &id).await?))
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    limit: Option<i64>,
}

async fn member_history(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> CloudResult<Json<members::History>> {
    let Query(query) = query.map_err(|e| {
        CloudError::BadRequest(format!("the query is not valid: {}", e.body_text()))
    })?;
    Ok(Json(
        members::history(&state.db, &id, query.limit.unwrap_or(100)).await?,
    ))
}

async fn member_earn(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    JsonBody(order): JsonBody<members::OrderEarn>,
) -> CloudResult<Json<members::PointsBooked>> {
    Ok(Json(members::earn_online(&state.db, &id, &order).await?))
}

async fn member_redeem(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    JsonBody(order): JsonBody<members::OrderRedeem>,
) -> CloudResult<Json<members::PointsBooked>> {
    Ok(Json(members::redeem_online(&state.db, &id, &order).await?))
}

async fn member_adjust(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    JsonBody(adjustment): JsonBody<members::Adjustment>,
) -> CloudResult<Json<members::PointsBooked>> {
    Ok(Json(members::adjust(&state.db, &id, &adjustment).await?))
}

#[derive(Debug, Serialize)]
struct CouponIssued {
    coupon_id: String,
}

async fn member_issue_coupon(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    JsonBody(coupon): JsonBody<members::NewCoupon>,
) -> CloudResult<(StatusCode, Json<CouponIssued>)> {
    let coupon_id = members::issue_coupon(&state.db, &id, &coupon).await?;
    Ok((StatusCode::CREATED, Json(CouponIssued { coupon_id })))
}

async fn member_qr(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
) -> CloudResult<Json<members::QrToken>> {
    Ok(Json(members::qr_token(&state.db, &id, 300).await?))
}

#[derive(Debug, Deserialize)]
struct CouponRedeem {
    order_ref: String,
}

async fn coupon_redeem(
    State(state): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<CouponRedeem>,
) -> CloudResult<StatusCode> {
    members::redeem_coupon_online(&state.db, &id, &request.order_ref).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn loyalty_rules_get(
    State(state): State<AppState>,
    _: ApiKey,
) -> CloudResult<Json<omnitill_protocol::loyalty::LoyaltyRules>> {
    let mut conn = state.db.read.acquire().await?;
    Ok(Json(members::rules(&mut conn).await?))
}

async fn loyalty_rules_put(
    State(state): State<AppState>,
    _: ApiKey,
    JsonBody(rules): JsonBody<omnitill_protocol::loyalty::LoyaltyRules>,
) -> CloudResult<StatusCode> {
    members::set_rules(&state.db, &rules).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn till_member_lookup(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    JsonBody(request): JsonBody<omnitill_protocol::loyalty::MemberLookupRequest>,
) -> CloudResult<Json<omnitill_protocol::loyalty::CachedMember>> {
    Ok(Json(
        crate::lookup_keys::till_look_up(&state.db, &device, &request).await?,
    ))
}

/// How many history lines a till is sent: what a look-up at the counter shows.
const TILL_HISTORY_LINES: i64 = 50;

/// A member's history across channels, for the floor staff's look-up at a till.
async fn till_member_history(
    State(state): State<AppState>,
    TillAuth(_device): TillAuth,
    Path(id): Path<String>,
) -> CloudResult<Json<members::History>> {
    Ok(Json(
        members::history(&state.db, &id, TILL_HISTORY_LINES).await?,
    ))
}

async fn till_hold_points(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    JsonBody(request): JsonBody<members::HoldRequest>,
) -> CloudResult<Json<members::Held>> {
    Ok(Json(
        members::hold_points(&state.db, &device.id, &request).await?,
    ))
}

async fn till_release_hold(
    State(state): State<AppState>,
    TillAuth(device): TillAuth,
    Path(sale_id): Path<String>,
) -> CloudResult<StatusCode> {
    members::release_hold(&state.db, &device.id, &sale_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn till_release_coupon(
    State(state): State<AppState>,
    TillAuth(_device): TillAuth,
    Path(sale_id): Path<String>,
) -> CloudResult<StatusCode> {
    members::release_coupon(&state.db, &sale_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn till_reserve_coupon(
    State(state): State<AppState>,
    TillAuth(_device): TillAuth,
    JsonBody(request): JsonBody<members::CouponHoldRequest>,
) -> CloudResult<StatusCode> {
    members::reserve_coupon(&state.db, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

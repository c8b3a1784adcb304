//! The e-shop's store routes: the brand's stores, a store's stock (on hand, reserved by pickup
//! orders, available), what it oversold, and its sales. Each is a few lines over `devices` and
//! `stock`; their `#[utoipa::path]` entries are part of `/openapi.json`.

use axum::Json;
use axum::extract::{Path, Query, State};
use omnitill_protocol::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiKey, AppState, need};
use crate::devices;
use crate::error::CloudResult;
use crate::stock;

/// The store routes, for `api::routes`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores))
        .routes(routes!(store_stock))
        .routes(routes!(store_oversold))
        .routes(routes!(store_sales))
}

#[utoipa::path(
    get,
    path = "/v1/stores",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    responses((status = 200, description = "Every store", body = Vec<devices::Store>))
)]
async fn list_stores(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
) -> CloudResult<Json<Vec<devices::Store>>> {
    Ok(Json(devices::list_stores(&state.db).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StockQuery {
    /// Only this SKU.
    sku: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct StockLevel {
    sku: String,
    on_hand: i64,
    /// Held for open pickup orders at the store.
    reserved: i64,
    /// What may still be sold or promised: on hand less reserved.
    available: i64,
}

impl StockLevel {
    fn new(sku: String, on_hand: i64, reserved: i64) -> StockLevel {
        StockLevel {
            sku,
            on_hand,
            reserved,
            available: on_hand.saturating_sub(reserved),
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/stores/{store}/stock",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(("store" = String, Path, description = "A store's id or code, or `online` for the e-shop's pool"), StockQuery),
    responses((status = 200, description = "Stock per SKU", body = Vec<StockLevel>), (status = 404, description = "No such store", body = ErrorBody))
)]
async fn store_stock(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
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
            .map(|(sku, on_hand, reserved)| StockLevel::new(sku, on_hand, reserved))
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/stores/{store}/oversold",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(("store" = String, Path, description = "A store's id or code")),
    responses((status = 200, description = "SKUs whose stock is below zero", body = Vec<StockLevel>), (status = 404, description = "No such store", body = ErrorBody))
)]
async fn store_oversold(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
    Path(store): Path<String>,
) -> CloudResult<Json<Vec<StockLevel>>> {
    let store = devices::find_store(&state.db, &store).await?;
    let levels = stock::oversold(&state.db, &store.id).await?;
    Ok(Json(
        levels
            .into_iter()
            .map(|(sku, on_hand, reserved)| StockLevel::new(sku, on_hand, reserved))
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
struct SaleSummary {
    id: String,
    receipt_no: String,
    channel: String,
    device_id: Option<String>,
    created_at_ms: i64,
    total_minor: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SalesQuery {
    /// How many sales: 100 when absent; values outside 1 to 10,000 are taken as the nearest.
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/stores/{store}/sales",
    tag = "e-shop",
    security(("apiKey" = ["read"])),
    params(("store" = String, Path, description = "A store's id or code"), SalesQuery),
    responses((status = 200, description = "Sales from the store's tills and online, newest first", body = Vec<SaleSummary>), (status = 404, description = "No such store", body = ErrorBody))
)]
async fn store_sales(
    State(state): State<AppState>,
    _: ApiKey<need::Read>,
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

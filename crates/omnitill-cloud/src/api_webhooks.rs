//! The brand's webhook endpoints: register one (its secret is answered once), list them,
//! remove one. Admin scope; a few lines each over `webhooks`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use omnitill_protocol::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiKey, AppState, JsonBody, need};
use crate::error::CloudResult;
use crate::webhooks::{self, Endpoint, NewEndpoint};

/// The webhook routes, for `api::routes`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook_register, webhook_list))
        .routes(routes!(webhook_remove))
}

#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "Registered: the answer carries the signing secret, shown only now", body = Endpoint),
        (status = 400, description = "An address events may not go to", body = ErrorBody),
        (status = 409, description = "Already at the most endpoints a brand may have", body = ErrorBody)
    )
)]
async fn webhook_register(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    JsonBody(new): JsonBody<NewEndpoint>,
) -> CloudResult<(StatusCode, Json<Endpoint>)> {
    Ok((
        StatusCode::CREATED,
        Json(webhooks::register(&state.db, &new).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    responses((status = 200, description = "The registered endpoints, without their secrets", body = Vec<Endpoint>))
)]
async fn webhook_list(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
) -> CloudResult<Json<Vec<Endpoint>>> {
    Ok(Json(webhooks::list(&state.db).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "e-shop",
    security(("apiKey" = ["admin"])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Removed: nothing more is sent to it"),
        (status = 404, description = "No such endpoint", body = ErrorBody)
    )
)]
async fn webhook_remove(
    State(state): State<AppState>,
    _: ApiKey<need::Admin>,
    Path(id): Path<String>,
) -> CloudResult<StatusCode> {
    webhooks::remove(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

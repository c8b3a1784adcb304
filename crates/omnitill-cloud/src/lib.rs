//! omnitill-cloud: the brand's cloud service (axum, SQLite by default, PostgreSQL in production).
//!
//! Layout: `db` (pools, backends, migrations), `api` (routes, auth extractors, JSON errors),
//! `sync` (applying pushed operations exactly once; serving the change feed), `feed` (the
//! change feed), `catalog`, `stock`, `online` (e-shop orders), `members` (members, points, coupons,
//! conflicts), `devices` (stores, enrolment,
//! tokens, API keys), `openapi`, `demo` (the demo brand), and `error`.

pub mod api;
pub mod catalog;
pub mod db;
pub mod demo;
pub mod demo_members;
pub mod devices;
pub mod error;
pub mod feed;
pub mod members;
pub mod online;
pub mod openapi;
pub mod stock;
pub mod sync;

pub use db::Db;
pub use error::{CloudError, CloudResult};

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    db: Db,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = api::router(api::AppState { db });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

//! omnitill-cloud: the brand's cloud service (axum, SQLite by default, PostgreSQL in production).
//!
//! Layout: `db` (pools, backends, migrations), `api` (routes, auth extractors, JSON errors),
//! `sync` (applying pushed operations exactly once; serving the change feed), `feed` (the
//! change feed), `catalog`, `stock`, `online` (e-shop orders), `members` (members, points, coupons,
//! conflicts), `lookup_keys` (members' memory-hard phone and e-mail look-up keys, per store), `devices` (stores, enrolment,
//! tokens, API keys), `openapi`, `demo` (the demo brand), and `error`.

#![recursion_limit = "256"]

pub mod api;
pub mod catalog;
pub mod db;
pub mod demo;
pub mod demo_members;
pub mod devices;
pub mod error;
pub mod feed;
pub mod lookup_keys;
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
    tokio::spawn(hourly_jobs(db.clone()));
    let app = api::router(api::AppState { db });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// How long after start the first hourly jobs run, and how often after that. Each run books at
/// most one expiry per member and day and one birthday coupon per member and birthday month,
/// so running hourly costs little and catches up after any downtime.
const JOBS_FIRST: std::time::Duration = std::time::Duration::from_secs(300);
const JOBS_EVERY: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Expires old points (the brand's `expiry_months`) and issues birthday coupons while the cloud
/// serves.
async fn hourly_jobs(db: Db) {
    let start = tokio::time::Instant::now() + JOBS_FIRST;
    let mut ticks = tokio::time::interval_at(start, JOBS_EVERY);
    loop {
        ticks.tick().await;
        let now = chrono::Utc::now();
        match members::expire_points(&db, now).await {
            Ok(0) => {}
            Ok(touched) => eprintln!("omnitill-cloud: points expired for {touched} member(s)"),
            Err(error) => eprintln!("omnitill-cloud: the hourly points expiry failed: {error}"),
        }
        match members::issue_birthday_coupons(&db, now).await {
            Ok(0) => {}
            Ok(issued) => eprintln!("omnitill-cloud: {issued} birthday coupon(s) issued"),
            Err(error) => eprintln!("omnitill-cloud: the hourly birthday coupons failed: {error}"),
        }
    }
}

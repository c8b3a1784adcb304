//! omnitill-cloud: the brand's cloud service (axum, SQLite by default, PostgreSQL in production).
//!
//! Layout: `db` (pools, backends, migrations), `api` (routes, JSON errors), `api_layers`
//! (run to completion, gzip, protocol version), `auth` (tills' tokens, API keys and their
//! scopes, source addresses), `push` (applying pushed operations exactly once, each checked
//! against the till that pushes it), `pull` (serving the change feed), `till_identity`
//! (which till a device is, and the receipt prefixes it owns), `feed` (the
//! change feed), `catalog`, `stock`, `online` (e-shop orders), `members` (members, points, coupons,
//! conflicts), `pickups` and `api_pickups` (click-and-collect orders and their e-shop routes),
//! `webhooks` (signed events to the e-shop, delivered at least once), `interests` (members'
//! e-shop favourites and recently viewed products, for the shop floor), `bought_together`
//! (what sells together, daily), `lookup_keys` (members' memory-hard phone and e-mail look-up keys, per store), `locks` (row locks for check-then-write), `idempotency` (one request per key),
//! `jobs` (hourly jobs once per period across processes), `clock`, `devices` (stores, enrolment
//! codes, tokens), `enrolment_limit` (failed enrolment attempts per address), `api_keys` and
//! `scopes` (e-shop keys and what each may do), `openapi` (the document generated from the
//! routes), `rejections` (every refusal as JSON), `demo` (the demo brand), and `error`.

#![recursion_limit = "256"]

pub mod api;
pub mod api_interests;
pub mod api_keys;
pub mod api_layers;
pub mod api_pickups;
pub mod api_stores;
pub mod api_webhooks;
pub mod auth;
pub mod bought_together;
pub mod catalog;
pub mod clock;
pub mod db;
pub mod demo;
pub mod demo_floor;
pub mod demo_members;
pub mod devices;
pub mod enrolment_limit;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod interests;
pub mod jobs;
pub mod json_batches;
pub mod json_body;
pub mod locks;
pub mod lookup_keys;
pub mod member_floor;
pub mod members;
pub mod online;
pub mod openapi;
pub mod pg_copy;
pub mod pickups;
pub mod pull;
pub mod push;
pub mod rejections;
pub mod scopes;
pub mod stock;
pub mod till_identity;
pub mod webhooks;

pub use db::Db;
pub use error::{CloudError, CloudResult};

/// How a serving cloud sends webhooks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// Deliver webhooks only to loopback addresses (demos and tests: `--webhooks-loopback-only`).
    pub webhooks_loopback_only: bool,
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    db: Db,
    options: ServeOptions,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::spawn(hourly_jobs(db.clone()));
    tokio::spawn(webhooks::sender::run(
        db.clone(),
        options.webhooks_loopback_only,
    ));
    let pushes = push::group_commit::GroupCommit::start(&db);
    let app = api::router(api::AppState { db, pushes });
    // The peer's address reaches handlers (enrolment attempts are counted per address).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// How long after start the first hourly jobs run, and how often after that. Each period (an
/// hour) is run by one process however many serve the brand (`jobs`), and each job books at
/// most one expiry per member and day and one birthday coupon per member and birthday month, so
/// running hourly costs little and catches up after any downtime.
const JOBS_FIRST: std::time::Duration = std::time::Duration::from_secs(300);
const JOBS_EVERY: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Expires old points (the brand's `expiry_months`) and issues birthday coupons while the cloud
/// serves, once per period across processes.
async fn hourly_jobs(db: Db) {
    let owner = jobs::process_owner();
    let start = tokio::time::Instant::now() + JOBS_FIRST;
    let mut ticks = tokio::time::interval_at(start, JOBS_EVERY);
    loop {
        ticks.tick().await;
        for (job, outcome) in jobs::run_due(&db, &owner).await {
            match outcome {
                Ok(jobs::JobOutcome::Ran { touched }) if touched > 0 => {
                    eprintln!("omnitill-cloud: {}: {touched} member(s)", job.name());
                }
                Ok(_) => {}
                Err(error) => {
                    eprintln!("omnitill-cloud: the hourly {} failed: {error}", job.name())
                }
            }
        }
    }
}

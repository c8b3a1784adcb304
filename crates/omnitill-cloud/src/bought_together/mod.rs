//! What sells together: for each product, the products most often in the same sale, from both
//! channels' sales (till sales and e-shop orders, every row of `sale`) of the last
//! `WINDOW_DAYS`, published to every store's tills for the shop floor's "you may also like".
//!
//! A pair's count is the number of sales that held both products (a sale with a product on
//! two lines counts once; refunds do not take a sale back). A product keeps its `COMPANIONS`
//! most frequent companions seen in at least `MIN_SALES` sales, most frequent first, ties by
//! SKU. The hourly job runs `compute` once a day (`due`); the demo runs it after seeding.
//!
//! The counts are kept, not recounted (migration 0017): `counting` adds the pairs of the sales
//! that arrived since the last run and takes away those of the sales that left the window,
//! `lists` ranks again only the products whose counts changed and publishes only the lists
//! that differ from what the tills were last sent (`Change::BoughtTogether`, brand-wide; an
//! empty list withdraws a product). `compute` does all of it in one transaction that first
//! locks the count's one state row, so a crash leaves nothing half-counted and two runs at
//! once (two cloud processes) count every sale exactly once.

mod counting;
mod lists;

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::CloudResult;

/// How many companions a product keeps.
pub const COMPANIONS: usize = 5;
/// The fewest sales a pair needs to count as bought together.
pub const MIN_SALES: i64 = 2;
/// How far back sales count.
pub const WINDOW_DAYS: i64 = 365;
/// How often the job recomputes.
const EVERY_MS: i64 = 24 * 3_600_000;
/// A day, in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// What one computation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Computed {
    /// Whether every pair was counted again from the sales: the first run, or a SQLite
    /// database whose sales' rowids no longer match what was counted.
    pub full: bool,
    /// Sales that arrived since the last run and were taken (on the first run, those queued
    /// since the migration on PostgreSQL, every sale on SQLite); each is taken exactly once.
    pub arrived: u64,
    /// Sales whose pairs were added: the arrived ones inside the window (on a full count,
    /// every sale of the window), and counted ones the window takes in again when the clock
    /// went back.
    pub sales_added: u64,
    /// Counted sales whose pairs were taken away because they left the window.
    pub sales_removed: u64,
    /// Products whose pair counts changed, whose lists were ranked again (every product with
    /// a pair on a full count).
    pub products_ranked: u64,
    /// Lists published to the tills: new, changed or withdrawn.
    pub lists_published: u64,
}

/// Whether a day has passed since the last computation (or there was none).
pub async fn due(db: &Db, now: DateTime<Utc>) -> CloudResult<bool> {
    let last: Option<(i64,)> =
        sqlx::query_as("SELECT computed_at FROM bought_together_run WHERE id = 1")
            .fetch_optional(&db.read)
            .await?;
    Ok(last.is_none_or(|(at,)| now.timestamp_millis().saturating_sub(at) >= EVERY_MS))
}

/// Brings every product's companions up to `now` and publishes what changed; returns how
/// many products' lists were published.
pub async fn compute(db: &Db, now: DateTime<Utc>) -> CloudResult<usize> {
    let computed = compute_counted(db, now).await?;
    Ok(usize::try_from(computed.lists_published).unwrap_or(usize::MAX))
}

/// `compute`, answering what it did.
pub async fn compute_counted(db: &Db, now: DateTime<Utc>) -> CloudResult<Computed> {
    let now_ms = now.timestamp_millis();
    let window_from = now_ms.saturating_sub(WINDOW_DAYS.saturating_mul(DAY_MS));
    let mut tx = db.write.begin().await?;
    // Takes the state row's lock first: a second run waits here, then sees this one's work.
    let counted = counting::count(&mut tx, db.backend, window_from, now_ms).await?;
    let ranked = lists::rank_changed(&mut tx, db.backend, counted.full).await?;
    counting::clear_delta(&mut tx).await?;
    sqlx::query(
        "INSERT INTO bought_together_run (id, computed_at) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET computed_at = excluded.computed_at",
    )
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    // Last: on PostgreSQL the feed's counter row, which orders every writer of the feed, is
    // locked from here to the commit.
    let published = lists::publish(&mut tx, db.backend, &ranked.changes).await?;
    tx.commit().await?;
    Ok(Computed {
        full: counted.full,
        arrived: counted.arrived,
        sales_added: counted.sales_added,
        sales_removed: counted.sales_removed,
        products_ranked: ranked.products,
        lists_published: published,
    })
}

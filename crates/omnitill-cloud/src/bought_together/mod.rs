//! What sells together: for each product, the products most often in the same sale, from both
//! channels' sales of the last `WINDOW_DAYS`, published to every store's tills for the shop
//! floor's "you may also like".
//!
//! `compute` counts, for every pair of products, the sales that held both (a sale with a
//! product on two lines counts once), keeps each product's `COMPANIONS` most frequent
//! companions seen in at least `MIN_SALES` sales, and publishes only what changed since the
//! last run (`Change::BoughtTogether`, brand-wide; an empty list withdraws a product). The
//! hourly job runs it once a day (`due`); the demo runs it after seeding.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use omnitill_protocol::floor::{BoughtTogether, Companion};
use omnitill_protocol::pull::Change;

use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};

/// How many companions a product keeps.
pub const COMPANIONS: usize = 5;
/// The fewest sales a pair needs to count as bought together.
pub const MIN_SALES: i64 = 2;
/// How far back sales count.
pub const WINDOW_DAYS: i64 = 365;
/// How often the job recomputes.
const EVERY_MS: i64 = 24 * 3_600_000;

/// Whether a day has passed since the last computation (or there was none).
pub async fn due(db: &Db, now: DateTime<Utc>) -> CloudResult<bool> {
    let last: Option<(i64,)> =
        sqlx::query_as("SELECT computed_at FROM bought_together_run WHERE id = 1")
            .fetch_optional(&db.read)
            .await?;
    Ok(last.is_none_or(|(at,)| now.timestamp_millis().saturating_sub(at) >= EVERY_MS))
}

/// Computes every product's companions as of `now` and publishes what changed; returns how
/// many products' lists changed.
pub async fn compute(db: &Db, now: DateTime<Utc>) -> CloudResult<usize> {
    let now_ms = now.timestamp_millis();
    let since = now_ms.saturating_sub(WINDOW_DAYS.saturating_mul(86_400_000));
    let pairs: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT a.sku, b.sku, count(DISTINCT a.sale_id)
         FROM sale_line a
         JOIN sale_line b ON b.sale_id = a.sale_id AND b.sku <> a.sku
         JOIN sale s ON s.id = a.sale_id
         WHERE s.created_at >= $1
         GROUP BY a.sku, b.sku",
    )
    .bind(since)
    .fetch_all(&db.read)
    .await?;
    let mut lists: BTreeMap<String, Vec<Companion>> = BTreeMap::new();
    for (sku, companion, sales) in pairs {
        if sales >= MIN_SALES {
            lists.entry(sku).or_default().push(Companion {
                sku: companion,
                sales,
            });
        }
    }
    for companions in lists.values_mut() {
        companions.sort_by(|a, b| b.sales.cmp(&a.sales).then_with(|| a.sku.cmp(&b.sku)));
        companions.truncate(COMPANIONS);
    }
    let mut tx = db.write.begin().await?;
    let published: Vec<(String, String)> = sqlx::query_as("SELECT sku, data FROM bought_together")
        .fetch_all(&mut *tx)
        .await?;
    let mut changed = 0;
    for (sku, _) in published.iter().filter(|(sku, _)| !lists.contains_key(sku)) {
        sqlx::query("DELETE FROM bought_together WHERE sku = $1")
            .bind(sku)
            .execute(&mut *tx)
            .await?;
        let withdrawn = BoughtTogether {
            sku: sku.clone(),
            companions: Vec::new(),
        };
        feed::publish(
            &mut tx,
            ALL_STORES,
            "bought_together",
            sku,
            &Change::BoughtTogether(withdrawn),
        )
        .await?;
        changed += 1;
    }
    let before: BTreeMap<String, String> = published.into_iter().collect();
    for (sku, companions) in lists {
        let together = BoughtTogether {
            sku: sku.clone(),
            companions,
        };
        let data = serde_json::to_string(&together)
            .map_err(|e| CloudError::Internal(format!("companions cannot be encoded: {e}")))?;
        if before.get(&sku) == Some(&data) {
            continue;
        }
        sqlx::query(
            "INSERT INTO bought_together (sku, data) VALUES ($1, $2)
             ON CONFLICT (sku) DO UPDATE SET data = excluded.data",
        )
        .bind(&sku)
        .bind(&data)
        .execute(&mut *tx)
        .await?;
        feed::publish(
            &mut tx,
            ALL_STORES,
            "bought_together",
            &sku,
            &Change::BoughtTogether(together),
        )
        .await?;
        changed += 1;
    }
    sqlx::query(
        "INSERT INTO bought_together_run (id, computed_at) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET computed_at = excluded.computed_at",
    )
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(changed)
}

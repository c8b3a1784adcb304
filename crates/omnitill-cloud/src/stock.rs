//! Stock: movements per store and SKU, their running level, and what the feed says of it.
//!
//! A movement and the level it changes are written in one transaction, and the new level is
//! published to the store's feed. Levels may go negative: the store oversold, which is flagged
//! (see `oversold`) and never blocks a sale.

use omnitill_protocol::pull::Change;
use sqlx::AnyConnection;

use crate::db::Db;
use crate::error::CloudResult;
use crate::feed;

/// The stock pool the e-shop sells from when an order ships from the warehouse.
pub const ONLINE_POOL: &str = "online";

/// Records one movement and publishes the new level. Returns the level after it.
#[allow(clippy::too_many_arguments)]
pub async fn move_stock(
    tx: &mut AnyConnection,
    movement_id: &str,
    store_id: &str,
    sku: &str,
    delta: i64,
    kind: &str,
    ref_id: &str,
    at_ms: i64,
) -> CloudResult<i64> {
    sqlx::query(
        "INSERT INTO stock_movement (id, store_id, sku, delta, kind, ref_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(movement_id)
    .bind(store_id)
    .bind(sku)
    .bind(delta)
    .bind(kind)
    .bind(ref_id)
    .bind(at_ms)
    .execute(&mut *tx)
    .await?;
    let (on_hand,): (i64,) = sqlx::query_as(
        "INSERT INTO stock_level (store_id, sku, on_hand) VALUES ($1, $2, $3)
         ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_level.on_hand + excluded.on_hand
         RETURNING on_hand",
    )
    .bind(store_id)
    .bind(sku)
    .bind(delta)
    .fetch_one(&mut *tx)
    .await?;
    if store_id != ONLINE_POOL {
        let change = Change::Stock {
            sku: sku.to_owned(),
            on_hand,
        };
        feed::publish(&mut *tx, store_id, "stock", sku, &change).await?;
    }
    Ok(on_hand)
}

/// A store's stock levels, optionally for some SKUs only.
pub async fn levels(db: &Db, store_id: &str, sku: Option<&str>) -> CloudResult<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = match sku {
        Some(sku) => {
            sqlx::query_as("SELECT sku, on_hand FROM stock_level WHERE store_id = $1 AND sku = $2")
                .bind(store_id)
                .bind(sku)
                .fetch_all(&db.read)
                .await?
        }
        None => {
            sqlx::query_as("SELECT sku, on_hand FROM stock_level WHERE store_id = $1 ORDER BY sku")
                .bind(store_id)
                .fetch_all(&db.read)
                .await?
        }
    };
    Ok(rows)
}

/// SKUs with negative stock in a store.
pub async fn oversold(db: &Db, store_id: &str) -> CloudResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT sku, on_hand FROM stock_level WHERE store_id = $1 AND on_hand < 0 ORDER BY sku",
    )
    .bind(store_id)
    .fetch_all(&db.read)
    .await?)
}

/// A new movement id.
pub fn movement_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

//! Stock: movements per store and SKU, their running level, and what the feed says of it.
//!
//! A movement and the level it changes are written in one transaction, and the new level is
//! published to the store's feed. Levels may go negative: the store oversold, which is flagged
//! (see `oversold`) and never blocks a sale.

use omnitill_protocol::pull::Change;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::db::{Db, batch_statement, placeholders, value_rows};
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

/// One stock movement of a batch (see `move_many`).
#[derive(Debug, Clone)]
pub struct Movement<'a> {
    pub id: String,
    pub sku: &'a str,
    pub delta: i64,
}

/// Locks one statement takes at most.
const LOCK_CHUNK: usize = 500;

/// Takes the level locks of `skus` at `store_id` until the transaction ends, in one order. On
/// PostgreSQL, a writer that moves stock of several SKUs (a push of several sales, an e-shop
/// order of several lines) calls this before it moves any, and before it publishes to the
/// feed: any two such writers then meet on their first common level and wait, instead of each
/// holding a row the other needs (ARCHITECTURE.md, "The cloud under concurrency").
///
/// The locks are transaction-scoped advisory locks, one per store and SKU (`level_lock_key`),
/// taken in key order: they need no row, so a level that does not exist yet is locked too, and
/// nothing is written (a push whose operations are all refused leaves no trace). On SQLite the
/// one writer already runs such writers in turn.
pub async fn lock_levels(tx: &mut AnyConnection, store_id: &str, skus: &[&str]) -> CloudResult<()> {
    if !crate::locks::is_postgres(tx) || skus.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<i64> = skus
        .iter()
        .map(|sku| level_lock_key(store_id, sku))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for chunk in keys.chunks(LOCK_CHUNK) {
        // A VALUES list is scanned in the order written, so the locks are taken in key order.
        let select = format!(
            "SELECT pg_advisory_xact_lock(CAST(k AS BIGINT)) FROM (VALUES {}) AS t(k)",
            (0..chunk.len())
                .map(|row| format!("(${})", row + 1))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut query = sqlx::query(batch_statement(select));
        for key in chunk {
            query = query.bind(*key);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// The advisory lock key of a store's level of a SKU: the first 8 bytes of SHA-256 of
/// `omnitill:stock:<store>:<sku>`, the same in every process. Two levels sharing a key only
/// wait for each other.
pub fn level_lock_key(store_id: &str, sku: &str) -> i64 {
    let digest = Sha256::digest(format!("omnitill:stock:{store_id}:{sku}").as_bytes());
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Rows one batched stock statement writes at most.
const MOVE_CHUNK: usize = 100;

/// Records movements of one kind, for one store and one business fact (`ref_id`), in a few
/// statements, and updates their levels; the new levels are not published here. The caller
/// publishes them with `publish_levels` before its transaction commits (a push does so once,
/// for every SKU it touched), which leaves the feed as publishing after each movement would:
/// it keeps only the newest level of each SKU.
pub async fn move_many(
    tx: &mut AnyConnection,
    store_id: &str,
    kind: &str,
    ref_id: &str,
    at_ms: i64,
    movements: &[Movement<'_>],
) -> CloudResult<()> {
    for chunk in movements.chunks(MOVE_CHUNK) {
        let insert = format!(
            "INSERT INTO stock_movement (id, store_id, sku, delta, kind, ref_id, created_at)
             VALUES {}",
            value_rows(chunk.len(), 7)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for movement in chunk {
            query = query
                .bind(movement.id.as_str())
                .bind(store_id)
                .bind(movement.sku)
                .bind(movement.delta)
                .bind(kind)
                .bind(ref_id)
                .bind(at_ms);
        }
        query.execute(&mut *tx).await?;
        // One row per SKU: an upsert may not touch the same row twice in one statement.
        let mut deltas: Vec<(&str, i64)> = Vec::with_capacity(chunk.len());
        for movement in chunk {
            match deltas.iter_mut().find(|(sku, _)| *sku == movement.sku) {
                Some((_, delta)) => *delta += movement.delta,
                None => deltas.push((movement.sku, movement.delta)),
            }
        }
        let upsert = format!(
            "INSERT INTO stock_level (store_id, sku, on_hand) VALUES {}
             ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_level.on_hand + excluded.on_hand",
            value_rows(deltas.len(), 3)
        );
        let mut query = sqlx::query(batch_statement(upsert));
        for (sku, delta) in deltas {
            query = query.bind(store_id).bind(sku).bind(delta);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Publishes the current level of each of `skus` in a store to its feed, and flags the open
/// pickup orders whose reserved stock the store no longer has (`pickups::flag_short`): a sale
/// never waits for a pickup, and the order says it is short before anyone walks to the shelf.
pub async fn publish_levels(
    tx: &mut AnyConnection,
    store_id: &str,
    skus: &[String],
) -> CloudResult<()> {
    if store_id == ONLINE_POOL {
        return Ok(());
    }
    let mut short = Vec::new();
    for chunk in skus.chunks(MOVE_CHUNK) {
        let select = format!(
            "SELECT sku, on_hand, reserved FROM stock_level WHERE store_id = $1 AND sku IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query =
            sqlx::query_as::<_, (String, i64, i64)>(batch_statement(select)).bind(store_id);
        for sku in chunk {
            query = query.bind(sku.as_str());
        }
        let mut levels = query.fetch_all(&mut *tx).await?;
        // In the order asked, so cursors follow it.
        levels.sort_by_key(|(sku, _, _)| chunk.iter().position(|s| s == sku));
        short.extend(
            levels
                .iter()
                .filter(|(_, on_hand, reserved)| on_hand < reserved)
                .map(|(sku, _, _)| sku.clone()),
        );
        let changes: Vec<(String, Change)> = levels
            .into_iter()
            .map(|(sku, on_hand, _)| {
                let change = Change::Stock {
                    sku: sku.clone(),
                    on_hand,
                };
                (sku, change)
            })
            .collect();
        feed::publish_many(&mut *tx, store_id, "stock", &changes).await?;
    }
    if !short.is_empty() {
        crate::pickups::flag_short(tx, store_id, &short).await?;
    }
    Ok(())
}

/// A store's stock levels, optionally for one SKU only: (SKU, on hand, reserved by open
/// pickup orders).
pub async fn levels(
    db: &Db,
    store_id: &str,
    sku: Option<&str>,
) -> CloudResult<Vec<(String, i64, i64)>> {
    let rows: Vec<(String, i64, i64)> =
        match sku {
            Some(sku) => sqlx::query_as(
                "SELECT sku, on_hand, reserved FROM stock_level WHERE store_id = $1 AND sku = $2",
            )
            .bind(store_id)
            .bind(sku)
            .fetch_all(&db.read)
            .await?,
            None => sqlx::query_as(
                "SELECT sku, on_hand, reserved FROM stock_level WHERE store_id = $1 ORDER BY sku",
            )
            .bind(store_id)
            .fetch_all(&db.read)
            .await?,
        };
    Ok(rows)
}

/// SKUs with negative stock in a store: (SKU, on hand, reserved).
pub async fn oversold(db: &Db, store_id: &str) -> CloudResult<Vec<(String, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT sku, on_hand, reserved FROM stock_level WHERE store_id = $1 AND on_hand < 0
         ORDER BY sku",
    )
    .bind(store_id)
    .fetch_all(&db.read)
    .await?)
}

/// A new movement id.
pub fn movement_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

//! Each pickup line's reservation of its store's stock: held when the order is placed, then
//! taken at handover or released (cancelled, expired, a missing line), exactly once.
//!
//! A reservation leaves `held` only through a conditional update (`WHERE state = 'held'`)
//! whose returned rows are the reservations this writer settled: a second writer finds none
//! and moves nothing. The level's `reserved` moves in the same transaction, and its new value
//! is published to the store's tills (`Change::StockReserved`). Taking a reservation also
//! moves the stock itself out (`stock::move_stock`, kind `pickup`).

use omnitill_protocol::pull::Change;
use sqlx::AnyConnection;

use crate::error::CloudResult;
use crate::{feed, stock};

/// How a reservation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The goods left the store with the customer.
    Taken,
    /// The goods stay on the shelf for anyone.
    Released,
}

impl Settle {
    fn state(self) -> &'static str {
        match self {
            Settle::Taken => "taken",
            Settle::Released => "released",
        }
    }
}

/// Holds `quantity` of `sku` at `store_id` for line `line_no` of order `order_id`. The caller
/// has locked the store's levels of the order's SKUs (`stock::lock_levels`).
pub(crate) async fn hold(
    tx: &mut AnyConnection,
    order_id: &str,
    line_no: i64,
    store_id: &str,
    sku: &str,
    quantity: i64,
) -> CloudResult<()> {
    sqlx::query(
        "INSERT INTO pickup_reservation (order_id, line_no, store_id, sku, quantity, state)
         VALUES ($1, $2, $3, $4, $5, 'held')",
    )
    .bind(order_id)
    .bind(line_no)
    .bind(store_id)
    .bind(sku)
    .bind(quantity)
    .execute(&mut *tx)
    .await?;
    move_reserved(tx, store_id, sku, quantity).await
}

/// Settles the held reservations of order `order_id` (of line `line_no` only, when given) as
/// `how`, because of `by` (handover, cancel, expiry, missing). Returns the (line, SKU, quantity)
/// settled now: none when another writer settled them first.
pub(crate) async fn settle(
    tx: &mut AnyConnection,
    order_id: &str,
    line_no: Option<i64>,
    how: Settle,
    by: &str,
    at_ms: i64,
) -> CloudResult<Vec<(i64, String, i64)>> {
    let settled: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "UPDATE pickup_reservation SET state = $1, settled_by = $2, settled_at = $3
         WHERE order_id = $4 AND state = 'held' AND ($5 = 0 OR line_no = $6)
         RETURNING line_no, store_id, sku, quantity",
    )
    .bind(how.state())
    .bind(by)
    .bind(at_ms)
    .bind(order_id)
    .bind(i64::from(line_no.is_some()))
    .bind(line_no.unwrap_or(0))
    .fetch_all(&mut *tx)
    .await?;
    let mut skus: Vec<&str> = settled.iter().map(|(_, _, sku, _)| sku.as_str()).collect();
    skus.sort_unstable();
    skus.dedup();
    if let Some((_, store_id, _, _)) = settled.first() {
        stock::lock_levels(tx, store_id, &skus).await?;
    }
    let mut lines = Vec::with_capacity(settled.len());
    for (line_no, store_id, sku, quantity) in settled {
        move_reserved(tx, &store_id, &sku, -quantity).await?;
        if how == Settle::Taken {
            stock::move_stock(
                tx,
                &format!("pickup:{order_id}:{line_no}"),
                &store_id,
                &sku,
                -quantity,
                "pickup",
                order_id,
                at_ms,
            )
            .await?;
        }
        lines.push((line_no, sku, quantity));
    }
    Ok(lines)
}

/// Moves the level's reserved stock by `delta` and tells the store's tills.
async fn move_reserved(
    tx: &mut AnyConnection,
    store_id: &str,
    sku: &str,
    delta: i64,
) -> CloudResult<()> {
    let (reserved,): (i64,) = sqlx::query_as(
        "INSERT INTO stock_level (store_id, sku, on_hand, reserved) VALUES ($1, $2, 0, $3)
         ON CONFLICT (store_id, sku) DO UPDATE SET reserved = stock_level.reserved + excluded.reserved
         RETURNING reserved",
    )
    .bind(store_id)
    .bind(sku)
    .bind(delta)
    .fetch_one(&mut *tx)
    .await?;
    let change = Change::StockReserved {
        sku: sku.to_owned(),
        reserved,
    };
    feed::publish(tx, store_id, "stock_reserved", sku, &change).await?;
    Ok(())
}

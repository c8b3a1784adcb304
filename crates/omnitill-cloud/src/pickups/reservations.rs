//! Each pickup line's reservations of its store's stock: its own SKU's, held when the order is
//! placed, and, for a missing line the cloud found a substitute for, the substitute's, held
//! then (`Kind`). Each is then taken at handover or released (cancelled, expired, a missing
//! line), exactly once.
//!
//! A reservation is made by an insert that does nothing when the line already has one of its
//! kind, and leaves `held` only through a conditional update (`WHERE state = 'held'`) whose
//! returned rows are the reservations this writer settled: a second writer finds none and
//! moves nothing. The level's `reserved` moves in the same transaction, and its new value is
//! published to the store's tills (`Change::StockReserved`). Taking a reservation also moves
//! the stock itself out (`stock::move_stock`, kind `pickup`).

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

/// What a reservation holds for its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The line's own SKU, held when the order was placed.
    Ordered,
    /// The SKU offered instead of a missing line's (`substitutes`).
    Substitute,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ordered => "ordered",
            Kind::Substitute => "substitute",
        }
    }

    /// The id of the stock movement that takes this reservation: one per line and kind, so
    /// the goods of a reservation leave the store once.
    pub(crate) fn movement_id(self, order_id: &str, line_no: i64) -> String {
        match self {
            Kind::Ordered => format!("pickup:{order_id}:{line_no}"),
            Kind::Substitute => format!("pickup:{order_id}:{line_no}:substitute"),
        }
    }
}

/// A reservation settled now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled {
    pub line_no: i64,
    pub kind: Kind,
    pub sku: String,
    pub quantity: i64,
}

/// Holds `quantity` of `sku` at `store_id` for line `line_no` of order `order_id`, as `kind`.
/// Returns whether it was held now: a line holds one reservation of each kind at most, so a
/// second hold of the same kind changes nothing. The caller has locked the store's levels of
/// the SKUs it holds (`stock::lock_levels`).
pub(crate) async fn hold(
    tx: &mut AnyConnection,
    order_id: &str,
    line_no: i64,
    kind: Kind,
    store_id: &str,
    sku: &str,
    quantity: i64,
) -> CloudResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO pickup_reservation (order_id, line_no, kind, store_id, sku, quantity, state)
         VALUES ($1, $2, $3, $4, $5, $6, 'held')
         ON CONFLICT (order_id, line_no, kind) DO NOTHING",
    )
    .bind(order_id)
    .bind(line_no)
    .bind(kind.name())
    .bind(store_id)
    .bind(sku)
    .bind(quantity)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    move_reserved(tx, store_id, sku, quantity).await?;
    Ok(true)
}

/// Settles the held reservations of order `order_id` (of line `line_no` only, when given) as
/// `how`, because of `by` (handover, cancel, expiry, missing). Returns those settled now: none
/// when another writer settled them first.
pub(crate) async fn settle(
    tx: &mut AnyConnection,
    order_id: &str,
    line_no: Option<i64>,
    how: Settle,
    by: &str,
    at_ms: i64,
) -> CloudResult<Vec<Settled>> {
    let settled: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "UPDATE pickup_reservation SET state = $1, settled_by = $2, settled_at = $3
         WHERE order_id = $4 AND state = 'held' AND ($5 = 0 OR line_no = $6)
         RETURNING line_no, kind, store_id, sku, quantity",
    )
    .bind(how.state())
    .bind(by)
    .bind(at_ms)
    .bind(order_id)
    .bind(i64::from(line_no.is_some()))
    .bind(line_no.unwrap_or(0))
    .fetch_all(&mut *tx)
    .await?;
    let mut skus: Vec<&str> = settled
        .iter()
        .map(|(_, _, _, sku, _)| sku.as_str())
        .collect();
    skus.sort_unstable();
    skus.dedup();
    if let Some((_, _, store_id, _, _)) = settled.first() {
        stock::lock_levels(tx, store_id, &skus).await?;
    }
    let mut done = Vec::with_capacity(settled.len());
    for (line_no, kind, store_id, sku, quantity) in settled {
        let kind = if kind == Kind::Substitute.name() {
            Kind::Substitute
        } else {
            Kind::Ordered
        };
        move_reserved(tx, &store_id, &sku, -quantity).await?;
        if how == Settle::Taken {
            stock::move_stock(
                tx,
                &kind.movement_id(order_id, line_no),
                &store_id,
                &sku,
                -quantity,
                "pickup",
                order_id,
                at_ms,
            )
            .await?;
        }
        done.push(Settled {
            line_no,
            kind,
            sku,
            quantity,
        });
    }
    Ok(done)
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

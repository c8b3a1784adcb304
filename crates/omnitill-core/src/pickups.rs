//! Click-and-collect orders at the till: this store's orders as the cloud last sent them, what
//! of each SKU's stock they hold, and what this till did to them (`actions`).
//!
//! The cloud is the authority on an order until the store hands it over: a pull replaces the
//! cached order whole (`apply_order`) and sets the reserved stock (`apply_reserved`), so the
//! till shows available = on hand - reserved. What this till did (a line picked, the order
//! ready, handed over) is an operation in its outbox and, until a pull's write checkpoint
//! includes it, the order this till shows (`local_data`), so its queue is right offline.

pub mod actions;

#[cfg(test)]
mod tests;

use omnitill_protocol::pickup::PickupOrder;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CoreError, CoreResult};

/// Keeps the newest state of a pickup order of this store, as of a pull whose write checkpoint
/// is `applied_seq`: this till's own change to it stays shown until the checkpoint includes it.
pub(crate) fn apply_order(
    conn: &Connection,
    order: &PickupOrder,
    applied_seq: i64,
) -> CoreResult<()> {
    let data = encode(order)?;
    conn.prepare_cached(
        "INSERT INTO pickup_order (id, order_ref, code, status, expires_at, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET order_ref = excluded.order_ref, code = excluded.code,
             status = excluded.status, expires_at = excluded.expires_at, data = excluded.data,
             local_data = CASE WHEN pickup_order.local_seq > ?7 THEN pickup_order.local_data END,
             local_seq = CASE WHEN pickup_order.local_seq > ?7 THEN pickup_order.local_seq END",
    )?
    .execute(params![
        order.id,
        order.order_ref,
        order.code,
        order.status,
        order.expires_at_ms,
        data,
        applied_seq
    ])?;
    Ok(())
}

/// The order with id `order_id` as this till shows it, if it has it.
pub(crate) fn order(conn: &Connection, order_id: &str) -> CoreResult<Option<PickupOrder>> {
    let data: Option<String> = conn
        .prepare_cached("SELECT coalesce(local_data, data) FROM pickup_order WHERE id = ?1")?
        .query_row([order_id], |row| row.get(0))
        .optional()?;
    data.map(|data| decode(&data)).transpose()
}

/// Keeps the order as this till moved it, by its operation `seq`.
pub(crate) fn keep_local(conn: &Connection, order: &PickupOrder, seq: i64) -> CoreResult<()> {
    conn.prepare_cached("UPDATE pickup_order SET local_data = ?1, local_seq = ?2 WHERE id = ?3")?
        .execute(params![encode(order)?, seq, order.id])?;
    Ok(())
}

fn encode(order: &PickupOrder) -> CoreResult<String> {
    serde_json::to_string(order)
        .map_err(|e| CoreError::BadInput(format!("a pickup order cannot be kept: {e}")))
}

fn decode(data: &str) -> CoreResult<PickupOrder> {
    serde_json::from_str(data)
        .map_err(|e| CoreError::LedgerDamaged(format!("a cached pickup order cannot be read: {e}")))
}

/// What the customer pays for at pickup: each picked line, and each missing line the cloud
/// replaced with a substitute (at the line's price); a line refunded or not yet picked is not
/// charged. Each is (SKU handed over, quantity, the order's price for the line).
pub fn chargeable_lines(order: &PickupOrder) -> Vec<(String, i64, i64)> {
    order
        .lines
        .iter()
        .filter_map(
            |line| match (line.state.as_str(), line.resolution.as_deref()) {
                ("picked", _) => Some((line.sku.clone(), line.quantity, line.total_minor)),
                ("missing", Some("substitute")) => line
                    .substitute_sku
                    .clone()
                    .map(|sku| (sku, line.quantity, line.total_minor)),
                _ => None,
            },
        )
        .collect()
}

/// Whether `now_ms` is past the time the order was promised ready and the store has not made
/// it ready yet.
pub fn is_late(order: &PickupOrder, now_ms: i64) -> bool {
    matches!(order.status.as_str(), "new" | "picking") && now_ms > order.promised_at_ms
}

/// Sets how much of `sku` open pickup orders hold at this store.
pub(crate) fn apply_reserved(
    conn: &Connection,
    sku: &str,
    reserved: i64,
    now_ms: i64,
) -> CoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO stock_level (sku, on_hand, synced_at, reserved) VALUES (?1, 0, ?2, ?3)
         ON CONFLICT (sku) DO UPDATE SET reserved = excluded.reserved",
    )?
    .execute(params![sku, now_ms, reserved])?;
    Ok(())
}

/// How many of this store's orders wait for the store to start them (status new), as this till
/// shows them: what the notice on every screen counts.
pub(crate) fn waiting(conn: &Connection) -> CoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM pickup_order
             WHERE coalesce(json_extract(local_data, '$.status'), status) = 'new'",
        )?
        .query_row([], |row| row.get(0))?)
}

/// This store's cached pickup orders as this till shows them, newest first.
pub(crate) fn orders(conn: &Connection) -> CoreResult<Vec<PickupOrder>> {
    let mut statement = conn.prepare_cached(
        "SELECT coalesce(local_data, data) FROM pickup_order ORDER BY expires_at DESC, id",
    )?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    let mut orders = Vec::new();
    for data in rows {
        orders.push(decode(&data?)?);
    }
    Ok(orders)
}

#[cfg(test)]
mod cache_tests {
    use omnitill_protocol::pickup::PickupLine;

    use super::*;

    fn order(status: &str) -> PickupOrder {
        PickupOrder {
            id: "order-1".into(),
            order_ref: "WEB-1".into(),
            store_id: "store".into(),
            code: "ACD34F".into(),
            status: status.into(),
            payment: "paid_online".into(),
            member_id: None,
            guest_name: Some("林小姐".into()),
            contact_masked: Some("••••5678".into()),
            currency: "TWD".into(),
            total_minor: 96_000,
            promised_at_ms: 1,
            expires_at_ms: 2,
            created_at_ms: 0,
            updated_at_ms: 0,
            review: None,
            lines: vec![PickupLine {
                line_no: 1,
                sku: "TEA-DDO-75g".into(),
                quantity: 2,
                total_minor: 96_000,
                state: "to_pick".into(),
                missing_reason: None,
                resolution: None,
                substitute_sku: None,
            }],
        }
    }

    #[test]
    fn a_pulled_order_replaces_the_cached_one_and_reserved_stock_is_kept_per_sku() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let conn = crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a ledger");
        apply_order(&conn, &order("new"), 0).expect("the order is cached");
        apply_order(&conn, &order("ready"), 0).expect("its newer state replaces it");
        let cached = orders(&conn).expect("the orders read back");
        assert_eq!(cached.len(), 1, "one order, whatever its updates");
        assert_eq!(
            cached[0],
            order("ready"),
            "the newest state is what the till shows"
        );

        apply_reserved(&conn, "TEA-DDO-75g", 2, 0).expect("reserved stock is kept");
        apply_reserved(&conn, "TEA-DDO-75g", 0, 0).expect("and released");
        let reserved: i64 = conn
            .query_row(
                "SELECT reserved FROM stock_level WHERE sku = 'TEA-DDO-75g'",
                [],
                |row| row.get(0),
            )
            .expect("the level");
        assert_eq!(reserved, 0, "the feed's newest reserved figure stands");
    }
}

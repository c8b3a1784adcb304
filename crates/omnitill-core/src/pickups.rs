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

use omnitill_protocol::pickup::{PickupOrder, is_final};
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
    // While this till's own move is not in the cloud's checkpoint, the order stays shown as
    // this till moved it: its local data, status and promised time stand.
    conn.prepare_cached(
        "INSERT INTO pickup_order (id, order_ref, code, status, expires_at, data, shown_status,
                                   promised_at, updated_at, member_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET order_ref = excluded.order_ref, code = excluded.code,
             status = excluded.status, expires_at = excluded.expires_at, data = excluded.data,
             updated_at = excluded.updated_at, member_id = excluded.member_id,
             shown_status = CASE WHEN pickup_order.local_seq > ?7 THEN pickup_order.shown_status
                                 ELSE excluded.shown_status END,
             promised_at = CASE WHEN pickup_order.local_seq > ?7 THEN pickup_order.promised_at
                                ELSE excluded.promised_at END,
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
        applied_seq,
        order.promised_at_ms,
        order.updated_at_ms,
        order.member_id,
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
    conn.prepare_cached(
        "UPDATE pickup_order SET local_data = ?1, local_seq = ?2, shown_status = ?3,
             promised_at = ?4
         WHERE id = ?5",
    )?
    .execute(params![
        encode(order)?,
        seq,
        order.status,
        order.promised_at_ms,
        order.id
    ])?;
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
        .prepare_cached("SELECT count(*) FROM pickup_order WHERE shown_status = 'new'")?
        .query_row([], |row| row.get(0))?)
}

/// How long an order that ended stays on the till, so that staff can still look it up and a
/// customer showing its code hears that it was collected.
pub const KEEP_FINAL_DAYS: i64 = 30;

/// The most orders of one state the queue sends at once: the most urgent first.
pub const QUEUE_PAGE: usize = 200;

/// Forgets orders that ended more than `KEEP_FINAL_DAYS` ago and that this till has no
/// unconfirmed move of; returns how many.
pub(crate) fn prune_final(conn: &Connection, now_ms: i64) -> CoreResult<usize> {
    let before = now_ms.saturating_sub(KEEP_FINAL_DAYS.saturating_mul(86_400_000));
    Ok(conn
        .prepare_cached(
            "DELETE FROM pickup_order
             WHERE local_seq IS NULL
               AND shown_status IN ('collected', 'partially_collected', 'expired', 'cancelled')
               AND updated_at < ?1",
        )?
        .execute([before])?)
}

/// How many of this store's orders the till shows in each status.
pub(crate) fn counts(conn: &Connection) -> CoreResult<Vec<(String, i64)>> {
    let mut statement = conn.prepare_cached(
        "SELECT shown_status, count(*) FROM pickup_order GROUP BY shown_status
         ORDER BY shown_status",
    )?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `QUEUE_PAGE` orders whose shown status is one of `statuses`: open orders by promised
/// time (the most urgent first), ended ones newest first.
pub(crate) fn orders_in(conn: &Connection, statuses: &[&str]) -> CoreResult<Vec<PickupOrder>> {
    let open = statuses.iter().all(|status| !is_final(status));
    let order_by = if open {
        "promised_at ASC, id"
    } else {
        "updated_at DESC, id"
    };
    let list = serde_json::to_string(statuses)
        .map_err(|e| CoreError::BadInput(format!("statuses cannot be listed: {e}")))?;
    let limit = i64::try_from(QUEUE_PAGE).unwrap_or(i64::MAX);
    query_orders(
        conn,
        &format!(
            "SELECT coalesce(local_data, data) FROM pickup_order
             WHERE shown_status IN (SELECT value FROM json_each(?1))
             ORDER BY {order_by} LIMIT ?2"
        ),
        params![list, limit],
    )
}

/// `member_id`'s orders that are ready at this store, as this till shows them. (`+` keeps
/// SQLite on the member's index: a store's ready orders can be thousands, a member's few.)
pub(crate) fn ready_for_member(conn: &Connection, member_id: &str) -> CoreResult<Vec<PickupOrder>> {
    query_orders(
        conn,
        "SELECT coalesce(local_data, data) FROM pickup_order
         WHERE member_id = ?1 AND +shown_status = 'ready' ORDER BY promised_at, id",
        [member_id],
    )
}

/// Every order of `member_id` this till has, as it shows them.
pub(crate) fn of_member(conn: &Connection, member_id: &str) -> CoreResult<Vec<PickupOrder>> {
    query_orders(
        conn,
        "SELECT coalesce(local_data, data) FROM pickup_order WHERE member_id = ?1
         ORDER BY promised_at, id",
        [member_id],
    )
}

/// This store's cached pickup orders as this till shows them, newest first.
pub(crate) fn orders(conn: &Connection) -> CoreResult<Vec<PickupOrder>> {
    query_orders(
        conn,
        "SELECT coalesce(local_data, data) FROM pickup_order ORDER BY expires_at DESC, id",
        [],
    )
}

/// The orders a query of their JSON finds, in its order.
fn query_orders(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> CoreResult<Vec<PickupOrder>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| row.get::<_, String>(0))?;
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

    #[test]
    fn ended_orders_are_forgotten_after_a_month_unless_this_till_still_owes_their_move() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let conn = crate::db::open_ledger(&dir.path().join("till.sqlite3")).expect("a ledger");
        let day = 86_400_000;
        let now = 100 * day;
        let with = |id: &str, status: &str, updated_at_ms: i64| PickupOrder {
            id: id.into(),
            updated_at_ms,
            ..order(status)
        };
        apply_order(
            &conn,
            &with("old-collected", "collected", now - 31 * day),
            0,
        )
        .expect("kept");
        apply_order(
            &conn,
            &with("recent-cancelled", "cancelled", now - 2 * day),
            0,
        )
        .expect("kept");
        apply_order(&conn, &with("old-open", "ready", now - 40 * day), 0).expect("kept");
        let owed = with("old-owed", "expired", now - 40 * day);
        apply_order(&conn, &owed, 0).expect("kept");
        keep_local(
            &conn,
            &PickupOrder {
                status: "collected".into(),
                ..owed
            },
            7,
        )
        .expect("a handover this till has not had confirmed");

        assert_eq!(prune_final(&conn, now).expect("pruned"), 1);
        let mut left: Vec<String> = orders(&conn)
            .expect("the orders")
            .into_iter()
            .map(|o| o.id)
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["old-open", "old-owed", "recent-cancelled"],
            "only an order that ended over a month ago, with nothing of this till's unconfirmed, goes"
        );
    }
}

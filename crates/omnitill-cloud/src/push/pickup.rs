//! A store's click-and-collect operations: a line picked or missing (`pickup.line.v1`), an
//! order ready (`pickup.ready.v1`), and an order handed over (`pickup.handed_over.v1`).
//!
//! `check_*` are pure: the words and times a till may send. `apply_*` check the order is the
//! pushing device's store's, then move it:
//! - **A line.** Picked, or missing with a reason: a missing line's stock is released and the
//!   cloud decides what the customer gets for it (`pickups::substitutes`): a substitute the
//!   brand names, held now and charged at the line's price, when the order accepts one and one
//!   qualifies; a refund otherwise, and the line is not charged. The order moves from new to
//!   picking. An order that has ended changes no more.
//! - **Ready.** From new or picking, with no line left to pick: the e-shop is told
//!   (`pickup.ready`), which tells the customer.
//! - **Handed over.** Always stands, whatever the cloud did meanwhile. An open order ends
//!   collected (or partially collected, with a missing line); its held stock, substitutes
//!   included, is taken. An order the e-shop cancelled or that expired while the store handed
//!   it over offline ends collected too: its stock (a substitute's for a line given one),
//!   released then, is taken now, and a cancelled one is flagged
//!   `refund_after_handover` for a person to settle the refund. A second handover of a
//!   collected order changes nothing and is flagged `handed_over_twice`. A member's order
//!   earns points at collection, once, when the brand's rule says so. The e-shop is told.

use omnitill_protocol::ops::{PickupHandedOver, PickupLineMarked, PickupReady};
use sqlx::AnyConnection;

use super::{ApplyError, PushingDevice, Refusal};
use crate::pickups::reservations::{self, Kind, Settle};
use crate::pickups::substitutes::{self, MissingLine};
use crate::pickups::{load, publish, record_event, tell_eshop};
use crate::{members, stock};

/// The longest reason a missing line may carry, in characters.
const MAX_REASON_CHARS: usize = 200;

pub fn check_line(line: &PickupLineMarked) -> Result<(), Refusal> {
    check_ids(&line.order_id, &line.staff_id, line.at_ms)?;
    match (line.state.as_str(), line.reason.as_deref().map(str::trim)) {
        ("picked" | "put_back", _) => Ok(()),
        ("missing", Some(reason))
            if !reason.is_empty()
                && reason.chars().count() <= MAX_REASON_CHARS
                && !reason.chars().any(char::is_control) =>
        {
            Ok(())
        }
        ("missing", _) => Err(Refusal(format!(
            "a missing line needs a reason of 1 to {MAX_REASON_CHARS} printable characters"
        ))),
        (other, _) => Err(Refusal(format!(
            "a pickup line is picked, missing or put back, not {other:?}"
        ))),
    }
}

pub fn check_ready(ready: &PickupReady) -> Result<(), Refusal> {
    check_ids(&ready.order_id, &ready.staff_id, ready.at_ms)
}

pub fn check_handover(handed: &PickupHandedOver) -> Result<(), Refusal> {
    check_ids(&handed.order_id, &handed.staff_id, handed.at_ms)?;
    if !matches!(handed.verified_by.as_str(), "qr" | "code" | "member_card") {
        return Err(Refusal(format!(
            "a handover is verified by qr, code or member_card, not {:?}",
            handed.verified_by
        )));
    }
    Ok(())
}

fn check_ids(order_id: &str, staff_id: &str, at_ms: i64) -> Result<(), Refusal> {
    let bad = |s: &str| s.is_empty() || s.len() > 64 || s.chars().any(char::is_control);
    if bad(order_id) || bad(staff_id) {
        return Err(Refusal(
            "a pickup operation names its order and staff member (1 to 64 characters)".into(),
        ));
    }
    if at_ms < 0 {
        return Err(Refusal("a pickup operation's time is before 1970".into()));
    }
    Ok(())
}

/// The order's status, payment and member, if it is the pushing device's store's. On
/// PostgreSQL the order's row stays locked until the push commits, so an e-shop cancellation
/// at the same moment waits and then finds the order moved (its update is conditional).
async fn this_stores(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    order_id: &str,
) -> Result<(String, String, Option<String>, String), ApplyError> {
    let lock = if crate::locks::is_postgres(tx) {
        " FOR UPDATE"
    } else {
        ""
    };
    let row: Option<(String, String, Option<String>, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT store_id, status, member_id, payment FROM pickup_order WHERE id = $1{lock}"
        )))
        .bind(order_id)
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        None => Err(Refusal(format!("pickup order {order_id} does not exist")).into()),
        Some((store_id, ..)) if store_id != device.store_id => Err(Refusal(format!(
            "pickup order {order_id} is to be collected at another store"
        ))
        .into()),
        Some((_, status, member_id, payment)) => Ok((status, payment, member_id, order_id.into())),
    }
}

pub async fn apply_line(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    line: &PickupLineMarked,
) -> Result<(), ApplyError> {
    check_line(line)?;
    let (status, ..) = this_stores(tx, device, &line.order_id).await?;
    if line.state == "put_back" {
        return put_back(tx, &status, line).await;
    }
    if omnitill_protocol::pickup::is_final(&status) {
        return Ok(());
    }
    let reason = match line.state.as_str() {
        "missing" => line.reason.as_deref().map(str::trim),
        _ => None,
    };
    // The line moves once: of two operations on it, the second finds it moved.
    let moved: Option<(String, i64, i64)> = sqlx::query_as(
        "UPDATE pickup_line SET state = $1, missing_reason = $2, resolution = NULL,
             substitute_sku = NULL
         WHERE order_id = $3 AND line_no = $4 AND state IN ('to_pick', 'picked')
         RETURNING sku, quantity, total_minor",
    )
    .bind(&line.state)
    .bind(reason)
    .bind(&line.order_id)
    .bind(line.line_no)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((sku, quantity, total_minor)) = moved else {
        return Err(Refusal(format!(
            "pickup order {} has no line {} still to pick",
            line.order_id, line.line_no
        ))
        .into());
    };
    if line.state == "missing" {
        let missing = MissingLine {
            order_id: &line.order_id,
            line_no: line.line_no,
            store_id: &device.store_id,
            sku: &sku,
            quantity,
            total_minor,
        };
        substitutes::resolve_missing(tx, &missing, device.now_ms, line.at_ms).await?;
    }
    if status == "new" {
        set_status(tx, &line.order_id, "picking", line.at_ms).await?;
        record_event(
            tx,
            &line.order_id,
            "picking",
            line.at_ms,
            &source(device),
            None,
        )
        .await?;
    }
    publish(tx, &line.order_id).await?;
    Ok(())
}

/// A picked line of an order that was cancelled or expired is back on the shelf. Its stock
/// never left the store (the order's reservation was released when it ended), so nothing
/// moves but the line's state, once.
async fn put_back(
    tx: &mut AnyConnection,
    status: &str,
    line: &PickupLineMarked,
) -> Result<(), ApplyError> {
    if status != "cancelled" && status != "expired" {
        return Err(Refusal(format!(
            "pickup order {} is {status}: only a cancelled or expired order's lines are put back",
            line.order_id
        ))
        .into());
    }
    let moved = sqlx::query(
        "UPDATE pickup_line SET state = 'put_back'
         WHERE order_id = $1 AND line_no = $2 AND state = 'picked'",
    )
    .bind(&line.order_id)
    .bind(line.line_no)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 1 {
        publish(tx, &line.order_id).await?;
    }
    // Put back twice, or a line never picked: nothing more to do.
    Ok(())
}

pub async fn apply_ready(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    ready: &PickupReady,
) -> Result<(), ApplyError> {
    check_ready(ready)?;
    let (status, ..) = this_stores(tx, device, &ready.order_id).await?;
    if status != "new" && status != "picking" {
        // Ready twice, or after the order ended: nothing more to tell.
        return Ok(());
    }
    let (to_pick,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pickup_line WHERE order_id = $1 AND state = 'to_pick'",
    )
    .bind(&ready.order_id)
    .fetch_one(&mut *tx)
    .await?;
    if to_pick > 0 {
        return Err(Refusal(format!(
            "pickup order {} still has {to_pick} line(s) to pick",
            ready.order_id
        ))
        .into());
    }
    set_status(tx, &ready.order_id, "ready", ready.at_ms).await?;
    record_event(
        tx,
        &ready.order_id,
        "ready",
        ready.at_ms,
        &source(device),
        None,
    )
    .await?;
    publish(tx, &ready.order_id).await?;
    tell_eshop(tx, &ready.order_id, "pickup.ready", ready.at_ms).await?;
    Ok(())
}

pub async fn apply_handover(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    handed: &PickupHandedOver,
) -> Result<(), ApplyError> {
    check_handover(handed)?;
    let (status, payment, member_id, order_id) = this_stores(tx, device, &handed.order_id).await?;
    let note = format!("verified by {}", handed.verified_by.replace('_', " "));
    if status == "collected" || status == "partially_collected" {
        set_review(tx, &order_id, "handed_over_twice").await?;
        record_event(
            tx,
            &order_id,
            &status,
            handed.at_ms,
            &source(device),
            Some("handed over again"),
        )
        .await?;
        publish(tx, &order_id).await?;
        return Ok(());
    }
    // Points first: the member's row is locked before anything is published (the lock order).
    // Every line charged earns: a substituted line at its own SKU and price.
    let order = load(tx, &order_id).await?;
    let charged: Vec<(String, i64)> = order
        .lines
        .iter()
        .filter(|line| line.resolution.as_deref() != Some(substitutes::REFUND))
        .map(|line| (line.sku.clone(), line.total_minor))
        .collect();
    let (points_on,): (String,) =
        sqlx::query_as("SELECT points_on FROM pickup_settings WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
    if let Some(member_id) = &member_id
        && payment == "paid_online"
        && points_on == "collection"
    {
        let at = chrono::DateTime::from_timestamp_millis(handed.at_ms).unwrap_or_default();
        members::earn_for_pickup(tx, member_id, &order_id, &charged, at).await?;
    }
    let ended = if order.lines.iter().any(|line| line.state == "missing") {
        "partially_collected"
    } else {
        "collected"
    };
    let held =
        reservations::settle(tx, &order_id, None, Settle::Taken, "handover", handed.at_ms).await?;
    if status == "cancelled" || status == "expired" {
        // Released when the order ended; the goods left the store all the same: each line's
        // own SKU, or the substitute offered for it.
        for line in &order.lines {
            let (kind, sku) = match (line.state.as_str(), &line.substitute_sku) {
                ("missing", Some(substitute)) => (Kind::Substitute, substitute),
                ("missing", None) => continue,
                _ => (Kind::Ordered, &line.sku),
            };
            if held
                .iter()
                .any(|taken| taken.line_no == line.line_no && taken.kind == kind)
            {
                continue;
            }
            stock::move_stock(
                tx,
                &kind.movement_id(&order_id, line.line_no),
                &device.store_id,
                sku,
                -line.quantity,
                "pickup",
                &order_id,
                handed.at_ms,
            )
            .await?;
        }
        if status == "cancelled" {
            set_review(tx, &order_id, "refund_after_handover").await?;
        }
    }
    set_status(tx, &order_id, ended, handed.at_ms).await?;
    let history_note = if status == "cancelled" {
        format!("{note}; handed over after the e-shop cancelled it: refund to review")
    } else {
        note
    };
    record_event(
        tx,
        &order_id,
        ended,
        handed.at_ms,
        &source(device),
        Some(&history_note),
    )
    .await?;
    publish(tx, &order_id).await?;
    tell_eshop(tx, &order_id, &format!("pickup.{ended}"), handed.at_ms).await?;
    Ok(())
}

async fn set_status(
    tx: &mut AnyConnection,
    order_id: &str,
    status: &str,
    at_ms: i64,
) -> Result<(), ApplyError> {
    sqlx::query("UPDATE pickup_order SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(at_ms)
        .bind(order_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| ApplyError::Failed(e.into()))?;
    Ok(())
}

async fn set_review(
    tx: &mut AnyConnection,
    order_id: &str,
    review: &str,
) -> Result<(), ApplyError> {
    sqlx::query("UPDATE pickup_order SET review = $1 WHERE id = $2")
        .bind(review)
        .bind(order_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| ApplyError::Failed(e.into()))?;
    Ok(())
}

/// Who moved the order, for its history.
fn source(device: &PushingDevice) -> String {
    format!("till:{}", device.id)
}

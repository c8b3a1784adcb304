//! What a store does with a pickup order at the till, online or offline: find the order the
//! customer shows (its QR code, its pickup code, or their member card), pick its lines or mark
//! one missing, mark it ready, and hand it over.
//!
//! Each action is checked against the order as this till shows it, then, in one transaction,
//! written as an operation in the outbox (`pickup.line.v1`, `pickup.ready.v1`,
//! `pickup.handed_over.v1`) and kept as this till's view of the order (`keep_local`). Nothing
//! changes when a check fails: an order the till has never seen, another store's order, one
//! already collected, cancelled or expired, and a QR code that is not this brand's each get a
//! message that says which.

use chrono::{DateTime, Utc};
use omnitill_protocol::ops::{
    PICKUP_HANDED_OVER, PICKUP_LINE, PICKUP_READY, PickupHandedOver, PickupLineMarked, PickupReady,
};
use omnitill_protocol::pickup::{PickupOrder, is_final};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::{keep_local, order};
use crate::error::{CoreError, CoreResult};
use crate::{loyalty, members, outbox, pickup_code};

/// How the customer proved a pickup order theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Verified {
    Qr,
    Code,
    MemberCard,
}

impl Verified {
    pub fn as_str(self) -> &'static str {
        match self {
            Verified::Qr => "qr",
            Verified::Code => "code",
            Verified::MemberCard => "member_card",
        }
    }
}

/// The longest reason a missing line may carry.
pub const MAX_REASON_CHARS: usize = 200;

/// The open order the customer shows for handover, and how it was verified: a pickup QR code
/// (checked against the brand's key and this store), a pickup code, or a member card (their
/// oldest open order at this store, ready ones first).
pub fn find_for_handover(
    conn: &Connection,
    input: &str,
    store_id: Option<&str>,
    now: DateTime<Utc>,
) -> CoreResult<(PickupOrder, Verified)> {
    let input = input.trim();
    let (found, verified) = if pickup_code::looks_like_pickup_qr(input) {
        let (_, qr_key) = members::keys(conn)?.ok_or_else(|| {
            CoreError::BadInput(
                "this till cannot check pickup QR codes until it has synced once".into(),
            )
        })?;
        let qr = pickup_code::verify_pickup_qr(&qr_key, input, now)?;
        if store_id.is_some_and(|here| here != qr.store_id) {
            return Err(CoreError::BadInput(
                "this pickup order is to be collected at another store".into(),
            ));
        }
        let found = order(conn, &qr.order_id)?.filter(|order| order.code == qr.code);
        (found, Verified::Qr)
    } else if let Some(code) = pickup_code::normalise_code(input) {
        let id: Option<String> = conn
            .prepare_cached("SELECT id FROM pickup_order WHERE code = ?1")?
            .query_row([&code], |row| row.get(0))
            .optional()?;
        let found = match id {
            Some(id) => order(conn, &id)?,
            None => None,
        };
        (found, Verified::Code)
    } else if loyalty::looks_like_card(input) {
        (member_order(conn, input)?, Verified::MemberCard)
    } else {
        return Err(CoreError::BadInput(
            "that is not a pickup code, a pickup QR code or a member card".into(),
        ));
    };
    let order = found.ok_or_else(|| {
        CoreError::NotFound(
            "this pickup order is not on this till: it shows here once the till has synced \
             after the order was placed"
                .into(),
        )
    })?;
    ensure_open(&order)?;
    Ok((order, verified))
}

/// The member's oldest open order at this store, ready ones first.
fn member_order(conn: &Connection, card: &str) -> CoreResult<Option<PickupOrder>> {
    let card = loyalty::parse_card(card)?;
    let Some((member_key, _)) = members::keys(conn)? else {
        return Ok(None);
    };
    let hash = loyalty::lookup_hash(&member_key, loyalty::KeyKind::Card, &card);
    let member_id: Option<String> = conn
        .prepare_cached("SELECT id FROM member WHERE card_hash = ?1")?
        .query_row([&hash], |row| row.get(0))
        .optional()?;
    let Some(member_id) = member_id else {
        return Ok(None);
    };
    let mut open: Vec<PickupOrder> = super::of_member(conn, &member_id)?
        .into_iter()
        .filter(|o| !is_final(&o.status))
        .collect();
    open.sort_by_key(|o| (o.status != "ready", o.created_at_ms));
    Ok(open.into_iter().next())
}

/// Refuses an order that has ended, saying how.
fn ensure_open(order: &PickupOrder) -> CoreResult<()> {
    let refusal = match order.status.as_str() {
        "collected" | "partially_collected" => "this order was collected already",
        "cancelled" => "the e-shop cancelled this order: do not hand it over",
        "expired" => "this order expired uncollected: ask the e-shop before handing it over",
        _ => return Ok(()),
    };
    Err(CoreError::BadInput(format!(
        "{refusal} (order {})",
        order.order_ref
    )))
}

/// The order `order_id` as this till shows it, open, or why not.
fn open_order(conn: &Connection, order_id: &str) -> CoreResult<PickupOrder> {
    let order = order(conn, order_id)?
        .ok_or_else(|| CoreError::NotFound(format!("pickup order {order_id}")))?;
    ensure_open(&order)?;
    Ok(order)
}

/// Marks line `line_no` of the order picked, or (with a reason) missing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mark_line(
    conn: &mut Connection,
    staff_id: &str,
    order_id: &str,
    line_no: i64,
    missing_reason: Option<&str>,
    op_id: &str,
    now_ms: i64,
) -> CoreResult<PickupOrder> {
    let reason = missing_reason.map(str::trim);
    if reason.is_some_and(|r| {
        r.is_empty() || r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control)
    }) {
        return Err(CoreError::BadInput(format!(
            "say why the line is missing, in 1 to {MAX_REASON_CHARS} characters"
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut order = open_order(&tx, order_id)?;
    let line = order
        .lines
        .iter_mut()
        .find(|line| line.line_no == line_no)
        .ok_or_else(|| CoreError::NotFound(format!("line {line_no} of this order")))?;
    if line.state != "to_pick" && line.state != "picked" {
        return Err(CoreError::BadInput(format!(
            "line {line_no} is {} and cannot be picked again",
            line.state.replace('_', " ")
        )));
    }
    let state = if reason.is_some() {
        "missing"
    } else {
        "picked"
    };
    line.state = state.to_owned();
    line.missing_reason = reason.map(str::to_owned);
    if order.status == "new" {
        order.status = "picking".to_owned();
    }
    order.updated_at_ms = now_ms;
    let payload = PickupLineMarked {
        order_id: order.id.clone(),
        line_no,
        state: state.to_owned(),
        reason: reason.map(str::to_owned),
        staff_id: staff_id.to_owned(),
        at_ms: now_ms,
    };
    record(&tx, &order, PICKUP_LINE, &payload, op_id, now_ms)?;
    tx.commit()?;
    Ok(order)
}

/// Marks a picked line of a cancelled or expired order back on the shelf.
pub(crate) fn put_back(
    conn: &mut Connection,
    staff_id: &str,
    order_id: &str,
    line_no: i64,
    op_id: &str,
    now_ms: i64,
) -> CoreResult<PickupOrder> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut order = order(&tx, order_id)?
        .ok_or_else(|| CoreError::NotFound(format!("pickup order {order_id}")))?;
    if order.status != "cancelled" && order.status != "expired" {
        return Err(CoreError::BadInput(format!(
            "order {} is {}: only a cancelled or expired order's items go back on the shelf",
            order.order_ref,
            order.status.replace('_', " ")
        )));
    }
    let line = order
        .lines
        .iter_mut()
        .find(|line| line.line_no == line_no)
        .ok_or_else(|| CoreError::NotFound(format!("line {line_no} of this order")))?;
    if line.state != "picked" {
        return Err(CoreError::BadInput(format!(
            "line {line_no} is {}: only a picked line goes back on the shelf",
            line.state.replace('_', " ")
        )));
    }
    line.state = "put_back".to_owned();
    let payload = PickupLineMarked {
        order_id: order.id.clone(),
        line_no,
        state: "put_back".to_owned(),
        reason: None,
        staff_id: staff_id.to_owned(),
        at_ms: now_ms,
    };
    record(&tx, &order, PICKUP_LINE, &payload, op_id, now_ms)?;
    tx.commit()?;
    Ok(order)
}

/// Marks the order ready for the customer: every line picked or missing.
pub(crate) fn mark_ready(
    conn: &mut Connection,
    staff_id: &str,
    order_id: &str,
    op_id: &str,
    now_ms: i64,
) -> CoreResult<PickupOrder> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut order = open_order(&tx, order_id)?;
    let to_pick = order.lines.iter().filter(|l| l.state == "to_pick").count();
    if to_pick > 0 {
        return Err(CoreError::BadInput(format!(
            "{to_pick} line(s) are still to pick: pick them or mark them missing first"
        )));
    }
    if order.lines.iter().all(|l| l.state == "missing") {
        return Err(CoreError::BadInput(
            "every line is missing: there is nothing to collect".into(),
        ));
    }
    order.status = "ready".to_owned();
    order.updated_at_ms = now_ms;
    let payload = PickupReady {
        order_id: order.id.clone(),
        staff_id: staff_id.to_owned(),
        at_ms: now_ms,
    };
    record(&tx, &order, PICKUP_READY, &payload, op_id, now_ms)?;
    tx.commit()?;
    Ok(order)
}

/// Hands the order over: it ends collected, or partially collected with a missing line.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hand_over(
    conn: &mut Connection,
    staff_id: &str,
    order_id: &str,
    verified: Verified,
    sale_id: Option<&str>,
    op_id: &str,
    now_ms: i64,
) -> CoreResult<PickupOrder> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut order = open_order(&tx, order_id)?;
    if order.payment == "pay_at_pickup" && sale_id.is_none() {
        return Err(CoreError::BadInput(
            "this order is paid at pickup: take the payment at checkout first".into(),
        ));
    }
    let partial = order.lines.iter().any(|l| l.state == "missing");
    order.status = if partial {
        "partially_collected"
    } else {
        "collected"
    }
    .to_owned();
    order.updated_at_ms = now_ms;
    let payload = PickupHandedOver {
        order_id: order.id.clone(),
        staff_id: staff_id.to_owned(),
        at_ms: now_ms,
        verified_by: verified.as_str().to_owned(),
        sale_id: sale_id.map(str::to_owned),
    };
    record(&tx, &order, PICKUP_HANDED_OVER, &payload, op_id, now_ms)?;
    tx.commit()?;
    Ok(order)
}

/// Writes the operation and keeps the order as this till now shows it.
fn record(
    tx: &Connection,
    order: &PickupOrder,
    op_type: &str,
    payload: &impl Serialize,
    op_id: &str,
    now_ms: i64,
) -> CoreResult<()> {
    let seq = outbox::next_counter(tx, "outbox")?;
    outbox::append(tx, seq, op_id, op_type, payload, now_ms)?;
    keep_local(tx, order, seq)
}

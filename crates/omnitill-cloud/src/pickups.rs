//! Click-and-collect orders: placed by the e-shop for pickup at a store, moved through picking
//! and handover by the store, cancelled or expired otherwise.
//!
//! Layout: `place` (a new order, idempotent by the e-shop's `order_ref`, with its pickup code
//! and the store stock it reserves), `reservations` (each line's reservation, held at
//! placement and then taken or released exactly once), `cancel` (the e-shop's cancellation),
//! `expiry` (open orders past their time, by the hourly job), `settings` (the brand's expiry
//! days and points rule), `substitutes` (the brand's substitutes per SKU, and what a missing
//! line gets: a substitute or a refund), and this file: the order as the e-shop reads it (with
//! what the customer is charged), its history, and its publication to the store's tills and
//! the e-shop.
//!
//! Every change to an order is written with its status event and published to the store's
//! feed (`Change::Pickup`) in one transaction; a move out of a status is a conditional update
//! whose row count decides who moved it, so two writers at once (the e-shop cancelling, a
//! till handing over) never both win.

pub mod cancel;
pub mod expiry;
pub mod place;
pub mod reservations;
pub mod settings;
pub mod substitutes;

use omnitill_protocol::pickup::{PickupLine, PickupOrder};
use omnitill_protocol::pull::Change;
use serde::Serialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::feed;
use crate::members;

/// An order as the e-shop reads it: the order, the QR code to show the customer, and its
/// status history in the order the cloud recorded it (each event's `at_ms` is when it happened:
/// at the store, for a handover the store recorded offline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct PickupView {
    pub order: PickupOrder,
    /// The pickup QR token (`OMP1.`), signed by the brand's key; a till verifies it offline.
    pub qr_token: String,
    pub history: Vec<PickupEvent>,
    /// Whether the customer accepts a substitute for a missing line.
    #[serde(default)]
    pub accepts_substitutes: bool,
    /// What the customer pays for the order, in minor units: its total less the lines refunded
    /// because the store could not find them. A missing line given a substitute stays charged
    /// at its own price. (A cancelled or expired order is the e-shop's to refund whole.)
    #[serde(default)]
    #[schema(minimum = 0)]
    pub charged_minor: i64,
    /// What the e-shop owes the customer back for refunded lines: their totals when the order
    /// was paid online, 0 when it is paid at pickup (the till takes `charged_minor`).
    #[serde(default)]
    #[schema(minimum = 0)]
    pub refund_minor: i64,
}

/// An order as a webhook tells it to the e-shop (`data`): the order's fields, with whether
/// the customer accepts substitutes and the amounts of `PickupView`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PickupEventData {
    #[serde(flatten)]
    pub order: PickupOrder,
    pub accepts_substitutes: bool,
    pub charged_minor: i64,
    pub refund_minor: i64,
}

/// What the customer pays for `order` and what the e-shop owes back: (charged, refund), both
/// in minor units (see `PickupView`). Only lines resolved `refund` come off.
pub fn amounts(order: &PickupOrder) -> CloudResult<(i64, i64)> {
    let overflow = || CloudError::Internal(format!("the amounts of order {} overflow", order.id));
    let refunded = order
        .lines
        .iter()
        .filter(|line| line.resolution.as_deref() == Some(substitutes::REFUND))
        .try_fold(0_i64, |sum, line| sum.checked_add(line.total_minor))
        .ok_or_else(overflow)?;
    let charged = order
        .total_minor
        .checked_sub(refunded)
        .ok_or_else(overflow)?;
    let refund = if order.payment == "paid_online" {
        refunded
    } else {
        0
    };
    Ok((charged, refund))
}

/// Whether the customer of order `order_id` accepts substitutes.
pub(crate) async fn accepts_substitutes(
    tx: &mut AnyConnection,
    order_id: &str,
) -> CloudResult<bool> {
    let (accepts,): (i64,) =
        sqlx::query_as("SELECT accepts_substitutes FROM pickup_order WHERE id = $1")
            .bind(order_id)
            .fetch_one(&mut *tx)
            .await?;
    Ok(accepts != 0)
}

/// One status an order went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct PickupEvent {
    pub status: String,
    pub at_ms: i64,
    /// `eshop`, `job`, or `till:<device id>`.
    pub source: String,
    pub note: Option<String>,
}

type OrderRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);

type LineRow = (
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The order with id `order_id`, as its transaction sees it.
pub(crate) async fn load(tx: &mut AnyConnection, order_id: &str) -> CloudResult<PickupOrder> {
    let row: Option<OrderRow> = sqlx::query_as(
        "SELECT id, order_ref, store_id, code, status, payment, member_id, guest_name,
                contact_masked, currency, total_minor, promised_at, expires_at, created_at,
                updated_at, review
         FROM pickup_order WHERE id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((
        id,
        order_ref,
        store_id,
        code,
        status,
        payment,
        member_id,
        guest_name,
        contact_masked,
        currency,
        total_minor,
        promised_at_ms,
        expires_at_ms,
        created_at_ms,
        updated_at_ms,
        review,
    )) = row
    else {
        return Err(CloudError::NotFound(format!("pickup order {order_id}")));
    };
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT line_no, sku, quantity, total_minor, state, missing_reason, resolution,
                    substitute_sku
             FROM pickup_line WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(&id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(PickupOrder {
        id,
        order_ref,
        store_id,
        code,
        status,
        payment,
        member_id,
        guest_name,
        contact_masked,
        currency,
        total_minor,
        promised_at_ms,
        expires_at_ms,
        created_at_ms,
        updated_at_ms,
        review,
        lines: lines
            .into_iter()
            .map(
                |(
                    line_no,
                    sku,
                    quantity,
                    total_minor,
                    state,
                    missing_reason,
                    resolution,
                    substitute_sku,
                )| {
                    PickupLine {
                        line_no,
                        sku,
                        quantity,
                        total_minor,
                        state,
                        missing_reason,
                        resolution,
                        substitute_sku,
                    }
                },
            )
            .collect(),
    })
}

/// The id of the order the e-shop calls `order_ref`.
pub(crate) async fn id_of(tx: &mut AnyConnection, order_ref: &str) -> CloudResult<String> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM pickup_order WHERE order_ref = $1")
        .bind(order_ref)
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| CloudError::NotFound(format!("pickup order {order_ref}")))
}

/// The order, its QR code and its history, as the e-shop reads them.
pub(crate) async fn view(tx: &mut AnyConnection, order_id: &str) -> CloudResult<PickupView> {
    let order = load(tx, order_id).await?;
    let secrets = members::secrets(tx).await?;
    let qr_token = omnitill_core::pickup_code::sign_pickup_qr(
        &secrets.qr,
        &order.id,
        &order.store_id,
        &order.code,
        order.expires_at_ms.div_euclid(1_000),
    );
    let history: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT status, at, source, note FROM pickup_event WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    let (charged_minor, refund_minor) = amounts(&order)?;
    let accepts_substitutes = accepts_substitutes(tx, order_id).await?;
    Ok(PickupView {
        order,
        qr_token,
        accepts_substitutes,
        charged_minor,
        refund_minor,
        history: history
            .into_iter()
            .map(|(status, at_ms, source, note)| PickupEvent {
                status,
                at_ms,
                source,
                note,
            })
            .collect(),
    })
}

/// Reads the order the e-shop calls `order_ref`.
pub async fn get(db: &Db, order_ref: &str) -> CloudResult<PickupView> {
    let mut tx = db.read.begin().await?;
    let id = id_of(&mut tx, order_ref.trim()).await?;
    view(&mut tx, &id).await
}

/// Records that the order moved to `status`, and why.
pub(crate) async fn record_event(
    tx: &mut AnyConnection,
    order_id: &str,
    status: &str,
    at_ms: i64,
    source: &str,
    note: Option<&str>,
) -> CloudResult<()> {
    sqlx::query(
        "INSERT INTO pickup_event (id, order_id, status, at, source, note)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(order_id)
    .bind(status)
    .bind(at_ms)
    .bind(source)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Flags `short` the open orders of `store_id` that hold stock of `skus` the store no longer
/// has (on hand below reserved: a sale took reserved units), and tells the store's tills.
pub(crate) async fn flag_short(
    tx: &mut AnyConnection,
    store_id: &str,
    skus: &[String],
) -> CloudResult<()> {
    for sku in skus {
        let orders: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT o.id FROM pickup_reservation r
             JOIN pickup_order o ON o.id = r.order_id
             WHERE r.store_id = $1 AND r.sku = $2 AND r.state = 'held' AND o.review IS NULL",
        )
        .bind(store_id)
        .bind(sku)
        .fetch_all(&mut *tx)
        .await?;
        for (order_id,) in orders {
            let flagged = sqlx::query(
                "UPDATE pickup_order SET review = 'short' WHERE id = $1 AND review IS NULL",
            )
            .bind(&order_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if flagged > 0 {
                publish(tx, &order_id).await?;
            }
        }
    }
    Ok(())
}

/// Owes the e-shop the event `event_type` with the order's current state, its lines'
/// resolutions and amounts included (`webhooks`, `PickupEventData`).
pub(crate) async fn tell_eshop(
    tx: &mut AnyConnection,
    order_id: &str,
    event_type: &str,
    at_ms: i64,
) -> CloudResult<()> {
    let order = load(tx, order_id).await?;
    let (charged_minor, refund_minor) = amounts(&order)?;
    let data = PickupEventData {
        accepts_substitutes: accepts_substitutes(tx, order_id).await?,
        charged_minor,
        refund_minor,
        order,
    };
    crate::webhooks::enqueue(tx, event_type, &data, at_ms).await
}

/// Publishes the order's current state to its store's tills.
pub(crate) async fn publish(tx: &mut AnyConnection, order_id: &str) -> CloudResult<()> {
    let order = load(tx, order_id).await?;
    let store_id = order.store_id.clone();
    feed::publish(tx, &store_id, "pickup", order_id, &Change::Pickup(order)).await?;
    Ok(())
}

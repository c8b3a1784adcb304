//! The e-shop cancels a pickup order: it ends `cancelled`, and its held stock is released.
//!
//! Only an order still open (new, picking, ready) can be cancelled; the status change is a
//! conditional update, so a cancellation and a store's handover at once end one way only.
//! Cancelling a cancelled order answers it as it is. An order already handed over or expired
//! is refused (409) with its status named: a collected order is refunded, not cancelled. A
//! handover a store recorded offline and sends after the cancellation still stands (the
//! handover's rule, with the refund flagged for review).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::reservations::{self, Settle};
use super::{PickupView, id_of, load, publish, record_event, tell_eshop, view};
use crate::db::Db;
use crate::error::{CloudError, CloudResult};

/// Why the e-shop cancels.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CancelRequest {
    /// In words, for the order's history.
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

/// Cancels the order the e-shop calls `order_ref`.
pub async fn cancel(db: &Db, order_ref: &str, request: &CancelRequest) -> CloudResult<PickupView> {
    let reason = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 200 || r.chars().any(char::is_control)) {
        return Err(CloudError::BadRequest(
            "reason must be at most 200 printable characters".into(),
        ));
    }
    let now = db.now_ms();
    let mut tx = db.write.begin().await?;
    let id = id_of(&mut tx, order_ref.trim()).await?;
    let moved = sqlx::query(
        "UPDATE pickup_order SET status = 'cancelled', updated_at = $1
         WHERE id = $2 AND status IN ('new', 'picking', 'ready')",
    )
    .bind(now)
    .bind(&id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        let order = load(&mut tx, &id).await?;
        if order.status == "cancelled" {
            return view(&mut tx, &id).await;
        }
        return Err(CloudError::Conflict(format!(
            "pickup order {} is {} and can no longer be cancelled{}",
            order.order_ref,
            order.status.replace('_', " "),
            if order.status.contains("collected") {
                ": refund it instead"
            } else {
                ""
            }
        )));
    }
    reservations::settle(&mut tx, &id, None, Settle::Released, "cancel", now).await?;
    record_event(&mut tx, &id, "cancelled", now, "eshop", reason).await?;
    publish(&mut tx, &id).await?;
    tell_eshop(&mut tx, &id, "pickup.cancelled", now).await?;
    let cancelled = view(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(cancelled)
}

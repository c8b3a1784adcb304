//! Orders nobody collected in time: an open order past its `expires_at` ends `expired`, its
//! held stock is released, its store's tills hear of it and the e-shop is told
//! (`pickup.expired`). The hourly job runs this (`jobs`), and it is safe to run again or in two
//! processes at once: each order's move to `expired` is a conditional update, so it happens
//! once.

use chrono::{DateTime, Utc};

use super::reservations::{self, Settle};
use super::{publish, record_event, tell_eshop};
use crate::db::Db;
use crate::error::CloudResult;

/// Expires every open order whose time ran out by `now`; returns how many.
pub async fn expire_due(db: &Db, now: DateTime<Utc>) -> CloudResult<usize> {
    let now_ms = now.timestamp_millis();
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM pickup_order
         WHERE status IN ('new', 'picking', 'ready') AND expires_at <= $1
         ORDER BY expires_at, id",
    )
    .bind(now_ms)
    .fetch_all(&db.read)
    .await?;
    let mut expired = 0;
    for (id,) in due {
        let mut tx = db.write.begin().await?;
        let moved = sqlx::query(
            "UPDATE pickup_order SET status = 'expired', updated_at = $1
             WHERE id = $2 AND status IN ('new', 'picking', 'ready') AND expires_at <= $1",
        )
        .bind(now_ms)
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            continue;
        }
        reservations::settle(&mut tx, &id, None, Settle::Released, "expiry", now_ms).await?;
        record_event(&mut tx, &id, "expired", now_ms, "job", None).await?;
        publish(&mut tx, &id).await?;
        tell_eshop(&mut tx, &id, "pickup.expired", now_ms).await?;
        tx.commit().await?;
        expired += 1;
    }
    Ok(expired)
}

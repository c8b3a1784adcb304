//! A till's online holds: points held for a sale being completed, and a coupon reserved for
//! one, both keyed by the sale id, consumed by the sale's operation or lifted when the cart no
//! longer uses them; a hold not consumed lapses `HOLD_MS` after it was made (by the cloud's
//! clock).
//!
//! A hold or reservation locks the member's row first (`locks::lock_member`; for a coupon, the
//! coupon's member), so holds of one balance at once never hold more than it has, and a coupon
//! reserved by a till and used by the e-shop at once goes to one of them. The write is also
//! conditional on the coupon being unused, and its affected-row count is checked.

use sqlx::AnyConnection;

use super::eshop::{available, resolve_and_lock};
use super::{CouponHoldRequest, HOLD_MS, Held, HoldRequest, MAX_POINTS};
use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::locks;

/// Holds points for a till's sale (the sale id is the key: asking again answers the same; the
/// same sale asking for other points is a 409).
pub async fn hold_points(db: &Db, device_id: &str, request: &HoldRequest) -> CloudResult<Held> {
    locks::retrying(|| hold_points_once(db, device_id, request)).await
}

async fn hold_points_once(db: &Db, device_id: &str, request: &HoldRequest) -> CloudResult<Held> {
    if !(1..=MAX_POINTS).contains(&request.points) {
        return Err(CloudError::BadRequest(format!(
            "hold 1 to {MAX_POINTS} points, not {}",
            request.points
        )));
    }
    if uuid::Uuid::parse_str(&request.sale_id).is_err() {
        return Err(CloudError::BadRequest("the sale id must be a UUID".into()));
    }
    let now = db.clock.now().timestamp_millis();
    let mut tx = db.write.begin().await?;
    let member_id = resolve_and_lock(&mut tx, &request.member_id).await?;
    let existing: Option<(String, i64)> =
        sqlx::query_as("SELECT member_id, points FROM points_hold WHERE sale_id = $1")
            .bind(&request.sale_id)
            .fetch_optional(&mut *tx)
            .await?;
    match existing {
        Some((held_for, points)) if held_for == member_id && points == request.points => {}
        Some(_) => {
            return Err(CloudError::Conflict(
                "this sale already holds a different number of points".into(),
            ));
        }
        None => {
            let available = available(&mut tx, &member_id, now).await?;
            if available < request.points {
                return Err(CloudError::Conflict(format!(
                    "the member has {} points available, fewer than the {} asked for",
                    available.max(0),
                    request.points
                )));
            }
            sqlx::query(
                "INSERT INTO points_hold (sale_id, member_id, points, device_id, created_at,
                     expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&request.sale_id)
            .bind(&member_id)
            .bind(request.points)
            .bind(device_id)
            .bind(now)
            .bind(now.saturating_add(HOLD_MS))
            .execute(&mut *tx)
            .await?;
        }
    }
    let available_after = available(&mut tx, &member_id, now).await?;
    tx.commit().await?;
    Ok(Held {
        member_id,
        points: request.points,
        available_after,
    })
}

/// Releases a hold whose sale was not completed (a voided cart). A hold its sale consumed
/// stays. One statement, conditional on the hold not being consumed.
pub async fn release_hold(db: &Db, device_id: &str, sale_id: &str) -> CloudResult<()> {
    sqlx::query("DELETE FROM points_hold WHERE sale_id = $1 AND device_id = $2 AND consumed = 0")
        .bind(sale_id)
        .bind(device_id)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Lifts the reservation a till's sale made on a coupon the sale no longer uses (taken off, a
/// cleared cart). A coupon its sale used stays used. One conditional statement.
pub async fn release_coupon(db: &Db, sale_id: &str) -> CloudResult<()> {
    sqlx::query(
        "UPDATE coupon SET reserved_ref = NULL, reserved_until = NULL
         WHERE reserved_ref = $1 AND used_at IS NULL",
    )
    .bind(sale_id)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// Reserves a coupon for a till's sale until the sale arrives (or `HOLD_MS` passes). A coupon
/// used, or reserved by another sale that has not lapsed, is a 409.
pub async fn reserve_coupon(db: &Db, request: &CouponHoldRequest) -> CloudResult<()> {
    locks::retrying(|| reserve_coupon_once(db, request)).await
}

async fn reserve_coupon_once(db: &Db, request: &CouponHoldRequest) -> CloudResult<()> {
    let now = db.clock.now().timestamp_millis();
    let mut tx = db.write.begin().await?;
    let state = lock_coupon(&mut tx, &request.coupon_id).await?;
    let reference = request.sale_id.as_str();
    state.usable_by(reference, now)?;
    if state.used_ref.as_deref() == Some(reference) {
        tx.commit().await?;
        return Ok(());
    }
    let reserved = sqlx::query(
        "UPDATE coupon SET reserved_ref = $1, reserved_until = $2
         WHERE id = $3 AND used_at IS NULL
           AND (reserved_ref IS NULL OR reserved_ref = $1 OR reserved_until <= $4)",
    )
    .bind(reference)
    .bind(now.saturating_add(HOLD_MS))
    .bind(&request.coupon_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if reserved.rows_affected() != 1 {
        return Err(CloudError::Conflict(
            "the coupon is being used on another sale right now".into(),
        ));
    }
    tx.commit().await?;
    Ok(())
}

/// A coupon's use and reservation, as read under its member's row lock.
pub(super) struct CouponState {
    pub(super) member_id: String,
    pub(super) used_ref: Option<String>,
    reserved_ref: Option<String>,
    reserved_until: Option<i64>,
    valid_from: i64,
    valid_to: i64,
}

impl CouponState {
    /// Whether `reference` may use or reserve the coupon at `now`.
    pub(super) fn usable_by(&self, reference: &str, now: i64) -> CloudResult<()> {
        if let Some(used) = &self.used_ref {
            if used == reference {
                return Ok(());
            }
            return Err(CloudError::Conflict(format!(
                "the coupon was already used ({used})"
            )));
        }
        if let (Some(reserved), Some(until)) = (&self.reserved_ref, self.reserved_until)
            && reserved != reference
            && until > now
        {
            return Err(CloudError::Conflict(
                "the coupon is being used on another sale right now".into(),
            ));
        }
        if now < self.valid_from || now >= self.valid_to {
            return Err(CloudError::Conflict(
                "the coupon is not valid today (outside its dates)".into(),
            ));
        }
        Ok(())
    }
}

/// Locks the member a coupon belongs to (a coupon never changes hands), then reads the
/// coupon's state under that lock. An unknown coupon is a 404.
pub(super) async fn lock_coupon(
    tx: &mut AnyConnection,
    coupon_id: &str,
) -> CloudResult<CouponState> {
    let not_found = || CloudError::NotFound(format!("coupon {coupon_id}"));
    let owner: Option<(String,)> = sqlx::query_as("SELECT member_id FROM coupon WHERE id = $1")
        .bind(coupon_id)
        .fetch_optional(&mut *tx)
        .await?;
    let (member_id,) = owner.ok_or_else(not_found)?;
    locks::lock_member(&mut *tx, &member_id).await?;
    type Row = (Option<String>, Option<String>, Option<i64>, i64, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT used_ref, reserved_ref, reserved_until, valid_from, valid_to
         FROM coupon WHERE id = $1",
    )
    .bind(coupon_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (used_ref, reserved_ref, reserved_until, valid_from, valid_to) =
        row.ok_or_else(not_found)?;
    Ok(CouponState {
        member_id,
        used_ref,
        reserved_ref,
        reserved_until,
        valid_from,
        valid_to,
    })
}

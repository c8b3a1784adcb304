//! The e-shop's points and coupon calls: earn for an order, redeem for an order, a
//! customer-service adjustment, a coupon used on an order.
//!
//! Each is one transaction that resolves the member, locks the member's row
//! (`locks::lock_member`), claims the call's idempotency key (`idempotency`), then checks and
//! writes. With the lock, two redemptions of one balance at once run one after the other, so
//! the second sees what the first took: no online path takes a balance below zero. With the
//! key, a retry answers what the first call answered, and the same key with another request is
//! a 409 that books nothing. A transaction PostgreSQL aborts as a deadlock is tried again
//! (`locks::retrying`).

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::{
    MAX_POINTS, ONLINE, add_entry, add_spend, balance, held, points_for_order, publish, resolve,
    rules, set_note,
};
use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::idempotency::{self, Claim, Route};
use crate::locks;

/// An e-shop order's points: what it earned (by the brand's rules) and booked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderEarn {
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub order_ref: String,
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<OrderLine>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub paid_with_points_minor: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub sku: String,
    #[schema(minimum = 0)]
    pub total_minor: i64,
}

/// The answer to earn, redeem and adjust: the points booked and the balance after them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PointsBooked {
    pub member_id: String,
    pub points: i64,
    pub balance: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OrderRedeem {
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub order_ref: String,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub points: i64,
}

/// A customer-service adjustment of a member's points (goodwill, a correction), once per
/// reference, with the reason in words.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub reference: String,
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    pub points: i64,
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Earns points for an e-shop order, once per order reference. The same reference with other
/// lines is a 409.
pub async fn earn_online(db: &Db, id: &str, order: &OrderEarn) -> CloudResult<PointsBooked> {
    locks::retrying(|| earn_online_once(db, id, order)).await
}

async fn earn_online_once(db: &Db, id: &str, order: &OrderEarn) -> CloudResult<PointsBooked> {
    let order_ref = check_order_ref(&order.order_ref)?;
    if order.lines.is_empty() || order.lines.len() > 500 {
        return Err(CloudError::BadRequest("an order has 1 to 500 lines".into()));
    }
    if order.lines.iter().any(|l| l.total_minor < 0) || order.paid_with_points_minor < 0 {
        return Err(CloudError::BadRequest(
            "line totals and the amount paid with points cannot be negative".into(),
        ));
    }
    let spend = order
        .lines
        .iter()
        .try_fold(0_i64, |sum, line| sum.checked_add(line.total_minor))
        .ok_or_else(|| CloudError::BadRequest("the order's line totals overflow".into()))?
        .saturating_sub(order.paid_with_points_minor)
        .max(0);
    let now = db.clock.now();
    let at = now.timestamp_millis();
    let mut tx = db.write.begin().await?;
    let member_id = resolve_and_lock(&mut tx, id).await?;
    let request = (&member_id, &order.lines, order.paid_with_points_minor);
    if let Claim::Answered(first) =
        idempotency::claim(&mut tx, Route::Earn, order_ref, &request, at).await?
    {
        tx.commit().await?;
        return Ok(first);
    }
    let (tier,): (String,) = sqlx::query_as("SELECT tier FROM member WHERE id = $1")
        .bind(&member_id)
        .fetch_one(&mut *tx)
        .await?;
    let rules = rules(&mut tx).await?;
    let lines: Vec<(String, i64)> = order
        .lines
        .iter()
        .map(|l| (l.sku.clone(), l.total_minor))
        .collect();
    let points = points_for_order(&rules, &tier, &lines, order.paid_with_points_minor, now);
    let key = format!("order:{order_ref}:earn");
    let booked = add_entry(
        &mut tx, &member_id, "earn", points, ONLINE, order_ref, &key, at,
    )
    .await?;
    let points = if booked || points == 0 {
        points
    } else {
        // Booked before keys were recorded (migration 0007): answer what was booked then.
        booked_points(&mut tx, &key).await?.unwrap_or(points)
    };
    add_spend(
        &mut tx,
        &member_id,
        ONLINE,
        &format!("order:{order_ref}"),
        spend,
        at,
    )
    .await?;
    publish(&mut tx, &member_id, at).await?;
    let answer = PointsBooked {
        balance: balance(&mut tx, &member_id).await?,
        member_id,
        points,
    };
    idempotency::record(&mut tx, Route::Earn, order_ref, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// Books what a member's pickup order earns, once per order (its entry's key is
/// `pickup:<order id>:earn`): `lines` are the (SKU, total) the member paid for, `at` when the
/// rule's moment came (the online payment, or the collection). In the caller's transaction,
/// which this locks the member in first, before anything the caller publishes. Returns the
/// points booked now (0 when booked before).
pub(crate) async fn earn_for_pickup(
    tx: &mut AnyConnection,
    member_id: &str,
    order_id: &str,
    lines: &[(String, i64)],
    at: chrono::DateTime<chrono::Utc>,
) -> CloudResult<i64> {
    let member_id = resolve_and_lock(tx, member_id).await?;
    let (tier,): (String,) = sqlx::query_as("SELECT tier FROM member WHERE id = $1")
        .bind(&member_id)
        .fetch_one(&mut *tx)
        .await?;
    let rules = rules(&mut *tx).await?;
    let points = points_for_order(&rules, &tier, lines, 0, at);
    let at_ms = at.timestamp_millis();
    let key = format!("pickup:{order_id}:earn");
    let booked = add_entry(
        tx, &member_id, "earn", points, ONLINE, order_id, &key, at_ms,
    )
    .await?;
    if !booked {
        return Ok(0);
    }
    let spend = lines
        .iter()
        .try_fold(0_i64, |sum, (_, total)| sum.checked_add(*total))
        .unwrap_or(i64::MAX);
    add_spend(
        tx,
        &member_id,
        ONLINE,
        &format!("pickup:{order_id}"),
        spend,
        at_ms,
    )
    .await?;
    publish(tx, &member_id, at_ms).await?;
    Ok(points)
}

/// Redeems points for an e-shop order, once per order reference; refused when the member has
/// fewer points available (balance less live holds) than asked. The same reference for another
/// number of points (or another member) is a 409.
pub async fn redeem_online(db: &Db, id: &str, order: &OrderRedeem) -> CloudResult<PointsBooked> {
    locks::retrying(|| redeem_online_once(db, id, order)).await
}

async fn redeem_online_once(db: &Db, id: &str, order: &OrderRedeem) -> CloudResult<PointsBooked> {
    let order_ref = check_order_ref(&order.order_ref)?;
    if !(1..=MAX_POINTS).contains(&order.points) {
        return Err(CloudError::BadRequest(format!(
            "redeem 1 to {MAX_POINTS} points, not {}",
            order.points
        )));
    }
    let at = db.now_ms();
    let mut tx = db.write.begin().await?;
    let member_id = resolve_and_lock(&mut tx, id).await?;
    let request = (&member_id, order.points);
    if let Claim::Answered(first) =
        idempotency::claim(&mut tx, Route::Redeem, order_ref, &request, at).await?
    {
        tx.commit().await?;
        return Ok(first);
    }
    let key = format!("order:{order_ref}:redeem");
    match booked_points(&mut tx, &key).await? {
        // Booked before keys were recorded (migration 0007): the same request, or a 409.
        Some(points) if points != -order.points => {
            return Err(CloudError::Conflict(format!(
                "order_ref {order_ref:?} already redeemed {} points; a new request needs a new \
                 order_ref",
                -points
            )));
        }
        Some(_) => {}
        None => {
            let available = available(&mut tx, &member_id, at).await?;
            if available < order.points {
                return Err(CloudError::Conflict(format!(
                    "the member has {} points available, fewer than the {} asked for",
                    available.max(0),
                    order.points
                )));
            }
            add_entry(
                &mut tx,
                &member_id,
                "redeem",
                -order.points,
                ONLINE,
                order_ref,
                &key,
                at,
            )
            .await?;
            publish(&mut tx, &member_id, at).await?;
        }
    }
    let answer = PointsBooked {
        balance: balance(&mut tx, &member_id).await?,
        member_id,
        points: order.points,
    };
    idempotency::record(&mut tx, Route::Redeem, order_ref, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// Books an adjustment; the same reference again answers the first booking, and the same
/// reference with other points, another member or another reason is a 409. A deduction may
/// not take the member below the points they have available (balance less holds).
pub async fn adjust(db: &Db, id: &str, adjustment: &Adjustment) -> CloudResult<PointsBooked> {
    locks::retrying(|| adjust_once(db, id, adjustment)).await
}

async fn adjust_once(db: &Db, id: &str, adjustment: &Adjustment) -> CloudResult<PointsBooked> {
    let reference = check_order_ref(&adjustment.reference)
        .map_err(|_| CloudError::BadRequest("reference must be 1 to 64 characters".into()))?;
    if adjustment.points == 0 || adjustment.points.abs() > MAX_POINTS {
        return Err(CloudError::BadRequest(format!(
            "adjust by 1 to {MAX_POINTS} points, up or down, not {}",
            adjustment.points
        )));
    }
    let reason = adjustment.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(CloudError::BadRequest(
            "an adjustment needs its reason, 1 to 500 characters".into(),
        ));
    }
    let at = db.now_ms();
    let mut tx = db.write.begin().await?;
    let member_id = resolve_and_lock(&mut tx, id).await?;
    let request = (&member_id, adjustment.points, reason);
    if let Claim::Answered(first) =
        idempotency::claim(&mut tx, Route::Adjust, reference, &request, at).await?
    {
        tx.commit().await?;
        return Ok(first);
    }
    let key = format!("adjust:{reference}");
    let told: Option<(String, i64)> =
        sqlx::query_as("SELECT member_id, points FROM points_entry WHERE op_key = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
    match told {
        // Booked before keys were recorded (migration 0007).
        Some((told_member, told_points))
            if told_member != member_id || told_points != adjustment.points =>
        {
            return Err(CloudError::Conflict(format!(
                "adjustment {reference} was already booked differently ({told_points} points)"
            )));
        }
        Some(_) => {}
        None => {
            let available = available(&mut tx, &member_id, at).await?;
            if available.saturating_add(adjustment.points) < 0 {
                return Err(CloudError::Conflict(format!(
                    "the member has {} points available; {} cannot be taken",
                    available.max(0),
                    -adjustment.points
                )));
            }
            add_entry(
                &mut tx,
                &member_id,
                "adjust",
                adjustment.points,
                ONLINE,
                reference,
                &key,
                at,
            )
            .await?;
            set_note(&mut tx, &key, reason).await?;
            publish(&mut tx, &member_id, at).await?;
        }
    }
    let answer = PointsBooked {
        balance: balance(&mut tx, &member_id).await?,
        member_id,
        points: adjustment.points,
    };
    idempotency::record(&mut tx, Route::Adjust, reference, &answer).await?;
    tx.commit().await?;
    Ok(answer)
}

/// Uses a coupon on an e-shop order, once per order reference: an order uses one member
/// coupon, so the same reference with another coupon is a 409. A coupon used elsewhere,
/// reserved by a till for another sale, expired or not yet valid is refused.
pub async fn redeem_coupon_online(db: &Db, coupon_id: &str, order_ref: &str) -> CloudResult<()> {
    locks::retrying(|| redeem_coupon_online_once(db, coupon_id, order_ref)).await
}

async fn redeem_coupon_online_once(db: &Db, coupon_id: &str, order_ref: &str) -> CloudResult<()> {
    let order_ref = check_order_ref(order_ref)?;
    let at = db.now_ms();
    let mut tx = db.write.begin().await?;
    let state = super::holds::lock_coupon(&mut tx, coupon_id).await?;
    if let Claim::Answered(()) =
        idempotency::claim(&mut tx, Route::CouponRedeem, order_ref, &coupon_id, at).await?
    {
        tx.commit().await?;
        return Ok(());
    }
    let reference = format!("order:{order_ref}");
    state.usable_by(&reference, at)?;
    if state.used_ref.as_deref() != Some(reference.as_str()) {
        let used = sqlx::query(
            "UPDATE coupon SET used_at = $1, used_channel = $2, used_ref = $3,
                 reserved_ref = NULL, reserved_until = NULL
             WHERE id = $4 AND used_at IS NULL",
        )
        .bind(at)
        .bind(ONLINE)
        .bind(&reference)
        .bind(coupon_id)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Err(CloudError::Conflict("the coupon was already used".into()));
        }
        publish(&mut tx, &state.member_id, at).await?;
    }
    idempotency::record(&mut tx, Route::CouponRedeem, order_ref, &()).await?;
    tx.commit().await?;
    Ok(())
}

/// The member an id stands for, with their row locked until the transaction ends.
pub(super) async fn resolve_and_lock(tx: &mut AnyConnection, id: &str) -> CloudResult<String> {
    let member_id = resolve(&mut *tx, id)
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))?;
    if !locks::lock_member(&mut *tx, &member_id).await? {
        return Err(CloudError::NotFound(format!("member {id}")));
    }
    Ok(member_id)
}

/// What a member can spend online at `at_ms`: balance less live holds.
pub(super) async fn available(
    tx: &mut AnyConnection,
    member_id: &str,
    at_ms: i64,
) -> CloudResult<i64> {
    let balance = balance(&mut *tx, member_id).await?;
    let held = held(&mut *tx, member_id, at_ms).await?;
    Ok(balance.saturating_sub(held))
}

async fn booked_points(tx: &mut AnyConnection, op_key: &str) -> CloudResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT points FROM points_entry WHERE op_key = $1")
        .bind(op_key)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.map(|(points,)| points))
}

fn check_order_ref(order_ref: &str) -> CloudResult<&str> {
    let order_ref = order_ref.trim();
    if order_ref.is_empty() || order_ref.len() > 64 {
        return Err(CloudError::BadRequest(
            "order_ref must be 1 to 64 characters".into(),
        ));
    }
    Ok(order_ref)
}

//! The brand's periodic member work: points expiry and birthday coupons. `jobs` runs both
//! hourly, once per period across processes; `points expire` and `coupons birthday` run them
//! by hand. Both take `now` from the caller (the cloud's clock, or `--now`).
//!
//! Expiry books each member's lapsing points in a transaction of its own that locks the
//! member's row first (`locks::lock_member`) and computes what lapses under the lock, so an
//! e-shop redemption at the same moment is counted before or after, never both: the expiry
//! never takes the balance below zero. Birthday coupons are given the same way, one member
//! per transaction, member's row first and the feed last.

use chrono::{DateTime, Datelike, Months, TimeZone, Utc};

use super::{NewCoupon, ONLINE, add_entry, insert_coupon, publish, rules, set_note};
use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::locks;

/// Entries that expire now: points earned more than `expiry_months` ago that nothing has used
/// yet, first in first out. Writes one `expire` entry per member (once per day and member) and
/// returns the members touched.
pub async fn expire_points(db: &Db, now: DateTime<Utc>) -> CloudResult<usize> {
    let rules = {
        let mut conn = db.read.acquire().await?;
        rules(&mut conn).await?
    };
    if rules.expiry_months == 0 {
        return Ok(0);
    }
    let Some(cutoff) = now.checked_sub_months(Months::new(rules.expiry_months)) else {
        return Ok(0);
    };
    // The members with points lapsing, by a read outside any lock: the candidates. What lapses
    // is computed again for each under the member's lock.
    let candidates: Vec<(String,)> = sqlx::query_as(
        "SELECT member_id FROM points_entry GROUP BY member_id
         HAVING SUM(CASE WHEN points > 0 AND created_at < $1 THEN points ELSE 0 END)
              > SUM(CASE WHEN points < 0 THEN -points ELSE 0 END)",
    )
    .bind(cutoff.timestamp_millis())
    .fetch_all(&db.read)
    .await?;
    let expiry = Expiry {
        cutoff,
        months: rules.expiry_months,
        day: now.format("%Y-%m-%d").to_string(),
        at_ms: now.timestamp_millis(),
    };
    let mut touched = 0;
    for (member_id,) in candidates {
        if locks::retrying(|| expire_member(db, &member_id, &expiry)).await? {
            touched += 1;
        }
    }
    Ok(touched)
}

/// One run of points expiry: what lapses and when it is booked.
struct Expiry {
    /// Points earned before this moment lapse.
    cutoff: DateTime<Utc>,
    /// The brand's expiry_months, for the entry's note.
    months: u32,
    /// The day booked (one expiry per member and day).
    day: String,
    at_ms: i64,
}

/// Books one member's lapsing points in a transaction of its own, member's row first; false
/// when nothing lapses (or it was booked already today).
async fn expire_member(db: &Db, member_id: &str, expiry: &Expiry) -> CloudResult<bool> {
    let mut tx = db.write.begin().await?;
    if !locks::lock_member(&mut tx, member_id).await? {
        return Ok(false);
    }
    // Earned before the cutoff, less everything taken away since the start (redeemed,
    // reversed, expired): what lapses now.
    let (old_earned, taken): (i64, i64) = sqlx::query_as(
        "SELECT
             CAST(COALESCE(SUM(CASE WHEN points > 0 AND created_at < $1 THEN points ELSE 0 END), 0) AS BIGINT),
             CAST(COALESCE(SUM(CASE WHEN points < 0 THEN -points ELSE 0 END), 0) AS BIGINT)
         FROM points_entry WHERE member_id = $2",
    )
    .bind(expiry.cutoff.timestamp_millis())
    .bind(member_id)
    .fetch_one(&mut *tx)
    .await?;
    let (balance,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM points_entry
         WHERE member_id = $1",
    )
    .bind(member_id)
    .fetch_one(&mut *tx)
    .await?;
    // Never more than the balance: expiry takes unused points, it makes no debt.
    let lapsing = old_earned.saturating_sub(taken).min(balance);
    if lapsing <= 0 {
        return Ok(false);
    }
    let key = format!("expire:{member_id}:{}", expiry.day);
    let (day, at) = (expiry.day.as_str(), expiry.at_ms);
    if !add_entry(
        &mut tx, member_id, "expire", -lapsing, ONLINE, day, &key, at,
    )
    .await?
    {
        return Ok(false);
    }
    let note = format!(
        "{lapsing} points earned before {} and not used expired after {} months",
        expiry.cutoff.format("%Y-%m-%d"),
        expiry.months
    );
    set_note(&mut tx, &key, &note).await?;
    publish(&mut tx, member_id, db.now_ms()).await?;
    tx.commit().await?;
    Ok(true)
}

/// The brand's birthday gift: 10 % off, usable from the first day of the birthday month until
/// the first day of the next.
pub fn birthday_coupon(month_start: DateTime<Utc>, next_month: DateTime<Utc>) -> NewCoupon {
    NewCoupon {
        kind: "birthday".into(),
        title: "生日禮 Birthday 10 % off".into(),
        discount_kind: "percent".into(),
        value: 1_000,
        min_spend_minor: 0,
        valid_from_ms: month_start.timestamp_millis(),
        valid_to_ms: next_month.timestamp_millis(),
    }
}

/// Gives the birthday coupon to every member whose birthday is in `now`'s month (UTC) and who
/// holds no birthday coupon valid in it yet; returns how many were issued. Each reaches the
/// tills with the member.
///
/// Like expiry, each member is a transaction of its own that locks the member's row first and
/// publishes last (the lock order of `locks`): one transaction over every member would hold
/// the feed's counter while taking the next member's row, and meet an expiry or an e-shop call
/// running at the same time in a deadlock on PostgreSQL.
pub async fn issue_birthday_coupons(db: &Db, now: DateTime<Utc>) -> CloudResult<usize> {
    let month_start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .ok_or_else(|| CloudError::BadRequest(format!("no month starts for {now}")))?;
    let next_month = month_start
        .checked_add_months(Months::new(1))
        .ok_or_else(|| CloudError::BadRequest(format!("no month follows {month_start}")))?;
    // The members due, by a read outside any lock: the candidates. Whether a coupon is still
    // owed is decided again for each under the member's lock.
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT m.id FROM member m
         WHERE m.birthday IS NOT NULL AND substr(m.birthday, 6, 2) = $1
           AND NOT EXISTS (SELECT 1 FROM coupon c
                           WHERE c.member_id = m.id AND c.kind = 'birthday' AND c.valid_to > $2)",
    )
    .bind(format!("{:02}", now.month()))
    .bind(month_start.timestamp_millis())
    .fetch_all(&db.read)
    .await?;
    let gift = birthday_coupon(month_start, next_month);
    let month = month_start.format("%Y-%m").to_string();
    let mut issued = 0;
    for (member_id,) in &due {
        let given = locks::retrying(|| give_birthday_coupon(db, member_id, &month, &gift)).await?;
        if given {
            issued += 1;
        }
    }
    Ok(issued)
}

/// Gives one member this month's birthday coupon, in a transaction of its own; false when the
/// member is gone or has it already.
async fn give_birthday_coupon(
    db: &Db,
    member_id: &str,
    month: &str,
    gift: &NewCoupon,
) -> CloudResult<bool> {
    let mut tx = db.write.begin().await?;
    if !locks::lock_member(&mut tx, member_id).await? {
        return Ok(false);
    }
    let (held,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM coupon
         WHERE member_id = $1 AND kind = 'birthday' AND valid_to > $2",
    )
    .bind(member_id)
    .bind(gift.valid_from_ms)
    .fetch_one(&mut *tx)
    .await?;
    // One id per member and month as well: two clouds running this at once issue one coupon.
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("omnitill:birthday:{member_id}:{month}").as_bytes(),
    )
    .to_string();
    if held > 0 || !insert_coupon(&mut tx, &id, member_id, gift).await? {
        return Ok(false);
    }
    publish(&mut tx, member_id, db.now_ms()).await?;
    tx.commit().await?;
    Ok(true)
}

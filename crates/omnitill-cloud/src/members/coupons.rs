//! Coupons: issuing one (checked), the coupons a member can still use, and a coupon used on a
//! till's sale (once across channels; a second use is a conflict, the sale stands).

use omnitill_protocol::loyalty::CachedCoupon;
use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::{flag, publish, resolve};
use crate::db::Db;
use crate::error::{CloudError, CloudResult};

/// A coupon to issue. `valid_to_ms` must come after `valid_from_ms`, and a percent is at most
/// 10000 basis points.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewCoupon {
    /// `welcome`, `birthday` or `campaign`.
    #[schema(value_type = crate::openapi::CouponKind)]
    pub kind: String,
    #[schema(min_length = 1, max_length = 80, pattern = r"\S")]
    pub title: String,
    /// `percent` (value in basis points) or `amount` (minor units).
    #[schema(value_type = crate::openapi::DiscountKind)]
    pub discount_kind: String,
    #[schema(minimum = 1)]
    pub value: i64,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub min_spend_minor: i64,
    pub valid_from_ms: i64,
    pub valid_to_ms: i64,
}

pub(crate) fn check_coupon(coupon: &NewCoupon) -> CloudResult<()> {
    let bad = |why: &str| Err(CloudError::BadRequest(format!("a coupon {why}")));
    if !matches!(coupon.kind.as_str(), "welcome" | "birthday" | "campaign") {
        return bad("is a welcome, birthday or campaign coupon");
    }
    let title = coupon.title.trim().chars().count();
    if title == 0 || title > 80 {
        return bad("needs a title of 1 to 80 characters");
    }
    match coupon.discount_kind.as_str() {
        "percent" if (1..=10_000).contains(&coupon.value) => {}
        "amount" if coupon.value > 0 => {}
        _ => return bad("takes a percent (1 to 10000 basis points) or a positive amount off"),
    }
    if coupon.min_spend_minor < 0 || coupon.valid_to_ms <= coupon.valid_from_ms {
        return bad("needs a minimum spend of 0 or more and a window that ends after it starts");
    }
    Ok(())
}

pub(crate) async fn issue_coupon_in(
    tx: &mut AnyConnection,
    member_id: &str,
    coupon: &NewCoupon,
) -> CloudResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    insert_coupon(tx, &id, member_id, coupon).await?;
    Ok(id)
}

/// Inserts a coupon under `id`; false when a coupon with that id exists already.
pub(crate) async fn insert_coupon(
    tx: &mut AnyConnection,
    id: &str,
    member_id: &str,
    coupon: &NewCoupon,
) -> CloudResult<bool> {
    check_coupon(coupon)?;
    let written = sqlx::query(
        "INSERT INTO coupon (id, member_id, kind, title, discount_kind, value, min_spend_minor,
             valid_from, valid_to)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(member_id)
    .bind(&coupon.kind)
    .bind(coupon.title.trim())
    .bind(&coupon.discount_kind)
    .bind(coupon.value)
    .bind(coupon.min_spend_minor)
    .bind(coupon.valid_from_ms)
    .bind(coupon.valid_to_ms)
    .execute(&mut *tx)
    .await?;
    Ok(written.rows_affected() == 1)
}

/// Issues a coupon to a member and republishes them.
pub async fn issue_coupon(db: &Db, member_id: &str, coupon: &NewCoupon) -> CloudResult<String> {
    let mut tx = db.write.begin().await?;
    let member_id = resolve(&mut tx, member_id)
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {member_id}")))?;
    let id = issue_coupon_in(&mut tx, &member_id, coupon).await?;
    publish(&mut tx, &member_id, db.now_ms()).await?;
    tx.commit().await?;
    Ok(id)
}

/// A member's coupons that can still be used (unused, not expired).
pub(crate) async fn usable_coupons(
    tx: &mut AnyConnection,
    member_id: &str,
    now_ms: i64,
) -> CloudResult<Vec<CachedCoupon>> {
    type Row = (String, String, String, String, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, title, discount_kind, value, min_spend_minor, valid_from, valid_to
         FROM coupon WHERE member_id = $1 AND used_at IS NULL AND valid_to > $2 ORDER BY valid_to",
    )
    .bind(member_id)
    .bind(now_ms)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                kind,
                title,
                discount_kind,
                value,
                min_spend_minor,
                valid_from_ms,
                valid_to_ms,
            )| {
                CachedCoupon {
                    id,
                    kind,
                    title,
                    discount_kind,
                    value,
                    min_spend_minor,
                    valid_from_ms,
                    valid_to_ms,
                }
            },
        )
        .collect())
}

/// Marks a coupon used by `ref_id` in `channel`. A coupon already used by something else is a
/// double use: flagged once per coupon for the channel's review list, and the use stands.
pub async fn use_coupon(
    tx: &mut AnyConnection,
    channel: &str,
    member_id: &str,
    coupon_id: &str,
    ref_id: &str,
    receipt: &str,
    at_ms: i64,
) -> CloudResult<()> {
    let row: Option<(String, Option<String>, Option<String>, String)> =
        sqlx::query_as("SELECT member_id, used_ref, used_channel, title FROM coupon WHERE id = $1")
            .bind(coupon_id)
            .fetch_optional(&mut *tx)
            .await?;
    match row {
        None => {
            let summary = format!("{receipt} used a coupon the brand does not know ({coupon_id})");
            flag(
                tx,
                channel,
                "unknown_coupon",
                member_id,
                coupon_id,
                &summary,
            )
            .await
        }
        Some((_, Some(used_ref), _, _)) if used_ref == ref_id => Ok(()),
        Some((_, Some(used_ref), used_channel, title)) => {
            let summary = format!(
                "Coupon \"{title}\" was used twice: by {used_ref} ({}) and by {receipt}; the sales stand",
                used_channel.as_deref().unwrap_or("?")
            );
            flag(
                tx,
                channel,
                "coupon_double_use",
                member_id,
                coupon_id,
                &summary,
            )
            .await
        }
        Some((_, None, _, _)) => {
            sqlx::query(
                "UPDATE coupon SET used_at = $1, used_channel = $2, used_ref = $3,
                     reserved_ref = NULL, reserved_until = NULL
                 WHERE id = $4",
            )
            .bind(at_ms)
            .bind(channel)
            .bind(ref_id)
            .bind(coupon_id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
    }
}

//! What a till's member view on the shop floor asks of the cloud while it is online: the
//! member's newest e-shop lists, the brand's tags, the points that lapse within
//! `EXPIRY_HORIZON_DAYS`, their favourites' stock at the brand's other stores, and their newest
//! purchases in both channels.
//!
//! The points figure follows the expiry job's own rule (`members::periodic`): points earned
//! before the cutoff, less everything taken away since the start, never more than the balance.
//! Here the cutoff is the one the job will use `EXPIRY_HORIZON_DAYS` from now.

use chrono::{DateTime, Duration, Months, Utc};
use omnitill_protocol::floor::{MemberFloor, StoreStock};
use sqlx::AnyConnection;

use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::{interests, members};

/// How far ahead the view warns of lapsing points.
pub const EXPIRY_HORIZON_DAYS: i64 = 30;
/// How many of the member's newest purchases the view shows.
pub const PURCHASES_SHOWN: i64 = 10;

/// Member `id`'s floor view as the cloud sees it now, for a till of `store_id`.
pub async fn for_till(
    db: &Db,
    store_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> CloudResult<MemberFloor> {
    let mut tx = db.read.begin().await?;
    let member_id = members::resolve(&mut tx, id)
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))?;
    let (tags,): (String,) = sqlx::query_as("SELECT tags FROM member WHERE id = $1")
        .bind(&member_id)
        .fetch_one(&mut *tx)
        .await?;
    let interests = interests::current(&mut tx, &member_id).await?;
    let by = now + Duration::days(EXPIRY_HORIZON_DAYS);
    let points_expiring = points_lapsing_by(&mut tx, &member_id, by).await?;
    let skus: Vec<&str> = interests
        .favourites
        .iter()
        .map(|f| f.sku.as_str())
        .collect();
    let stock_elsewhere = stock_elsewhere(&mut tx, store_id, &skus).await?;
    drop(tx);
    let purchases = members::history(db, &member_id, PURCHASES_SHOWN)
        .await?
        .purchases;
    Ok(MemberFloor {
        member_id,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        interests,
        points_expiring,
        points_expiring_by_ms: by.timestamp_millis(),
        stock_elsewhere,
        purchases,
    })
}

/// The points of `member_id` that the expiry job will have taken by `by`, as things stand.
async fn points_lapsing_by(
    tx: &mut AnyConnection,
    member_id: &str,
    by: DateTime<Utc>,
) -> CloudResult<i64> {
    let rules = members::rules(tx).await?;
    if rules.expiry_months == 0 {
        return Ok(0);
    }
    let Some(cutoff) = by.checked_sub_months(Months::new(rules.expiry_months)) else {
        return Ok(0);
    };
    let (old_earned, taken, balance): (i64, i64, i64) = sqlx::query_as(
        "SELECT
             CAST(COALESCE(SUM(CASE WHEN points > 0 AND created_at < $1 THEN points ELSE 0 END), 0) AS BIGINT),
             CAST(COALESCE(SUM(CASE WHEN points < 0 THEN -points ELSE 0 END), 0) AS BIGINT),
             CAST(COALESCE(SUM(points), 0) AS BIGINT)
         FROM points_entry WHERE member_id = $2",
    )
    .bind(cutoff.timestamp_millis())
    .bind(member_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(old_earned.saturating_sub(taken).min(balance).max(0))
}

/// What the other stores have of `skus` for sale, most first per SKU; stores with none are
/// left out.
async fn stock_elsewhere(
    tx: &mut AnyConnection,
    store_id: &str,
    skus: &[&str],
) -> CloudResult<Vec<StoreStock>> {
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..skus.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT l.sku, s.code, s.name, CAST(l.on_hand - l.reserved AS BIGINT)
         FROM stock_level l JOIN store s ON s.id = l.store_id
         WHERE l.store_id <> $1 AND l.on_hand - l.reserved > 0 AND l.sku IN ({})
         ORDER BY l.sku, l.on_hand - l.reserved DESC, s.code",
        placeholders.join(", ")
    );
    let mut query =
        sqlx::query_as::<_, (String, String, String, i64)>(sqlx::AssertSqlSafe(sql)).bind(store_id);
    for sku in skus {
        query = query.bind(*sku);
    }
    Ok(query
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(sku, store_code, store_name, available)| StoreStock {
            sku,
            store_code,
            store_name,
            available,
        })
        .collect())
}

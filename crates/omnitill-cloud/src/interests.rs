//! Members' e-shop favourites and recently viewed products: the e-shop sends them, the cloud
//! keeps them, and the stores whose tills keep the member's look-up keys (`lookup_keys`: the
//! member shops there, enrolled there, or was looked up there) get them in their feed, so the
//! shop floor sees them offline.
//!
//! A favourite keeps the product's price when it was saved, so the floor can say it is cheaper
//! now. A member's views keep only the newest `MAX_VIEWED`. Every change publishes the whole
//! current lists to each such store (`Change::MemberInterests`); a store that stops keeping the
//! member gets both lists empty.

use omnitill_protocol::loyalty::{Favourite, MemberInterests, Viewed};
use omnitill_protocol::pull::Change;
use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{CloudError, CloudResult};
use crate::{feed, members};

/// How many recently viewed products a member keeps.
pub const MAX_VIEWED: usize = 20;
/// How many favourites a member may keep.
pub const MAX_FAVOURITES: i64 = 200;

/// A favourite as the e-shop sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SaveFavourite {
    /// When the member saved it, Unix ms (now, if absent).
    pub saved_at_ms: Option<i64>,
}

/// A product view as the e-shop sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RecordView {
    pub sku: String,
    /// When the member viewed it, Unix ms (now, if absent).
    pub viewed_at_ms: Option<i64>,
}

/// Saves `sku` as a favourite of member `id`, with its price at the time.
pub async fn save_favourite(
    db: &Db,
    id: &str,
    sku: &str,
    request: &SaveFavourite,
) -> CloudResult<MemberInterests> {
    let now = db.now_ms();
    let saved_at = checked_time(request.saved_at_ms, now, "saved_at_ms")?;
    let mut tx = db.write.begin().await?;
    let member_id = member(&mut tx, id).await?;
    known_sku(&mut tx, sku).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM member_favourite WHERE member_id = $1 AND sku <> $2")
            .bind(&member_id)
            .bind(sku)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_FAVOURITES {
        return Err(CloudError::Conflict(format!(
            "a member keeps at most {MAX_FAVOURITES} favourites: remove one first"
        )));
    }
    let price: Option<(i64,)> = sqlx::query_as(
        "SELECT price_minor FROM price WHERE sku = $1 AND effective_from <= $2
         ORDER BY effective_from DESC LIMIT 1",
    )
    .bind(sku)
    .bind(saved_at)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO member_favourite (member_id, sku, saved_at, price_at_save)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (member_id, sku) DO UPDATE SET saved_at = excluded.saved_at,
             price_at_save = excluded.price_at_save",
    )
    .bind(&member_id)
    .bind(sku)
    .bind(saved_at)
    .bind(price.map(|(p,)| p))
    .execute(&mut *tx)
    .await?;
    let interests = publish(&mut tx, &member_id).await?;
    tx.commit().await?;
    Ok(interests)
}

/// Removes `sku` from member `id`'s favourites (nothing happens if it was not one).
pub async fn remove_favourite(db: &Db, id: &str, sku: &str) -> CloudResult<MemberInterests> {
    let mut tx = db.write.begin().await?;
    let member_id = member(&mut tx, id).await?;
    sqlx::query("DELETE FROM member_favourite WHERE member_id = $1 AND sku = $2")
        .bind(&member_id)
        .bind(sku)
        .execute(&mut *tx)
        .await?;
    let interests = publish(&mut tx, &member_id).await?;
    tx.commit().await?;
    Ok(interests)
}

/// Records that member `id` viewed a product, keeping their newest `MAX_VIEWED` views.
pub async fn record_view(db: &Db, id: &str, view: &RecordView) -> CloudResult<MemberInterests> {
    let now = db.now_ms();
    let viewed_at = checked_time(view.viewed_at_ms, now, "viewed_at_ms")?;
    let mut tx = db.write.begin().await?;
    let member_id = member(&mut tx, id).await?;
    known_sku(&mut tx, &view.sku).await?;
    sqlx::query(
        "INSERT INTO member_view (member_id, sku, viewed_at) VALUES ($1, $2, $3)
         ON CONFLICT (member_id, sku) DO UPDATE SET viewed_at = excluded.viewed_at
         WHERE member_view.viewed_at < excluded.viewed_at",
    )
    .bind(&member_id)
    .bind(&view.sku)
    .bind(viewed_at)
    .execute(&mut *tx)
    .await?;
    let kept = current(&mut tx, &member_id).await?;
    for old in kept.viewed.iter().skip(MAX_VIEWED) {
        sqlx::query("DELETE FROM member_view WHERE member_id = $1 AND sku = $2")
            .bind(&member_id)
            .bind(&old.sku)
            .execute(&mut *tx)
            .await?;
    }
    let interests = publish(&mut tx, &member_id).await?;
    tx.commit().await?;
    Ok(interests)
}

/// Member `id`'s favourites and recent views.
pub async fn get(db: &Db, id: &str) -> CloudResult<MemberInterests> {
    let mut tx = db.read.begin().await?;
    let member_id = member(&mut tx, id).await?;
    current(&mut tx, &member_id).await
}

/// The member's current lists: favourites newest first, views newest first.
pub(crate) async fn current(
    tx: &mut AnyConnection,
    member_id: &str,
) -> CloudResult<MemberInterests> {
    let favourites: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT sku, saved_at, price_at_save FROM member_favourite WHERE member_id = $1
         ORDER BY saved_at DESC, sku",
    )
    .bind(member_id)
    .fetch_all(&mut *tx)
    .await?;
    let viewed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT sku, viewed_at FROM member_view WHERE member_id = $1
         ORDER BY viewed_at DESC, sku",
    )
    .bind(member_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(MemberInterests {
        member_id: member_id.to_owned(),
        favourites: favourites
            .into_iter()
            .map(|(sku, saved_at_ms, price_at_save_minor)| Favourite {
                sku,
                saved_at_ms,
                price_at_save_minor,
            })
            .collect(),
        viewed: viewed
            .into_iter()
            .map(|(sku, viewed_at_ms)| Viewed { sku, viewed_at_ms })
            .collect(),
    })
}

/// Publishes the member's current lists to every store that keeps their look-up keys.
async fn publish(tx: &mut AnyConnection, member_id: &str) -> CloudResult<MemberInterests> {
    let interests = current(tx, member_id).await?;
    let stores: Vec<(String,)> =
        sqlx::query_as("SELECT store_id FROM member_store WHERE member_id = $1 AND keyed = 1")
            .bind(member_id)
            .fetch_all(&mut *tx)
            .await?;
    for (store_id,) in stores {
        publish_to(tx, &store_id, interests.clone()).await?;
    }
    Ok(interests)
}

/// Publishes `interests` in one store's feed (both lists empty: withdrawn there).
pub(crate) async fn publish_to(
    tx: &mut AnyConnection,
    store_id: &str,
    interests: MemberInterests,
) -> CloudResult<()> {
    let member_id = interests.member_id.clone();
    feed::publish(
        tx,
        store_id,
        "member_interests",
        &member_id,
        &Change::MemberInterests(interests),
    )
    .await?;
    Ok(())
}

/// The member `id` stands for (a merged id finds the survivor), or 404.
async fn member(tx: &mut AnyConnection, id: &str) -> CloudResult<String> {
    members::resolve(tx, id.trim())
        .await?
        .ok_or_else(|| CloudError::NotFound(format!("member {id}")))
}

/// Refuses a SKU the catalog does not have.
async fn known_sku(tx: &mut AnyConnection, sku: &str) -> CloudResult<()> {
    let known: Option<(String,)> = sqlx::query_as("SELECT sku FROM product WHERE sku = $1")
        .bind(sku)
        .fetch_optional(&mut *tx)
        .await?;
    match known {
        Some(_) => Ok(()),
        None => Err(CloudError::BadRequest(format!(
            "SKU {sku} is not in the catalog"
        ))),
    }
}

/// A time the e-shop gave, or now: not before 2000, nor more than a day ahead.
fn checked_time(given: Option<i64>, now: i64, field: &str) -> CloudResult<i64> {
    let Some(at) = given else {
        return Ok(now);
    };
    if !(946_684_800_000..=now.saturating_add(86_400_000)).contains(&at) {
        return Err(CloudError::BadRequest(format!(
            "{field} must be a time between 2000 and tomorrow"
        )));
    }
    Ok(at)
}

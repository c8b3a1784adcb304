//! The change feed: what tills cache, newest state per key, numbered by a cursor.
//!
//! `publish` replaces the row for (scope, entity, key) with a new one under the next cursor, in
//! the caller's transaction. Scope `*` is seen by every store (the catalog); a store id scopes
//! a row to that store (its stock). A till pulls the rows after its cursor for `*` and its own
//! store, so pulling from zero is a full snapshot and pulling from its cursor is every change
//! since, with older versions of the same row already folded away.
//!
//! `prune_retired` takes retired (inactive) products out of the feed, so new tills never
//! download them. A till whose cursor is older than the newest pruned row could miss that a
//! product was retired, so the feed's floor (counter `feed_floor`) rises to that row's cursor,
//! and a till pulling from below the floor is told to download everything again (`reset`).

use omnitill_protocol::pull::{Change, FeedEntry};
use sqlx::AnyConnection;

use crate::db::{Db, batch_statement, next_counter, placeholders, take_counter, value_rows};
use crate::error::{CloudError, CloudResult};

/// The scope every store sees.
pub const ALL_STORES: &str = "*";

/// Publishes `change` under the next cursor, replacing any earlier row with the same key.
pub async fn publish(
    tx: &mut AnyConnection,
    scope: &str,
    entity: &str,
    key: &str,
    change: &Change,
) -> CloudResult<i64> {
    let data = serde_json::to_string(change)
        .map_err(|e| CloudError::Internal(format!("a feed change cannot be encoded: {e}")))?;
    let cursor = next_counter(&mut *tx, "feed").await?;
    sqlx::query("DELETE FROM feed WHERE scope = $1 AND entity = $2 AND entity_key = $3")
        .bind(scope)
        .bind(entity)
        .bind(key)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO feed (cursor, scope, entity, entity_key, data) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(cursor)
    .bind(scope)
    .bind(entity)
    .bind(key)
    .bind(data)
    .execute(&mut *tx)
    .await?;
    Ok(cursor)
}

/// Rows one batched feed statement writes at most.
const PUBLISH_CHUNK: usize = 200;

/// Publishes many changes of one entity in one scope, as `publish` would one by one in this
/// order, with a few statements per `PUBLISH_CHUNK` changes: cursors are taken from the counter
/// in one step, the rows they replace are deleted in one statement and the new rows inserted in
/// one. A key given twice keeps its last change.
pub async fn publish_many(
    tx: &mut AnyConnection,
    scope: &str,
    entity: &str,
    changes: &[(String, Change)],
) -> CloudResult<()> {
    let mut last_of_key = std::collections::HashMap::with_capacity(changes.len());
    for (index, (key, _)) in changes.iter().enumerate() {
        last_of_key.insert(key.as_str(), index);
    }
    let unique: Vec<&(String, Change)> = changes
        .iter()
        .enumerate()
        .filter(|(index, (key, _))| last_of_key.get(key.as_str()) == Some(index))
        .map(|(_, change)| change)
        .collect();
    for chunk in unique.chunks(PUBLISH_CHUNK) {
        let rows = chunk
            .iter()
            .map(|(key, change)| {
                serde_json::to_string(change)
                    .map(|data| (key, data))
                    .map_err(|e| {
                        CloudError::Internal(format!("a feed change cannot be encoded: {e}"))
                    })
            })
            .collect::<CloudResult<Vec<_>>>()?;
        let last = take_counter(&mut *tx, "feed", rows.len() as i64).await?;
        let first = last - rows.len() as i64 + 1;
        let delete = format!(
            "DELETE FROM feed WHERE scope = $1 AND entity = $2 AND entity_key IN ({})",
            placeholders(3, rows.len())
        );
        let mut query = sqlx::query(batch_statement(delete))
            .bind(scope)
            .bind(entity);
        for (key, _) in &rows {
            query = query.bind(key.as_str());
        }
        query.execute(&mut *tx).await?;
        let insert = format!(
            "INSERT INTO feed (cursor, scope, entity, entity_key, data) VALUES {}",
            value_rows(rows.len(), 5)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for (offset, (key, data)) in rows.into_iter().enumerate() {
            query = query
                .bind(first + offset as i64)
                .bind(scope)
                .bind(entity)
                .bind(key.as_str())
                .bind(data);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Decodes a stored feed row. A row this build cannot read becomes `Change::Unknown`.
pub fn entry(cursor: i64, data: &str) -> FeedEntry {
    FeedEntry {
        cursor,
        change: serde_json::from_str(data).unwrap_or(Change::Unknown),
    }
}

/// The oldest cursor the feed can continue from; a till below it must download again.
pub async fn floor(tx: &mut AnyConnection) -> CloudResult<i64> {
    let (floor,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(value), 0) FROM counter WHERE name = 'feed_floor'")
            .fetch_one(&mut *tx)
            .await?;
    Ok(floor)
}

/// What `prune_retired` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub rows: u64,
    pub floor: i64,
}

/// Removes the feed rows of retired products (inactive in the catalog) and raises the floor to
/// the newest removed row, in one transaction.
pub async fn prune_retired(db: &Db) -> CloudResult<Pruned> {
    let mut tx = db.write.begin().await?;
    let (newest,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(MAX(f.cursor), 0) FROM feed f
         JOIN product p ON p.sku = f.entity_key
         WHERE f.scope = $1 AND f.entity = 'product' AND p.active = 0",
    )
    .bind(ALL_STORES)
    .fetch_one(&mut *tx)
    .await?;
    let rows = sqlx::query(
        "DELETE FROM feed WHERE scope = $1 AND entity = 'product'
         AND entity_key IN (SELECT sku FROM product WHERE active = 0)",
    )
    .bind(ALL_STORES)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let mut floor = floor(&mut tx).await?;
    if newest > floor {
        sqlx::query(
            "INSERT INTO counter (name, value) VALUES ('feed_floor', $1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(newest)
        .execute(&mut *tx)
        .await?;
        floor = newest;
    }
    tx.commit().await?;
    Ok(Pruned { rows, floor })
}

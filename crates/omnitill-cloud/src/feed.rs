//! The change feed: what tills cache, newest state per key, numbered by a cursor.
//!
//! `publish` replaces the row for (scope, entity, key) with a new one under the next cursor, in
//! the caller's transaction. Scope `*` is seen by every store (the catalog); a store id scopes
//! a row to that store (its stock). A till pulls the rows after its cursor for `*` and its own
//! store, so pulling from zero is a full snapshot and pulling from its cursor is every change
//! since, with older versions of the same row already folded away.

use omnitill_protocol::pull::{Change, FeedEntry};
use sqlx::AnyConnection;

use crate::db::next_counter;
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

/// Decodes a stored feed row. A row this build cannot read becomes `Change::Unknown`.
pub fn entry(cursor: i64, data: &str) -> FeedEntry {
    FeedEntry {
        cursor,
        change: serde_json::from_str(data).unwrap_or(Change::Unknown),
    }
}

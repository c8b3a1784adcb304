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
//!
//! Every write also keeps `feed_block` (rows per scope per block of `FEED_BLOCK` cursors) in
//! step, so `count_after` answers how many entries remain after a cursor from the block totals
//! and the rows of a single block.
//!
//! `publish_bulk` publishes a catalog import's hundreds of thousands of changes with a few
//! statements per ten thousand, each batch bound as one JSON value.

use omnitill_protocol::pull::{Change, FeedEntry};
use sqlx::AnyConnection;

use crate::db::{
    Backend, Db, batch_statement, json_rows, json_texts, next_counter, placeholders, take_counter,
    value_rows,
};
use crate::error::{CloudError, CloudResult};
use crate::json_batches::{Param, encode};

/// The scope every store sees.
pub const ALL_STORES: &str = "*";

/// Cursors per block of `feed_block` (migration 0002 fills it with the same size).
pub const FEED_BLOCK: i64 = 1_024;

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
    let replaced: Vec<(i64,)> = sqlx::query_as(
        "DELETE FROM feed WHERE scope = $1 AND entity = $2 AND entity_key = $3 RETURNING cursor",
    )
    .bind(scope)
    .bind(entity)
    .bind(key)
    .fetch_all(&mut *tx)
    .await?;
    let mut blocks = BlockCounts::default();
    for (old,) in replaced {
        blocks.add(scope, old, -1);
    }
    blocks.add(scope, cursor, 1);
    blocks.write(&mut *tx).await?;
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
            "DELETE FROM feed WHERE scope = $1 AND entity = $2 AND entity_key IN ({})
             RETURNING cursor",
            placeholders(3, rows.len())
        );
        let mut query = sqlx::query_as::<_, (i64,)>(batch_statement(delete))
            .bind(scope)
            .bind(entity);
        for (key, _) in &rows {
            query = query.bind(key.as_str());
        }
        let mut blocks = BlockCounts::default();
        for (old,) in query.fetch_all(&mut *tx).await? {
            blocks.add(scope, old, -1);
        }
        for offset in 0..rows.len() as i64 {
            blocks.add(scope, first + offset, 1);
        }
        blocks.write(&mut *tx).await?;
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

/// One change of a `publish_bulk` batch.
pub trait BulkChange {
    /// The key of the feed row.
    fn key(&self) -> &str;
    /// Whether the feed may already hold a row for this key, which the change replaces.
    fn replaces(&self) -> bool;
    /// The change to publish.
    fn change(&self) -> Change;
}

/// Rows of the feed one `publish_bulk` statement writes.
const BULK_CHUNK: usize = 10_000;

/// Publishes a large batch of changes of one entity in one scope, in order, as `publish` would
/// one by one: the rows of the keys that may have one (`BulkChange::replaces`) are deleted, then the cursors
/// are taken from the counter in one step and the new rows inserted, each statement carrying
/// `BULK_CHUNK` rows as one JSON value (`db::json_rows`), and `feed_block` is updated once.
/// The counter is taken last so that on PostgreSQL its row lock, which orders every writer of
/// the feed, is held only for the insert. Keys must be unique. `progress` is told how many
/// items have been published so far.
pub async fn publish_bulk<T: BulkChange>(
    tx: &mut AnyConnection,
    backend: Backend,
    scope: &str,
    entity: &str,
    items: &[T],
    progress: &mut dyn FnMut(u64),
) -> CloudResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut blocks = BlockTotals::default();
    let replaced = replaced_keys(items);
    let delete = bulk_delete(backend);
    for chunk in replaced.chunks(BULK_CHUNK) {
        let keys = encode(&chunk)?;
        let old: Vec<(i64,)> = sqlx::query_as(batch_statement(delete.clone()))
            .bind(keys)
            .bind(scope)
            .bind(entity)
            .fetch_all(&mut *tx)
            .await?;
        for (cursor,) in old {
            blocks.add(cursor, -1);
        }
    }
    let count = bulk_count(items)?;
    let last = take_counter(&mut *tx, "feed", count).await?;
    let first = last - count + 1;
    let insert = format!(
        "INSERT INTO feed (cursor, scope, entity, entity_key, data)
         SELECT CAST(value ->> 0 AS BIGINT), $2, $3, value ->> 1, value ->> 2 FROM {}",
        json_rows(backend, 1)
    );
    let numbered: Vec<(i64, &T)> = (first..).zip(items).collect();
    for (cursor, _) in &numbered {
        blocks.add(*cursor, 1);
    }
    let rows = |chunk: &[(i64, &T)]| -> CloudResult<String> {
        let mut rows = Vec::with_capacity(chunk.len());
        for (cursor, item) in chunk {
            let data = serde_json::to_string(&item.change()).map_err(|e| {
                CloudError::Internal(format!("a feed change cannot be encoded: {e}"))
            })?;
            rows.push((cursor, item.key(), data));
        }
        encode(&rows)
    };
    crate::json_batches::run(
        tx,
        &insert,
        &[Param::Text(scope), Param::Text(entity)],
        &numbered,
        BULK_CHUNK,
        rows,
        progress,
    )
    .await?;
    let deltas = blocks.changed();
    let upsert = bulk_blocks(backend);
    for chunk in deltas.chunks(BULK_CHUNK) {
        sqlx::query(batch_statement(upsert.clone()))
            .bind(encode(&chunk)?)
            .bind(scope)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The keys of a bulk publish whose rows the feed may hold already.
fn replaced_keys<T: BulkChange>(items: &[T]) -> Vec<&str> {
    items
        .iter()
        .filter(|i| i.replaces())
        .map(BulkChange::key)
        .collect()
}

/// How many cursors a bulk publish takes.
fn bulk_count<T>(items: &[T]) -> CloudResult<i64> {
    i64::try_from(items.len())
        .map_err(|_| CloudError::Internal("too many feed changes at once".into()))
}

/// Changes to one scope's `feed_block` totals made by a bulk publish, per block.
#[derive(Default)]
struct BlockTotals(std::collections::BTreeMap<i64, i64>);

impl BlockTotals {
    fn add(&mut self, cursor: i64, rows: i64) {
        *self.0.entry(cursor.div_euclid(FEED_BLOCK)).or_default() += rows;
    }

    /// (block, rows) for every block whose total changes.
    fn changed(self) -> Vec<(i64, i64)> {
        self.0.into_iter().filter(|(_, rows)| *rows != 0).collect()
    }
}

/// Deletes the rows of a batch of keys (`$1`) of one scope (`$2`) and entity (`$3`),
/// answering their cursors.
fn bulk_delete(backend: Backend) -> String {
    format!(
        "DELETE FROM feed WHERE scope = $2 AND entity = $3
         AND entity_key IN (SELECT value FROM {}) RETURNING cursor",
        json_texts(backend, 1)
    )
}

/// Adds a batch of (block, rows) changes (`$1`) to a scope's (`$2`) block totals.
fn bulk_blocks(backend: Backend) -> String {
    format!(
        "INSERT INTO feed_block (scope, block, rows)
         SELECT $2, CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT) FROM {} WHERE true
         ON CONFLICT (scope, block) DO UPDATE SET rows = feed_block.rows + excluded.rows",
        json_rows(backend, 1)
    )
}

/// `publish_bulk` on PostgreSQL through a connection of the caller's own, its new rows
/// streamed with `COPY` (`pg_copy`) instead of bound as JSON: the same rows, cursors, blocks
/// and order. The catalog import uses it inside its transaction.
pub async fn publish_bulk_by_copy<T: BulkChange>(
    conn: &mut sqlx::postgres::PgConnection,
    scope: &str,
    entity: &str,
    items: &[T],
    progress: &mut dyn FnMut(u64),
) -> CloudResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut blocks = BlockTotals::default();
    let replaced = replaced_keys(items);
    let delete = bulk_delete(Backend::Postgres);
    for chunk in replaced.chunks(BULK_CHUNK) {
        let old: Vec<(i64,)> = sqlx::query_as(batch_statement(delete.clone()))
            .bind(encode(&chunk)?)
            .bind(scope)
            .bind(entity)
            .fetch_all(&mut *conn)
            .await?;
        for (cursor,) in old {
            blocks.add(cursor, -1);
        }
    }
    let count = bulk_count(items)?;
    let (last,): (i64,) = sqlx::query_as(crate::db::TAKE_COUNTER)
        .bind("feed")
        .bind(count)
        .fetch_one(&mut *conn)
        .await?;
    let mut rows = crate::pg_copy::CopyRows::default();
    for (cursor, item) in (last - count + 1..).zip(items) {
        blocks.add(cursor, 1);
        let data = serde_json::to_string(&item.change())
            .map_err(|e| CloudError::Internal(format!("a feed change cannot be encoded: {e}")))?;
        rows.int(cursor)
            .text(scope)
            .text(entity)
            .text(item.key())
            .text(&data)
            .end_row();
    }
    rows.send(
        conn,
        "COPY feed (cursor, scope, entity, entity_key, data) FROM STDIN",
        0,
        progress,
    )
    .await?;
    let deltas = blocks.changed();
    let upsert = bulk_blocks(Backend::Postgres);
    for chunk in deltas.chunks(BULK_CHUNK) {
        sqlx::query(batch_statement(upsert.clone()))
            .bind(encode(&chunk)?)
            .bind(scope)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Changes to `feed_block` made by one write, summed per (scope, block).
#[derive(Default)]
struct BlockCounts {
    deltas: Vec<(String, i64, i64)>,
}

impl BlockCounts {
    fn add(&mut self, scope: &str, cursor: i64, delta: i64) {
        let block = cursor.div_euclid(FEED_BLOCK);
        match self
            .deltas
            .iter_mut()
            .find(|(s, b, _)| s == scope && *b == block)
        {
            Some((_, _, rows)) => *rows += delta,
            None => self.deltas.push((scope.to_owned(), block, delta)),
        }
    }

    async fn write(self, tx: &mut AnyConnection) -> CloudResult<()> {
        let deltas: Vec<_> = self.deltas.into_iter().filter(|d| d.2 != 0).collect();
        if deltas.is_empty() {
            return Ok(());
        }
        let upsert = format!(
            "INSERT INTO feed_block (scope, block, rows) VALUES {}
             ON CONFLICT (scope, block) DO UPDATE SET rows = feed_block.rows + excluded.rows",
            value_rows(deltas.len(), 3)
        );
        let mut query = sqlx::query(batch_statement(upsert));
        for (scope, block, rows) in deltas {
            query = query.bind(scope).bind(block).bind(rows);
        }
        query.execute(&mut *tx).await?;
        Ok(())
    }
}

/// How many entries of the two scopes the feed holds after `cursor`: the totals of the
/// blocks after the one `cursor` falls in, plus that block's rows after it.
pub async fn count_after(
    tx: &mut AnyConnection,
    scopes: [&str; 2],
    cursor: i64,
) -> CloudResult<i64> {
    let block = cursor.div_euclid(FEED_BLOCK);
    let (count,): (i64,) = sqlx::query_as(
        "SELECT (SELECT CAST(COALESCE(SUM(rows), 0) AS BIGINT) FROM feed_block
                 WHERE scope IN ($1, $2) AND block > $3)
              + (SELECT COUNT(*) FROM feed
                 WHERE scope IN ($1, $2) AND cursor > $4 AND cursor < $5)",
    )
    .bind(scopes[0])
    .bind(scopes[1])
    .bind(block)
    .bind(cursor)
    .bind((block + 1) * FEED_BLOCK)
    .fetch_one(&mut *tx)
    .await?;
    Ok(count)
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
    let removed: Vec<(i64,)> = sqlx::query_as(
        "DELETE FROM feed WHERE scope = $1 AND entity = 'product'
         AND entity_key IN (SELECT sku FROM product WHERE active = 0)
         RETURNING cursor",
    )
    .bind(ALL_STORES)
    .fetch_all(&mut *tx)
    .await?;
    let rows = removed.len() as u64;
    let mut blocks = BlockCounts::default();
    for (cursor,) in removed {
        blocks.add(ALL_STORES, cursor, -1);
    }
    blocks.write(&mut tx).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    fn stock(sku: &str, on_hand: i64) -> Change {
        Change::Stock {
            sku: sku.to_owned(),
            on_hand,
        }
    }

    #[tokio::test]
    async fn the_count_after_a_cursor_is_the_rows_after_it() {
        let path = std::env::temp_dir().join(format!(
            "omnitill-feed-test-{}.sqlite3",
            uuid::Uuid::now_v7().simple()
        ));
        let db = Db::connect(&path.display().to_string())
            .await
            .expect("a new cloud database");
        let mut tx = db.write.begin().await.expect("a transaction");
        // Three scopes over several blocks, every key replaced again and again, which leaves
        // gaps in every block.
        for round in 0..3 {
            for scope in [ALL_STORES, "store-a", "store-b"] {
                let changes: Vec<(String, Change)> = (0..900)
                    .map(|k| (format!("sku-{k}"), stock(&format!("sku-{k}"), round)))
                    .collect();
                publish_many(&mut tx, scope, "stock", &changes)
                    .await
                    .expect("a batch is published");
            }
            for k in 0..50 {
                let sku = format!("sku-{k}");
                publish(&mut tx, "store-a", "stock", &sku, &stock(&sku, -round))
                    .await
                    .expect("a change is published");
            }
        }
        let (newest,): (i64,) = sqlx::query_as("SELECT MAX(cursor) FROM feed")
            .fetch_one(&mut *tx)
            .await
            .expect("the newest cursor");
        assert!(newest > 4 * FEED_BLOCK, "the feed spans several blocks");
        for cursor in [
            0,
            1,
            FEED_BLOCK - 1,
            FEED_BLOCK,
            FEED_BLOCK + 1,
            5_000,
            newest - 1,
            newest,
        ] {
            let counted = count_after(&mut tx, [ALL_STORES, "store-a"], cursor)
                .await
                .expect("a count");
            let (rows,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM feed WHERE scope IN ($1, $2) AND cursor > $3")
                    .bind(ALL_STORES)
                    .bind("store-a")
                    .bind(cursor)
                    .fetch_one(&mut *tx)
                    .await
                    .expect("a row count");
            assert_eq!(
                counted, rows,
                "the block totals must count exactly the rows after cursor {cursor}"
            );
        }
        drop(tx);
        db.write.close().await;
        db.read.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

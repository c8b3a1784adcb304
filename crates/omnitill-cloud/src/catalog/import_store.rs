//! The import's SQL: the transaction it runs in, the catalog snapshot it checks against, and
//! the bulk write of its plan.
//!
//! The transaction keeps other writers of the catalog out from the snapshot to the commit
//! (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a `SHARE ROW EXCLUSIVE` lock on the catalog tables,
//! which lets readers and pushes go on), so what the checks approved is what the database
//! holds when the rows are written. Every write binds a batch of `BATCH` rows as one JSON value
//! (`db::json_rows`), the next batch encoded while the database runs the current one
//! (`json_batches`).

use sqlx::{Any, AnyConnection, Transaction};

use super::import_check::{Existing, Plan, ProductWrite, Snapshot};
use crate::db::{Backend, Db, json_rows, json_texts};
use crate::error::{CloudError, CloudResult};
use crate::feed::{self, ALL_STORES};
use crate::json_batches::{self, Param, encode};

/// Rows bound in one statement.
pub(crate) const BATCH: usize = 10_000;

/// The import's transaction, with the catalog locked against other writers until it ends:
/// `SqliteImport` on SQLite (through the pools), `import_postgres::PostgresImport` on
/// PostgreSQL (a connection of its own, for `COPY`).
pub(crate) trait ImportTx {
    /// The tax classes and the whole catalog, as the checks compare the file with them.
    async fn snapshot(&mut self) -> CloudResult<Snapshot>;
    /// Writes the plan; `progress` is told how many of `work(plan)` rows are written so far.
    async fn write(
        &mut self,
        plan: &Plan<'_>,
        now: i64,
        progress: &mut dyn FnMut(u64),
    ) -> CloudResult<()>;
    async fn commit(self) -> CloudResult<()>;
    async fn rollback(self) -> CloudResult<()>;
}

/// The import's transaction on SQLite, through the pools' one writer.
pub(crate) struct SqliteImport {
    tx: Transaction<'static, Any>,
}

/// Begins the import's transaction on SQLite (`BEGIN IMMEDIATE`: other writers wait until it
/// ends). PostgreSQL's is `import_postgres::begin`.
pub(crate) async fn begin(db: &Db) -> CloudResult<SqliteImport> {
    let mut tx = db.write.begin_with("BEGIN IMMEDIATE").await?;
    // A large import inserts all over the catalog's indexes; a bigger page cache for this
    // connection keeps them in memory (SQLite's default is 2 MiB).
    sqlx::raw_sql("PRAGMA cache_size = -262144")
        .execute(&mut *tx)
        .await?;
    Ok(SqliteImport { tx })
}

/// On PostgreSQL, keeps other writers of the catalog out and lets readers and pushes go on.
pub(crate) const LOCK_CATALOG: &str =
    "LOCK TABLE tax_class, product, barcode, price IN SHARE ROW EXCLUSIVE MODE";

/// Gives SQLite's writer connection its usual page cache back once the import is over.
pub(crate) async fn end(db: &Db) -> CloudResult<()> {
    sqlx::raw_sql("PRAGMA cache_size = -2000")
        .execute(&db.write)
        .await?;
    Ok(())
}

impl ImportTx for SqliteImport {
    async fn snapshot(&mut self) -> CloudResult<Snapshot> {
        snapshot(&mut self.tx, Backend::Sqlite).await
    }

    async fn write(
        &mut self,
        plan: &Plan<'_>,
        now: i64,
        progress: &mut dyn FnMut(u64),
    ) -> CloudResult<()> {
        write(&mut self.tx, Backend::Sqlite, plan, now, progress).await
    }

    async fn commit(self) -> CloudResult<()> {
        Ok(self.tx.commit().await?)
    }

    async fn rollback(self) -> CloudResult<()> {
        Ok(self.tx.rollback().await?)
    }
}

/// Products one snapshot query reads.
pub(crate) const SNAPSHOT_PAGE: i64 = 50_000;

/// A product as a snapshot page carries it: sku, name, tax class, active, barcodes, prices.
type SnapshotProduct = (String, String, String, i64, Vec<String>, Vec<(i64, i64)>);

/// Reads the tax classes and the whole catalog: products, barcodes and price schedules. Each
/// page of `SNAPSHOT_PAGE` products comes back as one JSON value built by the database, so
/// reading a large catalog costs a few statements, not a row hand-over per product, barcode
/// and price.
async fn snapshot(tx: &mut AnyConnection, backend: Backend) -> CloudResult<Snapshot> {
    let mut snapshot = Snapshot::default();
    let tax_classes: Vec<(String,)> = sqlx::query_as(TAX_CLASSES).fetch_all(&mut *tx).await?;
    snapshot.tax_classes = tax_classes.into_iter().map(|t| t.0).collect();
    snapshot.tax_classes.sort_unstable();
    let mut after = String::new();
    loop {
        let page: SnapshotPage = sqlx::query_as(snapshot_page(backend))
            .bind(&after)
            .bind(SNAPSHOT_PAGE)
            .fetch_one(&mut *tx)
            .await?;
        match add_snapshot_page(&mut snapshot, page)? {
            Some(last) => after = last,
            None => break,
        }
    }
    Ok(snapshot)
}

/// The tax classes' ids.
pub(crate) const TAX_CLASSES: &str = "SELECT id FROM tax_class";

/// A page of the snapshot: its products as JSON, the last SKU, how many.
pub(crate) type SnapshotPage = (String, Option<String>, i64);

/// The statement reading the page of `SNAPSHOT_PAGE` products after SKU `$1`.
pub(crate) fn snapshot_page(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT json_group_array(json_array(sku, name, tax_class, active,
                 json((SELECT json_group_array(code) FROM barcode b WHERE b.sku = page.sku)),
                 json((SELECT json_group_array(json_array(effective_from, price_minor))
                       FROM price r WHERE r.sku = page.sku)))),
                 MAX(sku), COUNT(*)
             FROM (SELECT sku, name, tax_class, active FROM product
                   WHERE sku > $1 ORDER BY sku LIMIT $2) AS page"
        }
        Backend::Postgres => {
            "SELECT CAST(COALESCE(json_agg(json_build_array(sku, name, tax_class, active,
                 (SELECT COALESCE(json_agg(code), CAST('[]' AS json))
                  FROM barcode b WHERE b.sku = page.sku),
                 (SELECT COALESCE(json_agg(json_build_array(effective_from, price_minor)),
                                  CAST('[]' AS json))
                  FROM price r WHERE r.sku = page.sku))), CAST('[]' AS json)) AS TEXT),
                 MAX(sku), COUNT(*)
             FROM (SELECT sku, name, tax_class, active FROM product
                   WHERE sku > $1 ORDER BY sku LIMIT $2) AS page"
        }
    }
}

/// Adds a page to the snapshot; answers the SKU to read after, or `None` after the last page.
pub(crate) fn add_snapshot_page(
    snapshot: &mut Snapshot,
    (json, last, count): SnapshotPage,
) -> CloudResult<Option<String>> {
    let products: Vec<SnapshotProduct> = serde_json::from_str(&json)
        .map_err(|e| CloudError::Internal(format!("the catalog snapshot cannot be read: {e}")))?;
    snapshot.products.reserve(products.len());
    for (sku, name, tax_class, active, mut barcodes, mut prices) in products {
        barcodes.sort_unstable();
        prices.sort_unstable();
        for code in &barcodes {
            snapshot.barcode_owner.insert(code.clone(), sku.clone());
        }
        snapshot.products.insert(
            sku,
            Existing {
                name,
                tax_class,
                active: active != 0,
                barcodes,
                prices,
            },
        );
    }
    Ok(last.filter(|_| count >= SNAPSHOT_PAGE))
}

/// How many rows `write` writes for a plan, for its progress.
pub(crate) fn work(plan: &Plan<'_>) -> u64 {
    let rows = plan.writes.len() as u64;
    let barcodes: usize = plan
        .writes
        .iter()
        .map(|w| w.barcodes_added.len() + w.barcodes_removed.len())
        .sum();
    let prices = plan.writes.iter().filter(|w| w.price.is_some()).count();
    // Products, barcodes, prices and the feed.
    rows * 2 + barcodes as u64 + prices as u64
}

/// Writes the plan: products, barcodes (the removed ones first, so a barcode can move from one
/// product to another), prices, and each changed product's whole record to the feed.
/// `progress` is told how many of `work(plan)` rows are written so far.
async fn write(
    tx: &mut AnyConnection,
    backend: Backend,
    plan: &Plan<'_>,
    now: i64,
    progress: &mut dyn FnMut(u64),
) -> CloudResult<()> {
    let mut done = 0u64;
    // New rows are plain inserts and changed ones updates: PostgreSQL's ON CONFLICT costs a
    // speculative insertion per row.
    let (new, changed): (Vec<&ProductWrite<'_>>, Vec<&ProductWrite<'_>>) =
        plan.writes.iter().partition(|w| !w.existed);
    let insert_products = format!(
        "INSERT INTO product (sku, name, tax_class, active, updated_at)
         SELECT value ->> 0, value ->> 1, value ->> 2, CAST(value ->> 3 AS BIGINT), $2 FROM {}",
        json_rows(backend, 1)
    );
    let encode_products = |chunk: &[&ProductWrite<'_>]| encode(&product_rows(chunk));
    for (writes, statement) in [
        (&new, insert_products),
        (&changed, update_products(backend)),
    ] {
        let before = done;
        json_batches::run(
            tx,
            &statement,
            &[Param::Int(now)],
            writes,
            BATCH,
            encode_products,
            &mut |rows| progress(before + rows),
        )
        .await?;
        done += writes.len() as u64;
    }
    let insert_barcodes = format!(
        "INSERT INTO barcode (code, sku) SELECT value ->> 0, value ->> 1 FROM {}",
        json_rows(backend, 1)
    );
    let insert_prices = format!(
        "INSERT INTO price (sku, effective_from, price_minor)
         SELECT value ->> 0, CAST(value ->> 1 AS BIGINT), CAST(value ->> 2 AS BIGINT) FROM {}",
        json_rows(backend, 1)
    );
    let removed = removed_barcodes(plan);
    let added = added_barcodes(plan);
    let new_prices = prices(plan, false);
    let replaced_prices = prices(plan, true);
    let before = done;
    json_batches::run(
        tx,
        &delete_barcodes(backend),
        &[],
        &removed,
        BATCH,
        |chunk| encode(&chunk),
        &mut |rows| progress(before + rows),
    )
    .await?;
    done += removed.len() as u64;
    let before = done;
    json_batches::run(
        tx,
        &insert_barcodes,
        &[],
        &added,
        BATCH,
        |chunk| encode(&chunk),
        &mut |rows| progress(before + rows),
    )
    .await?;
    done += added.len() as u64;
    for (prices, statement) in [
        (&new_prices, insert_prices),
        (&replaced_prices, update_prices(backend)),
    ] {
        let before = done;
        json_batches::run(
            tx,
            &statement,
            &[],
            prices,
            BATCH,
            |chunk| encode(&chunk),
            &mut |rows| progress(before + rows),
        )
        .await?;
        done += prices.len() as u64;
    }
    let before_feed = done;
    feed::publish_bulk(
        tx,
        backend,
        ALL_STORES,
        "product",
        &plan.writes,
        &mut |published| progress(before_feed + published),
    )
    .await
}

/// The statement updating products from a batch of `product_rows` (`$2`: the moment).
pub(crate) fn update_products(backend: Backend) -> String {
    format!(
        "UPDATE product SET name = j.name, tax_class = j.tax_class, active = j.active,
             updated_at = $2
         FROM (SELECT value ->> 0 AS sku, value ->> 1 AS name, value ->> 2 AS tax_class,
                      CAST(value ->> 3 AS BIGINT) AS active FROM {}) AS j
         WHERE product.sku = j.sku",
        json_rows(backend, 1)
    )
}

/// Products as a batch's rows: sku, name, tax class, active (0 or 1).
pub(crate) fn product_rows<'a>(
    writes: &[&'a ProductWrite<'_>],
) -> Vec<(&'a str, &'a str, &'a str, i64)> {
    writes
        .iter()
        .map(|w| {
            (
                w.row.sku.as_str(),
                w.row.name.as_str(),
                w.row.tax_class.as_str(),
                i64::from(w.row.active),
            )
        })
        .collect()
}

/// The barcodes the plan takes from their products.
pub(crate) fn removed_barcodes<'a>(plan: &'a Plan<'_>) -> Vec<&'a str> {
    plan.writes
        .iter()
        .flat_map(|w| w.barcodes_removed.iter().map(String::as_str))
        .collect()
}

/// The statement deleting a batch of barcodes.
pub(crate) fn delete_barcodes(backend: Backend) -> String {
    format!(
        "DELETE FROM barcode WHERE code IN (SELECT value FROM {})",
        json_texts(backend, 1)
    )
}

/// The barcodes the plan gives to products, (code, sku), in code order for the index on the
/// code (the writes are in SKU order already).
pub(crate) fn added_barcodes<'a>(plan: &'a Plan<'_>) -> Vec<(&'a str, &'a str)> {
    let mut added: Vec<(&str, &str)> = plan
        .writes
        .iter()
        .flat_map(|w| {
            w.barcodes_added
                .iter()
                .map(|code| (code.as_str(), w.row.sku.as_str()))
        })
        .collect();
    added.sort_unstable();
    added
}

/// The prices the plan sets, (sku, effective from, price): those at a new moment, or
/// (`replacing`) those replacing the schedule's price at the same moment.
pub(crate) fn prices<'a>(plan: &'a Plan<'_>, replacing: bool) -> Vec<(&'a str, i64, i64)> {
    plan.writes
        .iter()
        .filter(|w| w.price_replaces == replacing)
        .filter_map(|w| {
            w.price
                .map(|(from, price)| (w.row.sku.as_str(), from, price))
        })
        .collect()
}

/// The statement updating a batch of `prices(plan, true)`.
pub(crate) fn update_prices(backend: Backend) -> String {
    format!(
        "UPDATE price SET price_minor = j.price_minor
         FROM (SELECT value ->> 0 AS sku, CAST(value ->> 1 AS BIGINT) AS effective_from,
                      CAST(value ->> 2 AS BIGINT) AS price_minor FROM {}) AS j
         WHERE price.sku = j.sku AND price.effective_from = j.effective_from",
        json_rows(backend, 1)
    )
}

impl feed::BulkChange for ProductWrite<'_> {
    fn key(&self) -> &str {
        &self.row.sku
    }

    fn replaces(&self) -> bool {
        self.existed
    }

    fn change(&self) -> omnitill_protocol::pull::Change {
        ProductWrite::change(self)
    }
}

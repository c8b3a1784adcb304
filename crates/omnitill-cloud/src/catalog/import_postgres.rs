//! The catalog import's transaction on PostgreSQL: a connection of its own, because sqlx's
//! `Any` driver cannot `COPY`. The catalog is locked as on the pools and the snapshot read the
//! same way; new rows (products, barcodes, prices, the feed's records) are streamed with
//! `COPY ... FROM STDIN` in PostgreSQL's text format, which the server parses row by row as it
//! arrives while the next rows are encoded, instead of one JSON value per batch that it parses
//! whole and then takes apart. Changes to rows that exist (updates, removed barcodes, replaced
//! feed records) use the JSON-bound statements of `import_store`.
//!
//! The transaction is this connection's: a killed import closes it, and PostgreSQL rolls it
//! back, so the catalog and the feed stay as they were.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use super::import_check::{Plan, ProductWrite, Snapshot};
use super::import_store::{self, ImportTx, LOCK_CATALOG, SNAPSHOT_PAGE, SnapshotPage, TAX_CLASSES};
use crate::db::{Backend, Db};
use crate::error::CloudResult;
use crate::feed::{self, ALL_STORES};
use crate::json_batches::encode;
use crate::pg_copy::CopyRows;

/// The import's transaction on its own PostgreSQL connection.
pub(crate) struct PostgresImport {
    conn: PgConnection,
}

/// Opens the import's connection and begins its transaction with the catalog locked against
/// other writers (readers and pushes go on).
pub(crate) async fn begin(db: &Db) -> CloudResult<PostgresImport> {
    let mut conn = PgConnection::connect(&db.url).await?;
    sqlx::raw_sql("BEGIN").execute(&mut conn).await?;
    sqlx::raw_sql(LOCK_CATALOG).execute(&mut conn).await?;
    Ok(PostgresImport { conn })
}

impl ImportTx for PostgresImport {
    async fn snapshot(&mut self) -> CloudResult<Snapshot> {
        let mut snapshot = Snapshot::default();
        let tax_classes: Vec<(String,)> = sqlx::query_as(TAX_CLASSES)
            .fetch_all(&mut self.conn)
            .await?;
        snapshot.tax_classes = tax_classes.into_iter().map(|t| t.0).collect();
        snapshot.tax_classes.sort_unstable();
        let mut after = String::new();
        loop {
            let page: SnapshotPage = sqlx::query_as(import_store::snapshot_page(Backend::Postgres))
                .bind(&after)
                .bind(SNAPSHOT_PAGE)
                .fetch_one(&mut self.conn)
                .await?;
            match import_store::add_snapshot_page(&mut snapshot, page)? {
                Some(last) => after = last,
                None => break,
            }
        }
        Ok(snapshot)
    }

    async fn write(
        &mut self,
        plan: &Plan<'_>,
        now: i64,
        progress: &mut dyn FnMut(u64),
    ) -> CloudResult<()> {
        let conn = &mut self.conn;
        let mut done = 0_u64;
        let (new, changed): (Vec<&ProductWrite<'_>>, Vec<&ProductWrite<'_>>) =
            plan.writes.iter().partition(|w| !w.existed);
        let mut copy = CopyRows::default();
        for write in &new {
            copy.text(&write.row.sku)
                .text(&write.row.name)
                .text(&write.row.tax_class)
                .int(i64::from(write.row.active))
                .int(now)
                .end_row();
        }
        done += copy
            .send(
                conn,
                "COPY product (sku, name, tax_class, active, updated_at) FROM STDIN",
                done,
                progress,
            )
            .await?;
        for chunk in changed.chunks(import_store::BATCH) {
            run_json(
                conn,
                &import_store::update_products(Backend::Postgres),
                encode(&import_store::product_rows(chunk))?,
                Some(now),
            )
            .await?;
            done += chunk.len() as u64;
            progress(done);
        }
        let removed = import_store::removed_barcodes(plan);
        for chunk in removed.chunks(import_store::BATCH) {
            run_json(
                conn,
                &import_store::delete_barcodes(Backend::Postgres),
                encode(&chunk)?,
                None,
            )
            .await?;
            done += chunk.len() as u64;
            progress(done);
        }
        let mut copy = CopyRows::default();
        for (code, sku) in import_store::added_barcodes(plan) {
            copy.text(code).text(sku).end_row();
        }
        done += copy
            .send(conn, "COPY barcode (code, sku) FROM STDIN", done, progress)
            .await?;
        let mut copy = CopyRows::default();
        for (sku, from, price) in import_store::prices(plan, false) {
            copy.text(sku).int(from).int(price).end_row();
        }
        done += copy
            .send(
                conn,
                "COPY price (sku, effective_from, price_minor) FROM STDIN",
                done,
                progress,
            )
            .await?;
        let replaced = import_store::prices(plan, true);
        for chunk in replaced.chunks(import_store::BATCH) {
            run_json(
                conn,
                &import_store::update_prices(Backend::Postgres),
                encode(&chunk)?,
                None,
            )
            .await?;
            done += chunk.len() as u64;
            progress(done);
        }
        let before_feed = done;
        feed::publish_bulk_by_copy(conn, ALL_STORES, "product", &plan.writes, &mut |n| {
            progress(before_feed + n)
        })
        .await
    }

    async fn commit(mut self) -> CloudResult<()> {
        sqlx::raw_sql("COMMIT").execute(&mut self.conn).await?;
        self.conn.close().await?;
        Ok(())
    }

    async fn rollback(mut self) -> CloudResult<()> {
        sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await?;
        self.conn.close().await?;
        Ok(())
    }
}

/// Runs a JSON-bound statement of `import_store` (`$1` the batch, `$2` the moment when given).
async fn run_json(
    conn: &mut PgConnection,
    statement: &str,
    batch: String,
    now: Option<i64>,
) -> CloudResult<()> {
    let mut query = sqlx::query(AssertSqlSafe(statement.to_owned())).bind(batch);
    if let Some(now) = now {
        query = query.bind(now);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

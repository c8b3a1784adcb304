//! SQLite's side of the count: the sales that arrived are told by rowid.
//!
//! The cloud writes through one connection and a sale is never deleted, so a new sale's rowid
//! is one more than the largest committed one. A run holds the write lock from its first
//! statement, reads the largest rowid, and takes the sales between the last run's
//! `counted_to` and it; the sales counted before are those up to `counted_to`.

use sqlx::AnyConnection;

use super::{
    Counted, Mark, PairsInto, SALES, Shift, add, apply_delta, count_sales, pairs_statement,
};
use crate::db::batch_statement;
use crate::error::CloudResult;

/// SQLite: the counted sales are those with a rowid up to `counted_to`.
pub(super) async fn count(
    tx: &mut AnyConnection,
    mark: &Mark,
    window_from: i64,
) -> CloudResult<Counted> {
    let newest: Option<(i64, String)> =
        sqlx::query_as("SELECT rowid, id FROM sale ORDER BY rowid DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let (upto, upto_sale) = newest.map_or((0, None), |(rowid, id)| (rowid, Some(id)));
    let trusted = rowids_hold(tx, mark).await?;
    let after = if trusted { mark.counted_to } else { 0 };
    let arrived = count_sales(
        tx,
        "SELECT count(*) FROM sale WHERE rowid > $1 AND rowid <= $2",
        &[after, upto],
    )
    .await?;
    let counted = match mark.window_from {
        Some(before) if trusted => {
            let (added, removed) =
                shift_sqlite(tx, Shift::between(before, window_from), after).await?;
            let filter = "s.rowid > $2 AND s.rowid <= $3 AND s.created_at >= $4";
            sqlx::query(batch_statement(pairs_statement(
                PairsInto::Delta,
                SALES,
                filter,
            )))
            .bind(1_i64)
            .bind(after)
            .bind(upto)
            .bind(window_from)
            .execute(&mut *tx)
            .await?;
            let arrived_inside = count_sales(
                tx,
                "SELECT count(*) FROM sale WHERE rowid > $1 AND rowid <= $2 AND created_at >= $3",
                &[after, upto, window_from],
            )
            .await?;
            apply_delta(tx).await?;
            Counted {
                full: false,
                arrived,
                sales_added: add(added, arrived_inside)?,
                sales_removed: removed,
            }
        }
        _ => {
            sqlx::query("DELETE FROM bought_pair")
                .execute(&mut *tx)
                .await?;
            let filter = "s.rowid <= $1 AND s.created_at >= $2";
            sqlx::query(batch_statement(pairs_statement(
                PairsInto::EmptyCounts,
                SALES,
                filter,
            )))
            .bind(upto)
            .bind(window_from)
            .execute(&mut *tx)
            .await?;
            let added = count_sales(
                tx,
                "SELECT count(*) FROM sale WHERE rowid <= $1 AND created_at >= $2",
                &[upto, window_from],
            )
            .await?;
            Counted {
                full: true,
                arrived,
                sales_added: added,
                sales_removed: 0,
            }
        }
    };
    sqlx::query("UPDATE bought_count SET counted_to = $1, counted_sale = $2 WHERE id = 1")
        .bind(upto)
        .bind(upto_sale)
        .execute(&mut *tx)
        .await?;
    Ok(counted)
}

/// Whether the sale with rowid `counted_to` is still the one counted last. Sales are never
/// deleted and the cloud never vacuums, so it always is; if a copy of the database were
/// rebuilt with other rowids, the counts are made again instead of trusting them.
async fn rowids_hold(tx: &mut AnyConnection, mark: &Mark) -> CloudResult<bool> {
    if mark.counted_to == 0 {
        return Ok(mark.counted_sale.is_none());
    }
    let at: Option<(String,)> = sqlx::query_as("SELECT id FROM sale WHERE rowid = $1")
        .bind(mark.counted_to)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(at.map(|(id,)| id) == mark.counted_sale)
}

/// Moves the window over the counted sales (rowid up to `after`) on SQLite; answers how many
/// came back and how many left.
async fn shift_sqlite(tx: &mut AnyConnection, shift: Shift, after: i64) -> CloudResult<(u64, u64)> {
    let (from, to, sign) = match shift {
        Shift::Still => return Ok((0, 0)),
        Shift::Leave { from, to } => (from, to, -1_i64),
        Shift::Return { from, to } => (from, to, 1_i64),
    };
    let filter = "s.created_at >= $2 AND s.created_at < $3 AND s.rowid <= $4";
    sqlx::query(batch_statement(pairs_statement(
        PairsInto::Delta,
        SALES,
        filter,
    )))
    .bind(sign)
    .bind(from)
    .bind(to)
    .bind(after)
    .execute(&mut *tx)
    .await?;
    let moved = count_sales(
        tx,
        "SELECT count(*) FROM sale WHERE created_at >= $1 AND created_at < $2 AND rowid <= $3",
        &[from, to, after],
    )
    .await?;
    Ok(if sign > 0 { (moved, 0) } else { (0, moved) })
}

//! PostgreSQL's side of the count: the sales that arrived are those queued in
//! `bought_pending`.
//!
//! Transactions commit in any order, so no key of a sale is an arrival order: a run that
//! counted up to a key could miss a smaller one committed after it. A trigger
//! (0017_bought_pairs.postgres.sql) queues every new sale in its own transaction, and a run
//! takes the queue with one delete; the sales counted before are those not queued. Each step
//! is one statement, and the order of the steps leaves no gap: the window moves first (a sale
//! that commits after that statement is queued, so it was not counted, and is taken next),
//! then the queue is taken.

use sqlx::AnyConnection;

use super::{
    Counted, Mark, PairsInto, SALES, Shift, add, apply_delta, count_sales, pairs_statement,
    unsigned,
};
use crate::db::{Backend, batch_statement, json_texts};
use crate::error::{CloudError, CloudResult};
use crate::json_batches::encode;

/// Taken sales bound in one statement at most.
const TAKEN_CHUNK: usize = 5_000;

/// A sale that is still queued in `bought_pending` has not been counted (PostgreSQL).
const NOT_QUEUED: &str = "NOT EXISTS (SELECT 1 FROM bought_pending p WHERE p.sale_id = s.id)";

/// PostgreSQL: the counted sales are those not queued in `bought_pending`.
pub(super) async fn count(
    tx: &mut AnyConnection,
    mark: &Mark,
    window_from: i64,
) -> CloudResult<Counted> {
    let Some(before) = mark.window_from else {
        // Take the queue first: a sale committed after this delete is queued and left out of
        // the count below, and counted by the next run.
        let arrived = sqlx::query("DELETE FROM bought_pending")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM bought_pair")
            .execute(&mut *tx)
            .await?;
        let filter = format!("s.created_at >= $1 AND {NOT_QUEUED}");
        sqlx::query(batch_statement(pairs_statement(
            PairsInto::EmptyCounts,
            SALES,
            &filter,
        )))
        .bind(window_from)
        .execute(&mut *tx)
        .await?;
        let added = count_sales(
            tx,
            &format!("SELECT count(*) FROM sale s WHERE s.created_at >= $1 AND {NOT_QUEUED}"),
            &[window_from],
        )
        .await?;
        return Ok(Counted {
            full: true,
            arrived,
            sales_added: added,
            sales_removed: 0,
        });
    };
    // Move the window before taking the queue: a sale that commits between the two is not
    // seen by the first and is taken by the second.
    let (returned, removed) = shift_postgres(tx, Shift::between(before, window_from)).await?;
    // One statement takes the queue; the sales it names were committed with their rows, so
    // every later statement sees them.
    let taken: Vec<(String,)> = sqlx::query_as("DELETE FROM bought_pending RETURNING sale_id")
        .fetch_all(&mut *tx)
        .await?;
    let ids: Vec<String> = taken.into_iter().map(|(id,)| id).collect();
    // The taken ids are bound as JSON, a few thousand a statement, so the planner joins them
    // to `sale` and `sale_line` by their keys instead of scanning either.
    let source = format!(
        "{} JOIN sale s ON s.id = j.value",
        json_texts(Backend::Postgres, 3)
    );
    let statement = format!(
        "WITH added AS ({}) SELECT count(*) FROM {source} WHERE s.created_at >= $2",
        pairs_statement(PairsInto::Delta, &source, "s.created_at >= $2")
    );
    let mut arrived_inside = 0_u64;
    for chunk in ids.chunks(TAKEN_CHUNK) {
        let (inside,): (i64,) = sqlx::query_as(batch_statement(statement.clone()))
            .bind(1_i64)
            .bind(window_from)
            .bind(encode(&chunk)?)
            .fetch_one(&mut *tx)
            .await?;
        arrived_inside = add(arrived_inside, unsigned(inside)?)?;
    }
    let arrived = u64::try_from(ids.len())
        .map_err(|_| CloudError::Internal("too many sales taken at once".into()))?;
    apply_delta(tx).await?;
    Ok(Counted {
        full: false,
        arrived,
        sales_added: add(returned, arrived_inside)?,
        sales_removed: removed,
    })
}

/// Moves the window over the counted sales (not queued) on PostgreSQL; answers how many came
/// back and how many left.
async fn shift_postgres(tx: &mut AnyConnection, shift: Shift) -> CloudResult<(u64, u64)> {
    let (from, to, sign) = match shift {
        Shift::Still => return Ok((0, 0)),
        Shift::Leave { from, to } => (from, to, -1_i64),
        Shift::Return { from, to } => (from, to, 1_i64),
    };
    // One statement sees one snapshot, so the pairs and the number of sales agree.
    let filter = format!("s.created_at >= $2 AND s.created_at < $3 AND {NOT_QUEUED}");
    let statement = format!(
        "WITH moved AS ({}) SELECT count(*) FROM sale s WHERE {filter}",
        pairs_statement(PairsInto::Delta, SALES, &filter)
    );
    let (moved,): (i64,) = sqlx::query_as(batch_statement(statement))
        .bind(sign)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *tx)
        .await?;
    let moved = unsigned(moved)?;
    Ok(if sign > 0 { (moved, 0) } else { (0, moved) })
}

//! The pair counts (`bought_pair`, migration 0017), brought up to date inside a run's
//! transaction.
//!
//! The counts always hold the pairs of exactly the sales that are counted (arrived and taken
//! by an earlier run) and made at or after the window's start that `bought_count` records.
//! A run first locks that row (`lock`), then:
//! - on the first run (no window yet), or when SQLite's rowids no longer match what was
//!   counted, counts every arrived sale of the window again, into an emptied `bought_pair`;
//! - otherwise moves the window (`Shift`): the counted sales made between the old start and
//!   the new one leave (their pairs are subtracted), or come back if the clock went back;
//! - takes the sales that arrived since the last run and adds the pairs of those made inside
//!   the window. A sale is placed by when it was made (`created_at`), but taken by when it
//!   arrived, so a till's old sale pushed late is counted once, when it arrives, and leaves
//!   when its own time leaves the window; one already outside the window is taken and never
//!   counted.
//!
//! What arrived is told apart by backend. SQLite has one writer, so a new sale's rowid is
//! larger than every committed one; the run reads the largest rowid under the write lock and
//! takes the rowids between the last run's and it (`sqlite`). PostgreSQL commits in any
//! order, so no key is an arrival order; a trigger queues every new sale in `bought_pending`,
//! and the run takes the queue with a delete (`postgres`; the sales a concurrent commit adds
//! wait for the next run).
//!
//! `sqlite` and `postgres` hold each backend's steps; the statements they share are here.
//!
//! The changes of an incremental run are gathered in `bought_delta` (a pair's sum), applied
//! to `bought_pair` in one statement, and left there for `lists` to find the products whose
//! counts changed; `clear_delta` empties it before the commit.

mod postgres;
mod sqlite;

use sqlx::AnyConnection;

use crate::db::{Backend, batch_statement};
use crate::error::{CloudError, CloudResult};

/// What a run did to the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counted {
    pub full: bool,
    pub arrived: u64,
    pub sales_added: u64,
    pub sales_removed: u64,
}

/// Where the last run left the counts (`bought_count`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    window_from: Option<i64>,
    counted_to: i64,
    counted_sale: Option<String>,
}

/// How the window's start moved since the last run, and what that does to counted sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    /// The same start: nothing leaves or comes back.
    Still,
    /// Sales made in `[from, to)` leave: their pairs are subtracted.
    Leave { from: i64, to: i64 },
    /// The clock went back: sales made in `[from, to)` are inside again and are added.
    Return { from: i64, to: i64 },
}

impl Shift {
    /// The shift from the last run's window start `before` to this run's `now`.
    fn between(before: i64, now: i64) -> Shift {
        match now.cmp(&before) {
            std::cmp::Ordering::Equal => Shift::Still,
            std::cmp::Ordering::Greater => Shift::Leave {
                from: before,
                to: now,
            },
            std::cmp::Ordering::Less => Shift::Return {
                from: now,
                to: before,
            },
        }
    }
}

/// Locks the state row, brings the counts to the window starting at `window_from`, and
/// records how far they go.
pub(super) async fn count(
    tx: &mut AnyConnection,
    backend: Backend,
    window_from: i64,
    now_ms: i64,
) -> CloudResult<Counted> {
    let mark = lock(tx).await?;
    let counted = match backend {
        Backend::Sqlite => sqlite::count(tx, &mark, window_from).await?,
        Backend::Postgres => postgres::count(tx, &mark, window_from).await?,
    };
    sqlx::query("UPDATE bought_count SET window_from = $1, counted_at = $2 WHERE id = 1")
        .bind(window_from)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    Ok(counted)
}

/// Empties the run's work table (kept until `lists` has read it).
pub(super) async fn clear_delta(tx: &mut AnyConnection) -> CloudResult<()> {
    sqlx::query("DELETE FROM bought_delta")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Locks `bought_count` with an update, the first statement of the run: on PostgreSQL a
/// second run waits for the first to commit and then reads the row as the first left it; on
/// SQLite the update takes the database's write lock.
async fn lock(tx: &mut AnyConnection) -> CloudResult<Mark> {
    let row: Option<(Option<i64>, i64, Option<String>)> = sqlx::query_as(
        "UPDATE bought_count SET counted_at = counted_at WHERE id = 1
         RETURNING window_from, counted_to, counted_sale",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (window_from, counted_to, counted_sale) = row.ok_or_else(|| {
        CloudError::Internal("bought_count has no row; migration 0017 makes it".into())
    })?;
    Ok(Mark {
        window_from,
        counted_to,
        counted_sale,
    })
}

/// The pairs of the sales of `source` (which names them `s`; `SALES` for all) that `filter`
/// picks, each sale once, into `target`: a plain insert into an empty `bought_pair`, or, with
/// `$1` as the sign, added into `bought_delta`.
fn pairs_statement(target: PairsInto, source: &str, filter: &str) -> String {
    let (insert, count, upsert) = match target {
        PairsInto::EmptyCounts => ("bought_pair", "count(DISTINCT s.id)", ""),
        PairsInto::Delta => (
            "bought_delta",
            "CAST($1 AS BIGINT) * count(DISTINCT s.id)",
            "ON CONFLICT (sku, companion) DO UPDATE SET sales = bought_delta.sales + excluded.sales",
        ),
    };
    format!(
        "INSERT INTO {insert} (sku, companion, sales)
         SELECT a.sku, b.sku, {count}
         FROM {source}
         JOIN sale_line a ON a.sale_id = s.id
         JOIN sale_line b ON b.sale_id = s.id AND b.sku <> a.sku
         WHERE {filter}
         GROUP BY a.sku, b.sku
         {upsert}"
    )
}

/// Every sale, as `pairs_statement`'s source.
const SALES: &str = "sale s";

#[derive(Debug, Clone, Copy)]
enum PairsInto {
    EmptyCounts,
    Delta,
}

/// Applies `bought_delta` to `bought_pair`: counts move by their sums, a count that reaches 0
/// is deleted, and one below 0 (which would mean a sale taken away that was never counted) is
/// an error that rolls the run back.
async fn apply_delta(tx: &mut AnyConnection) -> CloudResult<()> {
    sqlx::query(
        "INSERT INTO bought_pair (sku, companion, sales)
         SELECT sku, companion, sales FROM bought_delta WHERE sales <> 0
         ON CONFLICT (sku, companion) DO UPDATE SET sales = bought_pair.sales + excluded.sales",
    )
    .execute(&mut *tx)
    .await?;
    let (negative,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM bought_pair
         WHERE (sku, companion) IN (SELECT sku, companion FROM bought_delta) AND sales < 0",
    )
    .fetch_one(&mut *tx)
    .await?;
    if negative > 0 {
        return Err(CloudError::Internal(format!(
            "{negative} bought-together pair count(s) would fall below zero; nothing was counted"
        )));
    }
    sqlx::query(
        "DELETE FROM bought_pair
         WHERE (sku, companion) IN (SELECT sku, companion FROM bought_delta) AND sales = 0",
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Runs a `SELECT count(*)` with `params` bound in order.
async fn count_sales(tx: &mut AnyConnection, statement: &str, params: &[i64]) -> CloudResult<u64> {
    let mut query = sqlx::query_as::<_, (i64,)>(batch_statement(statement.to_owned()));
    for param in params {
        query = query.bind(*param);
    }
    let (count,) = query.fetch_one(&mut *tx).await?;
    unsigned(count)
}

fn unsigned(count: i64) -> CloudResult<u64> {
    u64::try_from(count).map_err(|_| CloudError::Internal(format!("a negative count {count}")))
}

fn add(a: u64, b: u64) -> CloudResult<u64> {
    a.checked_add(b)
        .ok_or_else(|| CloudError::Internal("a count of sales overflows".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bought_together::DAY_MS;

    #[test]
    fn the_window_moving_forward_takes_away_the_sales_between_its_two_starts() {
        let cases = [
            ("the same start", 100, 100, Shift::Still),
            (
                "a day later: the day's oldest sales leave",
                100,
                100 + DAY_MS,
                Shift::Leave {
                    from: 100,
                    to: 100 + DAY_MS,
                },
            ),
            (
                "the clock went back: the sales between come back",
                100 + DAY_MS,
                100,
                Shift::Return {
                    from: 100,
                    to: 100 + DAY_MS,
                },
            ),
        ];
        for (why, before, now, expected) in cases {
            assert_eq!(Shift::between(before, now), expected, "{why}");
        }
    }
}

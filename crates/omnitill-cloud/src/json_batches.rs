//! One statement run over many batches of rows, each batch bound as one JSON value
//! (`db::json_rows`), with the next batch encoded while the database runs the current one.
//!
//! A large write (a catalog import's products, barcodes, prices and feed rows) is a hundred
//! statements or more of ten thousand rows each. Encoding a batch is work for the cloud's
//! process and running it is work for the database's; done one after the other, each waits for
//! the other. Here the encoding of batch n + 1 runs on this task while the database runs
//! batch n (the statement is already on its way: the future is polled first), so on a machine
//! with two cores the two overlap.

use sqlx::AnyConnection;

use crate::db::batch_statement;
use crate::error::{CloudError, CloudResult};

/// A parameter bound after the batch (as `$2`, `$3`, ...).
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

/// Runs `statement` once per `batch` items of `items`, binding `encode(chunk)` as `$1` and
/// `params` after it; answers the rows the statements affected. `progress` is told how many
/// items are done so far.
pub async fn run<T>(
    tx: &mut AnyConnection,
    statement: &str,
    params: &[Param<'_>],
    items: &[T],
    batch: usize,
    encode: impl Fn(&[T]) -> CloudResult<String>,
    progress: &mut dyn FnMut(u64),
) -> CloudResult<u64> {
    let mut chunks = items.chunks(batch.max(1));
    let mut next = match chunks.next() {
        Some(chunk) => Some((chunk.len(), encode(chunk)?)),
        None => None,
    };
    let (mut done, mut affected) = (0_u64, 0_u64);
    while let Some((rows, json)) = next.take() {
        let mut query = sqlx::query(batch_statement(statement.to_owned())).bind(json);
        for param in params {
            query = match *param {
                Param::Int(value) => query.bind(value),
                Param::Text(value) => query.bind(value),
            };
        }
        let (result, encoded) = tokio::join!(query.execute(&mut *tx), async {
            chunks.next().map(|chunk| (chunk.len(), encode(chunk)))
        });
        affected += result?.rows_affected();
        next = match encoded {
            Some((len, json)) => Some((len, json?)),
            None => None,
        };
        done += rows as u64;
        progress(done);
    }
    Ok(affected)
}

/// A batch as the JSON value `db::json_rows` reads.
pub fn encode(rows: &impl serde::Serialize) -> CloudResult<String> {
    serde_json::to_string(rows)
        .map_err(|e| CloudError::Internal(format!("a batch cannot be encoded: {e}")))
}

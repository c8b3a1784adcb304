//! A run of plain sales applied together, on SQLite only.
//!
//! Each statement on SQLite is a hand-over to sqlx's SQLite thread, and per-operation
//! statements were most of a backlog's cost there, so a run of plain sales
//! (`sale.completed.v1`, each already through `sale::check`) is written with four statements
//! for the whole run: sales, lines, movements, levels. The run is one till's consecutive sales
//! (chosen by `plan`), or the sales of every till of a group commit (`plain_group`). The rows
//! are exactly those `sale::apply` writes for each. If a sale of the run is already recorded
//! the caller rolls the run back and applies its sales one by one, which refuses that sale
//! alone.
//!
//! Each statement carries its rows as one bound JSON value (`db::json_rows`): sqlx binds a
//! SQLite statement's parameters in time that grows with the square of their number, which
//! made multi-row `VALUES` lists of hundreds of parameters the largest cost of a big group.

use std::collections::HashMap;

use omnitill_protocol::ops::SaleCompleted;
use omnitill_protocol::push::Operation;
use serde_json::json;
use sqlx::AnyConnection;

use super::PushingDevice;
use crate::db::{Backend, batch_statement, json_rows};
use crate::error::{CloudError, CloudResult};

/// One sale of a run, with the till that pushed it and its operation.
#[derive(Clone, Copy)]
pub struct RunSale<'a> {
    pub device: &'a PushingDevice,
    pub op: &'a Operation,
    pub sale: &'a SaleCompleted,
}

/// Rows one statement carries at most (each sale has up to a few hundred lines, so a chunk of
/// sales stays a bounded JSON value).
const CHUNK: usize = 1_000;

/// Applies a run of checked plain sales with four statements per `CHUNK` rows instead of
/// several per sale. Answers the (store, SKU) pairs whose stock moved, in first-touched order,
/// or `None`, having written something the caller must roll back, when a sale of the run is
/// already recorded.
pub async fn apply<'a>(
    tx: &mut AnyConnection,
    run: &[RunSale<'a>],
) -> CloudResult<Option<Vec<(&'a str, &'a str)>>> {
    let mut inserted = 0_u64;
    let insert = format!(
        "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
             currency, tax_minor, total_minor, payload)
         SELECT value ->> 0, value ->> 1, value ->> 2, 'store', value ->> 3, value ->> 4,
             value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9
         FROM {} WHERE true ON CONFLICT DO NOTHING",
        json_rows(Backend::Sqlite, 1)
    );
    for chunk in run.chunks(CHUNK) {
        let rows = chunk
            .iter()
            .map(|one| {
                let payload = serde_json::to_string(one.sale).map_err(encoding)?;
                Ok(json!([
                    one.sale.sale_id,
                    one.device.store_id,
                    one.device.id,
                    one.sale.receipt_no,
                    one.sale.staff_id,
                    one.sale.created_at_ms,
                    one.sale.currency,
                    one.sale.tax_minor,
                    one.sale.total_minor,
                    payload,
                ]))
            })
            .collect::<CloudResult<Vec<_>>>()?;
        inserted += sqlx::query(batch_statement(insert.clone()))
            .bind(encode(&rows)?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    if inserted != run.len() as u64 {
        return Ok(None);
    }
    let lines: Vec<serde_json::Value> = run
        .iter()
        .flat_map(|one| {
            one.sale.lines.iter().map(move |line| {
                json!([
                    one.sale.sale_id,
                    line.line_no,
                    line.sku,
                    line.quantity,
                    line.total_minor,
                    format!("{}:{}", one.op.op_id, line.line_no),
                    one.device.store_id,
                    one.sale.created_at_ms,
                ])
            })
        })
        .collect();
    let insert_lines = format!(
        "INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM {}",
        json_rows(Backend::Sqlite, 1)
    );
    let insert_movements = format!(
        "INSERT INTO stock_movement (id, store_id, sku, delta, kind, ref_id, created_at)
         SELECT value ->> 5, value ->> 6, value ->> 2, -(value ->> 3), 'sale', value ->> 0,
             value ->> 7
         FROM {}",
        json_rows(Backend::Sqlite, 1)
    );
    for chunk in lines.chunks(CHUNK) {
        let chunk = encode(&chunk)?;
        for statement in [&insert_lines, &insert_movements] {
            sqlx::query(batch_statement(statement.clone()))
                .bind(chunk.clone())
                .execute(&mut *tx)
                .await?;
        }
    }
    // One row per store and SKU: an upsert may not touch the same row twice in one statement.
    let mut deltas: Vec<((&'a str, &'a str), i64)> = Vec::new();
    let mut position: HashMap<(&str, &str), usize> = HashMap::new();
    for one in run {
        for line in &one.sale.lines {
            let key = (one.device.store_id.as_str(), line.sku.as_str());
            match position.get(&key) {
                Some(&at) => {
                    deltas[at].1 = deltas[at].1.checked_sub(line.quantity).ok_or_else(|| {
                        CloudError::BadRequest("stock moved by more than a whole number".into())
                    })?;
                }
                None => {
                    position.insert(key, deltas.len());
                    deltas.push((key, -line.quantity));
                }
            }
        }
    }
    let upsert = format!(
        "INSERT INTO stock_level (store_id, sku, on_hand)
         SELECT value ->> 0, value ->> 1, value ->> 2 FROM {} WHERE true
         ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_level.on_hand + excluded.on_hand",
        json_rows(Backend::Sqlite, 1)
    );
    for chunk in deltas.chunks(CHUNK) {
        let rows: Vec<serde_json::Value> = chunk
            .iter()
            .map(|((store, sku), delta)| json!([store, sku, delta]))
            .collect();
        sqlx::query(batch_statement(upsert.clone()))
            .bind(encode(&rows)?)
            .execute(&mut *tx)
            .await?;
    }
    Ok(Some(deltas.into_iter().map(|(key, _)| key).collect()))
}

fn encode(rows: &impl serde::Serialize) -> CloudResult<String> {
    serde_json::to_string(rows).map_err(encoding)
}

fn encoding(error: serde_json::Error) -> CloudError {
    CloudError::Internal(format!("a run of sales cannot be encoded: {error}"))
}

//! A run of plain sales applied together, on SQLite only.
//!
//! Each statement on SQLite is a hand-over to sqlx's SQLite thread, and per-operation
//! statements were most of a backlog's cost there, so a run of consecutive plain sales
//! (`sale.completed.v1`, each already through `sale::check`, chosen by `plan`) is written with
//! a few multi-row statements for the whole run: sales, lines, movements, levels. The rows are
//! exactly those `sale::apply` writes for each. If a sale of the run is already recorded the
//! caller rolls the run back and applies it one by one, which refuses that sale alone.

use omnitill_protocol::ops::{SaleCompleted, SaleLineOp};
use omnitill_protocol::push::Operation;
use sqlx::AnyConnection;

use super::{PushingDevice, Touched};
use crate::db::{batch_statement, value_rows};
use crate::error::CloudResult;

/// Sales per multi-row statement (11 parameters each).
const SALE_CHUNK: usize = 80;
/// Lines or levels per multi-row statement (5 or 3 parameters each).
const LINE_CHUNK: usize = 400;
/// Movements per multi-row statement (7 parameters each).
const MOVEMENT_CHUNK: usize = 250;

/// Applies a run of checked plain sales on SQLite with a few multi-row statements for the whole run
/// instead of several per sale, which is most of a backlog's cost there (each statement is a
/// hand-over to sqlx's SQLite thread). The rows are exactly those `apply_sale` writes for each.
/// Answers false, having written something the caller must roll back, when a sale of the run
/// is already recorded: the caller then applies the run one by one, which refuses that sale
/// alone.
pub async fn apply(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    ops: &[Operation],
    sales: &[&SaleCompleted],
    touched: &mut Touched,
) -> CloudResult<bool> {
    let mut inserted = 0;
    for chunk in sales.chunks(SALE_CHUNK) {
        let insert = format!(
            "INSERT INTO sale (id, store_id, device_id, channel, receipt_no, staff_id, created_at,
                 currency, tax_minor, total_minor, payload)
             VALUES {} ON CONFLICT DO NOTHING",
            (0..chunk.len())
                .map(|row| {
                    let p = row * 10;
                    format!(
                        "(${}, ${}, ${}, 'store', ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7,
                        p + 8,
                        p + 9,
                        p + 10
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut query = sqlx::query(batch_statement(insert));
        for sale in chunk {
            query = query
                .bind(sale.sale_id.as_str())
                .bind(device.store_id.as_str())
                .bind(device.id.as_str())
                .bind(sale.receipt_no.as_str())
                .bind(sale.staff_id.as_str())
                .bind(sale.created_at_ms)
                .bind(sale.currency.as_str())
                .bind(sale.tax_minor)
                .bind(sale.total_minor)
                .bind(serde_json::to_string(*sale).unwrap_or_default());
        }
        inserted += query.execute(&mut *tx).await?.rows_affected();
    }
    if inserted != sales.len() as u64 {
        return Ok(false);
    }
    let lines: Vec<(&SaleCompleted, &SaleLineOp)> = sales
        .iter()
        .copied()
        .flat_map(|sale| sale.lines.iter().map(move |line| (sale, line)))
        .collect();
    for chunk in lines.chunks(LINE_CHUNK) {
        let insert = format!(
            "INSERT INTO sale_line (sale_id, line_no, sku, quantity, total_minor) VALUES {}",
            value_rows(chunk.len(), 5)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for (sale, line) in chunk {
            query = query
                .bind(sale.sale_id.as_str())
                .bind(line.line_no)
                .bind(line.sku.as_str())
                .bind(line.quantity)
                .bind(line.total_minor);
        }
        query.execute(&mut *tx).await?;
    }
    let movements: Vec<(String, &SaleCompleted, &SaleLineOp)> = ops
        .iter()
        .zip(sales.iter().copied())
        .flat_map(|(op, sale)| {
            sale.lines
                .iter()
                .map(move |line| (format!("{}:{}", op.op_id, line.line_no), sale, line))
        })
        .collect();
    for chunk in movements.chunks(MOVEMENT_CHUNK) {
        let insert = format!(
            "INSERT INTO stock_movement (id, store_id, sku, delta, kind, ref_id, created_at)
             VALUES {}",
            value_rows(chunk.len(), 7)
        );
        let mut query = sqlx::query(batch_statement(insert));
        for (id, sale, line) in chunk {
            query = query
                .bind(id.as_str())
                .bind(device.store_id.as_str())
                .bind(line.sku.as_str())
                .bind(-line.quantity)
                .bind("sale")
                .bind(sale.sale_id.as_str())
                .bind(sale.created_at_ms);
        }
        query.execute(&mut *tx).await?;
    }
    // One row per SKU: an upsert may not touch the same row twice in one statement.
    let mut deltas: Vec<(&str, i64)> = Vec::new();
    let mut position: std::collections::HashMap<&str, usize> = Default::default();
    for (_, _, line) in &movements {
        match position.get(line.sku.as_str()) {
            Some(&at) => deltas[at].1 -= line.quantity,
            None => {
                position.insert(line.sku.as_str(), deltas.len());
                deltas.push((line.sku.as_str(), -line.quantity));
            }
        }
    }
    for chunk in deltas.chunks(LINE_CHUNK) {
        let upsert = format!(
            "INSERT INTO stock_level (store_id, sku, on_hand) VALUES {}
             ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_level.on_hand + excluded.on_hand",
            value_rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(batch_statement(upsert));
        for (sku, delta) in chunk {
            query = query.bind(device.store_id.as_str()).bind(*sku).bind(*delta);
        }
        query.execute(&mut *tx).await?;
    }
    touched.add(deltas.iter().map(|(sku, _)| (*sku).to_owned()).collect());
    Ok(true)
}

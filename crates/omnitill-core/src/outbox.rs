//! The sync outbox: every fact the cloud must learn, written in the same transaction as the
//! rows it describes.
//!
//! Each operation has a UUIDv7 `op_id` and this device's gap-free sequence number `seq`, taken
//! from the `counter` table inside the transaction, so a rolled-back sale consumes no number.
//! Payloads are JSON documents whose shape is fixed per `op_type`; a new meaning gets a new
//! type, and old types keep theirs.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::CoreResult;

pub use omnitill_protocol::ops::{
    REFUND_COMPLETED, REFUND_COMPLETED_V2, RefundCompleted, RefundLineOp, SALE_COMPLETED,
    SALE_COMPLETED_V2, SaleCompleted, SaleLineOp, TenderOp,
};

/// An operation as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxOp {
    pub seq: i64,
    pub op_id: String,
    pub op_type: String,
    pub payload: String,
    pub created_at_ms: i64,
}

/// Takes the next value of a named counter. Call only inside a write transaction.
pub(crate) fn next_counter(conn: &Connection, name: &str) -> CoreResult<i64> {
    let value: i64 = conn
        .prepare_cached(
            "INSERT INTO counter (name, value) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        )?
        .query_row([name], |row| row.get(0))?;
    Ok(value)
}

/// Appends an operation with sequence number `seq`. Call inside the business transaction.
pub(crate) fn append(
    conn: &Connection,
    seq: i64,
    op_id: &str,
    op_type: &str,
    payload: &impl Serialize,
    created_at_ms: i64,
) -> CoreResult<()> {
    let json = serde_json::to_string(payload).map_err(|e| {
        crate::error::CoreError::BadInput(format!("operation cannot be encoded: {e}"))
    })?;
    conn.prepare_cached(
        "INSERT INTO outbox (seq, op_id, op_type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![seq, op_id, op_type, json, created_at_ms])?;
    Ok(())
}

/// Operations the cloud has not acknowledged yet, oldest first.
pub fn pending(conn: &Connection, limit: usize) -> CoreResult<Vec<OutboxOp>> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, op_id, op_type, payload, created_at FROM outbox
         WHERE acked_at IS NULL ORDER BY seq LIMIT ?1",
    )?;
    let rows = statement.query_map([limit as i64], |row| {
        Ok(OutboxOp {
            seq: row.get(0)?,
            op_id: row.get(1)?,
            op_type: row.get(2)?,
            payload: row.get(3)?,
            created_at_ms: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The number of unacknowledged operations and the creation time of the oldest.
pub fn pending_summary(conn: &Connection) -> CoreResult<(i64, Option<i64>)> {
    Ok(conn
        .query_row(
            "SELECT count(*), min(created_at) FROM outbox WHERE acked_at IS NULL",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, None)))
}

/// The lowest unacknowledged `seq` (none when everything is acknowledged) and the highest
/// `seq` ever written (0 for an empty outbox): what the engine compares with the seq a
/// restored cloud expects.
pub fn span(conn: &Connection) -> CoreResult<(Option<i64>, i64)> {
    Ok(conn.query_row(
        "SELECT (SELECT min(seq) FROM outbox WHERE acked_at IS NULL),
                COALESCE((SELECT max(seq) FROM outbox), 0)",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?)
}

/// How many operations up to seq `through` are not acknowledged yet.
pub fn pending_through(conn: &Connection, through: i64) -> CoreResult<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM outbox WHERE acked_at IS NULL AND seq <= ?1",
        [through],
        |row| row.get(0),
    )?)
}

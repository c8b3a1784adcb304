//! The manager's review list: operations the cloud refused for a business reason.
//!
//! A refusal never blocks the operations after it (the cloud acknowledges it like any other);
//! `sync::record_push` keeps the cloud's reason in `op_outcome`. A manager reads the list here,
//! with enough of the operation to recognise it (its type and receipt number), and marks each
//! one reviewed with a note of what was done about it. Marking is audited and happens once.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::error::{CoreError, CoreResult};
use crate::staff::StaffSession;

/// The longest note a manager may leave on a reviewed refusal.
pub const MAX_NOTE_CHARS: usize = 500;

/// One refused operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Refusal {
    pub seq: i64,
    pub op_type: String,
    /// The receipt number the operation carries, when it has one.
    pub receipt_no: Option<String>,
    pub created_at_ms: i64,
    pub reason: String,
    pub received_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub resolved_by: Option<String>,
    pub note: Option<String>,
}

/// Refusals, newest first: those still to review, or all of them.
pub fn refusals(
    conn: &Connection,
    include_reviewed: bool,
    limit: usize,
) -> CoreResult<Vec<Refusal>> {
    let mut statement = conn.prepare(
        "SELECT o.seq, b.op_type, json_extract(b.payload, '$.receipt_no'), b.created_at,
                COALESCE(o.reason, ''), o.received_at, o.resolved_at, s.name, o.note
         FROM op_outcome o
         JOIN outbox b ON b.seq = o.seq
         LEFT JOIN staff s ON s.id = o.resolved_by
         WHERE o.status = 'rejected' AND (?1 OR o.resolved_at IS NULL)
         ORDER BY o.seq DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![include_reviewed, limit as i64], |row| {
        Ok(Refusal {
            seq: row.get(0)?,
            op_type: row.get(1)?,
            receipt_no: row.get(2)?,
            created_at_ms: row.get(3)?,
            reason: row.get(4)?,
            received_at_ms: row.get(5)?,
            resolved_at_ms: row.get(6)?,
            resolved_by: row.get(7)?,
            note: row.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many refusals wait for a manager.
pub fn unreviewed_count(conn: &Connection) -> CoreResult<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM op_outcome WHERE status = 'rejected' AND resolved_at IS NULL",
        [],
        |row| row.get(0),
    )?)
}

/// Marks a refusal reviewed by the logged-in manager, with a note of what was done.
pub fn mark_reviewed(
    conn: &mut Connection,
    session: &StaffSession,
    seq: i64,
    note: &str,
    now: DateTime<Utc>,
) -> CoreResult<Refusal> {
    if !session.is_manager() {
        return Err(CoreError::NotManager);
    }
    let note = note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(CoreError::BadInput(format!(
            "the note is too long: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let resolved: Option<Option<i64>> = tx
        .query_row(
            "SELECT resolved_at FROM op_outcome WHERE seq = ?1 AND status = 'rejected'",
            [seq],
            |row| row.get(0),
        )
        .optional()?;
    match resolved {
        None => return Err(CoreError::NotFound(format!("refused operation {seq}"))),
        Some(Some(_)) => {
            return Err(CoreError::BadInput(format!(
                "refused operation {seq} was already reviewed"
            )));
        }
        Some(None) => {}
    }
    let now_ms = now.timestamp_millis();
    tx.execute(
        "UPDATE op_outcome SET resolved_at = ?2, resolved_by = ?3, note = ?4 WHERE seq = ?1",
        params![seq, now_ms, session.id, (!note.is_empty()).then_some(note)],
    )?;
    tx.execute(
        "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'sync.refusal_reviewed', ?3)",
        params![now_ms, session.id, format!("operation {seq}: {note}")],
    )?;
    tx.commit()?;
    refusals(conn, true, usize::MAX >> 1)?
        .into_iter()
        .find(|r| r.seq == seq)
        .ok_or_else(|| CoreError::NotFound(format!("refused operation {seq}")))
}

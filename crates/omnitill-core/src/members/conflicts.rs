//! The review list of member conflicts the cloud flagged for this store, and their
//! resolution by a manager.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::{CoreError, CoreResult};
use crate::outbox;

/// A member conflict of the manager's review list: an offline overdraft, a coupon used twice,
/// an enrolment merged into an existing member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Conflict {
    pub id: String,
    /// `overdraft`, `coupon_double_use` or `merged_enrolment`.
    pub conflict: String,
    pub member_id: String,
    /// The member's name, when this till caches them.
    pub member_name: Option<String>,
    pub summary: String,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub note: Option<String>,
}

/// Member conflicts, newest first: those still open, or all of them.
pub fn conflicts(
    conn: &Connection,
    include_resolved: bool,
    limit: usize,
) -> CoreResult<Vec<Conflict>> {
    let mut statement = conn.prepare_cached(
        "SELECT c.id, c.conflict, c.member_id, m.name, c.summary, c.created_at, c.resolved_at,
                c.note
         FROM member_conflict c LEFT JOIN member m ON m.id = c.member_id
         WHERE ?1 OR c.resolved_at IS NULL
         ORDER BY c.created_at DESC, c.id LIMIT ?2",
    )?;
    let rows = statement.query_map(params![include_resolved, limit as i64], |row| {
        Ok(Conflict {
            id: row.get(0)?,
            conflict: row.get(1)?,
            member_id: row.get(2)?,
            member_name: row.get(3)?,
            summary: row.get(4)?,
            created_at_ms: row.get(5)?,
            resolved_at_ms: row.get(6)?,
            note: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Open member conflicts, for the status bar's flag.
pub fn open_conflicts(conn: &Connection) -> CoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM member_conflict WHERE resolved_at IS NULL")?
        .query_row([], |row| row.get(0))?)
}

/// The longest note a manager may write on a resolved conflict, in characters.
pub const MAX_CONFLICT_NOTE_CHARS: usize = 500;

/// A manager marks a member conflict resolved with a note, in one transaction: the row here
/// and a `conflict.resolved` operation, which the cloud applies for every channel.
pub(crate) fn resolve_conflict(
    conn: &mut Connection,
    manager_id: &str,
    conflict_id: &str,
    note: &str,
    op_id: &str,
    now_ms: i64,
) -> CoreResult<Conflict> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > MAX_CONFLICT_NOTE_CHARS {
        return Err(CoreError::BadInput(format!(
            "write what was done about it (1 to {MAX_CONFLICT_NOTE_CHARS} characters)"
        )));
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let resolved: Option<Option<i64>> = tx
        .prepare_cached("SELECT resolved_at FROM member_conflict WHERE id = ?1")?
        .query_row([conflict_id], |row| row.get(0))
        .optional()?;
    match resolved {
        None => {
            return Err(CoreError::NotFound(format!(
                "member conflict {conflict_id}"
            )));
        }
        Some(Some(_)) => {
            return Err(CoreError::BadInput(
                "this conflict was already resolved".into(),
            ));
        }
        Some(None) => {}
    }
    tx.prepare_cached(
        "UPDATE member_conflict SET resolved_at = ?2, note = ?3, resolved_here = 1 WHERE id = ?1",
    )?
    .execute(params![conflict_id, now_ms, note])?;
    let seq = outbox::next_counter(&tx, "outbox")?;
    let op = omnitill_protocol::ops::ConflictResolved {
        conflict_id: conflict_id.to_owned(),
        note: note.to_owned(),
        resolved_by: manager_id.to_owned(),
        resolved_at_ms: now_ms,
    };
    outbox::append(
        &tx,
        seq,
        op_id,
        omnitill_protocol::ops::CONFLICT_RESOLVED,
        &op,
        now_ms,
    )?;
    tx.execute(
        "INSERT INTO audit (at, staff_id, action, detail) VALUES (?1, ?2, 'conflict.resolved', ?3)",
        params![
            now_ms,
            manager_id,
            format!("member conflict {conflict_id}: {note}")
        ],
    )?;
    tx.commit()?;
    conflicts(conn, true, usize::MAX >> 1)?
        .into_iter()
        .find(|c| c.id == conflict_id)
        .ok_or_else(|| CoreError::NotFound(format!("member conflict {conflict_id}")))
}

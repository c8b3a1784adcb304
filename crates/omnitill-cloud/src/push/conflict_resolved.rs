//! `conflict.resolved.v1`: a manager marked a conflict of the store's review list resolved.
//!
//! `check` is pure: a note of 1 to 500 characters. `apply` resolves the conflict only if it is
//! this store's and still open; anything else changes nothing (a resolution told twice, or one
//! for a conflict another till resolved first).

use omnitill_protocol::ops::ConflictResolved;
use sqlx::AnyConnection;

use super::{ApplyError, PushingDevice, Refusal};
use crate::members;

/// The longest note a resolution may carry, in characters.
const MAX_NOTE_CHARS: usize = 500;

pub fn check(resolved: &ConflictResolved) -> Result<(), Refusal> {
    if resolved.note.trim().is_empty() || resolved.note.chars().count() > MAX_NOTE_CHARS {
        return Err(Refusal(format!(
            "a resolution needs a note of 1 to {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(())
}

pub async fn apply(
    tx: &mut AnyConnection,
    device: &PushingDevice,
    resolved: &ConflictResolved,
) -> Result<(), ApplyError> {
    check(resolved)?;
    members::resolve_conflict(
        tx,
        &device.store_id,
        &resolved.conflict_id,
        resolved.note.trim(),
        &resolved.resolved_by,
        resolved.resolved_at_ms,
    )
    .await?;
    Ok(())
}

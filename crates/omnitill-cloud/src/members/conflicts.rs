//! Conflicts for a store's review list: flagged once per kind and reference, published to
//! that store's tills, and resolved by a manager.

use omnitill_protocol::loyalty::ConflictNotice;
use omnitill_protocol::pull::Change;
use sqlx::AnyConnection;

use super::balance;
use crate::db::now_ms;
use crate::error::CloudResult;
use crate::feed;

/// Records a conflict for a store's review list (once per kind and reference) and publishes it
/// to that store's tills.
pub async fn flag(
    tx: &mut AnyConnection,
    store_id: &str,
    conflict: &str,
    member_id: &str,
    ref_id: &str,
    summary: &str,
) -> CloudResult<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let at = now_ms();
    let written = sqlx::query(
        "INSERT INTO member_conflict (id, store_id, conflict, member_id, ref_id, summary,
             created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (conflict, ref_id) DO NOTHING",
    )
    .bind(&id)
    .bind(store_id)
    .bind(conflict)
    .bind(member_id)
    .bind(ref_id)
    .bind(summary)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    if written.rows_affected() == 1 {
        let notice = ConflictNotice {
            id: id.clone(),
            conflict: conflict.to_owned(),
            member_id: member_id.to_owned(),
            summary: summary.to_owned(),
            created_at_ms: at,
            resolved_at_ms: None,
            note: None,
        };
        feed::publish(tx, store_id, "conflict", &id, &Change::Conflict(notice)).await?;
    }
    Ok(())
}

/// Flags an overdraft if the member's balance is below zero after `ref_id`.
pub async fn flag_overdraft(
    tx: &mut AnyConnection,
    store_id: &str,
    member_id: &str,
    ref_id: &str,
    receipt: &str,
) -> CloudResult<()> {
    let balance = balance(&mut *tx, member_id).await?;
    if balance < 0 {
        let summary = format!(
            "Points overdrawn: {receipt} redeemed more than the member had; balance now {balance}"
        );
        flag(tx, store_id, "overdraft", member_id, ref_id, &summary).await?;
    }
    Ok(())
}

/// Marks a conflict resolved from `store_id`'s review list and republishes it.
pub async fn resolve_conflict(
    tx: &mut AnyConnection,
    store_id: &str,
    conflict_id: &str,
    note: &str,
    resolved_by: &str,
    at_ms: i64,
) -> CloudResult<bool> {
    let row: Option<(String, String, String, i64)> = sqlx::query_as(
        "UPDATE member_conflict SET resolved_at = $1, resolved_by = $2, note = $3
         WHERE id = $4 AND store_id = $5 AND resolved_at IS NULL
         RETURNING conflict, member_id, summary, created_at",
    )
    .bind(at_ms)
    .bind(resolved_by)
    .bind(note)
    .bind(conflict_id)
    .bind(store_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((conflict, member_id, summary, created_at)) = row else {
        return Ok(false);
    };
    let notice = ConflictNotice {
        id: conflict_id.to_owned(),
        conflict,
        member_id,
        summary,
        created_at_ms: created_at,
        resolved_at_ms: Some(at_ms),
        note: Some(note.to_owned()),
    };
    feed::publish(
        tx,
        store_id,
        "conflict",
        conflict_id,
        &Change::Conflict(notice),
    )
    .await?;
    Ok(true)
}

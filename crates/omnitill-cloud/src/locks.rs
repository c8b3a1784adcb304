//! Row locks that make a check-then-write safe under concurrent requests.
//!
//! The member row is the lock for everything that moves a member's balance, a points hold or a
//! coupon of theirs: a use case locks it first, then reads the balance, holds or coupon, then
//! writes, then commits. On PostgreSQL this is `SELECT ... FOR UPDATE` (held until the
//! transaction ends). On SQLite it only checks the row exists: the cloud writes through one
//! connection, so its write transactions already run one at a time.
//!
//! **Lock order**, to keep transactions from waiting on each other in a circle: member rows
//! first (several at once only through `lock_members`, which takes them in id order), then
//! idempotency keys, coupon and code rows, and the feed's counter row (taken by
//! `feed::publish`) last. A transaction that has published to the feed must not lock a member
//! any more: the push path locks all the members of a push up front with `lock_members`.

use sqlx::AnyConnection;

use crate::error::CloudResult;

/// Locks a member's row until the transaction ends; false when there is no such member.
/// `member_id` must be resolved already (`members::resolve`): an alias has no row.
pub async fn lock_member(tx: &mut AnyConnection, member_id: &str) -> CloudResult<bool> {
    let sql = if is_postgres(tx) {
        "SELECT id FROM member WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM member WHERE id = $1"
    };
    let row: Option<(String,)> = sqlx::query_as(sql)
        .bind(member_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.is_some())
}

/// Locks several members' rows in id order (so two transactions never wait on each other);
/// returns how many exist.
pub async fn lock_members(tx: &mut AnyConnection, member_ids: &[&str]) -> CloudResult<usize> {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut found = 0;
    for id in ids {
        if lock_member(&mut *tx, id).await? {
            found += 1;
        }
    }
    Ok(found)
}

/// Whether the connection is PostgreSQL's (row locks) rather than SQLite's (one writer).
pub fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// How many times a use case is tried when PostgreSQL gives up on its transaction.
pub const ATTEMPTS: usize = 3;

/// Runs `attempt` (a whole transaction) again, up to `ATTEMPTS` times in all, while PostgreSQL
/// answers that it gave it up for another (a deadlock or a serialization failure). A writer
/// that takes rows in another order than this module's (the push path updating a member after
/// publishing, say) can meet an e-shop call in a deadlock; PostgreSQL then aborts one, and the
/// e-shop's call is tried again instead of answering 500.
pub async fn retrying<T, F, Fut>(mut attempt: F) -> CloudResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = CloudResult<T>>,
{
    for _ in 1..ATTEMPTS {
        match attempt().await {
            Err(error) if is_retryable(&error) => continue,
            other => return other,
        }
    }
    attempt().await
}

/// Whether a database error is PostgreSQL giving up on a transaction so another can go on
/// (a deadlock or a serialization failure): the request can be tried again from the start.
pub fn is_retryable(error: &crate::CloudError) -> bool {
    match error {
        crate::CloudError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

//! The limit on enrolment attempts per source address: at most `MAX_FAILED_ATTEMPTS` failed
//! attempts in any `WINDOW_MS`, then 429 with `Retry-After` until the oldest leaves the window.
//!
//! Enrolment codes are short (10 characters from 30), so guessing must be slow. The count lives
//! in the database (`enrolment_attempt`, cloud migration 0009), so two cloud processes on one
//! PostgreSQL agree. An attempt first inserts its own row and commits it, then counts the rows
//! of its source in the window, its own included: every attempt sees every earlier one, so
//! however many arrive at once, at most `MAX_FAILED_ATTEMPTS` are ever let through to the code
//! check per window (concurrent ones may refuse each other, never admit each other). A refused
//! attempt takes its row out again (it was not tried), a successful enrolment takes its row out
//! inside its own transaction, and a failed one leaves it to count.

use crate::db::Db;
use crate::error::{CloudError, CloudResult};

/// Failed attempts a source may make in a window.
pub const MAX_FAILED_ATTEMPTS: i64 = 10;
/// The window, in milliseconds (10 minutes).
pub const WINDOW_MS: i64 = 10 * 60_000;

/// An attempt let through to the code check; its row counts as failed unless `succeeded`
/// removes it.
#[derive(Debug)]
pub struct Attempt {
    pub id: String,
}

/// Records an attempt from `source` at `now_ms`, or refuses it with `RateLimited` when the
/// source has used up its window.
pub async fn begin(db: &Db, source: &str, now_ms: i64) -> CloudResult<Attempt> {
    let id = uuid::Uuid::now_v7().to_string();
    let since = now_ms - WINDOW_MS;
    // Every source's rows that left the window, so the table holds only the last 10 minutes'
    // failures (at most `MAX_FAILED_ATTEMPTS` per source) however many addresses try.
    sqlx::query("DELETE FROM enrolment_attempt WHERE at <= $1")
        .bind(since)
        .execute(&db.write)
        .await?;
    sqlx::query("INSERT INTO enrolment_attempt (id, source, at) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(source)
        .bind(now_ms)
        .execute(&db.write)
        .await?;
    let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(at) FROM enrolment_attempt WHERE source = $1 AND at > $2",
    )
    .bind(source)
    .bind(since)
    .fetch_one(&db.write)
    .await?;
    if count <= MAX_FAILED_ATTEMPTS {
        return Ok(Attempt { id });
    }
    sqlx::query("DELETE FROM enrolment_attempt WHERE id = $1")
        .bind(&id)
        .execute(&db.write)
        .await?;
    Err(CloudError::RateLimited {
        retry_after_s: retry_after_s(oldest.unwrap_or(now_ms), now_ms),
    })
}

/// Takes a successful attempt's row out, inside the enrolment's transaction.
pub async fn succeeded(tx: &mut sqlx::AnyConnection, attempt: &Attempt) -> CloudResult<()> {
    sqlx::query("DELETE FROM enrolment_attempt WHERE id = $1")
        .bind(&attempt.id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Seconds until an attempt made at `oldest_ms` leaves the window, at least 1.
pub fn retry_after_s(oldest_ms: i64, now_ms: i64) -> u64 {
    let left_ms = oldest_ms.saturating_add(WINDOW_MS).saturating_sub(now_ms);
    u64::try_from(left_ms.saturating_add(999) / 1_000)
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_counts_whole_seconds_up_to_the_oldest_attempts_exit() {
        assert_eq!(retry_after_s(0, 0), 600, "a full window is 600 s");
        assert_eq!(
            retry_after_s(0, WINDOW_MS - 1),
            1,
            "a last millisecond is a second"
        );
        assert_eq!(
            retry_after_s(0, WINDOW_MS + 5_000),
            1,
            "never zero: a client told 0 would retry at once"
        );
        assert_eq!(retry_after_s(1_000, 500), 601, "part seconds round up");
    }
}

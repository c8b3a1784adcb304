//! A till given the cloud's data without a cloud: its enrolment with a store recorded as the
//! sync engine records it, and changes applied as pulled pages of the change feed through
//! `Till::apply_pull`, the path every pulled page takes in the app.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use omnitill_core::Till;
use omnitill_protocol::enrol::EnrolResponse;
use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};

/// The store the fed tills belong to.
pub const STORE_ID: &str = "bench-store-xinyi";
/// Entries of one pulled page, as the cloud sends them.
const PAGE: usize = 500;

/// Records that `till` was enrolled with `STORE_ID` (no cloud is asked; nothing syncs).
pub fn enrol(till: &mut Till) -> Result<()> {
    let now = till.clock().now();
    till.record_enrolment(
        "http://127.0.0.1:9",
        &EnrolResponse {
            device_id: "bench-device".into(),
            store_id: STORE_ID.into(),
            store_name: "Bench store".into(),
            token: "bench-token".into(),
            receipt_prefix: "BP01".into(),
        },
        now,
    )
    .context("recording the enrolment")?;
    Ok(())
}

/// Applies `changes` as pulled pages of `PAGE` entries, continuing the till's cursor from
/// `first_cursor`; answers how long that took.
pub fn apply(till: &mut Till, changes: Vec<Change>, first_cursor: i64) -> Result<Duration> {
    let started = Instant::now();
    let total = changes.len();
    let mut cursor = first_cursor;
    let mut sent = 0;
    let mut changes = changes.into_iter().peekable();
    while changes.peek().is_some() {
        let entries: Vec<FeedEntry> = changes
            .by_ref()
            .take(PAGE)
            .map(|change| {
                cursor += 1;
                FeedEntry { cursor, change }
            })
            .collect();
        let count = entries.len();
        sent += count;
        let page = PullResponse {
            entries,
            cursor,
            has_more: sent < total,
            reset: false,
            last_applied_seq: 0,
            remaining: i64::try_from(total - sent)?,
            allowance: None,
        };
        let now = till.clock().now();
        let applied = till
            .apply_pull(&page, now)
            .context("applying a pulled page")?;
        if applied.applied != count {
            bail!(
                "a pulled page of {count} changes applied {} of them",
                applied.applied
            );
        }
    }
    Ok(started.elapsed())
}

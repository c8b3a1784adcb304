//! The hourly jobs (points expiry, birthday coupons, pickup expiry, and once a day what sells
//! together), run once per period across every cloud
//! process that serves the brand (migration 0007, `job_run`).
//!
//! A period is an hour of the cloud's clock, in UTC. Before a job runs, its process claims the
//! job's period with one conditional upsert whose affected-row count is checked: it inserts
//! the `(job, period)` row, or takes over a row whose run never finished and whose lease has
//! passed (a process that died mid-run). Only the process that claimed runs the job; it then
//! marks the period finished. The same statement decides on SQLite and PostgreSQL: on
//! PostgreSQL a second claimer waits for the first's insert to commit, then finds the row
//! taken. Each job is also safe to run twice on its own (one expiry per member and day, one
//! birthday coupon per member and month), so a taken-over run books nothing twice.

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::CloudResult;
use crate::members;

/// How long a claim lasts before another process may take the period over.
pub const LEASE_MS: i64 = 30 * 60 * 1_000;

/// The jobs, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    ExpirePoints,
    BirthdayCoupons,
    ExpirePickups,
    BoughtTogether,
}

impl Job {
    pub const ALL: [Job; 4] = [
        Job::ExpirePoints,
        Job::BirthdayCoupons,
        Job::ExpirePickups,
        Job::BoughtTogether,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job::ExpirePoints => "expire_points",
            Job::BirthdayCoupons => "birthday_coupons",
            Job::ExpirePickups => "expire_pickups",
            Job::BoughtTogether => "bought_together",
        }
    }
}

/// What one job did in one period, from this process's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// This process ran the job: how many members (or orders) it touched.
    Ran { touched: usize },
    /// Another process claimed the period (or finished it already).
    Skipped,
}

/// The period a moment falls in: its hour, UTC, as `2026-12-06T03`.
pub fn period(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%dT%H").to_string()
}

/// Runs every job whose period (by the cloud's clock) this process can claim. `owner` names
/// the process in `job_run`.
pub async fn run_due(db: &Db, owner: &str) -> Vec<(Job, CloudResult<JobOutcome>)> {
    let now = db.now();
    let mut outcomes = Vec::new();
    for job in Job::ALL {
        outcomes.push((job, run_once(db, job, now, owner).await));
    }
    outcomes
}

/// Runs `job` for the period of `now` unless another process claimed that period.
pub async fn run_once(
    db: &Db,
    job: Job,
    now: DateTime<Utc>,
    owner: &str,
) -> CloudResult<JobOutcome> {
    let period = period(now);
    if !claim(db, job, &period, owner).await? {
        return Ok(JobOutcome::Skipped);
    }
    let touched = match job {
        Job::ExpirePoints => members::expire_points(db, now).await?,
        Job::BirthdayCoupons => members::issue_birthday_coupons(db, now).await?,
        Job::ExpirePickups => crate::pickups::expiry::expire_due(db, now).await?,
        // Once a day: the hour's claim still keeps it to one process.
        Job::BoughtTogether if crate::bought_together::due(db, now).await? => {
            crate::bought_together::compute(db, now).await?
        }
        Job::BoughtTogether => 0,
    };
    sqlx::query(
        "UPDATE job_run SET finished_at = $1, outcome = $2
         WHERE job = $3 AND period = $4 AND owner = $5",
    )
    .bind(db.now_ms())
    .bind(format!("{touched} member(s)"))
    .bind(job.name())
    .bind(&period)
    .bind(owner)
    .execute(&db.write)
    .await?;
    Ok(JobOutcome::Ran { touched })
}

/// Claims `job`'s `period` for `owner`: true when this process is to run it.
async fn claim(db: &Db, job: Job, period: &str, owner: &str) -> CloudResult<bool> {
    let now = db.now_ms();
    let claimed = sqlx::query(
        "INSERT INTO job_run (job, period, owner, started_at, lease_until)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job, period) DO UPDATE
             SET owner = excluded.owner, started_at = excluded.started_at,
                 lease_until = excluded.lease_until
             WHERE job_run.finished_at IS NULL AND job_run.lease_until < excluded.started_at",
    )
    .bind(job.name())
    .bind(period)
    .bind(owner)
    .bind(now)
    .bind(now.saturating_add(LEASE_MS))
    .execute(&db.write)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// A name for this process in `job_run`: its pid and a random part.
pub fn process_owner() -> String {
    format!(
        "pid {} ({})",
        std::process::id(),
        &uuid::Uuid::now_v7().simple().to_string()[24..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_period_is_an_hour_of_utc() {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 6, 3, 59, 59)
            .single()
            .expect("a time");
        assert_eq!(period(at), "2026-12-06T03", "the hour names the period");
        assert_ne!(
            period(at + chrono::Duration::seconds(1)),
            period(at),
            "the next hour is the next period"
        );
    }
}

//! The cloud's "bought together" computation over a large sales history (SQLite cloud).
//!
//! A copy of the cached cloud with N sales (`cloud_sales`) runs `omnitill-cloud jobs run
//! --now T`, which computes every product's companions from the last year's sales and
//! publishes them (the hourly job does it once a day). The first run publishes every list:
//! the full computation. Then a few new sales are added and the job runs again a day later:
//! the re-run, which publishes only the lists that changed. Both are timed as the command's
//! wall time, so each includes the process start and the other hourly jobs, which have nothing
//! to do on this database; a no-op admin command is timed too, to show that share.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cloud;
use crate::cloud_sales::{self, HISTORY_END_MS, SalesSize};

/// When the full computation runs: an hour after the history ends.
const FULL_AT: &str = "2026-12-01T01:00:00Z";
/// When the new sales start: two hours after the history ends.
const NEW_SALES_FROM_MS: i64 = HISTORY_END_MS + 2 * 3_600_000;
/// When the re-run runs: a day and more after the first, so the daily job is due again.
const RERUN_AT: &str = "2026-12-02T03:00:00Z";

/// What the computation measured.
pub struct TogetherResult {
    pub full: Duration,
    pub full_changed: u64,
    pub rerun: Duration,
    pub rerun_changed: u64,
    /// Products with a published list after the re-run.
    pub products_with_lists: u64,
    /// The wall time of a command that does nothing (`store list`).
    pub process_overhead: Duration,
}

/// Runs the full computation and the re-run after `new_sales` new sales.
pub fn measure(
    binary: &Path,
    cache_dir: &Path,
    work: &Path,
    size: SalesSize,
    new_sales: u64,
) -> Result<TogetherResult> {
    let cached = cloud_sales::ensure(binary, cache_dir, size)?;
    let copy = work.join("together-cloud.sqlite3");
    crate::copy_durably(&cached, &copy)?;
    let database = copy.display().to_string();

    let started = Instant::now();
    cloud::admin(binary, &database, &["store", "list"])?;
    let process_overhead = started.elapsed();

    eprintln!(
        "bought together: full computation over {} sales",
        size.sales
    );
    let (full, full_changed) = run_job(binary, &database, FULL_AT)?;
    eprintln!(
        "bought together: {full_changed} lists published in {:.1} s; adding {new_sales} sales",
        full.as_secs_f64()
    );
    cloud_sales::append(&copy, size, new_sales, NEW_SALES_FROM_MS)?;
    let (rerun, rerun_changed) = run_job(binary, &database, RERUN_AT)?;
    eprintln!(
        "bought together: re-run published {rerun_changed} changed lists in {:.1} s",
        rerun.as_secs_f64()
    );
    let conn = rusqlite::Connection::open(&copy)
        .with_context(|| format!("cannot open {}", copy.display()))?;
    let lists: i64 =
        conn.query_row("SELECT count(*) FROM bought_together", [], |row| row.get(0))?;
    Ok(TogetherResult {
        full,
        full_changed,
        rerun,
        rerun_changed,
        products_with_lists: lists.unsigned_abs(),
        process_overhead,
    })
}

/// Runs the hourly jobs as of `now`; answers the wall time and how many lists the
/// bought-together job published.
fn run_job(binary: &Path, database: &str, now: &str) -> Result<(Duration, u64)> {
    let started = Instant::now();
    let printed = cloud::admin(binary, database, &["jobs", "run", "--now", now])?;
    let elapsed = started.elapsed();
    let line = printed
        .lines()
        .find(|line| line.starts_with("bought_together "))
        .with_context(|| format!("`jobs run` printed no bought_together line: {printed:?}"))?;
    Ok((elapsed, touched(line)?))
}

/// The count of `bought_together PERIOD: ran, N touched`.
fn touched(line: &str) -> Result<u64> {
    let Some((_, after)) = line.split_once(": ran, ") else {
        bail!("the bought-together job did not run: {line:?}");
    };
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no count in {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_count_is_read_and_a_skipped_job_is_an_error() {
        assert_eq!(
            touched("bought_together 2026-12-01T01: ran, 4321 touched").ok(),
            Some(4321)
        );
        assert!(touched("bought_together 2026-12-01T01: skipped, another process ran it").is_err());
    }
}

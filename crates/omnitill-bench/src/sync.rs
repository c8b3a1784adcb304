//! The sync benchmark: a real `omnitill-cloud` process on 127.0.0.1, real till ledgers and the
//! real sync engine (`omnitill_sync::engine::sync_once` and `omnitill_sync::Client`).
//!
//! Four measurements; the backlog drains, the tills at once and the catalog download each start
//! their own cloud, and the idle rounds reuse the SQLite backlog's:
//! - backlog drain: a till whose outbox holds N five-line sales (made through
//!   `Till::complete_sale`, cached as a template) is enrolled and runs one `sync_once`, which
//!   pushes the whole outbox in batches and then drains the (small) change feed. The row is N
//!   divided by that round's wall time; on a SQLite cloud and on a PostgreSQL cloud (a database
//!   made for the run and dropped afterwards).
//! - idle round trip: the same till, now in step with the cloud, runs `sync_once` rounds that
//!   have nothing to do. Latency is timed directly against the cloud; bytes are counted by a
//!   relay on loopback (`relay`) that the till is pointed at for a few rounds.
//! - concurrent tills (`fleet`): T tills push their outboxes at once, to one SQLite cloud, one
//!   PostgreSQL cloud and two cloud processes on one PostgreSQL.
//! - first catalog download: a fresh, empty ledger is enrolled with a cloud holding the demo
//!   brand plus N generated products (made once with `omnitill-cloud catalog import`, cached)
//!   and runs one `sync_once`, timed until the feed is drained and applied (the last page
//!   written: every product sellable by barcode), and again until the round ends with every
//!   product indexed for search.
//!
//! Tills run passive checkpoints from a second connection every 2 s while they sync, as the app
//! does (`tills::Checkpoints`). A measurement that cannot run (no PostgreSQL, a failure)
//! becomes a MISS row saying why; the others still run.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use omnitill_sync::engine::{Progress, RoundOptions, RoundReport, sync_once, sync_once_with};

use crate::cloud::{self, Cloud, Postgres};
use crate::measure::Samples;
use crate::relay::Relay;
use crate::table::{Table, Verdict, thousands};
use crate::tills::{self, SharedTill, lock};

/// The store every benchmark till is enrolled with (from the cloud's demo brand).
pub(crate) const STORE: &str = "TPE-XINYI";
/// Targets.
const BACKLOG_SQLITE_SALES_PER_S: f64 = 2_500.0;
const BACKLOG_POSTGRES_SALES_PER_S: f64 = 1_500.0;
const CATALOG_ROWS_PER_S: f64 = 100_000.0;
const IDLE_BYTES: u64 = 1_000;
const IDLE_LATENCY: Duration = Duration::from_millis(5);
/// Untimed idle rounds before the timed ones.
const IDLE_WARM_UP: usize = 10;
/// Idle rounds sent through the counting relay.
const IDLE_COUNTED_ROUNDS: u64 = 20;
/// What the sync rows measure, and how much.
#[derive(Debug, Clone, Copy)]
pub struct SyncPlan {
    pub backlog_sales: u64,
    pub catalog_products: u64,
    pub idle_rounds: usize,
    pub fleet_tills: usize,
    pub fleet_sales_each: usize,
    /// Only the first catalog download (`--catalog-only`), for working on that figure.
    pub catalog_only: bool,
    /// Only the push rows (backlog drain, idle round trip, many tills at once).
    pub push_only: bool,
    /// Only the many-tills-at-once rows (`--fleet-only`).
    pub fleet_only: bool,
    /// The member rows (`crate::members`).
    pub members: crate::members::MemberPlan,
    /// Only the member rows (`--members-only`).
    pub members_only: bool,
    /// Rounds of the e-shop redemption rows (`crate::redemptions`).
    pub redeem_rounds: usize,
    /// Only the e-shop redemption rows (`--redeem-only`).
    pub redeem_only: bool,
}

/// Where the benchmark finds the cloud binary, keeps its cache and works.
pub struct Dirs<'a> {
    pub bin_dir: &'a Path,
    pub cache_dir: &'a Path,
    pub run_dir: &'a Path,
}

pub(crate) struct SyncBench {
    pub(crate) binary: PathBuf,
    pub(crate) cache_dir: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) runtime: tokio::runtime::Runtime,
}

/// Adds the sync rows to the report.
pub fn rows(table: &mut Table, plan: &SyncPlan, dirs: &Dirs<'_>) -> Result<()> {
    let binary = dirs.bin_dir.join("omnitill-cloud");
    if !binary.is_file() {
        let reason = format!(
            "{} is not built (scripts/bench builds it)",
            binary.display()
        );
        eprintln!("cannot measure sync: {reason}");
        backlog_miss(
            table,
            plan,
            "SQLite",
            BACKLOG_SQLITE_SALES_PER_S,
            "not built",
        );
        idle_miss(table, "not built");
        backlog_miss(
            table,
            plan,
            "PostgreSQL",
            BACKLOG_POSTGRES_SALES_PER_S,
            "not built",
        );
        crate::fleet::miss_all(table, plan, "not built");
        catalog_miss(table, plan, "not built");
        return Ok(());
    }
    let work = dirs.run_dir.join("sync");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start a tokio runtime")?;
    let ctx = SyncBench {
        binary,
        cache_dir: dirs.cache_dir.to_owned(),
        work,
        runtime,
    };

    if plan.redeem_only {
        crate::redemptions::rows(table, plan.redeem_rounds, &ctx.binary, &ctx.work);
        return Ok(());
    }
    if plan.members_only {
        crate::members::rows(
            table,
            &plan.members,
            &ctx.binary,
            &ctx.cache_dir,
            &ctx.work,
            &ctx.runtime,
        );
        return Ok(());
    }
    if plan.catalog_only {
        eprintln!("sync: only the first catalog download (--catalog-only)");
    } else {
        push_rows(table, plan, &ctx);
        if plan.push_only {
            return Ok(());
        }
    }

    eprintln!(
        "sync: first catalog download of {} products from a SQLite cloud",
        plan.catalog_products
    );
    match catalog(&ctx, plan) {
        Ok(result) => catalog_rows(table, plan, &result),
        Err(e) => {
            eprintln!("sync: the first catalog download failed: {e:#}");
            catalog_miss(table, plan, "failed");
        }
    }
    if !plan.catalog_only {
        crate::members::rows(
            table,
            &plan.members,
            &ctx.binary,
            &ctx.cache_dir,
            &ctx.work,
            &ctx.runtime,
        );
        crate::redemptions::rows(table, plan.redeem_rounds, &ctx.binary, &ctx.work);
    }
    Ok(())
}

/// The rows that push: backlog drains on both backends, idle round trips, many tills at once.
fn push_rows(table: &mut Table, plan: &SyncPlan, ctx: &SyncBench) {
    if plan.fleet_only {
        crate::fleet::rows(table, plan, ctx);
        return;
    }
    eprintln!(
        "sync: backlog drain of {} sales to a SQLite cloud",
        plan.backlog_sales
    );
    let sqlite_db = ctx.work.join("backlog-cloud.sqlite3").display().to_string();
    match backlog(ctx, plan, &sqlite_db, "sqlite") {
        Ok(run) => {
            backlog_row(table, plan, "SQLite", BACKLOG_SQLITE_SALES_PER_S, &run);
            eprintln!("sync: {} idle rounds", plan.idle_rounds);
            match idle(ctx, plan, &run) {
                Ok(result) => idle_rows(table, &result),
                Err(e) => {
                    eprintln!("sync: the idle round trip failed: {e:#}");
                    idle_miss(table, "failed");
                }
            }
        }
        Err(e) => {
            eprintln!("sync: the SQLite backlog drain failed: {e:#}");
            backlog_miss(table, plan, "SQLite", BACKLOG_SQLITE_SALES_PER_S, "failed");
            idle_miss(table, "not measured");
        }
    }

    eprintln!(
        "sync: backlog drain of {} sales to a PostgreSQL cloud",
        plan.backlog_sales
    );
    match Postgres::create() {
        Err(e) => {
            eprintln!("sync: no PostgreSQL for the backlog drain: {e:#}");
            backlog_miss(
                table,
                plan,
                "PostgreSQL",
                BACKLOG_POSTGRES_SALES_PER_S,
                "no PostgreSQL (see stderr)",
            );
        }
        Ok(postgres) => {
            match backlog(ctx, plan, &postgres.url, "postgres") {
                Ok(run) => backlog_row(
                    table,
                    plan,
                    "PostgreSQL",
                    BACKLOG_POSTGRES_SALES_PER_S,
                    &run,
                ),
                Err(e) => {
                    eprintln!("sync: the PostgreSQL backlog drain failed: {e:#}");
                    backlog_miss(
                        table,
                        plan,
                        "PostgreSQL",
                        BACKLOG_POSTGRES_SALES_PER_S,
                        "failed",
                    );
                }
            }
            drop(postgres);
        }
    }

    crate::fleet::rows(table, plan, ctx);
}

/// A till and a cloud after a backlog drain.
struct BacklogRun {
    cloud: Cloud,
    till: SharedTill,
    elapsed: Duration,
    report: RoundReport,
    /// Kept running through the idle rounds that follow.
    _checkpoints: tills::Checkpoints,
}

fn backlog(ctx: &SyncBench, plan: &SyncPlan, database: &str, label: &str) -> Result<BacklogRun> {
    let template = tills::backlog_template(&ctx.cache_dir, plan.backlog_sales)?;
    let cloud = Cloud::start(
        &ctx.binary,
        database,
        true,
        &ctx.work.join(format!("backlog-cloud-{label}.log")),
    )?;
    eprintln!("  cloud on {} at {}", cloud.describe(), cloud.base_url);
    let ledger = ctx.work.join(format!("backlog-till-{label}.sqlite3"));
    let till = tills::copy_and_open(&template, &ledger)?;
    let checkpoints = tills::Checkpoints::start(&ledger)?;
    tills::enrol(&ctx.runtime, &till, &cloud, STORE, "Backlog till")?;
    let (pending, _) = lock(&till).pending_operations()?;
    if pending != plan.backlog_sales as i64 {
        bail!(
            "the till should hold {} pending sales, holds {pending}",
            plan.backlog_sales
        );
    }

    let started = Instant::now();
    let report = ctx
        .runtime
        .block_on(sync_once(&till))
        .context("the sync round failed")?;
    let elapsed = started.elapsed();

    let guard = lock(&till);
    let (pending, _) = guard.pending_operations()?;
    let refused: i64 =
        guard
            .connection()
            .query_row("SELECT count(*) FROM op_outcome", [], |row| row.get(0))?;
    drop(guard);
    if pending != 0 || report.pushed as u64 != plan.backlog_sales {
        bail!(
            "after the round {pending} operations are still pending and {} were pushed",
            report.pushed
        );
    }
    if refused != 0 {
        bail!("the cloud refused {refused} of the sales; see op_outcome in the till");
    }
    eprintln!(
        "  pushed {} operations and pulled {} feed entries in {:.2} s",
        report.pushed,
        report.pulled,
        elapsed.as_secs_f64()
    );
    Ok(BacklogRun {
        cloud,
        till,
        elapsed,
        report,
        _checkpoints: checkpoints,
    })
}

fn backlog_metric(plan: &SyncPlan, backend: &str) -> String {
    format!(
        "backlog drain, {} sales → {backend} cloud",
        thousands(plan.backlog_sales)
    )
}

fn backlog_row(table: &mut Table, plan: &SyncPlan, backend: &str, target: f64, run: &BacklogRun) {
    let rate = run.report.pushed as f64 / run.elapsed.as_secs_f64().max(1e-9);
    table.row(
        backlog_metric(plan, backend),
        thousands(rate.round() as u64),
        "sales/s",
        &format!("≥ {}", thousands(target as u64)),
        Verdict::from_check(rate >= target),
    );
    table.duration(
        format!(
            "  one sync round: push {}, pull {} feed entries",
            thousands(run.report.pushed as u64),
            thousands(run.report.pulled as u64)
        ),
        run.elapsed,
        None,
    );
}

fn backlog_miss(table: &mut Table, plan: &SyncPlan, backend: &str, target: f64, why: &str) {
    table.row(
        backlog_metric(plan, backend),
        why,
        "",
        &format!("≥ {} sales/s", thousands(target as u64)),
        Verdict::Miss,
    );
}

struct IdleResult {
    latency: Samples,
    up_bytes: f64,
    down_bytes: f64,
}

fn idle(ctx: &SyncBench, plan: &SyncPlan, run: &BacklogRun) -> Result<IdleResult> {
    let round = |what: &str| -> Result<RoundReport> {
        ctx.runtime
            .block_on(sync_once(&run.till))
            .with_context(|| format!("an idle sync round ({what}) failed"))
    };
    for _ in 0..IDLE_WARM_UP {
        round("warm-up")?;
    }
    let mut samples = Vec::with_capacity(plan.idle_rounds);
    for _ in 0..plan.idle_rounds {
        let started = Instant::now();
        let report = round("timed")?;
        samples.push(started.elapsed());
        if report != RoundReport::default() {
            bail!("an idle round moved data: {report:?}");
        }
    }

    // The same rounds through the counting relay.
    let upstream: SocketAddr = run
        .cloud
        .base_url
        .strip_prefix("http://")
        .context("the cloud's address is not http://")?
        .parse()
        .context("the cloud's address is not ip:port")?;
    let relay = Relay::start(upstream)?;
    let set_url = |url: &str| -> Result<()> {
        lock(&run.till)
            .connection()
            .execute("UPDATE sync_state SET cloud_url = ?1 WHERE id = 1", [url])
            .context("pointing the till at another address")?;
        Ok(())
    };
    set_url(&relay.url())?;
    let counted = (|| -> Result<()> {
        for _ in 0..IDLE_COUNTED_ROUNDS {
            let report = round("counted")?;
            if report != RoundReport::default() {
                bail!("an idle round moved data: {report:?}");
            }
        }
        Ok(())
    })();
    set_url(&run.cloud.base_url)?;
    counted?;
    let traffic = relay.settle(Duration::from_secs(10))?;
    if traffic.connections != IDLE_COUNTED_ROUNDS {
        eprintln!(
            "  note: {} idle rounds used {} connections",
            IDLE_COUNTED_ROUNDS, traffic.connections
        );
    }
    let rounds = IDLE_COUNTED_ROUNDS as f64;
    let result = IdleResult {
        latency: Samples::from_unsorted(samples),
        up_bytes: traffic.up as f64 / rounds,
        down_bytes: traffic.down as f64 / rounds,
    };
    eprintln!(
        "  {} rounds relayed over {} connections: {} bytes up, {} bytes down",
        IDLE_COUNTED_ROUNDS, traffic.connections, traffic.up, traffic.down
    );
    Ok(result)
}

fn idle_rows(table: &mut Table, result: &IdleResult) {
    let total = result.up_bytes + result.down_bytes;
    table.row(
        "idle sync round trip, bytes on the wire",
        format!("{total:.0}"),
        "bytes",
        &format!("< {} B", thousands(IDLE_BYTES)),
        Verdict::from_check(total < IDLE_BYTES as f64),
    );
    table.row(
        "  request + response (HTTP, per round)",
        format!("{:.0} + {:.0}", result.up_bytes, result.down_bytes),
        "bytes",
        "—",
        Verdict::Info,
    );
    table.duration("idle sync round trip p50", result.latency.p50(), None);
    table.duration(
        "idle sync round trip p99",
        result.latency.p99(),
        Some((IDLE_LATENCY, "< 5 ms")),
    );
}

fn idle_miss(table: &mut Table, why: &str) {
    table.row(
        "idle sync round trip, bytes on the wire",
        why,
        "",
        &format!("< {} B", thousands(IDLE_BYTES)),
        Verdict::Miss,
    );
    table.row("idle sync round trip p99", why, "", "< 5 ms", Verdict::Miss);
}

struct CatalogResult {
    entries: usize,
    products: u64,
    elapsed: Duration,
    indexed: Duration,
}

fn catalog(ctx: &SyncBench, plan: &SyncPlan) -> Result<CatalogResult> {
    let cached = cloud::ensure_catalog(&ctx.binary, &ctx.cache_dir, plan.catalog_products)?;
    let database = ctx.work.join("catalog-cloud.sqlite3");
    let copy_started = Instant::now();
    crate::copy_durably(&cached, &database)?;
    eprintln!(
        "  copied the cloud database in {:.1} s",
        copy_started.elapsed().as_secs_f64()
    );
    let cloud = Cloud::start(
        &ctx.binary,
        &database.display().to_string(),
        false,
        &ctx.work.join("catalog-cloud.log"),
    )?;
    let ledger = ctx.work.join("catalog-till.sqlite3");
    let till = tills::open(&ledger)?;
    tills::enrol(&ctx.runtime, &till, &cloud, STORE, "New till")?;
    let checkpoints = tills::Checkpoints::start(&ledger)?;

    let started = Instant::now();
    // The moment the last page was applied: the newest call that downloaded more.
    let downloaded = std::sync::Mutex::new((0_i64, started));
    let record = |step: Progress| {
        let mut last = downloaded.lock().unwrap_or_else(|p| p.into_inner());
        if step.downloaded > last.0 {
            *last = (step.downloaded, Instant::now());
        }
    };
    let options = RoundOptions {
        progress: &record,
        ..RoundOptions::default()
    };
    let report = ctx
        .runtime
        .block_on(sync_once_with(&till, &options))
        .context("the first sync round failed")?;
    let indexed = started.elapsed();
    let elapsed = downloaded
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .1
        .duration_since(started);
    drop(checkpoints);
    let waiting = lock(&till).search_backlog()?;
    if waiting != 0 {
        bail!("{waiting} products were left unindexed after the first sync");
    }

    let products: i64 =
        lock(&till)
            .connection()
            .query_row("SELECT count(*) FROM product", [], |row| row.get(0))?;
    let products = products.unsigned_abs();
    if products < plan.catalog_products {
        bail!(
            "the till holds {products} products after its first sync, not {}",
            plan.catalog_products
        );
    }
    eprintln!(
        "  pulled and applied {} feed entries ({products} products) in {:.1} s, indexed for search after {:.1} s",
        report.pulled,
        elapsed.as_secs_f64(),
        indexed.as_secs_f64()
    );
    drop(cloud);
    Ok(CatalogResult {
        entries: report.pulled,
        products,
        elapsed,
        indexed,
    })
}

fn catalog_metric(plan: &SyncPlan) -> String {
    format!(
        "first catalog download, {} products",
        thousands(plan.catalog_products)
    )
}

fn catalog_rows(table: &mut Table, plan: &SyncPlan, result: &CatalogResult) {
    let rate = result.entries as f64 / result.elapsed.as_secs_f64().max(1e-9);
    table.row(
        catalog_metric(plan),
        thousands(rate.round() as u64),
        "rows/s",
        &format!("≥ {}", thousands(CATALOG_ROWS_PER_S as u64)),
        Verdict::from_check(rate >= CATALOG_ROWS_PER_S),
    );
    table.duration(
        format!(
            "  fresh till, first pull to applied: {} rows, {} products",
            thousands(result.entries as u64),
            thousands(result.products)
        ),
        result.elapsed,
        None,
    );
    table.duration(
        "  then every product indexed for search (scanning sells meanwhile)".to_string(),
        result.indexed,
        None,
    );
}

fn catalog_miss(table: &mut Table, plan: &SyncPlan, why: &str) {
    table.row(
        catalog_metric(plan),
        why,
        "",
        &format!("≥ {} rows/s", thousands(CATALOG_ROWS_PER_S as u64)),
        Verdict::Miss,
    );
}

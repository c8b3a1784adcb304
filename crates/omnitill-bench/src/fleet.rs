//! The "many tills at once" rows of the sync benchmark: T tills, each enrolled with its own
//! token and holding a few five-line sales, push their outboxes with `Client::push` all at once
//! (released together by a barrier); each request is timed from send to decoded answer, and
//! every push must come back applied whole.
//!
//! Three clouds: one process on SQLite (the target: p99 < 250 ms for 200 tills), one process
//! on PostgreSQL, and two processes on one PostgreSQL database with the tills alternating
//! between them (reported beside one process).

use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use omnitill_core::{outbox, sync as ledger_sync};
use omnitill_protocol::push::Status;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cloud::{Cloud, Postgres};
use crate::measure::Samples;
use crate::sync::{STORE, SyncBench, SyncPlan};
use crate::table::{Table, Verdict, duration_parts, thousands};
use crate::tills::{self, SharedTill, lock};

/// The p99 a push from one of many tills at once must stay under (one cloud process).
const FLEET_P99: Duration = Duration::from_millis(250);
/// Threads that enrol the fleet's tills and make their sales.
const SETUP_THREADS: usize = 4;
/// The seed of the fleet's sales (plus the till's number).
const FLEET_SEED: u64 = 0xF1EE_7000;

/// Where the fleet pushes.
#[derive(Debug, Clone, Copy)]
enum FleetCloud {
    Sqlite,
    Postgres { processes: usize },
}

impl FleetCloud {
    const ALL: [FleetCloud; 3] = [
        FleetCloud::Sqlite,
        FleetCloud::Postgres { processes: 1 },
        FleetCloud::Postgres { processes: 2 },
    ];

    fn describe(self) -> &'static str {
        match self {
            FleetCloud::Sqlite => "one SQLite cloud",
            FleetCloud::Postgres { processes: 1 } => "one PostgreSQL cloud",
            FleetCloud::Postgres { .. } => "two cloud processes on one PostgreSQL",
        }
    }

    fn label(self) -> &'static str {
        match self {
            FleetCloud::Sqlite => "sqlite",
            FleetCloud::Postgres { processes: 1 } => "postgres-1",
            FleetCloud::Postgres { .. } => "postgres-2",
        }
    }

    /// The SQLite cloud is the one the target is set for; the others are reported.
    fn target(self) -> Option<Duration> {
        matches!(self, FleetCloud::Sqlite).then_some(FLEET_P99)
    }
}

/// Adds the rows of every fleet cloud to the report.
pub(crate) fn rows(table: &mut Table, plan: &SyncPlan, ctx: &SyncBench) {
    for cloud in FleetCloud::ALL {
        eprintln!(
            "sync: {} tills pushing at once to {}",
            plan.fleet_tills,
            cloud.describe()
        );
        match run(ctx, plan, cloud) {
            Ok(result) => result_rows(table, plan, cloud, &result),
            Err(e) => {
                eprintln!(
                    "sync: the concurrent tills ({}) failed: {e:#}",
                    cloud.describe()
                );
                miss(table, plan, cloud, "failed");
            }
        }
    }
}

/// A MISS row for every fleet cloud, saying why.
pub(crate) fn miss_all(table: &mut Table, plan: &SyncPlan, why: &str) {
    for cloud in FleetCloud::ALL {
        miss(table, plan, cloud, why);
    }
}

fn run(ctx: &SyncBench, plan: &SyncPlan, cloud: FleetCloud) -> Result<FleetResult> {
    let label = cloud.label();
    match cloud {
        FleetCloud::Sqlite => {
            let one = Cloud::start(
                &ctx.binary,
                &ctx.work.join("fleet-cloud.sqlite3").display().to_string(),
                true,
                &ctx.work.join("fleet-cloud.log"),
            )?;
            measure(ctx, plan, std::slice::from_ref(&one), label)
        }
        FleetCloud::Postgres { processes } => {
            let database = Postgres::create()?;
            let mut clouds = Vec::with_capacity(processes);
            for index in 0..processes {
                clouds.push(Cloud::start(
                    &ctx.binary,
                    &database.url,
                    index == 0,
                    &ctx.work.join(format!("fleet-{label}-{index}.log")),
                )?);
            }
            let result = measure(ctx, plan, &clouds, label);
            drop(clouds);
            drop(database);
            result
        }
    }
}

fn result_rows(table: &mut Table, plan: &SyncPlan, cloud: FleetCloud, result: &FleetResult) {
    let label = format!(
        "{} tills at once ({} sales each), {}",
        plan.fleet_tills,
        plan.fleet_sales_each,
        cloud.describe()
    );
    let p50 = result.latency.p50();
    let p99 = result.latency.p99();
    let (value, unit) = duration_parts(p50);
    table.row(
        format!("{label}, push p50"),
        value,
        unit,
        "report",
        Verdict::Info,
    );
    let (value, unit) = duration_parts(p99);
    match cloud.target() {
        Some(target) => table.row(
            format!("{label}, push p99"),
            value,
            unit,
            &format!("< {} ms", target.as_millis()),
            Verdict::from_check(p99 < target),
        ),
        None => table.row(
            format!("{label}, push p99"),
            value,
            unit,
            "report",
            Verdict::Info,
        ),
    }
    table.duration(
        format!(
            "  all {} pushes done ({} sales)",
            plan.fleet_tills,
            thousands(result.pushed as u64)
        ),
        result.wall,
        None,
    );
}

fn miss(table: &mut Table, plan: &SyncPlan, cloud: FleetCloud, why: &str) {
    let target = cloud.target().map_or_else(
        || "report".to_owned(),
        |t| format!("< {} ms", t.as_millis()),
    );
    table.row(
        format!(
            "{} tills at once, {}, push p99",
            plan.fleet_tills,
            cloud.describe()
        ),
        why,
        "",
        &target,
        Verdict::Miss,
    );
}

pub(crate) struct FleetResult {
    latency: Samples,
    wall: Duration,
    pushed: usize,
}

fn measure(ctx: &SyncBench, plan: &SyncPlan, clouds: &[Cloud], label: &str) -> Result<FleetResult> {
    let setup_started = Instant::now();
    let template = tills::demo_template(&ctx.cache_dir)?;
    let first = clouds.first().context("no cloud to push to")?;
    let dir = ctx.work.join(format!("fleet-{label}"));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The codes come first, one admin command after another: an admin command writing to the
    // cloud's SQLite file while the server writes it too could fail the server's transaction.
    let codes = (0..plan.fleet_tills)
        .map(|_| first.enrolment_code(STORE))
        .collect::<Result<Vec<_>>>()?;
    // Set-up only (nothing here is timed): a few threads share it, since each till waits on
    // argon2 for its cashier's PIN and on the disk for its sales.
    let made = std::sync::Mutex::new(0usize);
    let make = |index: usize| -> Result<SharedTill> {
        let till = tills::copy_and_open(&template, &dir.join(format!("till-{index:03}.sqlite3")))?;
        tills::enrol_with_code(
            &ctx.runtime,
            &till,
            // Two processes: the tills alternate between them.
            &clouds[index % clouds.len()].base_url,
            &codes[index],
            &format!("Counter {}", index + 1),
        )?;
        {
            let mut guard = lock(&till);
            let session = tills::login_cashier(&mut guard)?;
            let products = tills::demo_products(&guard);
            let mut rng = StdRng::seed_from_u64(FLEET_SEED + index as u64);
            for _ in 0..plan.fleet_sales_each {
                tills::sell_one(&mut guard, &session, &mut rng, products)?;
            }
        }
        let mut made = made.lock().unwrap_or_else(|poison| poison.into_inner());
        *made += 1;
        if made.is_multiple_of(50) {
            eprintln!("  {made} tills enrolled with their sales");
        }
        Ok(till)
    };
    let mut tills: Vec<Option<SharedTill>> = (0..plan.fleet_tills).map(|_| None).collect();
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..SETUP_THREADS)
            .map(|worker| {
                let make = &make;
                scope.spawn(move || -> Result<Vec<(usize, SharedTill)>> {
                    (worker..plan.fleet_tills)
                        .step_by(SETUP_THREADS)
                        .map(|index| Ok((index, make(index)?)))
                        .collect()
                })
            })
            .collect();
        for worker in workers {
            let made = worker
                .join()
                .map_err(|_| anyhow::anyhow!("a set-up thread panicked"))??;
            for (index, till) in made {
                tills[index] = Some(till);
            }
        }
        Ok(())
    })?;
    let tills: Vec<SharedTill> = tills.into_iter().flatten().collect();
    if tills.len() != plan.fleet_tills {
        bail!(
            "only {} of {} tills were set up",
            tills.len(),
            plan.fleet_tills
        );
    }
    // Each till's outbox and client, ready before the start.
    let mut pushers = Vec::with_capacity(tills.len());
    for till in &tills {
        let guard = lock(till);
        let ops = outbox::pending(guard.connection(), omnitill_protocol::MAX_PUSH_OPS)?;
        let link =
            ledger_sync::link(guard.connection())?.context("a fleet till is not enrolled")?;
        let client = omnitill_sync::Client::new(&link.cloud_url, Some(link.token))
            .context("no HTTP client")?;
        pushers.push((client, ops));
    }
    let setup = setup_started.elapsed();

    let count = pushers.len();
    let outcomes = ctx.runtime.block_on(async move {
        let barrier = Arc::new(tokio::sync::Barrier::new(count));
        let mut tasks = Vec::with_capacity(count);
        for (client, ops) in pushers {
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let started = Instant::now();
                let response = client.push(&ops).await;
                let ended = Instant::now();
                (started, ended, ops, response)
            }));
        }
        let mut outcomes = Vec::with_capacity(count);
        for task in tasks {
            outcomes.push(task.await);
        }
        outcomes
    });

    let mut samples = Vec::with_capacity(count);
    let mut first_start: Option<Instant> = None;
    let mut last_end: Option<Instant> = None;
    let mut pushed = 0;
    for (till, outcome) in tills.iter().zip(outcomes) {
        let (started, ended, ops, response) = outcome.context("a pushing task panicked")?;
        let response = response.map_err(|e| anyhow::anyhow!("a till's push failed: {e:?}"))?;
        let last_seq = ops.last().map_or(0, |op| op.seq);
        if response.last_applied_seq != last_seq
            || response.outcomes.len() != ops.len()
            || response
                .outcomes
                .iter()
                .any(|outcome| outcome.status != Status::Applied)
        {
            bail!("a till's push was not applied whole: {response:?}");
        }
        pushed += ops.len();
        samples.push(ended - started);
        first_start = Some(first_start.map_or(started, |s| s.min(started)));
        last_end = Some(last_end.map_or(ended, |e| e.max(ended)));
        let mut guard = lock(till);
        let now = guard.clock().now();
        ledger_sync::record_push(guard.connection_mut(), &response, now)?;
    }
    let wall = match (first_start, last_end) {
        (Some(start), Some(end)) => end - start,
        _ => Duration::ZERO,
    };
    eprintln!(
        "  set-up (copy, enrol, sell) took {:.1} s; {pushed} sales pushed by {count} tills in {:.0} ms",
        setup.as_secs_f64(),
        wall.as_secs_f64() * 1e3
    );
    Ok(FleetResult {
        latency: Samples::from_unsorted(samples),
        wall,
        pushed,
    })
}

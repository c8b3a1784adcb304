//! omnitill-bench: the till's performance report, printed as one table.
//!
//! It measures a till holding a realistic amount of data: `generate` makes (or finds in the
//! cache under `target/bench-data/`) a ledger of 1,000,000 products and 1,000,000 past sales;
//! each run works on a fresh copy of it. `measure` times barcode look-up, name search and the
//! durable commit of a sale beside a raw SQLite baseline, in this process; `app` times the
//! desktop app's cold start and reads its memory; `sync` measures the sync engine against a
//! real cloud process on loopback (backlog drain, first catalog download, idle round trip,
//! many tills at once), with `cloud`, `relay` and `tills` as its helpers; `table` prints the
//! report. Progress goes to stderr and the table to stdout. The exit code is 0 when targets are
//! missed (it is a report, not a test) and 1 only when the benchmark itself cannot run.
//!
//! `import` times `omnitill-cloud catalog import` of a large generated catalog on SQLite and
//! PostgreSQL.
//!
//! `pickups` adds the click-and-collect and shop-floor rows: the till's pickup queue read and
//! handover commit (`pickup_queue`), the same queue rendered in the app's real window
//! (`pickup_window`, driven through tauri-driver by the small WebDriver client in `window`),
//! the member floor view on the large ledger (`floor`), all fed as pulled pages (`feed`), the
//! cloud's bought-together computation (`bought_together`, over sales from `cloud_sales`) and
//! pickup orders placed through the API on PostgreSQL (`pickup_api`).
//!
//! Usage: `omnitill-bench [--quick] [--skip-app] [--skip-sync] [--skip-till] [--catalog-only]
//! [--import-only] [--skip-import] [--pickups-only]`. `--import-only` runs only the catalog
//! import rows. `--quick` uses 100,000 products and sales, fewer iterations and smaller sync
//! sizes; `--skip-app` leaves out the app's cold start and memory; `--skip-sync` leaves out the
//! sync rows and the cloud's pickup rows; `--skip-till` leaves out barcode look-up, name search,
//! commits and the till's pickup and floor rows (the ledger is still prepared for the app);
//! `--redeem-only` runs only the e-shop redemption rows (`redemptions`: 16 clients on one
//! balance, one and two cloud processes on PostgreSQL); `--pickups-only` runs only the
//! click-and-collect and shop-floor rows (`pickups`; not the app's cold start and memory, the
//! sync or import rows, nor the ledger's own rows). The pickup queue rendered in the window
//! (5,000 open orders; F7 on the checkout to the New tab's 200 cards painted, p50 and p99) is
//! one of them, in the full run and with `--pickups-only`: it needs the app's `till` build
//! (target/till/omnitill), a display, tauri-driver and WebKitWebDriver, and is left out with
//! `--skip-app` like the app's other rows.

mod app;
mod bought_together;
mod cloud;
mod cloud_sales;
mod feed;
mod fleet;
mod floor;
mod generate;
mod import;
mod measure;
mod members;
mod pickup_api;
mod pickup_queue;
mod pickup_window;
mod pickups;
mod redemptions;
mod relay;
mod sync;
mod table;
mod tills;
mod window;
mod words;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use omnitill_core::{SystemClock, Till};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::generate::Size;
use crate::measure::QueryClass;
use crate::table::{Table, Verdict, thousands};

/// The ledger file's name inside the app's data directory.
const LEDGER_FILE: &str = "till.sqlite3";
/// The seed of the measurements' random choices.
const MEASURE_SEED: u64 = 20_250_101;

/// What one run measures, and how many times.
struct Plan {
    size: Size,
    scan_iterations: usize,
    search_per_class: usize,
    commit_iterations: usize,
    cold_starts: usize,
    skip_app: bool,
    sync: sync::SyncPlan,
    skip_sync: bool,
    skip_till: bool,
    import: import::ImportPlan,
    skip_import: bool,
    import_only: bool,
    pickups: pickups::PickupPlan,
    /// Only the click-and-collect and shop-floor rows (`--pickups-only`).
    pickups_only: bool,
}

impl Plan {
    fn from_args() -> Result<Plan> {
        let mut quick = false;
        let mut skip_app = false;
        let mut skip_sync = false;
        let mut skip_till = false;
        let mut catalog_only = false;
        let mut members_only = false;
        let mut skip_import = false;
        let mut import_only = false;
        let mut redeem_only = false;
        let mut push_only = false;
        let mut fleet_only = false;
        let mut pickups_only = false;
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => quick = true,
                "--skip-app" => skip_app = true,
                "--skip-sync" => skip_sync = true,
                "--skip-till" => skip_till = true,
                "--catalog-only" => {
                    catalog_only = true;
                    skip_app = true;
                    skip_till = true;
                }
                "--push-only" => {
                    push_only = true;
                    skip_app = true;
                    skip_till = true;
                    skip_import = true;
                }
                "--fleet-only" => {
                    push_only = true;
                    fleet_only = true;
                    skip_app = true;
                    skip_till = true;
                    skip_import = true;
                }
                "--members-only" => {
                    members_only = true;
                    skip_app = true;
                    skip_till = true;
                    skip_import = true;
                }
                "--redeem-only" => {
                    redeem_only = true;
                    skip_app = true;
                    skip_till = true;
                    skip_import = true;
                }
                "--skip-import" => skip_import = true,
                "--pickups-only" => {
                    // The app's cold start and memory are left out, not its pickup queue
                    // window row (which --skip-app leaves out).
                    pickups_only = true;
                    skip_import = true;
                }
                "--import-only" => {
                    import_only = true;
                    skip_app = true;
                    skip_till = true;
                    skip_sync = true;
                }
                "-h" | "--help" => {
                    println!(
                        "usage: omnitill-bench [--quick] [--skip-app] [--skip-sync] [--skip-till] [--catalog-only] [--members-only] [--import-only] [--skip-import] [--redeem-only] [--push-only] [--fleet-only] [--pickups-only]"
                    );
                    std::process::exit(0);
                }
                other => bail!(
                    "unknown option {other:?}; use --quick or --skip-app, --skip-sync, --skip-till, --catalog-only, --members-only, --import-only, --skip-import, --redeem-only, --push-only, --fleet-only, --pickups-only"
                ),
            }
        }
        Ok(if quick {
            Plan {
                size: Size {
                    products: 100_000,
                    sales: 100_000,
                },
                scan_iterations: 5_000,
                search_per_class: 100,
                commit_iterations: 300,
                cold_starts: 3,
                skip_app,
                sync: sync::SyncPlan {
                    backlog_sales: 2_000,
                    catalog_products: 100_000,
                    idle_rounds: 50,
                    fleet_tills: 50,
                    fleet_sales_each: 5,
                    catalog_only,
                    push_only,
                    fleet_only,
                    members: members::MemberPlan {
                        members: 100_000,
                        lookups: 5_000,
                        sales: 300,
                    },
                    members_only,
                    redeem_rounds: 20,
                    redeem_only,
                },
                skip_sync,
                skip_till,
                import: import::ImportPlan { products: 100_000 },
                skip_import,
                import_only,
                pickups: pickups::PickupPlan::quick(),
                pickups_only,
            }
        } else {
            Plan {
                size: Size {
                    products: 1_000_000,
                    sales: 1_000_000,
                },
                scan_iterations: 20_000,
                search_per_class: 500,
                commit_iterations: 2_000,
                cold_starts: 5,
                skip_app,
                sync: sync::SyncPlan {
                    backlog_sales: 10_000,
                    catalog_products: 1_000_000,
                    idle_rounds: 200,
                    fleet_tills: 200,
                    fleet_sales_each: 5,
                    catalog_only,
                    push_only,
                    fleet_only,
                    members: members::MemberPlan {
                        members: 1_000_000,
                        lookups: 20_000,
                        sales: 2_000,
                    },
                    members_only,
                    redeem_rounds: 60,
                    redeem_only,
                },
                skip_sync,
                skip_till,
                import: import::ImportPlan {
                    products: 1_000_000,
                },
                skip_import,
                import_only,
                pickups: pickups::PickupPlan::full(),
                pickups_only,
            }
        })
    }
}

/// A directory for one run's copy of the ledger, removed when the run ends.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            eprintln!("omnitill-bench: could not remove {}: {e}", self.0.display());
        }
    }
}

/// The ledger's rows: its size, then (unless `--skip-till`) look-up, search and commits, on a
/// copy of the cached ledger made for this run.
fn ledger_rows(
    table: &mut Table,
    plan: &Plan,
    cache_dir: &Path,
    run_dir: &Path,
) -> Result<generate::Dataset> {
    let dataset = generate::ensure(cache_dir, plan.size)?;
    let ledger = run_dir.join(LEDGER_FILE);
    let copy_started = Instant::now();
    let ledger_bytes = copy_durably(&dataset.path, &ledger)?;
    eprintln!(
        "copied the ledger ({:.2} GB) for this run in {:.1} s",
        ledger_bytes as f64 / 1e9,
        copy_started.elapsed().as_secs_f64()
    );
    let mut till = Till::open(&ledger, Arc::new(SystemClock))
        .with_context(|| format!("cannot open {}", ledger.display()))?;
    data_rows(table, &till, &dataset, ledger_bytes)?;
    if plan.skip_till {
        eprintln!("skipping barcode look-up, name search and commits (--skip-till)");
    } else {
        till_rows(table, plan, &mut till, &dataset)?;
    }
    Ok(dataset)
}

/// Copies a file and waits until the copy is on disk, so the kernel's write-back of gigabytes
/// does not compete with the durable commits measured next.
pub fn copy_durably(from: &Path, to: &Path) -> Result<u64> {
    let bytes = fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    fs::File::open(to)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot flush {} to disk", to.display()))?;
    Ok(bytes)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omnitill-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let run_started = Instant::now();
    let plan = Plan::from_args()?;
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let bin_dir = exe
        .parent()
        .context("this program has no directory")?
        .to_owned();
    let target_dir = bin_dir
        .parent()
        .context("this program is not in a target directory")?;
    let cache_dir = target_dir.join("bench-data");

    let run_dir = RunDir(cache_dir.join(format!("run-{}", std::process::id())));
    fs::create_dir_all(&run_dir.0)
        .with_context(|| format!("cannot create {}", run_dir.0.display()))?;
    let mut table = Table::default();
    let dataset = if plan.sync.catalog_only
        || plan.sync.members_only
        || plan.import_only
        || plan.sync.redeem_only
        || plan.sync.push_only
        || plan.pickups_only
    {
        eprintln!(
            "skipping the ledger and its rows (--catalog-only, --members-only, --import-only, --redeem-only, --push-only, --pickups-only)"
        );
        None
    } else {
        Some(ledger_rows(&mut table, &plan, &cache_dir, &run_dir.0)?)
    };

    if plan.skip_sync || plan.pickups_only {
        eprintln!("skipping the sync rows (--skip-sync or --pickups-only)");
    } else {
        sync::rows(
            &mut table,
            &plan.sync,
            &sync::Dirs {
                bin_dir: &bin_dir,
                cache_dir: &cache_dir,
                run_dir: &run_dir.0,
            },
        )?;
    }

    if plan.skip_import || plan.sync.catalog_only || plan.sync.members_only {
        eprintln!("skipping the catalog import rows");
    } else {
        import::rows(&mut table, &plan.import, &bin_dir, &run_dir.0);
    }

    let other_only = plan.sync.catalog_only
        || plan.sync.members_only
        || plan.import_only
        || plan.sync.redeem_only
        || plan.sync.push_only;
    // The app as shipped is built in its own size-optimised profile, `till` (Cargo.toml).
    let app_binary = target_dir.join("till").join("omnitill");
    if other_only && !plan.pickups_only {
        eprintln!("skipping the click-and-collect rows (another --*-only option)");
    } else {
        pickups::rows(
            &mut table,
            &plan.pickups,
            &sync::Dirs {
                bin_dir: &bin_dir,
                cache_dir: &cache_dir,
                run_dir: &run_dir.0,
            },
            (!plan.skip_app).then_some(app_binary.as_path()),
            plan.skip_till,
            plan.skip_sync,
        )?;
    }

    if plan.skip_app || plan.pickups_only {
        eprintln!("skipping the app's cold start and memory (--skip-app or --pickups-only)");
    } else {
        // The app is built in its own size-optimised profile, `till` (Cargo.toml).
        app_rows(&mut table, &plan, &target_dir.join("till"), &run_dir.0)?;
    }

    println!();
    print!("{}", table.render());
    println!();
    match dataset {
        Some(dataset) => println!(
            "data: {} products, {} past sales; generation {:.1} s ({}); this run {:.1} s",
            thousands(dataset.size.products),
            thousands(dataset.size.sales),
            dataset.generation_secs,
            if dataset.generated_now {
                "this run"
            } else {
                "cached from an earlier run"
            },
            run_started.elapsed().as_secs_f64()
        ),
        None => println!("this run {:.1} s", run_started.elapsed().as_secs_f64()),
    }
    Ok(())
}

/// Barcode look-up, name search and durable commits, in this process on the copied ledger.
fn till_rows(
    table: &mut Table,
    plan: &Plan,
    till: &mut Till,
    dataset: &generate::Dataset,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(MEASURE_SEED);
    let products = dataset.size.products;

    eprintln!("timing barcode look-up ({} scans)", plan.scan_iterations);
    let scans = measure::barcode_lookup(till, &mut rng, products, plan.scan_iterations)?;
    table.duration("barcode look-up p50", scans.p50(), None);
    table.duration(
        "barcode look-up p99",
        scans.p99(),
        Some((Duration::from_micros(500), "< 0.5 ms")),
    );

    eprintln!(
        "timing name search ({} queries)",
        plan.search_per_class * QueryClass::ALL.len()
    );
    let search = measure::name_search(till, &mut rng, products, plan.search_per_class)?;
    let ten_ms = Some((Duration::from_millis(10), "< 10 ms"));
    table.duration("name search p50, all queries", search.all.p50(), None);
    table.duration("name search p99, all queries", search.all.p99(), ten_ms);
    for (class, samples) in &search.by_class {
        table.duration(
            format!("  search p99, {}", class.label()),
            samples.p99(),
            ten_ms,
        );
        let empty = search.empty_by_class.get(class).copied().unwrap_or(0);
        if empty > 0 {
            eprintln!(
                "  {empty} of {} {} queries found nothing",
                samples.len(),
                class.label()
            );
        }
    }

    eprintln!(
        "timing durable commits ({} sales and {} baseline commits)",
        plan.commit_iterations, plan.commit_iterations
    );
    let commits = measure::commits(till, &mut rng, products, plan.commit_iterations)?;
    let two_ms = Some((Duration::from_millis(2), "< 2 ms"));
    table.duration(
        "complete sale, 5 lines, durable p50",
        commits.till.p50(),
        None,
    );
    table.duration(
        "complete sale, 5 lines, durable p99",
        commits.till.p99(),
        two_ms,
    );
    table.duration(
        "baseline raw SQLite commit p50",
        commits.baseline.p50(),
        None,
    );
    table.duration(
        "baseline raw SQLite commit p99",
        commits.baseline.p99(),
        None,
    );
    let baseline_p99 = commits.baseline.p99().as_secs_f64();
    let ratio = if baseline_p99 > 0.0 {
        commits.till.p99().as_secs_f64() / baseline_p99
    } else {
        f64::INFINITY
    };
    table.row(
        "commit p99 / baseline p99",
        format!("{ratio:.2}"),
        "x",
        "≤ 4",
        Verdict::from_check(ratio <= 4.0),
    );
    eprintln!(
        "  each commit wrote an outbox payload of about {} bytes",
        commits.payload_bytes
    );
    Ok(())
}

/// Rows that say what data the measurements ran on.
fn data_rows(
    table: &mut Table,
    till: &Till,
    dataset: &generate::Dataset,
    ledger_bytes: u64,
) -> Result<()> {
    let count = |sql: &str| -> Result<u64> {
        let n: i64 = till.connection().query_row(sql, [], |row| row.get(0))?;
        Ok(n.unsigned_abs())
    };
    let products = count("SELECT count(*) FROM product")?;
    let sales = count("SELECT count(*) FROM sale")?;
    let (want_products, want_sales) = (dataset.size.products, dataset.size.sales);
    table.row(
        "catalog",
        thousands(products),
        "products",
        &format!("≥ {}", thousands(want_products)),
        Verdict::from_check(products >= want_products),
    );
    table.row(
        "ledger",
        thousands(sales),
        "past sales",
        &format!("≥ {}", thousands(want_sales)),
        Verdict::from_check(sales >= want_sales),
    );
    table.row(
        "ledger file",
        format!("{:.2}", ledger_bytes as f64 / 1e9),
        "GB",
        "—",
        Verdict::Info,
    );
    let how = if dataset.generated_now {
        "data generation (this run)"
    } else {
        "data generation (cached)"
    };
    table.row(
        how,
        format!("{:.1}", dataset.generation_secs),
        "s",
        "—",
        Verdict::Info,
    );
    Ok(())
}

/// The memory target, read strictly: 150 MB in decimal megabytes (10^6 bytes), the smaller of
/// the two readings of "MB"; the table shows the binary figure (MiB, as `top` counts) too.
const RSS_TARGET: &str = "< 150 MB";
/// How many times the app's memory is read; the table shows the median.
const MEMORY_READINGS: usize = 3;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Cold start and memory of the app, or rows that say why they could not be measured.
fn app_rows(table: &mut Table, plan: &Plan, bin_dir: &Path, data_dir: &Path) -> Result<()> {
    let binary = bin_dir.join("omnitill");
    let problem = if std::env::var_os("DISPLAY").is_none() {
        Some("no DISPLAY (run through scripts/bench, or pass --skip-app)".to_owned())
    } else if !binary.is_file() {
        Some(format!("{} is not built", binary.display()))
    } else {
        None
    };
    if let Some(problem) = problem {
        eprintln!("cannot measure the app: {problem}");
        table.row(
            "cold start to ready screen",
            "not measured",
            "",
            "< 1 s",
            Verdict::Miss,
        );
        table.row(
            "RSS, till process",
            "not measured",
            "",
            RSS_TARGET,
            Verdict::Miss,
        );
        return Ok(());
    }
    let app = app::App {
        binary,
        data_dir: data_dir.to_owned(),
        log: data_dir.join("app-stderr.log"),
    };

    eprintln!("timing {} cold starts of the app", plan.cold_starts);
    let mut starts = Vec::new();
    let mut failure = None;
    for run in 1..=plan.cold_starts {
        match app.cold_start() {
            Ok(ready) => {
                eprintln!("  run {run}: ready after {} ms", ready.as_millis());
                starts.push(ready);
            }
            Err(e) => {
                eprintln!("  run {run} failed: {e:#}");
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(e) = failure.filter(|_| starts.is_empty()) {
        eprintln!("cannot measure the app: {e:#}");
        table.row(
            "cold start to ready screen",
            "failed",
            "",
            "< 1 s",
            Verdict::Miss,
        );
        table.row(
            "RSS, till process",
            "not measured",
            "",
            RSS_TARGET,
            Verdict::Miss,
        );
        return Ok(());
    }
    let all_runs: Vec<String> = starts.iter().map(|d| d.as_millis().to_string()).collect();
    let mut sorted = starts.clone();
    sorted.sort_unstable();
    let median = sorted[(sorted.len() - 1) / 2];
    let max = sorted[sorted.len() - 1];
    let one_s = Some((Duration::from_secs(1), "< 1 s"));
    table.duration(
        format!("cold start to ready screen, median of {}", starts.len()),
        median,
        one_s,
    );
    table.duration("cold start to ready screen, max", max, one_s);
    table.row(
        "  cold start, each run in order",
        all_runs.join(", "),
        "ms",
        "—",
        Verdict::Info,
    );

    eprintln!("reading the app's memory once ready, {MEMORY_READINGS} times");
    let mut readings = Vec::new();
    for run in 1..=MEMORY_READINGS {
        match app.memory() {
            Ok(memory) => {
                eprintln!("  run {run}: till process {}", memory.app_breakdown);
                for (pid, name, kib) in &memory.descendants {
                    eprintln!("  helper process {pid} {name}: {:.1} MiB", mib(*kib));
                }
                readings.push(memory);
            }
            Err(e) => eprintln!("  run {run}: cannot read the app's memory: {e:#}"),
        }
    }
    readings.sort_by_key(|m| m.app_kib);
    let Some(memory) = readings.get(readings.len().saturating_sub(1) / 2) else {
        table.row("RSS, till process", "failed", "", RSS_TARGET, Verdict::Miss);
        return Ok(());
    };
    let megabytes = memory.app_kib as f64 * 1024.0 / 1e6;
    table.row(
        format!("RSS, till process, median of {}", readings.len()),
        format!("{megabytes:.1}"),
        "MB",
        RSS_TARGET,
        Verdict::from_check(megabytes < 150.0),
    );
    table.row(
        "  the same in binary megabytes (2^20 B)",
        format!("{:.1}", mib(memory.app_kib)),
        "MiB",
        "—",
        Verdict::Info,
    );
    if let Some(pss) = memory.app_pss_kib {
        table.row(
            "  PSS, till process (shared pages split)",
            format!("{:.1}", mib(pss)),
            "MiB",
            "—",
            Verdict::Info,
        );
    }
    if let Some(anon) = memory.app_anon_kib {
        table.row(
            "  anonymous (heap), till process",
            format!("{:.1}", mib(anon)),
            "MiB",
            "—",
            Verdict::Info,
        );
    }
    table.row(
        format!("RSS, till + web processes ({})", memory.descendants.len()),
        format!("{:.1}", mib(memory.app_kib + memory.descendants_kib)),
        "MiB",
        "—",
        Verdict::Info,
    );
    Ok(())
}

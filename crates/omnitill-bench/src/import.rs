//! The catalog import rows: `omnitill-cloud catalog import` of N generated products (the file
//! made here, `cloud::write_catalog_csv`) into a fresh cloud holding the demo brand, on SQLite
//! and on PostgreSQL, timed from the command's start to its exit (reading, checking, writing
//! and the commit). Then, on the same cloud, the same file again (nothing changes, nothing is
//! written) and a file with every tenth price changed, as a brand's weekly repricing would be.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cloud::{self, Postgres};
use crate::table::{Table, Verdict, thousands};

/// The target for a first import, in products per second.
const IMPORT_ROWS_PER_S: f64 = 50_000.0;
/// In the repricing file, every this many products has a new price.
const REPRICE_EVERY: u64 = 10;

/// How many products the import rows use.
#[derive(Debug, Clone, Copy)]
pub struct ImportPlan {
    pub products: u64,
}

/// Adds the import rows for SQLite and PostgreSQL.
pub fn rows(table: &mut Table, plan: &ImportPlan, bin_dir: &Path, run_dir: &Path) {
    let binary = bin_dir.join("omnitill-cloud");
    let work = run_dir.join("import");
    let prepared = (|| -> Result<_> {
        if !binary.is_file() {
            bail!(
                "{} is not built (scripts/bench builds it)",
                binary.display()
            );
        }
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let started = Instant::now();
        let first = work.join("catalog.csv");
        cloud::write_catalog_csv(&first, plan.products, None)?;
        let repriced = work.join("catalog-repriced.csv");
        cloud::write_catalog_csv(&repriced, plan.products, Some(REPRICE_EVERY))?;
        eprintln!(
            "import: wrote two files of {} products in {:.1} s",
            plan.products,
            started.elapsed().as_secs_f64()
        );
        Ok((first, repriced))
    })();
    let (first, repriced) = match prepared {
        Ok(files) => files,
        Err(e) => {
            eprintln!("import: cannot prepare: {e:#}");
            for backend in ["SQLite", "PostgreSQL"] {
                miss(table, plan, backend, "not measured");
            }
            return;
        }
    };
    for backend in ["SQLite", "PostgreSQL"] {
        let result = (|| -> Result<Figures> {
            let postgres;
            let database = if backend == "SQLite" {
                work.join("import-cloud.sqlite3").display().to_string()
            } else {
                postgres = Postgres::create()?;
                postgres.url.clone()
            };
            cloud::admin(&binary, &database, &["demo", "--members", "1"])?;
            eprintln!("import: {} products into a {backend} cloud", plan.products);
            let first_import = run_import(&binary, &database, &first, "first")?;
            let again = run_import(&binary, &database, &first, "same file again")?;
            let repricing = run_import(&binary, &database, &repriced, "repricing")?;
            Ok(Figures {
                first: first_import,
                again,
                repricing,
            })
        })();
        match result {
            Ok(figures) => figure_rows(table, plan, backend, &figures),
            Err(e) => {
                eprintln!("import: the {backend} import failed: {e:#}");
                miss(table, plan, backend, "failed");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
}

struct Figures {
    first: Duration,
    again: Duration,
    repricing: Duration,
}

/// Runs one import to its end and returns how long the command took.
fn run_import(binary: &Path, database: &str, file: &Path, what: &str) -> Result<Duration> {
    let started = Instant::now();
    let output = Command::new(binary)
        .args(["--database", database, "catalog", "import"])
        .arg(file)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "the {what} import exited with {}: {}",
            output.status,
            stdout.trim()
        );
    }
    eprintln!(
        "  {what}: {:.1} s; {}",
        elapsed.as_secs_f64(),
        stdout.lines().last().unwrap_or("")
    );
    Ok(elapsed)
}

fn metric(plan: &ImportPlan, backend: &str) -> String {
    format!(
        "catalog import, {} products, {backend}",
        thousands(plan.products)
    )
}

fn rate(products: u64, elapsed: Duration) -> u64 {
    (products as f64 / elapsed.as_secs_f64().max(1e-9)).round() as u64
}

fn figure_rows(table: &mut Table, plan: &ImportPlan, backend: &str, figures: &Figures) {
    let first = rate(plan.products, figures.first);
    table.row(
        metric(plan, backend),
        thousands(first),
        "rows/s",
        &format!("≥ {}", thousands(IMPORT_ROWS_PER_S as u64)),
        Verdict::from_check(first as f64 >= IMPORT_ROWS_PER_S),
    );
    table.row(
        "  the same file again (nothing changes)",
        thousands(rate(plan.products, figures.again)),
        "rows/s",
        "—",
        Verdict::Info,
    );
    table.row(
        format!("  again with every {REPRICE_EVERY}th price changed"),
        thousands(rate(plan.products, figures.repricing)),
        "rows/s",
        "—",
        Verdict::Info,
    );
}

fn miss(table: &mut Table, plan: &ImportPlan, backend: &str, why: &str) {
    table.row(
        metric(plan, backend),
        why,
        "",
        &format!("≥ {} rows/s", thousands(IMPORT_ROWS_PER_S as u64)),
        Verdict::Miss,
    );
}

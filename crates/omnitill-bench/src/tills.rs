//! Tills for the sync benchmark: ledger templates cached between runs, and enrolment.
//!
//! `backlog_template` is the demo store with N sales made through `Till::complete_sale` and
//! never pushed, so its outbox holds N pending operations. `demo_template` is the demo store
//! with no device identity yet: each copy makes its own on first open, as a new install does.
//! Both are made once under `target/bench-data/` (the file is renamed into place only when
//! complete) and copied for every run. `enrol` links a till to a cloud the way the app does:
//! a one-time code from the cloud's admin command, `Client::enrol`, then
//! `omnitill_core::sync::record_enrolment`. `Checkpoints` copies a ledger's write-ahead log back
//! from a second connection every 2 s, as the app's shell does.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use omnitill_core::{Cart, StaffSession, SystemClock, TenderKind, Till, db, demo};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cloud::{Cloud, checkpoint, sqlite_files};

/// Bump when the templates change shape.
const TEMPLATE_VERSION: u32 = 1;
/// Lines of every generated sale.
pub const LINES_PER_SALE: usize = 5;
/// The seed of the template sales' choices.
const SALES_SEED: u64 = 0x5A1E_5000;

/// A till as the sync engine holds it.
pub type SharedTill = Arc<Mutex<Till>>;

/// Locks a shared till; a poisoned lock still holds a usable till.
pub fn lock(till: &SharedTill) -> std::sync::MutexGuard<'_, Till> {
    till.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// The demo store with `sales` pending five-line sales, cached.
pub fn backlog_template(cache_dir: &Path, sales: u64) -> Result<PathBuf> {
    let stem = format!(
        "backlog-v{TEMPLATE_VERSION}-m{}-{sales}s",
        db::MIGRATIONS.len()
    );
    ensure(cache_dir, &stem, |path| {
        let mut till = Till::open(path, Arc::new(SystemClock))
            .with_context(|| format!("cannot create a ledger at {}", path.display()))?;
        demo::seed_demo(&mut till).context("cannot seed the demo store")?;
        // A template only: it is renamed into place once complete, so its commits need not
        // wait for the disk. Every sale still goes through `complete_sale`.
        till.connection()
            .pragma_update(None, "synchronous", "OFF")?;
        let session = login_cashier(&mut till)?;
        let mut rng = StdRng::seed_from_u64(SALES_SEED);
        let products = demo_products(&till);
        let started = Instant::now();
        for done in 1..=sales {
            sell_one(&mut till, &session, &mut rng, products)?;
            if done.is_multiple_of(2_000) || done == sales {
                eprintln!("    sales: {done} of {sales}");
            }
        }
        eprintln!(
            "  {sales} sales through Till::complete_sale in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let (pending, _) = till.pending_operations()?;
        anyhow::ensure!(
            pending == sales as i64,
            "the template should hold {sales} pending operations, holds {pending}"
        );
        Ok(())
    })
}

/// The demo store with no device identity, cached.
pub fn demo_template(cache_dir: &Path) -> Result<PathBuf> {
    let stem = format!("demo-till-v{TEMPLATE_VERSION}-m{}", db::MIGRATIONS.len());
    ensure(cache_dir, &stem, |path| {
        let mut till = Till::open(path, Arc::new(SystemClock))
            .with_context(|| format!("cannot create a ledger at {}", path.display()))?;
        demo::seed_demo(&mut till).context("cannot seed the demo store")?;
        till.connection().execute("DELETE FROM device", [])?;
        Ok(())
    })
}

/// Returns `cache_dir/stem.sqlite3`, making it with `make` first when it is missing.
fn ensure(cache_dir: &Path, stem: &str, make: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let path = cache_dir.join(format!("{stem}.sqlite3"));
    if path.is_file() {
        return Ok(path);
    }
    let partial = cache_dir.join(format!("{stem}.partial.sqlite3"));
    for leftover in sqlite_files(&partial) {
        if leftover.exists() {
            fs::remove_file(&leftover)
                .with_context(|| format!("cannot remove {}", leftover.display()))?;
        }
    }
    eprintln!("making the ledger template {} (cached)", path.display());
    make(&partial)?;
    checkpoint(&partial)?;
    fs::rename(&partial, &path)
        .with_context(|| format!("cannot move the template to {}", path.display()))?;
    for leftover in sqlite_files(&partial).into_iter().skip(1) {
        let _ = fs::remove_file(leftover);
    }
    Ok(path)
}

/// Copies a template ledger to `to` and opens it as the sync engine does.
pub fn copy_and_open(template: &Path, to: &Path) -> Result<SharedTill> {
    fs::copy(template, to)
        .with_context(|| format!("cannot copy {} to {}", template.display(), to.display()))?;
    open(to)
}

/// Opens (or creates) a ledger as the sync engine does: its own connection, shared.
pub fn open(path: &Path) -> Result<SharedTill> {
    omnitill_sync::engine::open_ledger(path)
        .with_context(|| format!("cannot open the ledger {}", path.display()))
}

pub fn login_cashier(till: &mut Till) -> Result<StaffSession> {
    let (code, pin) = demo::CASHIER;
    till.login(code, pin)
        .context("the demo cashier cannot log in")
}

/// How many products the demo catalog has (numbered from 1).
pub fn demo_products(till: &Till) -> u64 {
    demo::records(till.clock().now()).len() as u64
}

/// Completes one card sale of `LINES_PER_SALE` different demo products, chosen from the first
/// `demo_products`.
pub fn sell_one(
    till: &mut Till,
    session: &StaffSession,
    rng: &mut impl Rng,
    demo_products: u64,
) -> Result<()> {
    let rules = till.pricing_rules()?;
    let mut cart = Cart::new();
    let mut chosen: Vec<u64> = Vec::with_capacity(LINES_PER_SALE);
    while chosen.len() < LINES_PER_SALE {
        let n = rng.random_range(1..=demo_products);
        if chosen.contains(&n) {
            continue;
        }
        // A discontinued demo product does not scan; pick another.
        if let Ok(item) = till.scan(&demo::demo_barcode(n)) {
            cart.add_item(item, rng.random_range(1..=2))?;
            chosen.push(n);
        }
    }
    let due = cart.totals(rules).due_minor;
    let reference = format!("AUTH{:06}", rng.random_range(0..1_000_000));
    cart.add_tender(rules, TenderKind::Card, due, Some(&reference))?;
    till.complete_sale(session, &cart)
        .context("completing a sale")?;
    Ok(())
}

/// How often the app copies the write-ahead log back into the ledger from its second
/// connection (`omnitill_core::db::Checkpointer`).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// Passive checkpoints of a ledger from a second connection, as the app runs them, until
/// dropped; without them the engine's own commits would pay for SQLite's autocheckpoint.
pub struct Checkpoints {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Checkpoints {
    pub fn start(ledger: &Path) -> Result<Checkpoints> {
        let checkpointer = omnitill_core::db::Checkpointer::open(ledger)
            .with_context(|| format!("cannot open {} to checkpoint it", ledger.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut waited = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                    waited += Duration::from_millis(50);
                    if waited >= CHECKPOINT_EVERY {
                        waited = Duration::ZERO;
                        if let Err(e) = checkpointer.checkpoint() {
                            eprintln!("omnitill-bench: a background checkpoint failed: {e}");
                        }
                    }
                }
            })
        };
        Ok(Checkpoints {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Enrols a till with a store of `cloud`, as a manager does from Settings.
pub fn enrol(
    runtime: &tokio::runtime::Runtime,
    till: &SharedTill,
    cloud: &Cloud,
    store: &str,
    name: &str,
) -> Result<()> {
    let code = cloud.enrolment_code(store)?;
    enrol_with_code(runtime, till, &cloud.base_url, &code, name)
}

/// Enrols a till with a code already issued.
pub fn enrol_with_code(
    runtime: &tokio::runtime::Runtime,
    till: &SharedTill,
    base_url: &str,
    code: &str,
    name: &str,
) -> Result<()> {
    let client = omnitill_sync::Client::new(base_url, None).context("no HTTP client")?;
    let (first_seq, identity) = {
        let guard = lock(till);
        (
            omnitill_core::sync::first_unacknowledged_seq(guard.connection())?,
            omnitill_core::sync::till_identity(guard.connection())?,
        )
    };
    let enrolment = runtime
        .block_on(client.enrol(code, name, first_seq, &identity))
        .context("enrolment with the cloud failed")?;
    let mut guard = lock(till);
    let now = guard.clock().now();
    omnitill_core::sync::record_enrolment(guard.connection_mut(), base_url, &enrolment, now)
        .context("recording the enrolment")?;
    guard.reload_device()?;
    Ok(())
}

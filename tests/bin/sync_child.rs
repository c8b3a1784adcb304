//! The sync crash test's child process: a real till on an enrolled ledger. It sells, sometimes
//! refunds, and runs sync rounds with the real engine (`omnitill_sync::engine::sync_once`) in a
//! loop until it is killed.
//!
//! Usage: `sync-child LEDGER SEED BACKLOG`. It first sells `BACKLOG` sales (so its first push
//! carries them), then loops: sell 1-6 sales (and now and then refund one unit of a sale it
//! made), then one sync round. It prints, each after the fact it names is durable or done:
//! - `COMMITTED <receipt> <lines> <total>` after a sale's commit returned;
//! - `REFUNDED <refund receipt> <sale receipt>` after a refund's commit returned;
//! - `SYNC <pending>` just before a sync round starts;
//! - `SYNCED <pushed> <pulled>` or `SYNC_FAILED <error>` when it ended.
//!
//! The parent kills it with SIGKILL at chosen points of a push and checks the ledger and the
//! cloud against these lines. `SEED` makes its choices of products and refunds replayable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use omnitill_core::{Cart, CoreError, ManagerApproval, SystemClock, TenderKind, Till, demo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [path, seed, backlog] => seed
            .parse::<u64>()
            .ok()
            .zip(backlog.parse::<usize>().ok())
            .map(|(seed, backlog)| (PathBuf::from(path), seed, backlog)),
        _ => None,
    };
    let Some((path, seed, backlog)) = parsed else {
        eprintln!("usage: sync-child LEDGER SEED BACKLOG");
        std::process::exit(2);
    };
    match run(&path, seed, backlog) {
        Ok(()) => {}
        Err(error) => {
            eprintln!("sync-child: {error}");
            std::process::exit(1);
        }
    }
}

/// Why the child stopped on its own.
#[derive(Debug)]
enum Stop {
    /// The parent closed our stdout: nobody listens any more.
    ParentGone,
    Core(CoreError),
    Engine(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::ParentGone => write!(f, "the parent stopped reading"),
            Stop::Core(error) => write!(f, "the ledger failed: {error}"),
            Stop::Engine(error) => write!(f, "the sync engine could not start: {error}"),
        }
    }
}

impl From<CoreError> for Stop {
    fn from(error: CoreError) -> Stop {
        Stop::Core(error)
    }
}

fn say(line: &str) -> Result<(), Stop> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|_| Stop::ParentGone)
}

fn run(path: &Path, seed: u64, backlog: usize) -> Result<(), Stop> {
    let result = till_loop(path, seed, backlog);
    match result {
        Err(Stop::ParentGone) => Ok(()),
        other => other,
    }
}

fn till_loop(path: &Path, seed: u64, backlog: usize) -> Result<(), Stop> {
    let mut rng = StdRng::seed_from_u64(seed);
    // The cashier's connection, and the engine's own connection to the same file, as in the app.
    let mut till = Till::open(path, Arc::new(SystemClock))?;
    let engine =
        omnitill_sync::engine::open_ledger(path).map_err(|e| Stop::Engine(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Stop::Engine(e.to_string()))?;
    // One manager login serves for selling and for approving refunds: argon2 is slow in debug.
    let manager = till.login(demo::MANAGER.0, demo::MANAGER.1)?;
    let approval = ManagerApproval::from_session(&manager)?;
    let mut sold: Vec<String> = Vec::new();
    let mut to_sell = backlog.max(1);
    loop {
        for _ in 0..to_sell {
            let receipt = sell_one(&mut till, &manager, &mut rng)?;
            say(&format!(
                "COMMITTED {} {} {}",
                receipt.receipt_no,
                receipt.lines.len(),
                receipt.total_minor
            ))?;
            sold.push(receipt.receipt_no);
        }
        if rng.random_bool(0.5)
            && let Some(receipt_no) = pick(&sold, &mut rng)
            && let Some(refund_no) = refund_one(&mut till, &manager, &approval, &receipt_no)?
        {
            say(&format!("REFUNDED {refund_no} {receipt_no}"))?;
        }
        let (pending, _) = till.pending_operations()?;
        say(&format!("SYNC {pending}"))?;
        match runtime.block_on(omnitill_sync::engine::sync_once(&engine)) {
            Ok(report) => say(&format!("SYNCED {} {}", report.pushed, report.pulled))?,
            Err(error) => say(&format!("SYNC_FAILED {error}"))?,
        }
        to_sell = rng.random_range(1..=6);
    }
}

fn pick(sold: &[String], rng: &mut StdRng) -> Option<String> {
    if sold.is_empty() {
        return None;
    }
    sold.get(rng.random_range(0..sold.len())).cloned()
}

/// Rings up one card sale of 1-4 demo items, 1-3 of each.
fn sell_one(
    till: &mut Till,
    session: &omnitill_core::StaffSession,
    rng: &mut StdRng,
) -> Result<omnitill_core::Receipt, Stop> {
    let rules = till.pricing_rules()?;
    loop {
        let mut cart = Cart::new();
        for _ in 0..rng.random_range(1..=4) {
            // Discontinued demo products cannot be sold; pick another.
            match till.scan(&demo::demo_barcode(rng.random_range(1..=40))) {
                Ok(item) => {
                    cart.add_item(item, rng.random_range(1..=3))?;
                }
                Err(CoreError::InactiveProduct(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        if cart.is_empty() {
            continue;
        }
        let due = cart.totals(rules).due_minor;
        cart.add_tender(rules, TenderKind::Card, due, Some("SYNC"))?;
        return Ok(till.complete_sale(session, &cart)?);
    }
}

/// Refunds one unit of the first line of `receipt_no` that has any left; returns the refund's
/// receipt number, or `None` when the sale is fully refunded already.
fn refund_one(
    till: &mut Till,
    session: &omnitill_core::StaffSession,
    approval: &ManagerApproval,
    receipt_no: &str,
) -> Result<Option<String>, Stop> {
    let refundable = till.refundable(receipt_no)?;
    let Some(line) = refundable
        .lines
        .iter()
        .find(|line| line.refundable_quantity > 0)
    else {
        return Ok(None);
    };
    let refund = till.refund(session, approval, receipt_no, &[(line.line_no, 1)])?;
    Ok(Some(refund.receipt_no))
}

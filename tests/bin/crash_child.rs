//! The crash test's child process: it commits sales into the ledger given as its only argument
//! until it is killed, printing `COMMITTED <receipt> <lines> <total>` after each commit returns.
//!
//! Only what it printed was promised durable; the parent kills it with SIGKILL at random moments
//! and checks the ledger against those lines.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use omnitill_core::{Cart, SystemClock, TenderKind, Till, demo};
use rand::Rng;

fn main() {
    let Some(path) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: crash-child LEDGER");
        std::process::exit(2);
    };
    if let Err(error) = run(&path) {
        eprintln!("crash-child: {error}");
        std::process::exit(1);
    }
}

fn run(path: &std::path::Path) -> Result<(), omnitill_core::CoreError> {
    let mut till = Till::open(path, Arc::new(SystemClock))?;
    let cashier = till.login(demo::CASHIER.0, demo::CASHIER.1)?;
    let rules = till.pricing_rules()?;
    let mut rng = rand::rng();
    let stdout = std::io::stdout();
    loop {
        let mut cart = Cart::new();
        for _ in 0..rng.random_range(1..=5) {
            // Discontinued demo products cannot be sold; pick another.
            match till.scan(&demo::demo_barcode(rng.random_range(1..=200))) {
                Ok(item) => {
                    cart.add_item(item, rng.random_range(1..=3))?;
                }
                Err(omnitill_core::CoreError::InactiveProduct(_)) => {}
                Err(other) => return Err(other),
            }
        }
        if cart.is_empty() {
            continue;
        }
        let due = cart.totals(rules).due_minor;
        if rng.random_bool(0.5) {
            cart.add_tender(rules, TenderKind::Card, due, Some("CRASH"))?;
        } else {
            let cash_due = cart.totals(rules).cash_due_minor;
            cart.add_tender(rules, TenderKind::Cash, cash_due + 500, None)?;
        }
        let receipt = till.complete_sale(&cashier, &cart)?;
        let mut out = stdout.lock();
        // The parent may already be gone; a failed write just ends the loop.
        if writeln!(
            out,
            "COMMITTED {} {} {}",
            receipt.receipt_no,
            receipt.lines.len(),
            receipt.total_minor
        )
        .and_then(|_| out.flush())
        .is_err()
        {
            return Ok(());
        }
    }
}

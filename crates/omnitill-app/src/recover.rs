//! `omnitill --recover LEDGER`: the manager's way back to selling after the till found its
//! ledger damaged. Core builds a new ledger from what the damaged file still holds and keeps
//! the damaged file beside it under a new name (`omnitill_core::recovery`); then, when the
//! till is linked to a cloud, one sync round sends the saved operations and downloads the
//! catalog, stock and members again. Prints what it did, in words; no window opens.

use std::path::Path;

use omnitill_core::{SystemClock, health, recovery};

/// Runs the recovery of the ledger at `path`; returns the process's exit code.
pub fn run(path: &Path) -> i32 {
    let findings = match health::check_ledger(path) {
        Ok(findings) => findings,
        Err(error) => {
            eprintln!("omnitill: {error}");
            return 1;
        }
    };
    if findings.is_empty() {
        println!(
            "{} passed SQLite's integrity check; recovering it anyway, as asked.",
            path.display()
        );
    } else {
        println!("{} is damaged: {}", path.display(), findings.join("; "));
    }
    let report = match recovery::recover_ledger(path, &SystemClock) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("omnitill: the recovery stopped: {error}");
            return 1;
        }
    };
    println!("{}", report.describe());
    if !report.linked {
        println!("The store can sell again: start the till.");
        return 0;
    }
    let engine = match omnitill_sync::engine::open_ledger(path) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("omnitill: the new ledger cannot be opened: {error}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("omnitill: the sync round cannot run: {error}");
            return 1;
        }
    };
    match runtime.block_on(omnitill_sync::engine::sync_once(&engine)) {
        Ok(round) => println!(
            "Synced with the cloud: {} operations sent, {} changes downloaded. The store can \
             sell again: start the till.",
            round.pushed, round.pulled
        ),
        Err(error) => println!(
            "The cloud could not be reached now ({error}). The store can sell again: start the \
             till; it downloads the catalog, stock and members when the link returns."
        ),
    }
    0
}

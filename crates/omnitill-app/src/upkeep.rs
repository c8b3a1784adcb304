//! Opening the till's ledger, and the chores that keep it healthy while the app runs: a
//! background checkpoint of its write-ahead log, and a periodic integrity check.

use std::path::Path;
use std::sync::Arc;

use omnitill_core::{SystemClock, Till, demo};

use crate::error::ApiError;

/// The ledger file's name inside the data directory.
pub const LEDGER_FILE: &str = "till.sqlite3";

/// Opens the till whose data lives in `data_dir`, creating the folder on first use, and fills
/// an empty ledger with the demo store when asked.
pub fn open_till(data_dir: &Path, seed_demo: bool) -> Result<Till, ApiError> {
    // Private to this user (0700), as the ledger is (0600): it holds the device token and the
    // brand's member key.
    omnitill_core::db::prepare_data_dir(data_dir)?;
    let mut till = Till::open(&data_dir.join(LEDGER_FILE), Arc::new(SystemClock))?;
    if seed_demo {
        demo::seed_demo(&mut till)?;
    }
    Ok(till)
}

/// How often the background thread copies the write-ahead log into the ledger file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Checkpoints the ledger from its own connection every few seconds, so commits at the counter
/// never stall on a checkpoint. The thread ends with the process.
pub fn spawn_checkpointer(path: std::path::PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("ledger-checkpoint".into())
        .spawn(move || {
            let checkpointer = match omnitill_core::db::Checkpointer::open(&path) {
                Ok(checkpointer) => checkpointer,
                Err(error) => {
                    eprintln!("omnitill: background checkpoints are off: {error}");
                    return;
                }
            };
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                // A busy moment only defers the copy to the next round.
                let _ = checkpointer.checkpoint();
            }
        });
    if let Err(error) = spawned {
        eprintln!("omnitill: background checkpoints are off: {error}");
    }
}

/// How often the ledger's integrity is checked while the app runs (the first check starts
/// right after the ledger opens).
const HEALTH_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Checks the ledger in the background, right away and then every 30 minutes, so a large
/// ledger does not delay the first screen. Damage found is recorded in the ledger's shared
/// health: core refuses every write from then on and the UI shows the damaged-ledger screen.
pub fn spawn_health_checks(path: std::path::PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("ledger-health".into())
        .spawn(move || {
            loop {
                let now = chrono::Utc::now().timestamp_millis();
                match omnitill_core::health::check_and_record(&path, now) {
                    Ok(findings) if findings.is_empty() => {}
                    Ok(findings) => {
                        eprintln!(
                            "omnitill: the ledger is damaged, selling stopped: {}",
                            findings.join("; ")
                        );
                        return;
                    }
                    Err(error) => eprintln!("omnitill: the ledger check could not run: {error}"),
                }
                std::thread::sleep(HEALTH_CHECK_EVERY);
            }
        });
    if let Err(error) = spawned {
        eprintln!("omnitill: the ledger check cannot run: {error}");
    }
}

//! Shared test support: temporary tills on real SQLite files, a real cloud process, and the
//! WebDriver harness.

pub mod cloud;

pub mod fault_tills;

pub mod members;

pub mod parallel;

pub mod ports;

pub mod proxy;

pub mod seeded;

pub mod tills;

pub mod till_window;
pub mod webdriver;
pub mod webhook_receiver;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use omnitill_core::{Cart, ManualClock, StaffSession, Till, demo};

/// A till on a fresh ledger file in its own temporary directory, seeded with the demo store,
/// on a manual clock so prices and times are reproducible.
pub struct TempTill {
    /// Kept so the directory lives as long as the till.
    pub _dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub till: Till,
}

impl TempTill {
    pub fn demo() -> TempTill {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0)
                .single()
                .expect("a valid instant"),
        ));
        let mut till =
            Till::open(&ledger_path(dir.path()), clock.clone()).expect("a new ledger opens");
        demo::seed_demo(&mut till).expect("the demo store seeds");
        TempTill {
            _dir: dir,
            clock,
            till,
        }
    }

    pub fn cashier(&mut self) -> StaffSession {
        self.till
            .login(demo::CASHIER.0, demo::CASHIER.1)
            .expect("the demo cashier logs in")
    }

    pub fn manager(&mut self) -> StaffSession {
        self.till
            .login(demo::MANAGER.0, demo::MANAGER.1)
            .expect("the demo manager logs in")
    }

    /// A cart with the demo products numbered `items` (1-based), each scanned once.
    pub fn cart_of(&self, items: &[u64]) -> Cart {
        let mut cart = Cart::new();
        for n in items {
            let item = self
                .till
                .scan(&demo::demo_barcode(*n))
                .expect("a demo barcode scans");
            cart.add_item(item, 1).expect("the item goes into the cart");
        }
        cart
    }
}

pub fn ledger_path(dir: &Path) -> PathBuf {
    dir.join("till.sqlite3")
}

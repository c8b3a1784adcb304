//! Cross-crate and end-to-end scenarios, one module per scenario, in one test binary.
//!
//! `support` holds what the scenarios share: temporary tills, the demo store, and the
//! WebDriver harness for the real app window. `ledger` drives omnitill-core on real SQLite
//! files; `crash` kills a child process with SIGKILL while it commits sales; `sync_crash` kills
//! a syncing till process and the cloud process with SIGKILL mid-push; `ui` runs the real app
//! under Xvfb through tauri-driver.

mod cloud;
mod crash;
mod ledger;
mod support;
mod sync;
mod sync_crash;
mod ui;

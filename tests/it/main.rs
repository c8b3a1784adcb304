//! Cross-crate and end-to-end scenarios, one module per scenario, in one test binary.
//!
//! `api_contract` checks the cloud's OpenAPI document against its router, JSON refusals, API
//! key scopes and revocation, and the enrolment rate limit on both backends.
//! `support` holds what the scenarios share: temporary tills, the demo store, and the
//! WebDriver harness for the real app window. `ledger` drives omnitill-core on real SQLite
//! files; `catalog_import` runs `omnitill-cloud catalog import` on good, bad and killed imports;
//! `crash` kills a child process with SIGKILL while it commits sales; `cloud` runs the
//! cloud as a real process; `sync` has tills converge through the real sync engine; `faults`
//! puts a fault-injecting proxy between tills and the cloud; `random_sync` runs hundreds of
//! seeded random schedules of sales, syncs, faults and cloud restarts; `sync_crash` kills a
//! syncing till process and the cloud process with SIGKILL mid-push; `members_cloud` drives
//! members, points and coupons through the cloud as the e-shop and a till would; `members_till`
//! runs a member's sale, points and refund at the till's checkout; `members_sync` enrols one
//! phone at two offline tills and checks the merge through the real sync engine;
//! `members_scenarios` runs the
//! issue's named member scenarios (earn offline while redeeming online, two stores overdrawing,
//! a coupon used in both channels, a refund through lost answers) through the real engine and
//! proxy; `random_members` runs hundreds of seeded member schedules (offline redemptions, refunds,
//! e-shop orders, faults) and checks every point is booked once; `races` sends 16 requests at
//! once to one balance, coupon, hold or enrolment code, over many rounds, on PostgreSQL and
//! SQLite; `idempotency` reuses each e-shop route's key with another body and the same body;
//! `two_clouds` runs two cloud processes on one PostgreSQL with tills, the e-shop and the hourly
//! jobs alternating between them; `hostile_push` pushes a table of forged
//! operations; `push_races` pushes from 16 tills at once (refunds of one sale, sales of the
//! same items, a failing push in a group of pushes); `restore` restores the
//! cloud's database from a backup taken mid-stream and has three tills send again what it
//! forgot; `privacy` copies a synced
//! ledger and reads it as a thief would (no phone book: memory-hard phone hashes, only for the
//! store's own members, no digits in masks) and checks look-up by phone offline and online;
//! `ui` runs the real app under Xvfb through tauri-driver.

mod api_contract;
mod catalog_import;
mod cloud;
mod crash;
mod faults;
mod hostile_push;
mod idempotency;
mod ledger;
mod ledger_damage;
mod members_cloud;
mod members_scenarios;
mod members_sync;
mod members_till;
mod pickups_cloud;
mod privacy;
mod push_races;
mod races;
mod random_members;
mod random_pickups;
mod random_sync;
mod restore;
mod support;
mod sync;
mod sync_crash;
mod till_protocol;
mod two_clouds;
mod ui;

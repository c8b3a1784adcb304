//! Crash safety of the sync path, with real SIGKILLs of real processes.
//!
//! - A till process (`tests/bin/sync_child.rs`: it sells and runs sync rounds with the real
//!   engine) is killed during pushes, at chosen points: once its push reached the cloud and
//!   before any answer, once the cloud had committed and answered but before the till recorded
//!   the answer (the proxy holds it), and at random moments. After each kill its ledger must be
//!   intact, hold everything it reported, have acknowledged only a prefix of its outbox, and
//!   that prefix only up to what the cloud holds; the cloud must hold exactly the sales of the
//!   operations it has applied, whole pushes or nothing.
//! - The cloud process is killed while it applies a push of a 200-operation batch, during the
//!   drain of a backlog of about a thousand operations. After each restart the cloud must hold
//!   whole pushes only.
//! - The link is cut under a push at finely spread moments, so the cloud abandons requests at
//!   every stage of their work (as it does for a killed till). Afterwards every pooled database
//!   connection must serve requests: this caught PostgreSQL connections left inside a
//!   transaction when a request was dropped while its `BEGIN` was in flight.
//!
//! Each runs against a cloud on SQLite and on PostgreSQL.
//!
//! In the end every till converges and the usual invariants hold: every sale in the cloud
//! exactly once, the till's stock equals the cloud's, the cloud's stock is the initial stock
//! minus sales plus refunds, and nothing is left in the outbox.
//!
//! Every run prints its seed; replay one with `OMNITILL_SYNC_CRASH_SEED=<seed>`.
//!
//! `checks` holds what every scenario checks and the child process; `till_kills`,
//! `cloud_kills` and `link_cuts` are the three scenarios.

mod checks;
mod cloud_kills;
mod link_cuts;
mod till_kills;

//! omnitill-sync: the till's background sync engine.
//!
//! `client` speaks the protocol over HTTP (reqwest) and sorts failures into transient ones
//! (retry with backoff) and permanent ones (report and wait). `plan` decides, as a pure
//! function, what a round does next. `engine` runs rounds on a tokio task: it opens its own
//! connection to the ledger, does every database step on a blocking thread and never holds a
//! database transaction across network IO, and reports its state on a watch channel.

pub mod client;
pub mod engine;
pub mod plan;

pub use client::{Client, SyncError};
pub use engine::{EngineStatus, LinkState, sync_once};

/// Installs the TLS crypto provider (ring) for every reqwest client in this process. reqwest is
/// built with rustls and no provider of its own, so a process that builds reqwest clients
/// without going through `Client::new` (a test harness, a tool) calls this first. Calling it
/// again is a no-op.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

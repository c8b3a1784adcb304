//! The till's use-case layer: everything a person at the till does, between the desktop shell
//! (which only carries IPC) and core and sync (which keep the rules and the ledger).
//!
//! `App` owns the counter's state (the open till, who is logged in, the cart being rung up)
//! and every use case, one area per module: `checkout`, `members` (with the hold lifecycle in
//! `holds`), `receipts`, `review`, `settings` and `status`. A use case that needs the cloud
//! reaches it through the `Cloud` trait: `HttpCloud` in the product (the sync client, with the
//! background `SyncEngine`'s view of the link), a fake in the tests, so every use case runs
//! without a window or a network. What a use case answers, and every way it fails
//! (`error::ErrorCode`), is a Rust type whose TypeScript the UI imports (`bindings`).
//!
//! The invariant: no business rule lives outside core and this crate. The shell decodes
//! arguments and calls one method of `App`; the UI renders what it is given.

pub mod app;
pub mod bindings;
pub mod checkout;
pub mod cloud;
pub mod desk;
pub mod engine;
pub mod error;
pub mod floor;
pub mod holds;
pub mod http_cloud;
pub mod members;
pub mod pickups;
pub mod printer;
pub mod receipts;
pub mod recover;
pub mod review;
pub mod settings;
pub mod status;
pub mod upkeep;
pub mod views;

#[cfg(test)]
mod tests;

pub use app::App;
pub use cloud::{Cloud, CloudAddress, CloudError};
pub use engine::SyncEngine;
pub use error::{ApiError, ErrorCode, Reply};
pub use http_cloud::HttpCloud;

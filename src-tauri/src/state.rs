//! The shell's state: the open till (or why it could not open), who is logged in, and the cart.
//!
//! One mutex guards the till, the session and the cart together, so a command sees them in a
//! consistent state. Commands hold it only for local work, never across network IO.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use omnitill_core::{Cart, StaffSession, Till};

use crate::args::Options;
use crate::error::{ApiError, ErrorCode};
use crate::sync_link::SyncLink;

pub struct Shell {
    pub till: Till,
    pub session: Option<StaffSession>,
    pub cart: Cart,
}

impl Shell {
    /// The logged-in staff member, or `not_logged_in` when the till is locked.
    pub fn session(&self) -> Result<StaffSession, ApiError> {
        self.session
            .clone()
            .ok_or_else(|| ApiError::new(ErrorCode::NotLoggedIn, "log in to use the till"))
    }
}

pub struct AppState {
    pub shell: Option<Mutex<Shell>>,
    pub startup_error: Option<ApiError>,
    pub options: Options,
    pub started: Instant,
    pub ready_reported: AtomicBool,
    /// The background sync engine, when the ledger opened.
    pub sync: Option<SyncLink>,
}

impl AppState {
    /// Runs `f` on the shell, or returns the start-up error when the ledger did not open.
    pub fn with_shell<T>(
        &self,
        f: impl FnOnce(&mut Shell) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let Some(shell) = &self.shell else {
            return Err(self
                .startup_error
                .clone()
                .unwrap_or_else(|| ApiError::new(ErrorCode::Internal, "the till did not start")));
        };
        let mut guard = shell.lock().unwrap_or_else(|poison| poison.into_inner());
        f(&mut guard)
    }
}

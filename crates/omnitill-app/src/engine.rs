//! The till's handle on the background sync engine: start it, wake it, read its status, stop
//! it with the app.
//!
//! The engine runs on the runtime it is given (the shell's) with its own ledger connection
//! (omnitill-sync). A sale or refund wakes it; the status bar reads its last `EngineStatus`.
//! `--enrol-url` and `--enrol-code` enrol a till that is not linked yet before the first round,
//! which the demo and the tests use; a manager can also enrol from Settings
//! (`App::enrol_till`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use omnitill_sync::engine::{self, EngineStatus, LinkProblem, Pacing};
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};

use crate::error::{ApiError, ErrorCode};

pub struct SyncEngine {
    ledger: PathBuf,
    runtime: Handle,
    wake: Arc<Notify>,
    status: watch::Receiver<EngineStatus>,
    status_tx: watch::Sender<EngineStatus>,
    shutdown: watch::Sender<bool>,
    started: Mutex<bool>,
}

impl SyncEngine {
    /// An engine for the ledger at `ledger`, to run on `runtime` once started.
    pub fn new(ledger: PathBuf, runtime: Handle) -> SyncEngine {
        let (status_tx, status) = watch::channel(EngineStatus::default());
        let (shutdown, _) = watch::channel(false);
        SyncEngine {
            ledger,
            runtime,
            wake: Arc::new(Notify::new()),
            status,
            status_tx,
            shutdown,
            started: Mutex::new(false),
        }
    }

    /// Starts the engine once. `enrol` is a (cloud URL, code) to enrol with first if the till is
    /// not linked yet.
    pub fn start(&self, enrol: Option<(String, String)>) -> Result<(), ApiError> {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if *started {
            return Ok(());
        }
        let till = engine::open_ledger(&self.ledger)
            .map_err(|e| ApiError::new(ErrorCode::Store, e.to_string()))?;
        let wake = self.wake.clone();
        let status = self.status_tx.clone();
        let shutdown = self.shutdown.subscribe();
        self.runtime.spawn(async move {
            if let Some((url, code)) = enrol
                && let Err(error) = enrol_if_unlinked(&till, &url, &code).await
            {
                eprintln!("omnitill: enrolment with {url} failed: {error}");
                status.send_modify(|s| {
                    s.problem = Some(LinkProblem::EnrolmentFailed);
                    s.message = Some(format!("enrolment failed: {error}"));
                });
            }
            engine::run(till, wake, status, shutdown, Pacing::default()).await;
        });
        *started = true;
        Ok(())
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn status(&self) -> EngineStatus {
        self.status.borrow().clone()
    }

    pub fn is_started(&self) -> bool {
        *self.started.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stop(&self) {
        self.shutdown.send_replace(true);
    }
}

async fn enrol_if_unlinked(
    till: &Arc<Mutex<omnitill_core::Till>>,
    url: &str,
    code: &str,
) -> Result<(), String> {
    let (linked, first_seq, identity) = {
        let guard = till.lock().unwrap_or_else(|p| p.into_inner());
        (
            guard.sync_link().map_err(|e| e.to_string())?.is_some(),
            guard
                .first_unacknowledged_seq()
                .map_err(|e| e.to_string())?,
            guard.till_identity().map_err(|e| e.to_string())?,
        )
    };
    if linked {
        return Ok(());
    }
    let client = omnitill_sync::Client::new(url, None).map_err(|e| e.to_string())?;
    let enrolment = client
        .enrol(code, "Till", first_seq, &identity)
        .await
        .map_err(|e| e.to_string())?;
    let mut guard = till.lock().unwrap_or_else(|p| p.into_inner());
    let now = guard.clock().now();
    guard
        .record_enrolment(url, &enrolment, now)
        .map_err(|e| e.to_string())
}

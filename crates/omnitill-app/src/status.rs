//! The till's status as every screen shows it: the store, the settings, who is logged in, and
//! the link to the cloud; or, when the ledger did not open or was found damaged, only why.

use omnitill_core::{Settings, StaffSession, StoreInfo};
use omnitill_sync::engine::{LinkProblem, LinkState};
use serde::Serialize;
use ts_rs::TS;

use crate::app::App;
use crate::cloud::Cloud;
use crate::error::{ApiError, Reply};

/// The link to the cloud, for the status bar.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct SyncStatus {
    pub state: LinkState,
    /// Whether the till asks the cloud now (`App::online`): the UI's one "online".
    pub online: bool,
    pub pending: i64,
    pub oldest_pending_at: Option<String>,
    pub last_sync_at: Option<String>,
    /// Why the last sync round failed: the status bar words it in the till's language.
    pub problem: Option<LinkProblem>,
    /// The engine's own words for it (English), for support.
    pub message: Option<String>,
    /// Feed entries downloaded in the current round, and still to download: the first sync's
    /// progress bar. Both 0 when no download is under way.
    pub downloaded: i64,
    pub remaining: i64,
    /// Downloaded products not yet indexed for search: found by a slower direct search until
    /// then.
    pub search_waiting: i64,
    /// Operations the cloud refused that no manager has reviewed yet, and member conflicts
    /// not yet resolved.
    pub needs_review: i64,
    /// The cloud was restored from a backup and forgot operations: how many of them are still
    /// being sent again, of how many. Both 0 otherwise.
    pub resending: i64,
    pub resend_total: i64,
}

#[derive(Debug, Serialize, TS)]
pub struct AppStatus {
    pub error: Option<ApiError>,
    pub store: Option<StoreInfo>,
    pub settings: Option<Settings>,
    pub receipt_prefix: Option<String>,
    pub session: Option<StaffSession>,
    pub sync: SyncStatus,
    /// Click-and-collect orders waiting for the store to start them: the notice on every
    /// screen.
    pub pickups_waiting: i64,
}

impl<C: Cloud> App<C> {
    pub fn status(&self) -> Reply<AppStatus> {
        // A ledger found damaged after start shows the same way as one refused at start: only
        // the damaged-ledger screen, with what the manager does. The screen keeps the till's
        // language: settings are read, as far as they can be.
        let (damaged, settings) = if self.is_open() {
            self.with_desk(|desk| {
                Ok((desk.till.ensure_writable().err(), desk.till.settings().ok()))
            })?
        } else {
            (None, None)
        };
        if !self.is_open() || damaged.is_some() {
            let settings = if damaged.is_some() { settings } else { None };
            return Ok(AppStatus {
                error: damaged.map(ApiError::from).or_else(|| self.startup_error()),
                store: None,
                settings,
                receipt_prefix: None,
                session: None,
                sync: SyncStatus::default(),
                pickups_waiting: 0,
            });
        }
        let engine = self.cloud.sync_status();
        self.with_desk(|desk| {
            // Enrolment on the engine's connection changes the receipt prefix.
            desk.till.reload_device()?;
            let (pending, oldest) = desk.till.pending_operations()?;
            let link = desk.till.sync_link()?;
            let state = match (&link, &engine) {
                (None, _) => LinkState::NotConfigured,
                (Some(l), _) if l.revoked => LinkState::Revoked,
                (Some(_), Some(engine)) => engine.state,
                (Some(_), None) => LinkState::Offline,
            };
            let engine = engine.unwrap_or_default();
            let at =
                |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|at| at.to_rfc3339());
            Ok(AppStatus {
                error: None,
                store: Some(desk.till.store()?),
                settings: Some(desk.till.settings()?),
                receipt_prefix: Some(desk.till.device().receipt_prefix.clone()),
                session: desk.session.clone(),
                pickups_waiting: desk.till.pickups_waiting()?,
                sync: SyncStatus {
                    state,
                    online: self.online(desk)?.is_some(),
                    pending,
                    oldest_pending_at: oldest.and_then(at),
                    last_sync_at: link.and_then(|l| l.last_sync_at).and_then(at),
                    needs_review: desk
                        .till
                        .unreviewed_refusals()?
                        .saturating_add(desk.till.open_member_conflicts()?),
                    downloaded: engine.downloaded,
                    remaining: engine.remaining,
                    search_waiting: engine.search_waiting,
                    resending: engine.resending,
                    resend_total: engine.resend_total,
                    problem: engine.problem,
                    message: engine.message,
                },
            })
        })
    }
}

//! The till's settings, its language, and its enrolment with the brand's cloud.
//!
//! Enrolment checks the cloud's address by the sync client's one rule before anything is
//! sent (the device token will travel to it), asks the cloud without holding the counter's
//! lock, records the link in the ledger, and starts the background sync.

use omnitill_core::{Language, ManagerApproval, Settings};

use crate::app::App;
use crate::cloud::{Cloud, TillEnrolment};
use crate::error::{ApiError, ErrorCode, Reply};

impl<C: Cloud> App<C> {
    /// A manager changes the till's settings.
    pub fn update_settings(&self, settings: &Settings) -> Reply<Settings> {
        self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(desk.till.update_settings(&session, settings)?)
        })
    }

    /// Anyone at the till, logged in or not, switches its language.
    pub fn set_language(&self, language: Language) -> Reply<Settings> {
        self.with_desk(|desk| Ok(desk.till.set_language(language)?))
    }

    /// A manager enrols this till with the cloud at `cloud_url` with a one-time `code`.
    pub async fn enrol_till(&self, cloud_url: &str, code: &str) -> Reply<()> {
        let cloud_url = cloud_url.trim();
        omnitill_sync::client::check_cloud_url(cloud_url)
            .map_err(|e| ApiError::bad_input(e.to_string()))?;
        let enrolment = self.with_desk(|desk| {
            let session = desk.session()?;
            ManagerApproval::from_session(&session)?;
            Ok(TillEnrolment {
                code: code.to_owned(),
                device_name: format!("Till at {}", desk.till.store()?.name),
                first_seq: desk.till.first_unacknowledged_seq()?,
                identity: desk.till.till_identity()?,
            })
        })?;
        let enrolled = self
            .cloud
            .enrol(cloud_url, &enrolment)
            .await
            .map_err(|e| ApiError::new(ErrorCode::Sync, e.to_string()))?;
        self.with_desk(|desk| {
            let now = desk.till.clock().now();
            Ok(desk.till.record_enrolment(cloud_url, &enrolled, now)?)
        })?;
        self.cloud.start_sync();
        Ok(())
    }
}

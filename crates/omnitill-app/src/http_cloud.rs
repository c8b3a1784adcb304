//! The product's `Cloud`: the sync client over HTTP for the calls, and the background sync
//! engine for whether the link is up.
//!
//! A member call waits at most the client's `MEMBER_CALL_TIMEOUT`; a timeout or a server
//! failure is `Unreachable`, anything the cloud refused for good is `Refused` with its words.

use std::sync::Arc;

use omnitill_protocol::enrol::EnrolResponse;
use omnitill_protocol::floor::MemberFloor;
use omnitill_protocol::loyalty::{CachedMember, CouponHoldRequest, History, HoldRequest};
use omnitill_sync::engine::EngineStatus;
use omnitill_sync::{Client, SyncError};

use crate::cloud::{Cloud, CloudAddress, CloudError, TillEnrolment};
use crate::engine::SyncEngine;

/// The cloud over HTTP, with the engine that keeps the till in sync with it.
pub struct HttpCloud {
    engine: Arc<SyncEngine>,
}

impl HttpCloud {
    pub fn new(engine: Arc<SyncEngine>) -> HttpCloud {
        HttpCloud { engine }
    }
}

/// A client for `at`, or why none can be made (an address the client refuses).
fn client(at: &CloudAddress) -> Result<Client, CloudError> {
    Client::new(&at.url, Some(at.token.clone())).map_err(cloud_error)
}

/// The sync client's error as a use case sees it.
fn cloud_error(error: SyncError) -> CloudError {
    match error {
        SyncError::Refused { message, .. } => CloudError::Refused(message),
        transient if transient.is_transient() => CloudError::Unreachable(transient.to_string()),
        other => CloudError::Refused(other.to_string()),
    }
}

impl Cloud for HttpCloud {
    fn sync_status(&self) -> Option<EngineStatus> {
        self.engine.is_started().then(|| self.engine.status())
    }

    async fn look_up_member(
        &self,
        at: &CloudAddress,
        kind: &str,
        key: &str,
    ) -> Result<Option<CachedMember>, CloudError> {
        client(at)?
            .look_up_member(kind, key)
            .await
            .map_err(cloud_error)
    }

    async fn member_history(
        &self,
        at: &CloudAddress,
        member_id: &str,
    ) -> Result<History, CloudError> {
        client(at)?
            .member_history(member_id)
            .await
            .map_err(cloud_error)
    }

    async fn member_floor(
        &self,
        at: &CloudAddress,
        member_id: &str,
    ) -> Result<MemberFloor, CloudError> {
        client(at)?
            .member_floor(member_id)
            .await
            .map_err(cloud_error)
    }

    async fn hold_points(
        &self,
        at: &CloudAddress,
        request: &HoldRequest,
    ) -> Result<(), CloudError> {
        client(at)?
            .hold_points(request)
            .await
            .map(|_| ())
            .map_err(cloud_error)
    }

    async fn release_points(&self, at: &CloudAddress, sale_id: &str) -> Result<(), CloudError> {
        client(at)?
            .release_points(sale_id)
            .await
            .map_err(cloud_error)
    }

    async fn hold_coupon(
        &self,
        at: &CloudAddress,
        request: &CouponHoldRequest,
    ) -> Result<(), CloudError> {
        client(at)?.hold_coupon(request).await.map_err(cloud_error)
    }

    async fn release_coupon(&self, at: &CloudAddress, sale_id: &str) -> Result<(), CloudError> {
        client(at)?
            .release_coupon(sale_id)
            .await
            .map_err(cloud_error)
    }

    async fn enrol(
        &self,
        url: &str,
        enrolment: &TillEnrolment,
    ) -> Result<EnrolResponse, CloudError> {
        Client::new(url, None)
            .map_err(cloud_error)?
            .enrol(
                &enrolment.code,
                &enrolment.device_name,
                enrolment.first_seq,
                &enrolment.identity,
            )
            .await
            .map_err(cloud_error)
    }

    fn wake_sync(&self) {
        self.engine.wake();
    }

    fn start_sync(&self) {
        if let Err(error) = self.engine.start(None) {
            eprintln!("omnitill: sync cannot start: {}", error.message);
        }
        self.engine.wake();
    }
}

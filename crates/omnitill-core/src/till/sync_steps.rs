//! The sync engine's steps on the till's ledger, as typed use cases of `Till`: the link to the
//! cloud, the operations to push and what the cloud said of them, the pulled pages, and the
//! re-sending after a restored cloud. The engine (and the shell's enrolment) call these, never
//! the raw connection; the rules stay in `sync` and `outbox`.

use chrono::{DateTime, Utc};
use omnitill_protocol::enrol::{EnrolResponse, TillIdentity};
use omnitill_protocol::pull::PullResponse;
use omnitill_protocol::push::PushResponse;

use super::Till;
use crate::error::CoreResult;
use crate::outbox::{self, OutboxOp};
use crate::sync::{self, PullApplied, SyncLink};

impl Till {
    /// The link to the cloud, once enrolled.
    pub fn sync_link(&self) -> CoreResult<Option<SyncLink>> {
        sync::link(&self.conn)
    }

    /// Who this till is, as it tells the cloud when it enrols.
    pub fn till_identity(&self) -> CoreResult<TillIdentity> {
        sync::till_identity(&self.conn)
    }

    /// The seq of the first operation the cloud has not acknowledged.
    pub fn first_unacknowledged_seq(&self) -> CoreResult<i64> {
        sync::first_unacknowledged_seq(&self.conn)
    }

    /// Records an enrolment with the cloud at `cloud_url` (`sync::record_enrolment`).
    pub fn record_enrolment(
        &mut self,
        cloud_url: &str,
        enrolment: &EnrolResponse,
        now: DateTime<Utc>,
    ) -> CoreResult<()> {
        sync::record_enrolment(&mut self.conn, cloud_url, enrolment, now)?;
        self.reload_device()
    }

    /// Records that the cloud refused this till's token: it is no longer linked.
    pub fn mark_revoked(&self) -> CoreResult<()> {
        sync::mark_revoked(&self.conn)
    }

    /// Up to `limit` operations the cloud has not acknowledged, in seq order: the next push.
    pub fn operations_to_push(&self, limit: usize) -> CoreResult<Vec<OutboxOp>> {
        outbox::pending(&self.conn, limit)
    }

    /// Records what the cloud said of a push (`sync::record_push`).
    pub fn record_push(&mut self, response: &PushResponse, now: DateTime<Utc>) -> CoreResult<()> {
        sync::record_push(&mut self.conn, response, now)
    }

    /// Applies a pulled page of the change feed (`sync::apply_pull`).
    pub fn apply_pull(
        &mut self,
        page: &PullResponse,
        now: DateTime<Utc>,
    ) -> CoreResult<PullApplied> {
        sync::apply_pull(&mut self.conn, page, now)
    }

    /// The outbox's span: its first kept seq, if any, and its last seq.
    pub fn outbox_span(&self) -> CoreResult<(Option<i64>, i64)> {
        outbox::span(&self.conn)
    }

    /// Marks the operations from `from` on to be sent again to a restored cloud
    /// (`sync::resend_from`); answers how many.
    pub fn resend_from(&mut self, from: i64) -> CoreResult<i64> {
        sync::resend_from(&mut self.conn, from)
    }

    /// How many operations up to `through` still wait to be sent again.
    pub fn pending_through(&self, through: i64) -> CoreResult<i64> {
        outbox::pending_through(&self.conn, through)
    }

    /// Gives this connection a page cache of `kib` KiB (the engine's large downloads).
    pub fn set_cache_size(&self, kib: i64) -> CoreResult<()> {
        self.conn.pragma_update(None, "cache_size", -kib)?;
        Ok(())
    }
}

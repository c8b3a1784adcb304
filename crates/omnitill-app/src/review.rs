//! The manager's review: operations the cloud refused and member conflicts, listed and marked
//! dealt with. Core checks that the one asking is a manager.

use omnitill_core::members::Conflict;
use omnitill_core::review::Refusal;

use crate::app::App;
use crate::cloud::Cloud;
use crate::error::Reply;

impl<C: Cloud> App<C> {
    /// The operations the cloud refused: those still to review, or all.
    pub fn refusals(&self, include_reviewed: bool) -> Reply<Vec<Refusal>> {
        self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(desk.till.refusals(&session, include_reviewed)?)
        })
    }

    /// Marks a refused operation reviewed, with a note of what was done about it.
    pub fn review_refusal(&self, seq: i64, note: &str) -> Reply<Refusal> {
        self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(desk.till.mark_refusal_reviewed(&session, seq, note)?)
        })
    }

    /// Member conflicts (overdrafts, coupons used twice, merged enrolments): open, or all.
    pub fn member_conflicts(&self, include_resolved: bool) -> Reply<Vec<Conflict>> {
        self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(desk.till.member_conflicts(&session, include_resolved)?)
        })
    }

    /// Marks a member conflict resolved with a note; it syncs to the cloud.
    pub fn resolve_conflict(&self, conflict_id: &str, note: &str) -> Reply<Conflict> {
        let conflict = self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(desk
                .till
                .resolve_member_conflict(&session, conflict_id, note)?)
        })?;
        self.cloud.wake_sync();
        Ok(conflict)
    }
}

//! The till's shop-floor use case: a member as floor staff see them (`floor::member_view`).

use omnitill_protocol::floor::MemberFloor;

use super::Till;
use crate::error::{CoreError, CoreResult};
use crate::floor::member_view::{self, FloorView};

impl Till {
    /// Member `member_id` as floor staff see them, from this till's ledger, with the cloud's
    /// answer when the till is online.
    pub fn member_floor(
        &self,
        member_id: &str,
        from_cloud: Option<&MemberFloor>,
    ) -> CoreResult<FloorView> {
        member_view::member_view(&self.conn, member_id, self.clock.now(), from_cloud)?
            .ok_or_else(|| CoreError::NotFound(format!("member {member_id}")))
    }
}

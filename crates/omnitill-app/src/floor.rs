//! The shop floor: the member attached to the sale as floor staff see them (core's
//! `floor::member_view`). While the till is online it asks the cloud for the member's newest
//! lists, tags, points about to lapse and the other stores' stock; offline, or when the cloud
//! does not answer, the till's own copy is shown with its age.

use omnitill_core::floor::member_view::FloorView;

use crate::app::App;
use crate::cloud::Cloud;
use crate::error::{ApiError, Reply};

impl<C: Cloud> App<C> {
    /// The attached member's floor view.
    pub async fn member_floor(&self) -> Reply<FloorView> {
        let (member_id, at) = self.with_desk(|desk| {
            desk.session()?;
            let member_id = desk
                .cart
                .member()
                .map(|m| m.member_id.clone())
                .ok_or_else(|| ApiError::bad_input("attach a member to see their view"))?;
            Ok((member_id, self.online(desk)?))
        })?;
        // A cloud that fails to answer leaves the till's copy, which says how old it is.
        let from_cloud = match at {
            Some(at) => self.cloud.member_floor(&at, &member_id).await.ok(),
            None => None,
        };
        self.with_desk(|desk| Ok(desk.till.member_floor(&member_id, from_cloud.as_ref())?))
    }
}

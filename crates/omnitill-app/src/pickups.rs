//! Click-and-collect at the till: the store's queue, the order a customer shows, picking,
//! ready and handover. Core checks every step and writes its operation; the sync engine is
//! woken so the e-shop hears of it as soon as the link allows. All of it works offline.

use omnitill_core::pickups::actions::Verified;
use omnitill_protocol::pickup::PickupOrder;
use serde::Serialize;
use ts_rs::TS;

use crate::app::App;
use crate::cloud::Cloud;
use crate::error::Reply;

/// The order a customer showed, and how it was verified.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FoundPickup {
    pub order: PickupOrder,
    pub verified: Verified,
}

impl<C: Cloud> App<C> {
    /// This store's pickup orders as this till shows them, newest first.
    pub fn pickup_queue(&self) -> Reply<Vec<PickupOrder>> {
        self.with_desk(|desk| {
            desk.session()?;
            Ok(desk.till.pickup_orders()?)
        })
    }

    /// The open order a customer shows: its QR code, its pickup code, or their member card.
    pub fn find_pickup(&self, input: &str) -> Reply<FoundPickup> {
        self.with_desk(|desk| {
            desk.session()?;
            let (order, verified) = desk.till.find_pickup(input)?;
            Ok(FoundPickup { order, verified })
        })
    }

    /// Marks a line picked, or, with a reason, missing.
    pub fn mark_pickup_line(
        &self,
        order_id: &str,
        line_no: i64,
        missing_reason: Option<&str>,
    ) -> Reply<PickupOrder> {
        let order = self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(match missing_reason {
                Some(reason) => desk
                    .till
                    .mark_pickup_line_missing(&session, order_id, line_no, reason)?,
                None => desk.till.pick_pickup_line(&session, order_id, line_no)?,
            })
        })?;
        self.cloud.wake_sync();
        Ok(order)
    }

    /// Marks an order ready: the customer is told once the till syncs.
    pub fn mark_pickup_ready(&self, order_id: &str) -> Reply<PickupOrder> {
        let order = self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(desk.till.mark_pickup_ready(&session, order_id)?)
        })?;
        self.cloud.wake_sync();
        Ok(order)
    }

    /// Hands an order over, verified as `verified`; a pay-at-pickup order names the sale that
    /// took its payment.
    pub fn hand_over_pickup(
        &self,
        order_id: &str,
        verified: Verified,
        sale_id: Option<&str>,
    ) -> Reply<PickupOrder> {
        let order = self.with_desk(|desk| {
            let session = desk.session()?;
            Ok(desk
                .till
                .hand_over_pickup(&session, order_id, verified, sale_id)?)
        })?;
        self.cloud.wake_sync();
        Ok(order)
    }
}

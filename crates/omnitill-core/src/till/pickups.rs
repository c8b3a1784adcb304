//! The till's click-and-collect use cases over its ledger: this store's orders, the order a
//! customer shows, and what the store does with it (`pickups::actions`). Picking and
//! handing over need a logged-in staff member; all of it works offline.

use omnitill_protocol::pickup::PickupOrder;

use super::Till;
use crate::error::{CoreError, CoreResult};
use crate::pickups::{self, actions, actions::Verified};
use crate::staff::StaffSession;

impl Till {
    /// This store's click-and-collect orders as this till shows them, newest first.
    pub fn pickup_orders(&self) -> CoreResult<Vec<PickupOrder>> {
        pickups::orders(&self.conn)
    }

    /// The order with id `order_id` as this till shows it.
    pub fn pickup_order(&self, order_id: &str) -> CoreResult<PickupOrder> {
        pickups::order(&self.conn, order_id)?.ok_or_else(|| {
            CoreError::NotFound(format!("pickup order {order_id} is not on this till"))
        })
    }

    /// A product's name and first barcode by SKU, for a pick list; `None` when the catalog
    /// does not have it.
    pub fn product_label(&self, sku: &str) -> CoreResult<Option<(String, Option<String>)>> {
        crate::catalog::label(&self.conn, sku)
    }

    /// The product with SKU `sku`, priced now, to put in a cart for a pickup's payment.
    pub fn item_by_sku(&self, sku: &str) -> CoreResult<crate::cart::PricedItem> {
        let product_id: i64 = self
            .conn
            .prepare_cached("SELECT id FROM product WHERE sku = ?1")?
            .query_row([sku], |row| row.get(0))
            .map_err(|_| {
                CoreError::NotFound(format!("product {sku} is not in this till's catalog"))
            })?;
        crate::catalog::priced_item(&self.conn, product_id, None, self.clock.now())
    }

    /// How many orders the till shows in each status.
    pub fn pickup_counts(&self) -> CoreResult<Vec<(String, i64)>> {
        pickups::counts(&self.conn)
    }

    /// Up to `pickups::QUEUE_PAGE` orders in `statuses`, the most urgent first.
    pub fn pickup_orders_in(&self, statuses: &[&str]) -> CoreResult<Vec<PickupOrder>> {
        pickups::orders_in(&self.conn, statuses)
    }

    /// How many orders wait for the store to start them.
    pub fn pickups_waiting(&self) -> CoreResult<i64> {
        pickups::waiting(&self.conn)
    }

    /// The open order the customer shows (a pickup QR code, its code, or their member card),
    /// and how it was verified.
    pub fn find_pickup(&self, input: &str) -> CoreResult<(PickupOrder, Verified)> {
        let store_id = crate::sync::link(&self.conn)?.map(|link| link.store_id);
        actions::find_for_handover(&self.conn, input, store_id.as_deref(), self.clock.now())
    }

    /// Marks a line of an order picked.
    pub fn pick_pickup_line(
        &mut self,
        session: &StaffSession,
        order_id: &str,
        line_no: i64,
    ) -> CoreResult<PickupOrder> {
        self.mark_pickup_line(session, order_id, line_no, None)
    }

    /// Marks a line of an order missing, with the reason.
    pub fn mark_pickup_line_missing(
        &mut self,
        session: &StaffSession,
        order_id: &str,
        line_no: i64,
        reason: &str,
    ) -> CoreResult<PickupOrder> {
        self.mark_pickup_line(session, order_id, line_no, Some(reason))
    }

    fn mark_pickup_line(
        &mut self,
        session: &StaffSession,
        order_id: &str,
        line_no: i64,
        reason: Option<&str>,
    ) -> CoreResult<PickupOrder> {
        self.ensure_writable()?;
        let op_id = self.clock.new_id().to_string();
        let now_ms = self.clock.now().timestamp_millis();
        actions::mark_line(
            &mut self.conn,
            &session.id,
            order_id,
            line_no,
            reason,
            &op_id,
            now_ms,
        )
    }

    /// Marks a picked line of a cancelled or expired order back on the shelf.
    pub fn put_back_pickup_line(
        &mut self,
        session: &StaffSession,
        order_id: &str,
        line_no: i64,
    ) -> CoreResult<PickupOrder> {
        self.ensure_writable()?;
        let op_id = self.clock.new_id().to_string();
        let now_ms = self.clock.now().timestamp_millis();
        actions::put_back(
            &mut self.conn,
            &session.id,
            order_id,
            line_no,
            &op_id,
            now_ms,
        )
    }

    /// Marks an order ready: the e-shop tells the customer once the till syncs.
    pub fn mark_pickup_ready(
        &mut self,
        session: &StaffSession,
        order_id: &str,
    ) -> CoreResult<PickupOrder> {
        self.ensure_writable()?;
        let op_id = self.clock.new_id().to_string();
        let now_ms = self.clock.now().timestamp_millis();
        actions::mark_ready(&mut self.conn, &session.id, order_id, &op_id, now_ms)
    }

    /// Hands an order over to the customer, verified as `verified`; a pay-at-pickup order
    /// names the sale that took its payment.
    pub fn hand_over_pickup(
        &mut self,
        session: &StaffSession,
        order_id: &str,
        verified: Verified,
        sale_id: Option<&str>,
    ) -> CoreResult<PickupOrder> {
        self.ensure_writable()?;
        let op_id = self.clock.new_id().to_string();
        let now_ms = self.clock.now().timestamp_millis();
        actions::hand_over(
            &mut self.conn,
            &session.id,
            order_id,
            verified,
            sale_id,
            &op_id,
            now_ms,
        )
    }
}

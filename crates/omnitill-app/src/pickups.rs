//! Click-and-collect at the till: the store's queue, the order a customer shows, picking by
//! scan, ready and handover, and taking a pay-at-pickup order's payment at checkout. Core
//! checks every step and writes its operation; the sync engine is woken so the e-shop hears of
//! it as soon as the link allows. All of it works offline.
//!
//! Picking counts the units scanned per line on this till (`Desk::pick_counts`); a line is
//! marked picked, one operation, when its last unit is scanned.

use omnitill_core::Discount;
use omnitill_core::pickups::{self, actions::Verified};
use omnitill_protocol::pickup::PickupOrder;
use serde::Serialize;
use ts_rs::TS;

use crate::app::App;
use crate::cloud::Cloud;
use crate::desk::{Desk, PickupPayment};
use crate::error::{ApiError, ErrorCode, Reply, code_of};
use crate::views::CartView;

/// An order as the pickup screens show it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PickupCard {
    pub order: PickupOrder,
    /// The queue's tab the order shows under (`QUEUE_TABS`).
    pub tab: String,
    /// Past its promised time and not ready yet.
    pub late: bool,
    /// The member's name when this till knows them (a guest's is on the order).
    pub member_name: Option<String>,
    /// Items picked for an order that was cancelled or expired: they go back on the shelf.
    pub to_put_back: i64,
    /// The order's lines with what staff need to find them, in the order's line order.
    pub lines: Vec<PickupLineView>,
}

/// A line of an order, named for the shelf.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PickupLineView {
    pub line_no: i64,
    pub name: String,
    pub barcode: Option<String>,
    /// The substitute the cloud offered for a missing line, by name.
    pub substitute_name: Option<String>,
    /// Units scanned so far: all of them once the line is picked.
    pub scanned: i64,
}

/// One tab of the pickup queue: how many orders each tab holds, and the most urgent of this
/// one's (at most `pickups::QUEUE_PAGE`; `more` says how many are not sent).
#[derive(Debug, Clone, Serialize, TS)]
pub struct PickupQueue {
    pub tab: String,
    pub counts: Vec<TabCount>,
    pub orders: Vec<PickupCard>,
    pub more: i64,
}

/// How many orders a tab of the queue holds.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TabCount {
    pub tab: String,
    pub count: i64,
}

/// The queue's tabs, in the order an order moves through them, each with the statuses it
/// shows. A status this build does not know shows under New, so that nobody misses it.
pub const QUEUE_TABS: [(&str, &[&str]); 6] = [
    ("new", &["new"]),
    ("picking", &["picking"]),
    ("ready", &["ready"]),
    ("collected", &["collected", "partially_collected"]),
    ("expired", &["expired"]),
    ("cancelled", &["cancelled"]),
];

pub fn tab_of(status: &str) -> &'static str {
    QUEUE_TABS
        .iter()
        .find(|(_, statuses)| statuses.contains(&status))
        .map_or("new", |(tab, _)| tab)
}

/// The order a customer showed, and how it was verified.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FoundPickup {
    pub card: PickupCard,
    pub verified: Verified,
}

impl<C: Cloud> App<C> {
    /// One tab of this store's pickup queue, with every tab's count.
    pub fn pickup_queue(&self, tab: &str) -> Reply<PickupQueue> {
        let (tab, statuses) = QUEUE_TABS
            .iter()
            .find(|(name, _)| *name == tab)
            .ok_or_else(|| ApiError::bad_input(format!("{tab:?} is not a tab of the queue")))?;
        self.with_desk(|desk| {
            desk.session()?;
            let by_status = desk.till.pickup_counts()?;
            let mut counts: Vec<TabCount> = QUEUE_TABS
                .iter()
                .map(|(tab, _)| TabCount {
                    tab: (*tab).to_owned(),
                    count: 0,
                })
                .collect();
            for (status, count) in &by_status {
                let tab = tab_of(status);
                if let Some(entry) = counts.iter_mut().find(|c| c.tab == tab) {
                    entry.count = entry.count.saturating_add(*count);
                }
            }
            let mut wanted: Vec<&str> = statuses.to_vec();
            if *tab == "new" {
                // Statuses this build does not know are shown with the new orders.
                wanted.extend(
                    by_status
                        .iter()
                        .map(|(status, _)| status.as_str())
                        .filter(|status| {
                            QUEUE_TABS.iter().all(|(_, known)| !known.contains(status))
                        }),
                );
            }
            let orders = desk.till.pickup_orders_in(&wanted)?;
            let total = counts.iter().find(|c| c.tab == *tab).map_or(0, |c| c.count);
            let more = total.saturating_sub(i64::try_from(orders.len()).unwrap_or(i64::MAX));
            let orders = orders
                .into_iter()
                .map(|order| card(desk, order))
                .collect::<Reply<Vec<_>>>()?;
            Ok(PickupQueue {
                tab: (*tab).to_owned(),
                counts,
                orders,
                more,
            })
        })
    }

    /// One order, for its pick list.
    pub fn pickup_order(&self, order_id: &str) -> Reply<PickupCard> {
        self.with_desk(|desk| {
            desk.session()?;
            let order = desk.till.pickup_order(order_id)?;
            card(desk, order)
        })
    }

    /// The open order a customer shows: its QR code, its pickup code, or their member card.
    pub fn find_pickup(&self, input: &str) -> Reply<FoundPickup> {
        pickup_step(self.with_desk(|desk| {
            desk.session()?;
            let (order, verified) = desk.till.find_pickup(input)?;
            Ok(FoundPickup {
                card: card(desk, order)?,
                verified,
            })
        }))
    }

    /// A unit scanned for an order: it must be a product of a line still to pick; the line is
    /// marked picked when its last unit is scanned.
    pub fn scan_for_pickup(&self, order_id: &str, code: &str) -> Reply<PickupCard> {
        let card = pickup_step(self.with_desk(|desk| {
            let session = desk.session()?;
            let item = desk.till.scan(code)?;
            let order = desk.till.pickup_order(order_id)?;
            let mut lines = order.lines.iter().filter(|l| l.sku == item.sku).peekable();
            if lines.peek().is_none() {
                return Err(ApiError::bad_input(format!(
                    "{} is not on this order: put it back",
                    item.name
                )));
            }
            let line = lines
                .find(|l| l.state == "to_pick")
                .ok_or_else(|| {
                    ApiError::bad_input(format!("every {} of this order is picked", item.name))
                })?
                .clone();
            let key = (order.id.clone(), line.line_no);
            let scanned = desk.pick_counts.get(&key).copied().unwrap_or(0) + 1;
            let order = if scanned >= line.quantity {
                desk.pick_counts.remove(&key);
                desk.till
                    .pick_pickup_line(&session, &order.id, line.line_no)?
            } else {
                desk.pick_counts.insert(key, scanned);
                order
            };
            card(desk, order)
        }))?;
        self.cloud.wake_sync();
        Ok(card)
    }

    /// Marks a line picked, or, with a reason, missing.
    pub fn mark_pickup_line(
        &self,
        order_id: &str,
        line_no: i64,
        missing_reason: Option<&str>,
    ) -> Reply<PickupCard> {
        let card = pickup_step(self.with_desk(|desk| {
            let session = desk.session()?;
            let order = match missing_reason {
                Some(reason) => desk
                    .till
                    .mark_pickup_line_missing(&session, order_id, line_no, reason)?,
                None => desk.till.pick_pickup_line(&session, order_id, line_no)?,
            };
            desk.pick_counts.remove(&(order_id.to_owned(), line_no));
            card(desk, order)
        }))?;
        self.cloud.wake_sync();
        Ok(card)
    }

    /// Marks a picked line of a cancelled or expired order back on the shelf.
    pub fn put_back_pickup_line(&self, order_id: &str, line_no: i64) -> Reply<PickupCard> {
        let card = pickup_step(self.with_desk(|desk| {
            let session = desk.session()?;
            let order = desk
                .till
                .put_back_pickup_line(&session, order_id, line_no)?;
            card(desk, order)
        }))?;
        self.cloud.wake_sync();
        Ok(card)
    }

    /// Marks an order ready: the customer is told once the till syncs.
    pub fn mark_pickup_ready(&self, order_id: &str) -> Reply<PickupCard> {
        let card = pickup_step(self.with_desk(|desk| {
            let session = desk.session()?;
            let order = desk.till.mark_pickup_ready(&session, order_id)?;
            card(desk, order)
        }))?;
        self.cloud.wake_sync();
        Ok(card)
    }

    /// Hands over an order paid online, verified as `verified`.
    pub fn hand_over_pickup(&self, order_id: &str, verified: Verified) -> Reply<PickupCard> {
        let card = pickup_step(self.with_desk(|desk| {
            let session = desk.session()?;
            let order = desk
                .till
                .hand_over_pickup(&session, order_id, verified, None)?;
            card(desk, order)
        }))?;
        self.cloud.wake_sync();
        Ok(card)
    }

    /// Puts a pay-at-pickup order in an empty cart, at the order's prices, with its member:
    /// the sale completed at checkout hands the order over (`complete_sale`).
    pub fn pickup_checkout(&self, order_id: &str, verified: Verified) -> Reply<CartView> {
        pickup_step(self.edit_cart(|desk| {
            let order = desk.till.pickup_order(order_id)?;
            if omnitill_protocol::pickup::is_final(&order.status) {
                return Err(ApiError::bad_input(format!(
                    "this order is {} already: nothing is charged",
                    order.status.replace('_', " ")
                )));
            }
            if order.payment != "pay_at_pickup" {
                return Err(ApiError::bad_input(
                    "this order was paid online: hand it over without checkout",
                ));
            }
            if !desk.cart.is_empty() {
                return Err(ApiError::bad_input(
                    "finish or clear the sale in progress before taking a pickup's payment",
                ));
            }
            let mut cart = omnitill_core::Cart::new();
            for (sku, quantity, total_minor) in pickups::chargeable_lines(&order) {
                let item = desk.till.item_by_sku(&sku)?;
                let gross = item.unit_price_minor.checked_mul(quantity).ok_or_else(|| {
                    ApiError::bad_input("the order's line is too large for one sale")
                })?;
                let line_id = cart.add_item(item, quantity)?;
                // The e-shop's price stands: a lower one is a discount on the till's price.
                if total_minor < gross {
                    cart.set_line_discount(
                        line_id,
                        Some(Discount::Amount {
                            minor: gross - total_minor,
                        }),
                    )?;
                }
            }
            if cart.is_empty() {
                return Err(ApiError::bad_input(
                    "nothing of this order is picked yet: pick it first",
                ));
            }
            if let Some(member_id) = &order.member_id {
                // A member the till has not cached pays as a guest; the cloud credits the order.
                let _ = desk.till.attach_member(&mut cart, member_id);
            }
            let sale_id = desk.till.clock().new_id().to_string();
            cart.fix_sale_id(|| sale_id);
            desk.cart = cart;
            desk.pickup_payment = Some(PickupPayment {
                order_id: order.id,
                verified,
            });
            Ok(())
        }))
    }
}

/// Hands over the pickup order whose payment the sale `sale_id` just took.
pub(crate) fn hand_over_paid(desk: &mut Desk, sale_id: &str) -> Reply<()> {
    let Some(payment) = desk.pickup_payment.take() else {
        return Ok(());
    };
    let session = desk.session()?;
    desk.till
        .hand_over_pickup(&session, &payment.order_id, payment.verified, Some(sale_id))
        .map_err(|e| {
            ApiError::new(
                code_of(&e),
                format!("the sale is recorded, but the order was not handed over: {e}"),
            )
        })?;
    Ok(())
}

/// A refusal of a pickup step in words the store understands: what the order does not allow
/// is `pickup_refused`, not a malformed request.
fn pickup_step<T>(result: Reply<T>) -> Reply<T> {
    result.map_err(|error| match error.code {
        ErrorCode::BadInput => ApiError::new(ErrorCode::PickupRefused, error.message),
        _ => error,
    })
}

fn card(desk: &Desk, order: PickupOrder) -> Reply<PickupCard> {
    let now_ms = desk.till.clock().now().timestamp_millis();
    let mut lines = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        let (name, barcode) = desk
            .till
            .product_label(&line.sku)?
            .unwrap_or_else(|| (line.sku.clone(), None));
        let substitute_name = match &line.substitute_sku {
            Some(sku) => Some(
                desk.till
                    .product_label(sku)?
                    .map_or_else(|| sku.clone(), |(name, _)| name),
            ),
            None => None,
        };
        let scanned = match line.state.as_str() {
            "to_pick" => desk
                .pick_counts
                .get(&(order.id.clone(), line.line_no))
                .copied()
                .unwrap_or(0),
            "picked" => line.quantity,
            _ => 0,
        };
        lines.push(PickupLineView {
            line_no: line.line_no,
            name,
            barcode,
            substitute_name,
            scanned,
        });
    }
    let member_name = match &order.member_id {
        Some(id) => desk.till.member(id).ok().map(|member| member.name),
        None => None,
    };
    let ended_unpaid = matches!(order.status.as_str(), "cancelled" | "expired");
    let to_put_back = if ended_unpaid {
        order
            .lines
            .iter()
            .filter(|l| l.state == "picked")
            .map(|l| l.quantity)
            .fold(0_i64, i64::saturating_add)
    } else {
        0
    };
    Ok(PickupCard {
        tab: tab_of(&order.status).to_owned(),
        late: pickups::is_late(&order, now_ms),
        member_name,
        to_put_back,
        order,
        lines,
    })
}

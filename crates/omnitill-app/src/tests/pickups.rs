//! Click-and-collect through the use cases, with the link down: the queue, the order a
//! customer names by its code, picking, ready and handover, each waking the sync, and what is
//! refused.

use omnitill_core::pickups::actions::Verified;
use omnitill_protocol::pickup::{PickupLine, PickupOrder};
use omnitill_protocol::pull::{Change, FeedEntry, PullResponse};

use crate::ErrorCode;

use super::Counter;
use super::fake_cloud::Mode;

fn order(id: &str, code: &str, payment: &str) -> PickupOrder {
    let line = |line_no| PickupLine {
        line_no,
        sku: if line_no == 1 {
            "TEA-DDO-75g"
        } else {
            "TEA-ALS-75g"
        }
        .into(),
        quantity: line_no,
        total_minor: 48_000,
        state: "to_pick".into(),
        missing_reason: None,
        resolution: None,
        substitute_sku: None,
    };
    PickupOrder {
        id: id.into(),
        order_ref: format!("WEB-{id}"),
        store_id: "store-1".into(),
        code: code.into(),
        status: "new".into(),
        payment: payment.into(),
        member_id: None,
        guest_name: Some("Guest".into()),
        contact_masked: None,
        currency: "TWD".into(),
        total_minor: 96_000,
        promised_at_ms: 0,
        expires_at_ms: i64::MAX / 2,
        created_at_ms: 0,
        updated_at_ms: 0,
        review: None,
        lines: vec![line(1), line(2)],
    }
}

async fn with_orders() -> Counter {
    let counter = Counter::with_cashier().await;
    let page = PullResponse {
        entries: vec![
            FeedEntry {
                cursor: 10,
                change: Change::Pickup(order("o-1", "ACD34F", "paid_online")),
            },
            FeedEntry {
                cursor: 11,
                change: Change::Pickup(order("o-2", "HJK679", "pay_at_pickup")),
            },
        ],
        cursor: 11,
        has_more: false,
        reset: false,
        last_applied_seq: 0,
        remaining: 0,
        allowance: None,
    };
    counter
        .app
        .with_desk(|desk| {
            let now = desk.till.clock().now();
            desk.till.apply_pull(&page, now)?;
            Ok(())
        })
        .expect("the orders arrive with a pull");
    counter
}

#[tokio::test]
async fn an_order_is_picked_made_ready_and_handed_over_offline_and_each_step_wakes_the_sync() {
    let counter = with_orders().await;
    counter.cloud().set_mode(Mode::Offline);
    let queue = counter.app.pickup_queue("new").expect("the queue");
    assert_eq!(queue.orders.len(), 2, "the store's orders are on the till");
    let found = counter
        .app
        .find_pickup(" acd-34f ")
        .expect("the code finds it");
    assert_eq!(
        (found.card.order.id.as_str(), found.verified),
        ("o-1", Verified::Code)
    );
    let woken = counter.cloud().wakes();
    counter
        .app
        .mark_pickup_line("o-1", 1, None)
        .expect("picked");
    counter
        .app
        .mark_pickup_line("o-1", 2, Some("broken seal"))
        .expect("missing");
    counter.app.mark_pickup_ready("o-1").expect("ready");
    let handed = counter
        .app
        .hand_over_pickup("o-1", found.verified)
        .expect("handed over offline");
    assert_eq!(handed.order.status, "partially_collected");
    assert_eq!(
        counter.cloud().wakes(),
        woken + 4,
        "every step tells the sync"
    );
    let again = counter
        .app
        .find_pickup("ACD34F")
        .expect_err("collected already");
    assert_eq!(
        again.code,
        ErrorCode::PickupRefused,
        "a step the order does not allow has its own code"
    );
    assert!(
        again.message.contains("collected already"),
        "{}",
        again.message
    );
    let unpaid = counter
        .app
        .hand_over_pickup("o-2", Verified::Code)
        .expect_err("a pay-at-pickup order needs its sale");
    assert!(
        unpaid.message.contains("paid at pickup"),
        "{}",
        unpaid.message
    );
    let unknown = counter.app.find_pickup("XYW347").expect_err("never seen");
    assert_eq!(unknown.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn a_locked_till_shows_no_queue() {
    let counter = with_orders().await;
    counter.app.lock().expect("locked");
    let refused = counter
        .app
        .pickup_queue("new")
        .expect_err("nobody is logged in");
    assert_eq!(refused.code, ErrorCode::NotLoggedIn);
}

#[tokio::test]
async fn the_status_counts_the_orders_waiting_to_be_started() {
    let counter = with_orders().await;
    assert_eq!(counter.app.status().expect("status").pickups_waiting, 2);
    counter
        .app
        .mark_pickup_line("o-1", 1, None)
        .expect("picked");
    assert_eq!(
        counter.app.status().expect("status").pickups_waiting,
        1,
        "an order the store started no longer waits, offline too"
    );
}

#[tokio::test]
async fn scanning_counts_each_unit_and_refuses_a_product_not_on_the_order() {
    let counter = with_orders().await;
    let alishan = omnitill_core::demo::demo_barcode(4);
    let card = counter
        .app
        .scan_for_pickup("o-1", &alishan)
        .expect("one of two Alishan scanned");
    assert_eq!(
        (card.lines[1].scanned, card.order.lines[1].state.as_str()),
        (1, "to_pick"),
        "a line of two is not picked after one unit"
    );
    let card = counter
        .app
        .scan_for_pickup("o-1", &alishan)
        .expect("the second Alishan scanned");
    assert_eq!(
        (card.lines[1].scanned, card.order.lines[1].state.as_str()),
        (2, "picked"),
        "the last unit picks the line"
    );
    let extra = counter
        .app
        .scan_for_pickup("o-1", &alishan)
        .expect_err("a third is one too many");
    assert!(extra.message.contains("is picked"), "{}", extra.message);
    let wrong = counter
        .app
        .scan_for_pickup("o-1", &omnitill_core::demo::demo_barcode(10))
        .expect_err("Sun Moon Lake is not on the order");
    assert!(
        wrong.message.contains("not on this order"),
        "{}",
        wrong.message
    );
    assert_eq!(
        counter
            .app
            .pickup_order("o-1")
            .expect("the order")
            .order
            .lines[0]
            .state,
        "to_pick",
        "a wrong scan changes nothing"
    );
}

#[tokio::test]
async fn a_pay_at_pickup_order_is_charged_its_picked_lines_at_the_order_price_and_handed_over_by_the_sale()
 {
    let counter = with_orders().await;
    counter
        .app
        .mark_pickup_line("o-2", 1, None)
        .expect("picked");
    counter
        .app
        .mark_pickup_line("o-2", 2, Some("none left"))
        .expect("missing, refunded by the cloud's rule");
    counter.app.mark_pickup_ready("o-2").expect("ready");
    let cart = counter
        .app
        .pickup_checkout("o-2", Verified::Code)
        .expect("the order goes into the cart");
    assert_eq!(cart.lines.len(), 1, "the missing line is not charged");
    assert_eq!(
        cart.total_minor, 48_000,
        "the picked line at the order's price"
    );
    counter
        .app
        .add_tender("cash", 50_000, None)
        .expect("paid in cash");
    counter.app.complete_sale().expect("the sale completes");
    let order = counter.app.pickup_order("o-2").expect("the order");
    assert_eq!(
        order.order.status, "partially_collected",
        "the sale that took the payment hands the order over"
    );
    let again = counter
        .app
        .pickup_checkout("o-2", Verified::Code)
        .expect_err("a collected order is not charged twice");
    assert_eq!(again.code, ErrorCode::PickupRefused, "{}", again.message);
}

#[tokio::test]
async fn each_tab_counts_its_orders_and_sends_the_most_urgent_first() {
    let counter = with_orders().await;
    counter
        .app
        .mark_pickup_line("o-2", 1, None)
        .expect("o-2 is being picked");
    let new = counter.app.pickup_queue("new").expect("the new tab");
    let counts: Vec<(String, i64)> = new
        .counts
        .iter()
        .map(|c| (c.tab.clone(), c.count))
        .collect();
    assert_eq!(
        counts[..3],
        [
            ("new".into(), 1),
            ("picking".into(), 1),
            ("ready".into(), 0)
        ],
        "every tab's count comes with any tab, as this till shows the orders"
    );
    assert_eq!(new.orders.len(), 1);
    assert_eq!(new.more, 0, "nothing is held back below the page size");
    let picking = counter
        .app
        .pickup_queue("picking")
        .expect("the picking tab");
    assert_eq!(picking.orders[0].order.id, "o-2");
    let refused = counter
        .app
        .pickup_queue("archive")
        .expect_err("no such tab");
    assert_eq!(refused.code, ErrorCode::BadInput);
}

#[test]
fn an_order_shows_under_its_tab_and_an_unknown_status_under_new() {
    use crate::pickups::tab_of;
    assert_eq!(tab_of("partially_collected"), "collected");
    assert_eq!(tab_of("ready"), "ready");
    assert_eq!(
        tab_of("on_hold_v9"),
        "new",
        "a newer cloud's status is not hidden"
    );
}

//! Click-and-collect through a real cloud process, on SQLite and PostgreSQL, with the store's
//! operations pushed as a till pushes them and a webhook receiver on loopback:
//! - an order placed by the e-shop API reserves its stock; a line picked, a line missing, the
//!   order ready (one signed `pickup.ready`), handed over: partially collected, the picked
//!   line's stock taken once, the missing line's released and not charged, the member's points
//!   earned once for what they took, and one signed `pickup.partially_collected`;
//! - an order the e-shop cancelled while the store handed it over offline: the handover
//!   stands, the stock is taken once, and the refund is flagged for review;
//! - another store's order, and a made-up one, are refused with a reason and change nothing;
//! - a cashier's sale of reserved units goes through and flags the order short;
//! - the round trip with a real till (its ledger, outbox and sync engine, without the window):
//!   in the queue after a pull, picked and ready, handed over by QR with the link down, and
//!   once it is back collected at the cloud, stock taken once, points once, one event; beside
//!   it, an order handed over by its code while the fault proxy cuts the link and the e-shop
//!   cancels it: the handover stands, the refund is flagged, its stock is taken once, and the
//!   e-shop hears of the cancellation and then of the collection.

use std::time::Duration;

use serde_json::{Value, json};

use crate::hostile_push::Pusher;
use crate::support::cloud::{Backend, CloudProcess};
use crate::support::members::EShop;
use crate::support::tills::{SyncedTill, runtime};
use crate::support::webhook_receiver::{Received, WebhookReceiver};

const PICKED: &str = "TEA-DDO-75g";
const MISSING: &str = "TEA-ALS-150g";

/// The e-shop's view of a store's stock of `sku`: (on hand, reserved).
fn stock(eshop: &EShop, store: &str, sku: &str) -> (i64, i64) {
    let (status, levels) = eshop.call(
        reqwest::Method::GET,
        &format!("/v1/stores/{store}/stock?sku={sku}"),
        None,
    );
    assert_eq!(status, 200, "the stock reads: {levels}");
    let level = &levels[0];
    (
        level["on_hand"].as_i64().unwrap_or(0),
        level["reserved"].as_i64().unwrap_or(0),
    )
}

fn place(eshop: &EShop, order_ref: &str, store: &str, member: Option<&str>) -> Value {
    let (status, placed) = eshop.call(
        reqwest::Method::POST,
        "/v1/pickups",
        Some(json!({
            "order_ref": order_ref, "store": store, "payment": "paid_online",
            "member_id": member, "guest_name": "Guest", "currency": "TWD",
            "promised_at_ms": now_ms() + 3_600_000,
            "lines": [
                { "sku": PICKED, "quantity": 2, "total_minor": 96_000 },
                { "sku": MISSING, "quantity": 1, "total_minor": 74_000 }
            ]
        })),
    );
    assert_eq!(status, 201, "the order is placed: {placed}");
    placed
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn op(op_type: &str, payload: Value) -> (String, String, Value) {
    (
        uuid::Uuid::now_v7().to_string(),
        op_type.to_owned(),
        payload,
    )
}

fn line(
    order_id: &str,
    line_no: i64,
    state: &str,
    reason: Option<&str>,
) -> (String, String, Value) {
    op(
        "pickup.line.v1",
        json!({ "order_id": order_id, "line_no": line_no, "state": state, "reason": reason,
                "staff_id": "staff-1", "at_ms": now_ms() }),
    )
}

fn handover(order_id: &str) -> (String, String, Value) {
    op(
        "pickup.handed_over.v1",
        json!({ "order_id": order_id, "staff_id": "staff-1", "at_ms": now_ms(),
                "verified_by": "qr", "sale_id": null }),
    )
}

fn order(eshop: &EShop, order_ref: &str) -> Value {
    let (status, view) = eshop.call(
        reqwest::Method::GET,
        &format!("/v1/pickups/{order_ref}"),
        None,
    );
    assert_eq!(status, 200, "the order reads: {view}");
    view
}

/// Whether a webhook's signature is HMAC-SHA-256 of its body under `secret`.
fn signed_by(received: &Received, secret: &str) -> bool {
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &hex::decode(secret).expect("the secret is hex"),
    );
    received.signature
        == format!(
            "sha256={}",
            hex::encode(ring::hmac::sign(&key, &received.body).as_ref())
        )
}

fn events_of<'a>(all: &'a [Received], event_type: &str) -> Vec<&'a Received> {
    all.iter().filter(|r| r.event_type == event_type).collect()
}

fn scenario(backend: Backend) {
    let runtime = runtime();
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let receiver = WebhookReceiver::start(0);
    let (status, endpoint) = eshop.call(
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({ "url": receiver.url })),
    );
    assert_eq!(status, 201, "the e-shop registers its endpoint: {endpoint}");
    let secret = endpoint["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    let till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false);
    let mut pusher = Pusher::of(&till);
    let member = eshop.sign_up("0933-444-555", "取貨 Pickup")["id"]
        .as_str()
        .expect("a member id")
        .to_owned();
    let (on_hand_before, _) = stock(&eshop, "TPE-XINYI", PICKED);
    let (missing_before, _) = stock(&eshop, "TPE-XINYI", MISSING);

    // Placed, picked (one line missing), ready, handed over.
    let placed = place(&eshop, "WEB-PU-1", "TPE-XINYI", Some(&member));
    let id = placed["order"]["id"]
        .as_str()
        .expect("the order id")
        .to_owned();
    assert_eq!(
        stock(&eshop, "TPE-XINYI", PICKED),
        (on_hand_before, 2),
        "reserved, not taken"
    );
    let outcomes = pusher.push(
        &cloud,
        &[
            line(&id, 1, "picked", None),
            line(&id, 2, "missing", Some("damaged box")),
            op(
                "pickup.ready.v1",
                json!({ "order_id": id, "staff_id": "staff-1", "at_ms": now_ms() }),
            ),
        ],
    );
    assert!(outcomes.iter().all(|(s, _)| s == "applied"), "{outcomes:?}");
    let ready = order(&eshop, "WEB-PU-1");
    assert_eq!(ready["order"]["status"], "ready");
    assert_eq!(ready["order"]["lines"][1]["state"], "missing");
    assert_eq!(
        ready["order"]["lines"][1]["resolution"], "refund",
        "the cloud decides the missing line"
    );
    assert_eq!(
        stock(&eshop, "TPE-XINYI", MISSING),
        (missing_before, 0),
        "the missing line's stock is free"
    );
    let all = receiver.wait_for(Duration::from_secs(20), |r| {
        !events_of(r, "pickup.ready").is_empty()
    });
    let ready_events = events_of(&all, "pickup.ready");
    assert_eq!(ready_events.len(), 1, "one ready event: {all:?}");
    assert!(
        signed_by(ready_events[0], &secret),
        "signed with the endpoint's secret"
    );

    let outcomes = pusher.push(&cloud, &[handover(&id)]);
    assert_eq!(outcomes[0].0, "applied", "{outcomes:?}");
    let collected = order(&eshop, "WEB-PU-1");
    assert_eq!(collected["order"]["status"], "partially_collected");
    assert_eq!(
        stock(&eshop, "TPE-XINYI", PICKED),
        (on_hand_before - 2, 0),
        "the picked units left the store once, and nothing is reserved"
    );
    assert_eq!(
        stock(&eshop, "TPE-XINYI", MISSING),
        (missing_before, 0),
        "the missing unit stayed"
    );
    let earned: Vec<Value> = eshop
        .entries(&member)
        .into_iter()
        .filter(|e| e["kind"] == "earn")
        .collect();
    assert_eq!(earned.len(), 1, "the order earned points once: {earned:?}");
    let again = pusher.push(&cloud, &[handover(&id)]);
    assert_eq!(
        again[0].0, "applied",
        "a second handover is recorded, not refused"
    );
    assert_eq!(
        order(&eshop, "WEB-PU-1")["order"]["review"],
        "handed_over_twice"
    );
    assert_eq!(
        eshop
            .entries(&member)
            .iter()
            .filter(|e| e["kind"] == "earn")
            .count(),
        1,
        "and earns nothing more"
    );
    assert_eq!(
        stock(&eshop, "TPE-XINYI", PICKED).0,
        on_hand_before - 2,
        "nor takes stock again"
    );
    let all = receiver.wait_for(Duration::from_secs(20), |r| {
        !events_of(r, "pickup.partially_collected").is_empty()
    });
    let collected_events = events_of(&all, "pickup.partially_collected");
    assert_eq!(collected_events.len(), 1, "one collected event: {all:?}");
    let body: Value = serde_json::from_slice(&collected_events[0].body).expect("JSON");
    assert_eq!(body["data"]["status"], "partially_collected");
    let mut ids: Vec<&str> = all.iter().map(|r| r.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "every event carries its own id");

    // Cancelled by the e-shop while the store handed it over offline: the handover stands.
    let placed = place(&eshop, "WEB-PU-2", "TPE-XINYI", None);
    let id = placed["order"]["id"]
        .as_str()
        .expect("the order id")
        .to_owned();
    let (status, cancelled) = eshop.call(
        reqwest::Method::POST,
        "/v1/pickups/WEB-PU-2/cancel",
        Some(json!({ "reason": "changed mind" })),
    );
    assert_eq!(status, 200, "{cancelled}");
    let before = stock(&eshop, "TPE-XINYI", PICKED);
    assert_eq!(before.1, 0, "the cancellation released the stock");
    let outcomes = pusher.push(&cloud, &[handover(&id)]);
    assert_eq!(outcomes[0].0, "applied", "{outcomes:?}");
    let late = order(&eshop, "WEB-PU-2");
    assert_eq!(late["order"]["status"], "collected", "the handover stands");
    assert_eq!(
        late["order"]["review"], "refund_after_handover",
        "the refund is flagged"
    );
    assert_eq!(
        stock(&eshop, "TPE-XINYI", PICKED),
        (before.0 - 2, 0),
        "taken once"
    );

    // Another store's order, and a made-up one.
    let elsewhere = place(&eshop, "WEB-PU-3", "TPE-DAAN", None);
    let other_id = elsewhere["order"]["id"].as_str().expect("an id").to_owned();
    let refused = pusher.push(&cloud, &[handover(&other_id), handover("no-such-order")]);
    assert_eq!(refused[0].0, "rejected");
    assert!(refused[0].1.contains("another store"), "{refused:?}");
    assert_eq!(refused[1].0, "rejected");
    assert_eq!(
        order(&eshop, "WEB-PU-3")["order"]["status"],
        "new",
        "nothing changed"
    );
}

#[test]
fn a_pickup_order_goes_from_the_eshop_through_the_store_and_back_on_sqlite() {
    scenario(Backend::Sqlite);
}

#[test]
fn a_pickup_order_goes_from_the_eshop_through_the_store_and_back_on_postgresql() {
    scenario(Backend::Postgres);
}

/// A cashier sells reserved units: the sale goes through, and the order is flagged short.
fn selling_reserved_stock(backend: Backend) {
    let runtime = runtime();
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", false);
    let (on_hand, _) = stock(&eshop, "TPE-XINYI", PICKED);
    let (status, placed) = eshop.call(
        reqwest::Method::POST,
        "/v1/pickups",
        Some(json!({
            "order_ref": "WEB-SHORT", "store": "TPE-XINYI", "payment": "pay_at_pickup",
            "guest_name": "Guest", "currency": "TWD", "promised_at_ms": now_ms() + 3_600_000,
            "lines": [{ "sku": PICKED, "quantity": on_hand, "total_minor": 48_000 * on_hand }]
        })),
    );
    assert_eq!(status, 201, "an order takes every unit on hand: {placed}");
    assert_eq!(order(&eshop, "WEB-SHORT")["order"]["review"], Value::Null);

    let cashier = till.temp.cashier();
    let mut cart = till.temp.cart_of(&[1]);
    let rules = till.temp.till.pricing_rules().expect("rules");
    let due = cart.totals(rules).cash_due_minor;
    cart.add_tender(rules, omnitill_core::TenderKind::Cash, due, None)
        .expect("cash");
    till.temp
        .till
        .complete_sale(&cashier, &cart)
        .expect("a sale never waits for a pickup");
    till.sync(&runtime).expect("the sale reaches the cloud");
    assert_eq!(
        stock(&eshop, "TPE-XINYI", PICKED),
        (on_hand - 1, on_hand),
        "the sale took a reserved unit"
    );
    assert_eq!(
        order(&eshop, "WEB-SHORT")["order"]["review"],
        "short",
        "the order is flagged short before anyone walks to the shelf"
    );
}

#[test]
fn selling_reserved_stock_flags_the_pickup_order_short_on_sqlite() {
    selling_reserved_stock(Backend::Sqlite);
}

#[test]
fn selling_reserved_stock_flags_the_pickup_order_short_on_postgresql() {
    selling_reserved_stock(Backend::Postgres);
}

/// The round trip with a real till: placed in the e-shop, in the store's queue after
/// a sync, picked and ready (one signed ready event), handed over by QR with the link down,
/// and once the link is back: collected at the cloud, the reservation taken once, the points
/// earned once, one collected event.
fn end_to_end(backend: Backend) {
    use crate::support::proxy::Fault;
    use omnitill_core::pickups::actions::Verified;

    let runtime = runtime();
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let receiver = WebhookReceiver::start(0);
    let (status, endpoint) = eshop.call(
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({ "url": receiver.url })),
    );
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().expect("the secret").to_owned();
    let mut till = SyncedTill::enrol(&runtime, &cloud, "TPE-XINYI", true);
    let member = eshop.sign_up("0955-666-777", "到店取貨 Collect")["id"]
        .as_str()
        .expect("a member id")
        .to_owned();
    let (on_hand_before, _) = stock(&eshop, "TPE-XINYI", PICKED);
    let (status, placed) = eshop.call(
        reqwest::Method::POST,
        "/v1/pickups",
        Some(json!({
            "order_ref": "WEB-E2E-1", "store": "TPE-XINYI", "payment": "paid_online",
            "member_id": member, "currency": "TWD", "promised_at_ms": now_ms() + 3_600_000,
            "lines": [{ "sku": PICKED, "quantity": 2, "total_minor": 96_000 }]
        })),
    );
    assert_eq!(status, 201, "{placed}");
    let order_id = placed["order"]["id"].as_str().expect("an id").to_owned();
    let qr = placed["qr_token"].as_str().expect("a QR token").to_owned();
    // A second order, which the e-shop will cancel while the store hands it over offline.
    let (status, second) = eshop.call(
        reqwest::Method::POST,
        "/v1/pickups",
        Some(json!({
            "order_ref": "WEB-E2E-2", "store": "TPE-XINYI", "payment": "paid_online",
            "guest_name": "Guest", "currency": "TWD", "promised_at_ms": now_ms() + 3_600_000,
            "lines": [{ "sku": PICKED, "quantity": 1, "total_minor": 48_000 }]
        })),
    );
    assert_eq!(status, 201, "{second}");
    let second_id = second["order"]["id"].as_str().expect("an id").to_owned();
    let second_code = second["order"]["code"].as_str().expect("a code").to_owned();

    till.sync(&runtime).expect("the till syncs");
    let queue = till.temp.till.pickup_orders().expect("the queue");
    assert!(
        queue.iter().any(|o| o.id == order_id && o.status == "new"),
        "the new order is in the store's queue after the pull: {queue:?}"
    );
    let clerk = till.temp.cashier();
    till.temp
        .till
        .pick_pickup_line(&clerk, &order_id, 1)
        .expect("picked");
    till.temp
        .till
        .mark_pickup_ready(&clerk, &order_id)
        .expect("ready");
    till.temp
        .till
        .pick_pickup_line(&clerk, &second_id, 1)
        .expect("the second is picked");
    till.temp
        .till
        .mark_pickup_ready(&clerk, &second_id)
        .expect("the second is ready");
    till.sync(&runtime).expect("the till syncs");
    let all = receiver.wait_for(Duration::from_secs(20), |r| {
        events_of(r, "pickup.ready").len() >= 2
    });
    let ready = events_of(&all, "pickup.ready");
    assert_eq!(ready.len(), 2, "one ready event per order: {all:?}");
    assert!(signed_by(ready[0], &secret));

    till.proxy().set(Fault::Refuse);
    let (found, verified) = till
        .temp
        .till
        .find_pickup(&qr)
        .expect("the QR verifies offline");
    assert_eq!(
        (found.id.as_str(), verified),
        (order_id.as_str(), Verified::Qr)
    );
    till.temp
        .till
        .hand_over_pickup(&clerk, &order_id, verified, None)
        .expect("handed over offline");
    // The second customer says their code at the counter while, unknown to the store, the
    // e-shop cancels the order.
    let (found, verified) = till
        .temp
        .till
        .find_pickup(&second_code)
        .expect("the code verifies offline");
    till.temp
        .till
        .hand_over_pickup(&clerk, &found.id, verified, None)
        .expect("the second is handed over offline");
    let (status, cancelled) = eshop.call(
        reqwest::Method::POST,
        "/v1/pickups/WEB-E2E-2/cancel",
        Some(json!({ "reason": "customer asked" })),
    );
    assert_eq!(status, 200, "the e-shop cancels: {cancelled}");
    assert!(till.sync(&runtime).is_err(), "the link is down");
    assert_eq!(
        order(&eshop, "WEB-E2E-1")["order"]["status"],
        "ready",
        "the cloud has not heard"
    );

    till.proxy().pass();
    // The proxy listens again within milliseconds; a round that starts sooner is refused.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while till.sync(&runtime).is_err() || till.pending() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the till syncs once the link is back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(order(&eshop, "WEB-E2E-1")["order"]["status"], "collected");
    let second = order(&eshop, "WEB-E2E-2");
    assert_eq!(
        (&second["order"]["status"], &second["order"]["review"]),
        (&json!("collected"), &json!("refund_after_handover")),
        "the handover made offline stands over the cancellation, and the refund is flagged: {second}"
    );
    assert_eq!(
        stock(&eshop, "TPE-XINYI", PICKED),
        (on_hand_before - 3, 0),
        "each reservation was taken or released once: the cancelled order's units left with its customer"
    );
    assert_eq!(
        eshop
            .entries(&member)
            .iter()
            .filter(|e| e["kind"] == "earn")
            .count(),
        1,
        "points were earned once"
    );
    // Every event owed: a delivery that failed once waits for its retry.
    let all = receiver.wait_for(Duration::from_secs(30), |r| {
        events_of(r, "pickup.collected").len() >= 2 && !events_of(r, "pickup.cancelled").is_empty()
    });
    let of_order = |order_ref: &str| -> Vec<String> {
        let mut kinds: Vec<String> = all
            .iter()
            .filter(|r| {
                serde_json::from_slice::<Value>(&r.body)
                    .is_ok_and(|body| body["data"]["order_ref"] == order_ref)
            })
            .map(|r| r.event_type.clone())
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(
        of_order("WEB-E2E-1"),
        ["pickup.collected", "pickup.ready"],
        "one ready and one collected event for the first order"
    );
    assert_eq!(
        of_order("WEB-E2E-2"),
        ["pickup.cancelled", "pickup.collected", "pickup.ready"],
        "the e-shop hears of the cancellation, then of the handover that overtook it"
    );
    assert!(
        all.iter().all(|r| signed_by(r, &secret)),
        "every event is signed"
    );
    let shown = till.temp.till.pickup_orders().expect("the queue");
    assert!(
        shown
            .iter()
            .any(|o| o.id == order_id && o.status == "collected"),
        "the till shows it collected"
    );
}

#[test]
fn a_pickup_order_is_placed_picked_and_handed_over_offline_with_a_real_till_on_sqlite() {
    end_to_end(Backend::Sqlite);
}

#[test]
fn a_pickup_order_is_placed_picked_and_handed_over_offline_with_a_real_till_on_postgresql() {
    end_to_end(Backend::Postgres);
}

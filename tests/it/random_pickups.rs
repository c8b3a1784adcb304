//! Seeded random schedules of click-and-collect through a real cloud process and a real till
//! behind a fault proxy (20 schedules on SQLite, 5 on PostgreSQL): orders placed and cancelled
//! by the e-shop, lines picked or missing, orders made ready and handed over at the till, sales
//! of reserved stock, syncs, and outages. In the end every open order is cancelled, and:
//! - each order ends in exactly one final state, and stays there;
//! - nothing stays reserved, and each reservation was taken or released once: on hand at the
//!   cloud equals its first level less the till's sales and the units handed over;
//! - every event the e-shop was owed arrived, at least once, each with its own id (the
//!   receiver fails its first requests, so deliveries are retried).
//!
//! Expiry runs on the hourly job's clock and is tested with a controlled clock in
//! `crates/omnitill-cloud/tests/pickups.rs`. Replay a failing schedule with
//! `OMNITILL_PICKUP_SEED=<seed printed by the test>`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use omnitill_core::pickups::actions::Verified;
use omnitill_core::{Cart, TenderKind, demo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::members::EShop;
use crate::support::proxy::Fault;
use crate::support::tills::{SyncedTill, runtime};
use crate::support::webhook_receiver::WebhookReceiver;

const SEED_VAR: &str = "OMNITILL_PICKUP_SEED";
const STORE: &str = "TPE-XINYI";
/// Demo products of the schedules: within the first 40, which the demo's own pickup orders
/// leave alone.
const PRODUCTS: std::ops::RangeInclusive<u64> = 30..=35;
const STEPS: usize = 30;

fn level(eshop: &EShop, sku: &str) -> (i64, i64) {
    let (status, levels) = eshop.call(
        reqwest::Method::GET,
        &format!("/v1/stores/{STORE}/stock?sku={sku}"),
        None,
    );
    assert_eq!(status, 200, "{levels}");
    (
        levels[0]["on_hand"].as_i64().unwrap_or(0),
        levels[0]["reserved"].as_i64().unwrap_or(0),
    )
}

fn read(eshop: &EShop, order_ref: &str) -> Value {
    let (status, view) = eshop.call(
        reqwest::Method::GET,
        &format!("/v1/pickups/{order_ref}"),
        None,
    );
    assert_eq!(status, 200, "{view}");
    view
}

fn final_status(status: &str) -> bool {
    matches!(
        status,
        "collected" | "partially_collected" | "expired" | "cancelled"
    )
}

fn schedule(backend: Backend, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let why = format!("{backend:?} seed {seed} (replay with {SEED_VAR}={seed})");
    let runtime = runtime();
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let receiver = WebhookReceiver::start(3);
    let (status, _) = eshop.call(
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({ "url": receiver.url })),
    );
    assert_eq!(status, 201);
    let mut till = SyncedTill::enrol(&runtime, &cloud, STORE, true);
    let clerk = till.temp.cashier();
    let skus: Vec<String> = PRODUCTS
        .map(|n| {
            till.temp
                .till
                .scan(&demo::demo_barcode(n))
                .expect("a demo product")
                .sku
        })
        .collect();
    let first: BTreeMap<String, i64> = skus
        .iter()
        .map(|s| (s.clone(), level(&eshop, s).0))
        .collect();
    let mut sold: BTreeMap<String, i64> = BTreeMap::new();
    let mut orders: Vec<String> = Vec::new();
    let mut offline = false;

    for step in 0..STEPS {
        match rng.random_range(0..10) {
            0..=2 => {
                let order_ref = format!("R{seed}-{step}");
                let lines: Vec<Value> = (0..rng.random_range(1..=2))
                    .map(|k| {
                        json!({ "sku": skus[(step + k * 3) % skus.len()],
                                "quantity": rng.random_range(1..=3), "total_minor": 10_000 })
                    })
                    .collect();
                let (status, placed) = eshop.call(
                    reqwest::Method::POST,
                    "/v1/pickups",
                    Some(json!({
                        "order_ref": order_ref, "store": STORE, "payment": "paid_online",
                        "guest_name": "Guest", "currency": "TWD",
                        "promised_at_ms": chrono::Utc::now().timestamp_millis() + 3_600_000,
                        "lines": lines
                    })),
                );
                assert_eq!(status, 201, "{why}: placed: {placed}");
                orders.push(order_ref);
            }
            3 => {
                if let Some(order_ref) = pick(&mut rng, &orders) {
                    let (status, body) = eshop.call(
                        reqwest::Method::POST,
                        &format!("/v1/pickups/{order_ref}/cancel"),
                        Some(json!({})),
                    );
                    assert!(
                        status == 200 || status == 409,
                        "{why}: cancel: {status} {body}"
                    );
                }
            }
            4..=6 => {
                // The store works on an order it has: picks, a missing line, ready, handover.
                let queue = till.temp.till.pickup_orders().expect("the queue");
                let open: Vec<_> = queue.iter().filter(|o| !final_status(&o.status)).collect();
                if open.is_empty() {
                    continue;
                }
                let order = open[rng.random_range(0..open.len())].clone();
                let to_pick: Vec<i64> = order
                    .lines
                    .iter()
                    .filter(|l| l.state == "to_pick")
                    .map(|l| l.line_no)
                    .collect();
                let result = if let Some(line_no) = to_pick.first() {
                    let missing = rng.random_ratio(1, 5).then_some("not on the shelf");
                    match missing {
                        Some(reason) => till
                            .temp
                            .till
                            .mark_pickup_line_missing(&clerk, &order.id, *line_no, reason),
                        None => till.temp.till.pick_pickup_line(&clerk, &order.id, *line_no),
                    }
                } else if order.status != "ready" {
                    till.temp.till.mark_pickup_ready(&clerk, &order.id)
                } else {
                    till.temp
                        .till
                        .hand_over_pickup(&clerk, &order.id, Verified::Code, None)
                };
                // A refusal (every line missing, say) changes nothing; anything else is a bug.
                if let Err(error) = result {
                    assert!(
                        matches!(error, omnitill_core::CoreError::BadInput(_)),
                        "{why}: the store's step failed: {error:?}"
                    );
                }
            }
            7 => {
                // A sale of a SKU pickups reserve: it never waits.
                let n = rng.random_range(PRODUCTS);
                let mut cart = Cart::new();
                let item = till.temp.till.scan(&demo::demo_barcode(n)).expect("scan");
                let sku = item.sku.clone();
                cart.add_item(item, 1).expect("added");
                let rules = till.temp.till.pricing_rules().expect("rules");
                let due = cart.totals(rules).due_minor;
                cart.add_tender(rules, TenderKind::Card, due, Some("T"))
                    .expect("card");
                till.temp
                    .till
                    .complete_sale(&clerk, &cart)
                    .expect("the sale completes");
                *sold.entry(sku).or_default() += 1;
            }
            8 => {
                offline = !offline;
                till.proxy()
                    .set(if offline { Fault::Refuse } else { Fault::Pass });
            }
            _ => {
                let _ = till.sync(&runtime);
            }
        }
    }

    // Heal, sync, and end every order still open.
    till.proxy().pass();
    settle(&runtime, &till, &why);
    for order_ref in &orders {
        let _ = eshop.call(
            reqwest::Method::POST,
            &format!("/v1/pickups/{order_ref}/cancel"),
            Some(json!({})),
        );
    }
    settle(&runtime, &till, &why);

    let mut taken: BTreeMap<String, i64> = BTreeMap::new();
    let mut owed: BTreeSet<(String, String)> = BTreeSet::new();
    for order_ref in &orders {
        let view = read(&eshop, order_ref);
        let status = view["order"]["status"].as_str().unwrap_or("").to_owned();
        assert!(
            final_status(&status),
            "{why}: {order_ref} ends final, not {status}"
        );
        let history: Vec<&str> = view["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|e| e["status"].as_str().unwrap_or(""))
            .collect();
        // Once final, an order stays as it ended, but for the store's handover, which always
        // stands: a cancellation (or an expiry) it overtook then gives way to it.
        let first_final = history
            .iter()
            .position(|s| final_status(s))
            .expect("a final event");
        let finals: Vec<&str> = history[first_final..].to_vec();
        let stands = finals.iter().all(|s| *s == status)
            || (status.contains("collected")
                && matches!(finals[0], "cancelled" | "expired")
                && finals[1..].iter().all(|s| *s == status));
        assert!(
            stands,
            "{why}: {order_ref} ends in exactly one final state: {history:?}"
        );
        if finals[0] == "cancelled" && status.contains("collected") {
            assert_eq!(
                view["order"]["review"], "refund_after_handover",
                "{why}: {order_ref} was handed over after its cancellation: the refund is flagged"
            );
        }
        if status.contains("collected") {
            for line in view["order"]["lines"].as_array().expect("lines") {
                if line["state"] != "missing" {
                    *taken
                        .entry(line["sku"].as_str().unwrap_or("").to_owned())
                        .or_default() += line["quantity"].as_i64().unwrap_or(0);
                }
            }
        }
        for event in ["ready", "collected", "partially_collected", "cancelled"] {
            if history.contains(&event) {
                owed.insert((format!("pickup.{event}"), order_ref.clone()));
            }
        }
    }
    for sku in &skus {
        let (on_hand, reserved) = level(&eshop, sku);
        assert_eq!(reserved, 0, "{why}: nothing stays reserved of {sku}");
        let expected =
            first[sku] - sold.get(sku).copied().unwrap_or(0) - taken.get(sku).copied().unwrap_or(0);
        assert_eq!(
            on_hand, expected,
            "{why}: {sku} on hand is its first level less the till's sales and the pickups handed over"
        );
    }
    let received = receiver.wait_for(Duration::from_secs(60), |all| {
        let got: BTreeSet<(String, String)> = all
            .iter()
            .filter_map(|r| {
                let body: Value = serde_json::from_slice(&r.body).ok()?;
                Some((
                    r.event_type.clone(),
                    body["data"]["order_ref"].as_str()?.to_owned(),
                ))
            })
            .collect();
        owed.iter().all(|o| got.contains(o))
    });
    let mut got = BTreeSet::new();
    let mut ids_by_event: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for r in &received {
        let body: Value = serde_json::from_slice(&r.body).expect("an event is JSON");
        let key = (
            r.event_type.clone(),
            body["data"]["order_ref"].as_str().unwrap_or("").to_owned(),
        );
        ids_by_event
            .entry(r.event_id.clone())
            .or_default()
            .insert(key.clone());
        got.insert(key);
    }
    for event in &owed {
        assert!(
            got.contains(event),
            "{why}: the e-shop got {event:?} at least once"
        );
    }
    assert!(
        ids_by_event.values().all(|events| events.len() == 1),
        "{why}: an event id names one event, whatever its retries"
    );
}

fn pick<'a>(rng: &mut StdRng, orders: &'a [String]) -> Option<&'a String> {
    (!orders.is_empty()).then(|| &orders[rng.random_range(0..orders.len())])
}

/// Syncs until the till's outbox is empty (the proxy may take a moment to listen again).
fn settle(runtime: &tokio::runtime::Runtime, till: &SyncedTill, why: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let synced = till.sync(runtime).is_ok();
        if synced && till.pending() == 0 && till.sync(runtime).is_ok() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{why}: the till settles"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn seeds(count: u64) -> Vec<u64> {
    match std::env::var(SEED_VAR).ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => (0..count).map(|n| 20_261_206 + n).collect(),
    }
}

#[test]
fn random_pickup_schedules_keep_every_invariant_on_sqlite() {
    for seed in seeds(20) {
        schedule(Backend::Sqlite, seed);
    }
}

#[test]
fn random_pickup_schedules_keep_every_invariant_on_postgresql() {
    for seed in seeds(5) {
        schedule(Backend::Postgres, seed);
    }
}

//! Seeded random schedules of click-and-collect through a real cloud process and a real till
//! behind a fault proxy (20 schedules on SQLite, 5 on PostgreSQL): orders placed by the e-shop
//! (some accepting substitutes, which the brand names for every SKU of the schedule) and
//! cancelled, lines picked or missing, orders made ready and handed over at the till, sales of
//! reserved stock, syncs, outages, and time passing: the cloud's clock (`--test-clock`) moves
//! hours ahead, the cloud restarts on it and the hourly jobs run at it, expiring the orders
//! whose day is up (the schedules set the brand's expiry to one day). In the end every open
//! order is cancelled, and:
//! - each order ends in exactly one final state, and stays there;
//! - after each run of the jobs, no open order is past its time and none expired early;
//! - a missing line is refunded and not charged, or offered a substitute at its own price: only
//!   when its order accepts substitutes, and only one the brand named for its SKU; the till
//!   shows what the cloud decided;
//! - nothing stays reserved, and each reservation was taken or released once: on hand at the
//!   cloud equals its first level less the till's sales and the units handed over (for a line
//!   given a substitute, the substitute's);
//! - every event the e-shop was owed arrived, at least once, each with its own id (the
//!   receiver fails its first requests, so deliveries are retried).
//!
//! Across the seeds the schedules must have expired orders, offered substitutes and refunded
//! lines, so none of it goes untested. Replay a failing schedule with
//! `OMNITILL_PICKUP_SEED=<seed printed by the test>`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use omnitill_core::pickups::actions::Verified;
use omnitill_core::{Cart, TenderKind, demo};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess};
use crate::support::members::api_call;
use crate::support::proxy::Fault;
use crate::support::tills::{SyncedTill, runtime};
use crate::support::webhook_receiver::WebhookReceiver;

const SEED_VAR: &str = "OMNITILL_PICKUP_SEED";
const STORE: &str = "TPE-XINYI";
/// Demo products of the schedules: within the first 40, which the demo's own pickup orders
/// leave alone.
const PRODUCTS: std::ops::RangeInclusive<u64> = 30..=35;
const STEPS: usize = 30;
const HOUR_MS: i64 = 3_600_000;
/// How late an order the jobs expired may be found, beyond the moment they ran at: the jobs'
/// process starts a little after it is given its clock.
const JOBS_START_MS: i64 = 60_000;

/// What the schedules did, summed over the seeds: each kind must happen somewhere.
#[derive(Debug, Default)]
struct Tally {
    expired: usize,
    substituted: usize,
    refunded: usize,
}

/// The e-shop's side of a schedule: its API key on the cloud.
struct EShop {
    key: String,
}

impl EShop {
    fn call(
        &self,
        cloud: &CloudProcess,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        api_call(cloud, &self.key, method, path, body)
    }

    fn level(&self, cloud: &CloudProcess, sku: &str) -> (i64, i64) {
        let (status, levels) = self.call(
            cloud,
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

    fn read(&self, cloud: &CloudProcess, order_ref: &str) -> Value {
        let (status, view) = self.call(
            cloud,
            reqwest::Method::GET,
            &format!("/v1/pickups/{order_ref}"),
            None,
        );
        assert_eq!(status, 200, "{view}");
        view
    }
}

fn final_status(status: &str) -> bool {
    matches!(
        status,
        "collected" | "partially_collected" | "expired" | "cancelled"
    )
}

fn schedule(backend: Backend, seed: u64, tally: &mut Tally) {
    let mut rng = StdRng::seed_from_u64(seed);
    let why = format!("{backend:?} seed {seed} (replay with {SEED_VAR}={seed})");
    let runtime = runtime();
    let mut cloud = CloudProcess::start(backend);
    let eshop = EShop {
        key: cloud.api_key(),
    };
    let receiver = WebhookReceiver::start(3);
    let (status, _) = eshop.call(
        &cloud,
        reqwest::Method::POST,
        "/v1/webhooks",
        Some(json!({ "url": receiver.url })),
    );
    assert_eq!(status, 201);
    // A day to collect, so the hours the clock moves expire some orders and not others.
    let (status, body) = eshop.call(
        &cloud,
        reqwest::Method::PUT,
        "/v1/pickup-settings",
        Some(json!({ "expiry_days": 1, "points_on": "collection" })),
    );
    assert_eq!(status, 200, "{body}");
    let mut till = SyncedTill::enrol(&runtime, &cloud, STORE, true);
    let clerk = till.temp.cashier();
    let items: Vec<_> = PRODUCTS
        .map(|n| {
            till.temp
                .till
                .scan(&demo::demo_barcode(n))
                .expect("a demo product")
        })
        .collect();
    let skus: Vec<String> = items.iter().map(|item| item.sku.clone()).collect();
    let prices: BTreeMap<String, i64> = items
        .iter()
        .map(|item| (item.sku.clone(), item.unit_price_minor))
        .collect();
    // Every SKU's substitutes: the others, in a random order of preference, some cheaper and
    // some dearer; the first that qualifies is offered.
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for sku in &skus {
        let mut list: Vec<String> = skus.iter().filter(|s| *s != sku).cloned().collect();
        list.shuffle(&mut rng);
        let (status, body) = eshop.call(
            &cloud,
            reqwest::Method::PUT,
            &format!("/v1/pickup-substitutes/{sku}"),
            Some(json!({ "substitutes": list })),
        );
        assert_eq!(status, 200, "{body}");
        named.insert(sku.clone(), list);
    }
    let first: BTreeMap<String, i64> = skus
        .iter()
        .map(|s| (s.clone(), eshop.level(&cloud, s).0))
        .collect();
    let mut sold: BTreeMap<String, i64> = BTreeMap::new();
    let mut orders: Vec<String> = Vec::new();
    let mut accepts: BTreeMap<String, bool> = BTreeMap::new();
    let mut offline = false;
    // How far the cloud's clock is ahead of the system's.
    let mut ahead_ms = 0_i64;

    for step in 0..STEPS {
        match rng.random_range(0..13) {
            0..=2 => {
                let order_ref = format!("R{seed}-{step}");
                let lines: Vec<Value> = (0..rng.random_range(1..=2))
                    .map(|k| {
                        let sku = &skus[(step + k * 3) % skus.len()];
                        let quantity = rng.random_range(1..=3);
                        json!({ "sku": sku, "quantity": quantity,
                                "total_minor": prices[sku] * quantity })
                    })
                    .collect();
                let accepting = rng.random_bool(0.5);
                let now_ms = chrono::Utc::now().timestamp_millis() + ahead_ms;
                let (status, placed) = eshop.call(
                    &cloud,
                    reqwest::Method::POST,
                    "/v1/pickups",
                    Some(json!({
                        "order_ref": order_ref, "store": STORE, "payment": "paid_online",
                        "guest_name": "Guest", "currency": "TWD",
                        "promised_at_ms": now_ms + HOUR_MS,
                        "lines": lines, "accepts_substitutes": accepting
                    })),
                );
                assert_eq!(status, 201, "{why}: placed: {placed}");
                accepts.insert(order_ref.clone(), accepting);
                orders.push(order_ref);
            }
            3 => {
                if let Some(order_ref) = pick(&mut rng, &orders) {
                    let (status, body) = eshop.call(
                        &cloud,
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
            4..=7 => {
                // The store works on an order of the schedule it has (not the demo's own):
                // picks, a missing line, ready, handover.
                let queue = till.temp.till.pickup_orders().expect("the queue");
                let open: Vec<_> = queue
                    .iter()
                    .filter(|o| !final_status(&o.status) && accepts.contains_key(&o.order_ref))
                    .collect();
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
                    let missing = rng.random_ratio(1, 3).then_some("not on the shelf");
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
            8 => {
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
            9 => {
                offline = !offline;
                till.proxy()
                    .set(if offline { Fault::Refuse } else { Fault::Pass });
            }
            10 => {
                let hours = rng.random_range(6..=20);
                time_passes(&mut cloud, &eshop, &orders, &mut ahead_ms, hours, &why);
            }
            _ => {
                let _ = till.sync(&runtime);
            }
        }
    }

    // Heal, sync, and end every order still open: half the schedules let a day and more pass,
    // so they expire; the e-shop cancels what is left.
    till.proxy().pass();
    settle(&runtime, &till, &why);
    if rng.random_bool(0.5) {
        let hours = rng.random_range(25..=36);
        time_passes(&mut cloud, &eshop, &orders, &mut ahead_ms, hours, &why);
    }
    for order_ref in &orders {
        let _ = eshop.call(
            &cloud,
            reqwest::Method::POST,
            &format!("/v1/pickups/{order_ref}/cancel"),
            Some(json!({})),
        );
    }
    settle(&runtime, &till, &why);

    let till_orders: BTreeMap<String, omnitill_protocol::pickup::PickupOrder> = till
        .temp
        .till
        .pickup_orders()
        .expect("the queue")
        .into_iter()
        .map(|order| (order.order_ref.clone(), order))
        .collect();
    let mut taken: BTreeMap<String, i64> = BTreeMap::new();
    let mut owed: BTreeSet<(String, String)> = BTreeSet::new();
    for order_ref in &orders {
        let view = eshop.read(&cloud, order_ref);
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
        if finals[0] == "expired" {
            tally.expired += 1;
        }
        let refunded = check_lines(&view, accepts[order_ref], &named, tally, &why);
        let total = view["order"]["total_minor"].as_i64().unwrap_or(0);
        assert_eq!(
            (
                view["charged_minor"].as_i64(),
                view["refund_minor"].as_i64()
            ),
            (Some(total - refunded), Some(refunded)),
            "{why}: {order_ref} charges its lines but the refunded ones, whose totals the \
             e-shop owes back (paid online)"
        );
        let shown = till_orders.get(order_ref).map(|order| {
            let lines: Vec<Value> = order
                .lines
                .iter()
                .map(|l| json!([l.state, l.resolution, l.substitute_sku]))
                .collect();
            (order.status.clone(), lines)
        });
        let decided: Vec<Value> = lines_of(&view)
            .iter()
            .map(|l| json!([l["state"], l["resolution"], l["substitute_sku"]]))
            .collect();
        assert_eq!(
            shown,
            Some((status.clone(), decided)),
            "{why}: {order_ref}: the till shows the order, and what each missing line got, as \
             the cloud decided"
        );
        if status.contains("collected") {
            for line in lines_of(&view) {
                let quantity = line["quantity"].as_i64().unwrap_or(0);
                let left_with = match (line["state"].as_str(), line["substitute_sku"].as_str()) {
                    (Some("missing"), Some(substitute)) => substitute,
                    (Some("missing"), None) => continue,
                    _ => line["sku"].as_str().unwrap_or(""),
                };
                *taken.entry(left_with.to_owned()).or_default() += quantity;
            }
        }
        for event in [
            "ready",
            "collected",
            "partially_collected",
            "cancelled",
            "expired",
        ] {
            if history.contains(&event) {
                owed.insert((format!("pickup.{event}"), order_ref.clone()));
            }
        }
    }
    for sku in &skus {
        let (on_hand, reserved) = eshop.level(&cloud, sku);
        assert_eq!(reserved, 0, "{why}: nothing stays reserved of {sku}");
        let expected =
            first[sku] - sold.get(sku).copied().unwrap_or(0) - taken.get(sku).copied().unwrap_or(0);
        assert_eq!(
            on_hand, expected,
            "{why}: {sku} on hand is its first level less the till's sales and the pickups \
             handed over, substitutes included"
        );
    }
    check_events(&receiver, &owed, &why);
}

/// `hours` pass while the cloud is down; its hourly jobs catch up as it comes back, and it
/// runs on from the later time. (Not while it serves: on SQLite another process's write can
/// find the file busy.) Then no open order is past its time, and none expired early.
fn time_passes(
    cloud: &mut CloudProcess,
    eshop: &EShop,
    orders: &[String],
    ahead_ms: &mut i64,
    hours: i64,
    why: &str,
) {
    *ahead_ms += hours * HOUR_MS;
    let now_ms = chrono::Utc::now().timestamp_millis() + *ahead_ms;
    cloud.stop();
    let ran = cloud.jobs_at(now_ms);
    cloud.restart_at(now_ms);
    assert!(
        ran.lines()
            .any(|l| l.starts_with("expire_pickups") && l.contains(": ran")),
        "{why}: the jobs run for a new hour, pickup expiry among them: {ran}"
    );
    for order_ref in orders {
        let view = eshop.read(cloud, order_ref);
        let status = view["order"]["status"].as_str().unwrap_or("");
        let expires_at = view["order"]["expires_at_ms"].as_i64().unwrap_or(0);
        assert!(
            final_status(status) || expires_at > now_ms,
            "{why}: {order_ref} is past its time at the jobs' run, so it expired: {status}, \
             {} ms late",
            now_ms - expires_at
        );
        assert!(
            status != "expired" || expires_at <= now_ms + JOBS_START_MS,
            "{why}: {order_ref} expired {} ms before its time",
            expires_at - now_ms
        );
    }
}

fn lines_of(view: &Value) -> &[Value] {
    view["order"]["lines"].as_array().map_or(&[], Vec::as_slice)
}

/// Checks what each missing line of `view` got, counts it, and returns the refunded lines'
/// total.
fn check_lines(
    view: &Value,
    accepting: bool,
    named: &BTreeMap<String, Vec<String>>,
    tally: &mut Tally,
    why: &str,
) -> i64 {
    let order_ref = view["order"]["order_ref"].as_str().unwrap_or("");
    assert_eq!(
        view["accepts_substitutes"],
        json!(accepting),
        "{why}: {order_ref} accepts substitutes as the e-shop said"
    );
    let mut refunded = 0;
    for line in lines_of(view) {
        let sku = line["sku"].as_str().unwrap_or("");
        match (line["state"].as_str(), line["resolution"].as_str()) {
            (Some("missing"), Some("refund")) => {
                tally.refunded += 1;
                refunded += line["total_minor"].as_i64().unwrap_or(0);
            }
            (Some("missing"), Some("substitute")) => {
                tally.substituted += 1;
                let substitute = line["substitute_sku"].as_str().unwrap_or("");
                assert!(
                    accepting,
                    "{why}: {order_ref} does not accept substitutes, yet got {substitute}"
                );
                assert!(
                    named[sku].iter().any(|s| s == substitute),
                    "{why}: {order_ref} got {substitute} for {sku}, which the brand did not name"
                );
            }
            (Some("missing"), other) => {
                panic!("{why}: {order_ref}: a missing line is refunded or substituted: {other:?}")
            }
            (_, other) => assert!(
                other.is_none() && line["substitute_sku"].is_null(),
                "{why}: {order_ref}: only a missing line has a resolution: {line}"
            ),
        }
    }
    refunded
}

/// Checks that every event owed arrived, at least once, and that an event id names one event.
fn check_events(receiver: &WebhookReceiver, owed: &BTreeSet<(String, String)>, why: &str) {
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
    for event in owed {
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

/// Runs `count` schedules (or the one replayed) and checks that, together, they expired
/// orders, offered substitutes and refunded lines.
fn schedules(backend: Backend, count: u64) {
    let seeds = seeds(count);
    let mut tally = Tally::default();
    for seed in &seeds {
        schedule(backend, *seed, &mut tally);
    }
    eprintln!("random pickups on {backend:?}: {tally:?}");
    if seeds.len() > 1 {
        assert!(
            tally.expired > 0 && tally.substituted > 0 && tally.refunded > 0,
            "the schedules expire orders, offer substitutes and refund lines, or they test \
             none of it: {tally:?}"
        );
    }
}

#[test]
fn random_pickup_schedules_keep_every_invariant_on_sqlite() {
    schedules(Backend::Sqlite, 20);
}

#[test]
fn random_pickup_schedules_keep_every_invariant_on_postgresql() {
    schedules(Backend::Postgres, 5);
}

//! Hostile pushes, on SQLite and PostgreSQL through a real cloud process: a table of
//! operations a till could forge (another till's device id or receipt prefix, the e-shop's
//! `WEB-`, a reused sale id or op_id, quantities of 0, 10,000 and 2^63-6, totals that do not add
//! up, inflated points, another member's coupon, an online redemption with no hold, an
//! over-refund across two tills). Each goes up in a push with a real sale behind it: the forged
//! operation is refused with a stored reason (or, for a member's points and coupons, booked at
//! the cloud's own figure and flagged), nothing of it is written, the real sale behind it
//! applies, and the victim's own later operations still apply. Concurrent pushes are in
//! `push_races`.

use std::collections::HashMap;

use omnitill_core::sync as ledger_sync;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::support::cloud::{Backend, CloudProcess, http};
use crate::support::members::EShop;
use crate::support::tills::{SyncedTill, runtime};

/// A till pushed to by hand with its own token, seq by seq.
pub(crate) struct Pusher {
    pub(crate) token: String,
    pub(crate) next_seq: i64,
}

impl Pusher {
    pub(crate) fn of(till: &SyncedTill) -> Pusher {
        let link = ledger_sync::link(till.temp.till.connection())
            .expect("the link")
            .expect("an enrolled till");
        Pusher {
            token: link.token,
            next_seq: link.last_applied_seq + 1,
        }
    }

    /// Pushes `ops` (op_id, op_type, payload) as the next seqs; (status, reason) of each.
    pub(crate) fn push(
        &mut self,
        cloud: &CloudProcess,
        ops: &[(String, String, Value)],
    ) -> Vec<(String, String)> {
        let (status, body) = push_raw(cloud, &self.token, self.next_seq, ops);
        assert_eq!(
            status, 200,
            "a push with forged operations is still answered 200: {body}"
        );
        self.next_seq += ops.len() as i64;
        body["outcomes"]
            .as_array()
            .expect("outcomes")
            .iter()
            .map(|o| {
                (
                    o["status"].as_str().unwrap_or("").to_owned(),
                    o["reason"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }
}

/// Sends `ops` (op_id, op_type, payload) from `first_seq` on as a till does: (HTTP status, body).
pub(crate) fn push_raw(
    cloud: &CloudProcess,
    token: &str,
    first_seq: i64,
    ops: &[(String, String, Value)],
) -> (u16, Value) {
    let operations: Vec<Value> = ops
        .iter()
        .enumerate()
        .map(|(index, (op_id, op_type, payload))| {
            json!({ "seq": first_seq + index as i64, "op_id": op_id, "op_type": op_type,
                    "created_at_ms": 1, "payload": payload })
        })
        .collect();
    let response = http()
        .post(format!("{}/v1/sync/push", cloud.base_url))
        .header(
            omnitill_protocol::PROTOCOL_HEADER,
            omnitill_protocol::PROTOCOL_VERSION,
        )
        .bearer_auth(token)
        .json(&json!({ "operations": operations }))
        .send()
        .expect("a push is answered");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Rings up one random real sale on `till` and returns its operation (op_id, type, payload).
fn real_sale(till: &mut SyncedTill, rng: &mut StdRng) -> (String, String, Value) {
    till.sell_randomly(rng, 1);
    last_operation(till)
}

/// The till's newest operation, acknowledged or not.
fn last_operation(till: &SyncedTill) -> (String, String, Value) {
    let (op_id, op_type, payload): (String, String, String) = till
        .temp
        .till
        .connection()
        .query_row(
            "SELECT op_id, op_type, payload FROM outbox ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("an operation");
    (
        op_id,
        op_type,
        serde_json::from_str(&payload).expect("a JSON payload"),
    )
}

pub(crate) fn fresh_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The store's sales (receipt numbers) and the stock of every SKU in `skus`.
fn store_state(
    eshop: &EShop<'_>,
    store: &str,
    skus: &[String],
) -> (Vec<String>, HashMap<String, i64>) {
    let (_, sales) = eshop.call(
        reqwest::Method::GET,
        &format!("/v1/stores/{store}/sales?limit=10000"),
        None,
    );
    let receipts = sales
        .as_array()
        .expect("sales")
        .iter()
        .filter_map(|s| s["receipt_no"].as_str().map(str::to_owned))
        .collect();
    let stock = skus
        .iter()
        .map(|sku| {
            let (_, levels) = eshop.call(
                reqwest::Method::GET,
                &format!("/v1/stores/{store}/stock?sku={sku}"),
                None,
            );
            (sku.clone(), levels[0]["on_hand"].as_i64().unwrap_or(0))
        })
        .collect();
    (receipts, stock)
}

fn skus_of(payload: &Value) -> Vec<(String, i64)> {
    payload["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    (
                        l["sku"].as_str().unwrap_or("").to_owned(),
                        l["quantity"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

type Forgery = (&'static str, Box<dyn Fn(&mut Value)>);

fn hostile_table(backend: Backend) {
    let cloud = CloudProcess::start(backend);
    let eshop = EShop::new(&cloud);
    let rt = runtime();
    let mut rng = StdRng::seed_from_u64(0x0405_711E);
    let mut attacker = SyncedTill::enrol(&rt, &cloud, "TPE-XINYI", false);
    let mut victim = SyncedTill::enrol(&rt, &cloud, "TPE-DAAN", false);
    let victim_device = victim.temp.till.device().clone();
    // The victim's first sale exists at the till, not yet at the cloud.
    let (victim_op_id, _, victim_sale) = real_sale(&mut victim, &mut rng);
    let victim_receipt = victim_sale["receipt_no"]
        .as_str()
        .expect("a receipt")
        .to_owned();
    let mut pusher = Pusher::of(&attacker);

    let victim_prefix = victim_device.receipt_prefix.clone();
    let victim_id = victim_device.device_id.clone();
    let victim_sale_id = victim_sale["sale_id"].clone();
    let victim_receipt_for = victim_receipt.clone();
    let forgeries: Vec<Forgery> = vec![
        (
            "another till's device id",
            Box::new(move |p| p["device_id"] = json!(victim_id)),
        ),
        (
            "another till's receipt number and sale id",
            Box::new(move |p| {
                p["receipt_no"] = json!(victim_receipt_for);
                p["sale_id"] = victim_sale_id.clone();
            }),
        ),
        (
            "another till's receipt prefix",
            Box::new(move |p| p["receipt_no"] = json!(format!("{victim_prefix}-000777"))),
        ),
        (
            "the e-shop's WEB- prefix",
            Box::new(|p| p["receipt_no"] = json!("WEB-000777")),
        ),
        (
            "a quantity of 2^63-6",
            Box::new(|p| p["lines"][0]["quantity"] = json!(i64::MAX - 5)),
        ),
        (
            "a quantity of 0",
            Box::new(|p| p["lines"][0]["quantity"] = json!(0)),
        ),
        (
            "a quantity of 10,000",
            Box::new(|p| p["lines"][0]["quantity"] = json!(10_000)),
        ),
        (
            "a negative quantity",
            Box::new(|p| p["lines"][0]["quantity"] = json!(-3)),
        ),
        ("no lines", Box::new(|p| p["lines"] = json!([]))),
        (
            "line number 1e15",
            Box::new(|p| p["lines"][0]["line_no"] = json!(1_000_000_000_000_000_i64)),
        ),
        (
            "a total that does not add up",
            Box::new(|p| p["total_minor"] = json!(p["total_minor"].as_i64().unwrap_or(0) + 1)),
        ),
        (
            "a line total that does not add up",
            Box::new(|p| {
                p["lines"][0]["total_minor"] =
                    json!(p["lines"][0]["total_minor"].as_i64().unwrap_or(0) - 1)
            }),
        ),
        (
            "payments short of the total",
            Box::new(|p| {
                p["tenders"][0]["amount_minor"] =
                    json!(p["tenders"][0]["amount_minor"].as_i64().unwrap_or(0) - 1)
            }),
        ),
        (
            "a price that overflows",
            Box::new(|p| p["lines"][0]["unit_price_minor"] = json!(i64::MAX)),
        ),
    ];
    for (why, forge) in &forgeries {
        let (_, op_type, mut forged) = real_sale(&mut attacker, &mut rng);
        forge(&mut forged);
        let good = real_sale(&mut attacker, &mut rng);
        let mut skus: Vec<String> = skus_of(&forged)
            .into_iter()
            .chain(skus_of(&good.2))
            .map(|(sku, _)| sku)
            .filter(|sku| !sku.is_empty())
            .collect();
        skus.sort();
        skus.dedup();
        let (sales_before, stock_before) = store_state(&eshop, "TPE-XINYI", &skus);
        let outcomes = pusher.push(
            &cloud,
            &[(fresh_id(), op_type, forged.clone()), good.clone()],
        );
        assert_eq!(
            outcomes[0].0, "rejected",
            "{why} must be refused: {outcomes:?}"
        );
        assert!(
            !outcomes[0].1.is_empty(),
            "{why}: the refusal says why in words"
        );
        assert_eq!(
            outcomes[1].0, "applied",
            "{why}: the real sale behind it applies: {outcomes:?}"
        );
        let (sales_after, stock_after) = store_state(&eshop, "TPE-XINYI", &skus);
        assert_eq!(
            sales_after.len(),
            sales_before.len() + 1,
            "{why}: only the real sale was recorded"
        );
        assert!(
            sales_after.contains(&good.2["receipt_no"].as_str().unwrap_or("").to_owned()),
            "{why}: the real sale is in the cloud"
        );
        for sku in &skus {
            let moved: i64 = skus_of(&good.2)
                .iter()
                .filter(|(s, _)| s == sku)
                .map(|(_, q)| q)
                .sum();
            assert_eq!(
                stock_after[sku],
                stock_before[sku] - moved,
                "{why}: stock of {sku} moved by the real sale only"
            );
        }
    }

    // An op_id another till already used is refused alone; the victim's real one applies.
    let victim_ops_before = victim.pending();
    victim.sync(&rt).expect("the victim's own sale syncs");
    assert_eq!(victim.pending(), 0, "the victim's outbox is acknowledged");
    let refused: i64 = victim
        .temp
        .till
        .connection()
        .query_row("SELECT count(*) FROM op_outcome", [], |r| r.get(0))
        .expect("outcomes");
    assert_eq!(
        refused, 0,
        "the victim's {victim_ops_before} real operation(s) applied despite the forgeries"
    );
    let (daan_sales, _) = store_state(&eshop, "TPE-DAAN", &[]);
    assert!(
        daan_sales.contains(&victim_receipt),
        "the victim's sale numbered {victim_receipt} is in the cloud"
    );
    let (_, op_type, payload) = real_sale(&mut attacker, &mut rng);
    let good = real_sale(&mut attacker, &mut rng);
    let outcomes = pusher.push(&cloud, &[(victim_op_id, op_type, payload), good]);
    assert_eq!(
        (outcomes[0].0.as_str(), outcomes[1].0.as_str()),
        ("rejected", "applied"),
        "an op_id of another till is refused alone: {outcomes:?}"
    );
    // The same sale id as the victim's, now recorded, under the attacker's own number.
    let (_, op_type, mut payload) = real_sale(&mut attacker, &mut rng);
    payload["sale_id"] = victim_sale["sale_id"].clone();
    let outcomes = pusher.push(&cloud, &[(fresh_id(), op_type, payload)]);
    assert!(
        outcomes[0].0 == "rejected" && outcomes[0].1.contains("another till"),
        "a sale id another till used is refused, naming that: {outcomes:?}"
    );

    // The e-shop's order numbered like the forged WEB- sale is still recorded as new.
    let sku = skus_of(&victim_sale)[0].0.clone();
    let (status, _) = eshop.call(
        reqwest::Method::POST,
        "/v1/online-sales",
        Some(
            json!({ "order_ref": "000777", "stock_from": "online", "currency": "TWD",
                     "lines": [{ "sku": sku, "quantity": 1, "total_minor": 100 }] }),
        ),
    );
    assert_eq!(
        status, 201,
        "the forged WEB- sale did not take the e-shop's order number"
    );

    over_refund_across_two_tills(&cloud, &rt, &mut rng, attacker);
    member_forgeries(&cloud, &eshop, &rt, &mut rng);
}

/// A sale refunded whole by its till, then again by another till of the store.
fn over_refund_across_two_tills(
    cloud: &CloudProcess,
    rt: &tokio::runtime::Runtime,
    rng: &mut StdRng,
    mut till: SyncedTill,
) {
    let mut other = SyncedTill::enrol(rt, cloud, "TPE-XINYI", false);
    let receipts = till.sell_randomly(rng, 1);
    let cashier = till.temp.cashier();
    let manager = till.temp.manager();
    let approval = omnitill_core::ManagerApproval::from_session(&manager).expect("approval");
    let refundable = till.temp.till.refundable(&receipts[0]).expect("refundable");
    let all: Vec<(i64, i64)> = refundable
        .lines
        .iter()
        .map(|l| (l.line_no, l.refundable_quantity))
        .collect();
    till.temp
        .till
        .refund(&cashier, &approval, &receipts[0], &all)
        .expect("the whole sale is refunded");
    till.sync(rt).expect("the sale and its refund sync");
    assert_eq!(till.pending(), 0);
    let (_, op_type, mut refund) = last_operation(&till);
    // The other till tells the same refund again under its own identity and numbers.
    let other_device = other.temp.till.device().clone();
    refund["refund_id"] = json!(fresh_id());
    refund["device_id"] = json!(other_device.device_id);
    refund["receipt_no"] = json!(format!("{}-000901", other_device.receipt_prefix));
    let good = real_sale(&mut other, rng);
    let mut pusher = Pusher::of(&other);
    let outcomes = pusher.push(cloud, &[(fresh_id(), op_type, refund), good]);
    assert_eq!(
        outcomes[0].0, "rejected",
        "a second refund of a refunded sale: {outcomes:?}"
    );
    assert!(
        outcomes[0].1.contains("left"),
        "the refusal says what is left to refund: {outcomes:?}"
    );
    assert_eq!(outcomes[1].0, "applied", "the operation behind it applies");
}

/// A member's sale claiming a billion points, another member's coupon, and an online
/// redemption with no hold: the sale stands, the cloud books its own figures and flags each.
fn member_forgeries(
    cloud: &CloudProcess,
    eshop: &EShop<'_>,
    rt: &tokio::runtime::Runtime,
    rng: &mut StdRng,
) {
    let mut till = SyncedTill::enrol(rt, cloud, "TPE-XINYI", false);
    till.sync(rt).expect("the till downloads the rules");
    let member = eshop.sign_up("+886955000111", "Hostile Test");
    let other = eshop.sign_up("+886955000222", "Coupon Owner");
    let member_id = member["id"].as_str().expect("id").to_owned();
    let other_coupon = other["coupons"][0]["id"]
        .as_str()
        .expect("a welcome coupon")
        .to_owned();
    let (_, op_type, mut sale) = real_sale(&mut till, rng);
    assert_eq!(op_type, "sale.completed.v1");
    let total = sale["total_minor"].as_i64().expect("a total");
    let rules = omnitill_core::members::rules(till.temp.till.connection()).expect("rules");
    let balance_before = eshop.balance(&member_id);
    let lines: Vec<(String, i64)> = sale["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap_or("").to_owned(),
                l["total_minor"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let earning: Vec<omnitill_core::loyalty::EarningLine<'_>> = lines
        .iter()
        .map(|(sku, total_minor)| omnitill_core::loyalty::EarningLine {
            sku,
            total_minor: *total_minor,
        })
        .collect();
    let at = chrono::DateTime::from_timestamp_millis(sale["created_at_ms"].as_i64().unwrap_or(0))
        .expect("a time");
    let earned = omnitill_core::loyalty::points_earned(&rules, "member", &earning, 0, at);
    sale["member"] = json!({ "member_id": member_id, "tier": "member", "tier_discount_minor": 0,
        "points_earned": 1_000_000_000, "points_redeemed": 0, "redemption": null,
        "coupon": { "coupon_id": other_coupon, "discount_minor": 0, "authorisation": "offline" },
        "spend_minor": total, "rules_version": rules.version });
    let mut pusher = Pusher::of(&till);
    let outcomes = pusher.push(cloud, &[(fresh_id(), "sale.completed.v2".into(), sale)]);
    assert_eq!(
        outcomes[0].0, "applied",
        "the sale itself stands: {outcomes:?}"
    );
    assert_eq!(
        eshop.balance(&member_id),
        balance_before + earned,
        "the cloud booked the points its rules give, not the billion claimed"
    );
    let (_, owner) = eshop.call(
        reqwest::Method::GET,
        &format!("/v1/members/{}", other["id"].as_str().unwrap_or("")),
        None,
    );
    assert!(
        owner["coupons"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["id"] == other_coupon.as_str())),
        "another member's coupon was not marked used"
    );

    // An online redemption with no hold: booked as offline, flagged.
    let (_, _, mut sale) = real_sale(&mut till, rng);
    let total = sale["total_minor"].as_i64().expect("a total");
    let paid = sale["tenders"][0]["amount_minor"].as_i64().expect("paid");
    sale["tenders"][0]["amount_minor"] = json!(paid - rules.point_value_minor);
    sale["tenders"].as_array_mut().expect("tenders").push(
        json!({ "kind": "points", "amount_minor": rules.point_value_minor, "reference": null }),
    );
    sale["member"] = json!({ "member_id": member_id, "tier": "member", "tier_discount_minor": 0,
        "points_earned": 0,
        "points_redeemed": 1, "redemption": "online", "coupon": null,
        "spend_minor": total - rules.point_value_minor, "rules_version": rules.version });
    let outcomes = pusher.push(cloud, &[(fresh_id(), "sale.completed.v2".into(), sale)]);
    assert_eq!(outcomes[0].0, "applied", "{outcomes:?}");
    till.sync(rt).expect("the till pulls its conflicts");
    let kinds: Vec<String> = till
        .temp
        .till
        .connection()
        .prepare("SELECT conflict FROM member_conflict")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        })
        .unwrap_or_default();
    for kind in ["points_mismatch", "coupon_not_members", "unheld_redemption"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "the store's review list has a {kind} conflict: {kinds:?}"
        );
    }
}

#[test]
fn hostile_pushes_are_refused_alone_on_sqlite() {
    hostile_table(Backend::Sqlite);
}

#[test]
fn hostile_pushes_are_refused_alone_on_postgresql() {
    hostile_table(Backend::Postgres);
}
